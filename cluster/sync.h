/*
 * The sync step at a CPG configuration change. Every member multicasts a
 * Sync (its state, its own node record, the member list it answers);
 * once every member's Sync has been delivered, every node adopts the same
 * one — the highest state version, the lowest node id on ties — then adds
 * the members' node records and installs the membership (which fails over
 * the VMs of nodes that left, if quorate). All deterministic, because all
 * members see the same Syncs in the same order. Pure logic on memory.
 */
#ifndef CLUSTER_SYNC_H
#define CLUSTER_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/state.h"

struct cl_sync {
	bool active;
	uint32_t members[CL_MAX_NODES];
	size_t nmembers;
	bool got[CL_MAX_NODES];
	struct cl_node infos[CL_MAX_NODES];
	struct cl_state *best; /* heap, NULL until the first offer */
	uint32_t best_from;
};

/* Starts a round for the configuration @members (@n ids, any order).
 * A round already running is abandoned. Returns 0 or -E2BIG. */
int cl_sync_begin(struct cl_sync *y, const uint32_t *members, size_t n);

/* Takes the Sync sent by @from. Returns 1 when the round is complete, 0
 * when more are awaited or the offer belongs to another configuration (it
 * is ignored), or a negative errno (unreadable state; the offer counts as
 * an empty state so the round still completes). */
int cl_sync_offer(struct cl_sync *y, uint32_t from,
		  const Ferry__Cluster__Sync *m);

/* Adopts the chosen state into @s and installs the membership. Ends the
 * round. Returns true if the state changed. */
bool cl_sync_finish(struct cl_sync *y, struct cl_state *s);

/* Frees what a round holds. */
void cl_sync_fini(struct cl_sync *y);

#endif
