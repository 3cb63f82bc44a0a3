/*
 * Sync rounds at configuration changes (see sync.h). Owns the round's
 * bookkeeping only; the state rules are state.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/state_pb.h"
#include "cluster/sync.h"
#include "hv/log.h"

static int cl_id_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int cl_sync_begin(struct cl_sync *y, const uint32_t *members, size_t n)
{
	if (n > CL_MAX_NODES)
		return -E2BIG;
	free(y->best);
	memset(y, 0, sizeof(*y));
	memcpy(y->members, members, n * sizeof(*members));
	qsort(y->members, n, sizeof(*members), cl_id_cmp);
	y->nmembers = n;
	y->active = true;
	return 0;
}

static bool cl_sync_same_config(const struct cl_sync *y,
				const Ferry__Cluster__Sync *m)
{
	uint32_t ids[CL_MAX_NODES];

	if (m->n_members != y->nmembers)
		return false;
	memcpy(ids, m->members, y->nmembers * sizeof(ids[0]));
	qsort(ids, y->nmembers, sizeof(ids[0]), cl_id_cmp);
	return !memcmp(ids, y->members, y->nmembers * sizeof(ids[0]));
}

static int cl_sync_slot(const struct cl_sync *y, uint32_t from)
{
	for (size_t i = 0; i < y->nmembers; i++)
		if (y->members[i] == from)
			return (int)i;
	return -1;
}

static bool cl_sync_done(const struct cl_sync *y)
{
	for (size_t i = 0; i < y->nmembers; i++)
		if (!y->got[i])
			return false;
	return true;
}

/* Keeps @st if it beats the best so far. */
static int cl_sync_consider(struct cl_sync *y, uint32_t from,
			    const struct cl_state *st)
{
	if (y->best && (st->version < y->best->version ||
			(st->version == y->best->version &&
			 from > y->best_from)))
		return 0;
	if (!y->best) {
		y->best = malloc(sizeof(*y->best));
		if (!y->best)
			return -ENOMEM;
	}
	*y->best = *st;
	y->best_from = from;
	return 0;
}

int cl_sync_offer(struct cl_sync *y, uint32_t from,
		  const Ferry__Cluster__Sync *m)
{
	struct cl_state *st;
	int slot = cl_sync_slot(y, from), rc = 0;

	if (!y->active || slot < 0 || y->got[slot] || !cl_sync_same_config(y, m))
		return 0;
	y->got[slot] = true;
	if (m->self)
		cl_node_from_pb(m->self, &y->infos[slot]);
	y->infos[slot].id = from;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (m->state)
		rc = cl_state_from_pb(m->state, st);
	if (rc < 0) {
		log_err("sync: node %u sent an unreadable state (%d)", from, rc);
		cl_state_init(st);
	}
	if (cl_sync_consider(y, from, st) < 0)
		rc = -ENOMEM;
	free(st);
	if (rc < 0)
		return rc;
	return cl_sync_done(y) ? 1 : 0;
}

bool cl_sync_finish(struct cl_sync *y, struct cl_state *s)
{
	uint64_t before = s->version;
	bool changed = false;

	if (y->best && (y->best->version != s->version ||
			memcmp(y->best, s, sizeof(*s)))) {
		log_info("sync: adopting state version %llu from node %u "
			 "(had %llu)", (unsigned long long)y->best->version,
			 y->best_from, (unsigned long long)before);
		*s = *y->best;
		changed = true;
	}
	for (size_t i = 0; i < y->nmembers; i++) {
		struct cl_node *n = cl_state_node_find(s, y->infos[i].id);

		if (!n || strcmp(n->name, y->infos[i].name) ||
		    strcmp(n->addr, y->infos[i].addr) ||
		    n->capacity_mib != y->infos[i].capacity_mib ||
		    n->expected_votes != y->infos[i].expected_votes) {
			cl_state_node_update(s, &y->infos[i]);
			changed = true;
		}
	}
	changed |= cl_state_set_members(s, y->members, y->nmembers);
	y->active = false;
	return changed;
}

void cl_sync_fini(struct cl_sync *y)
{
	free(y->best);
	y->best = NULL;
	y->active = false;
}
