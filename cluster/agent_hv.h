/*
 * The agent's per-VM record and the pieces of agent.c that talk to hv:
 * command lines for `hv run`, the control-socket probe, checkpoints,
 * migration, and the hardware watchdog. Private to cluster/.
 */
#ifndef CLUSTER_AGENT_HV_H
#define CLUSTER_AGENT_HV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <qb/qbloop.h>

#include "cluster/hacd.h"

enum ag_role { AG_RUN, AG_INCOMING };

struct hacd_agent;

struct ag_vm {
	bool used;
	struct hacd_agent *ag;
	char name[CL_NAME_MAX];
	char ctl[128];          /* hv's control socket */
	uint32_t incarnation;
	enum ag_role role;
	bool restore;           /* next start: from the latest checkpoint */
	pid_t pid;              /* hv run, 0 if none */
	pid_t ckpt_pid;         /* hv snapshot in progress */
	pid_t mig_pid;          /* hv migrate in progress */
	bool stopping;          /* we asked hv to end */
	bool migrating;         /* hv migrate started from here */
	bool migrated_out;      /* ... and succeeded */
	bool dead;              /* ended; waits for the state to move on */
	bool ckpt_failing;      /* log checkpoint failures once per streak */
	int restarts;
	int probes;
	uint32_t port;          /* incoming migration port */
	uint64_t spawn_ns;
	qb_loop_timer_handle probe_timer, start_timer, ckpt_timer;
};

struct hacd_agent {
	struct hacd *h;
	struct ag_vm vms[CL_MAX_VMS];
	int wd_fd;
	qb_loop_timer_handle wd_timer;
};

#define AG_ARGS_MAX 24

struct ag_argv {
	char *argv[AG_ARGS_MAX];
	char store[8][PATH_MAX];
	char log[PATH_MAX];
	const char *how;
};

void ag_ctl_path(struct hacd *h, const char *name, char *out, size_t size);
/* Fills @a with the `hv run` command for @v (cold boot, restore or
 * incoming). May delete checkpoints of older incarnations. */
int ag_hv_run_argv(struct hacd *h, const struct cl_vm *vm, struct ag_vm *v,
		   struct ag_argv *a);
/* True when an hv answers on control socket @ctl. */
bool ag_hv_answers(const char *ctl);
/* True when a TCP socket listens on @port in this network namespace. */
bool ag_port_listens(uint32_t port);
/* Starts the periodic checkpoint timer of a running @v (if the VM has an
 * interval). */
void ag_checkpoint_arm(struct ag_vm *v);
/* Runs `hv migrate` from @v to @vm's target; reports the result. */
void ag_migrate_start(struct ag_vm *v, const struct cl_vm *vm);
int ag_watchdog_start(struct hacd_agent *ag);
void ag_watchdog_stop(struct hacd_agent *ag);

#endif
