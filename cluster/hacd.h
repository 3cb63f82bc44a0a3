/*
 * hacd's daemon context, shared by its glue files (main.c, corosync.c,
 * agent.c, child.c, ipc.c). Everything runs on the one main thread, inside
 * the qb main loop that main.c owns. Private to cluster/.
 */
#ifndef CLUSTER_HACD_H
#define CLUSTER_HACD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <qb/qbloop.h>

#include "cluster/state.h"
#include "cluster/sync.h"

#define HACD_IPC_DEFAULT "ferry-hacd"

/* Short enough that every path built from them fits in PATH_MAX. */
#define HACD_DIR_MAX 256

struct hacd_opts {
	char state_dir[HACD_DIR_MAX];
	char ckpt_dir[HACD_DIR_MAX];
	char hv[HACD_DIR_MAX];
	const char *ipc_name;
	const char *watchdog;   /* NULL: none armed */
	uint64_t capacity_mib;  /* 0: MemTotal */
	unsigned int fence_delay_ms;
	unsigned int restart_delay_ms;
};

struct hacd_corosync;
struct hacd_agent;
struct hacd_ipc;
struct cl_children;

/* A delivered message waiting for the sync round to end. */
struct hacd_queued {
	struct hacd_queued *next;
	uint32_t from;
	size_t len;
	uint8_t buf[];
};

struct hacd {
	qb_loop_t *loop;
	struct hacd_opts opts;
	uint32_t nodeid;
	struct cl_node self;
	struct cl_state *state;
	struct cl_sync sync;
	struct hacd_queued *queue, **queue_tail;
	bool synced;            /* at least one sync round completed */
	bool quorate;           /* votequorum's view, local */
	uint64_t next_req;
	struct hacd_corosync *cs;
	struct hacd_agent *agent;
	struct hacd_ipc *ipc;
	struct cl_children *children;
	char state_path[PATH_MAX];
};

/* corosync.c: CPG group "ferry", votequorum, cmap. */
int hacd_corosync_start(struct hacd *h);
void hacd_corosync_stop(struct hacd *h);
/* Multicasts @m (origin filled in) in agreed order. Returns 0 or -errno. */
int hacd_send(struct hacd *h, Ferry__Cluster__Msg *m);

/* main.c: called after the state changed (persist, reconcile). */
void hacd_state_changed(struct hacd *h);

/* agent.c: runs the hv processes of VMs placed on this node. */
int hacd_agent_create(struct hacd *h);
void hacd_agent_destroy(struct hacd *h);
/* Brings local hv processes in line with the state and local quorum. */
void hacd_agent_reconcile(struct hacd *h);
/* Kills every local guest at once (SIGKILL): quorum lost. */
void hacd_agent_fence(struct hacd *h, const char *why);
/* Age of @vm's latest checkpoint file, for status. Returns 0 or -ENOENT. */
int hacd_agent_checkpoint(struct hacd *h, const struct cl_vm *vm, char *path,
			  size_t size, uint64_t *age_ms, uint64_t *bytes);

/* ipc.c: the hactl server. */
int hacd_ipc_create(struct hacd *h);
void hacd_ipc_destroy(struct hacd *h);
/* The operation @req_id (sent by this node) was applied with @rc. */
void hacd_ipc_complete(struct hacd *h, uint64_t req_id, int rc,
		       const char *why);

#endif
