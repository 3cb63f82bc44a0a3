/*
 * Conversion between struct cl_state (state.h) and its wire/file form,
 * ferry.cluster.State (proto/cluster.proto). Pure functions on memory.
 */
#ifndef CLUSTER_STATE_PB_H
#define CLUSTER_STATE_PB_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/state.h"

/* Packs @s into a malloc'd buffer (*out, *len; caller frees).
 * Returns 0 or -ENOMEM. */
int cl_state_pack(const struct cl_state *s, uint8_t **out, size_t *len);

/* Fills @s from a packed State. Returns 0, -EBADMSG (unreadable) or
 * -E2BIG (more nodes or VMs than the limits). @s is untouched on error. */
int cl_state_unpack(const uint8_t *buf, size_t len, struct cl_state *s);

/* Builds a protobuf State for @s; free with cl_state_pb_free(). */
Ferry__Cluster__State *cl_state_pb_new(const struct cl_state *s);
void cl_state_pb_free(Ferry__Cluster__State *pb);

/* Fills @s from @pb. Same returns as cl_state_unpack(). */
int cl_state_from_pb(const Ferry__Cluster__State *pb, struct cl_state *s);

/* One node record both ways. */
void cl_node_to_pb(const struct cl_node *n, Ferry__Cluster__Node *pb);
void cl_node_from_pb(const Ferry__Cluster__Node *pb, struct cl_node *n);

#endif
