/*
 * hactl: Ferry's cluster CLI. Each subcommand lives in its own file and
 * talks to the local hacd through client.c (libqb IPC, proto/hactl.proto).
 * Short-lived, single-threaded; errors are one line on stderr (hv/log.h).
 */
#ifndef HACTL_HACTL_H
#define HACTL_HACTL_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/state.h"
#include "proto/hactl.pb-c.h"

enum { HACTL_EXIT_OK = 0, HACTL_EXIT_FAIL = 1, HACTL_EXIT_USAGE = 2 };

struct hactl {
	const char *ipc;   /* hacd's service name */
	bool json;
	bool wait;         /* drain/migrate: wait for the moves to finish */
	unsigned int timeout_s;
};

/* client.c. Status: *out is the reply (free with
 * ferry__hactl__reply__free_unpacked). Returns 0 or -errno, logged. */
int hactl_status(const struct hactl *c, Ferry__Hactl__Reply **out);
/* Sends one cluster operation and waits until it has been applied.
 * Returns 0 or the cluster's -errno, its reason logged. */
int hactl_op(const struct hactl *c, Ferry__Cluster__Msg *op);
/* Resolves NODE (id or name) through a status call. Returns the id or 0
 * (logged: unknown node / no hacd). */
uint32_t hactl_node_id(const struct hactl *c, const char *ref);
/* Enters network namespace "<FERRY_CLUSTER or ferry>-n<K>" for --node K. */
int hactl_enter_node(const char *node);

/* Subcommands: argc/argv start at the subcommand's own name. */
int hactl_cmd_status(struct hactl *c, int argc, char **argv);
int hactl_cmd_vm_add(struct hactl *c, int argc, char **argv);
int hactl_cmd_vm_simple(struct hactl *c, const char *verb, int argc,
			char **argv);
int hactl_cmd_vm_migrate(struct hactl *c, int argc, char **argv);
int hactl_cmd_node(struct hactl *c, const char *verb, int argc, char **argv);

/* wait.c: polls status until @done returns true or the timeout. */
typedef int (*hactl_done_fn)(const Ferry__Hactl__Reply *r, const void *arg);
int hactl_wait(const struct hactl *c, hactl_done_fn done, const void *arg);

#endif
