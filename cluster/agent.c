/*
 * hacd's node agent: for each VM the cluster state places on this node it
 * runs one `hv run` (own control socket, serial log, hv log), watches it,
 * restarts it when it crashes (from the latest checkpoint), takes periodic
 * `hv snapshot` checkpoints into the shared checkpoint directory, and plays
 * either side of a live migration (`hv run --incoming`, `hv migrate`).
 * Level-triggered: hacd_agent_reconcile() compares local processes with
 * the state and fixes the difference. Fencing: without local quorum it
 * kills every guest and starts nothing. Reaches hv only through its
 * command and control socket; never links hv's VM code. Main thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbipcc.h>

#include "cluster/agent_hv.h"
#include "cluster/child.h"
#include "cluster/hacd.h"
#include "hv/clock.h"
#include "hv/log.h"

#define AG_PROBE_MS 10
#define AG_PROBE_TRIES 1000
#define AG_MAX_RESTARTS 5
#define AG_STOP_GRACE_MS 2000

static bool ag_role_wanted(struct hacd *h, const struct cl_vm *vm,
			   enum ag_role *role)
{
	if (vm->phase == CL_VM_PLACED && vm->node == h->nodeid)
		*role = AG_RUN;
	else if (vm->phase == CL_VM_MIGRATING && vm->node == h->nodeid)
		*role = AG_RUN;
	else if (vm->phase == CL_VM_MIGRATING && vm->target == h->nodeid)
		*role = AG_INCOMING;
	else
		return false;
	return true;
}

/* Is the local process @v still what the state wants here? */
static bool ag_wanted(struct hacd *h, struct ag_vm *v)
{
	struct cl_vm *vm = cl_state_vm_find(h->state, v->name);
	enum ag_role role;

	if (!vm || vm->incarnation != v->incarnation ||
	    !ag_role_wanted(h, vm, &role))
		return false;
	/* The incoming side becomes the running one once migration is done;
	 * a finished source is no longer wanted. */
	if (v->role == AG_INCOMING && role == AG_RUN)
		return vm->phase == CL_VM_PLACED;
	return role == v->role && !v->migrated_out;
}

static void ag_observe(struct hacd *h, struct ag_vm *v, enum cl_obs obs,
		       int exit_status)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__Observe o = FERRY__CLUSTER__OBSERVE__INIT;

	o.name = v->name;
	o.node = h->nodeid;
	o.incarnation = v->incarnation;
	o.observed = (Ferry__Cluster__Observed)obs;
	o.exit_status = exit_status;
	m.body_case = FERRY__CLUSTER__MSG__BODY_OBSERVE;
	m.observe = &o;
	hacd_send(h, &m);
}

/* ---- probing the control socket ---------------------------------------- */

static void ag_probe_timer(void *data);

static void ag_ready(struct ag_vm *v)
{
	struct hacd *h = v->ag->h;

	log_info("vm %s: hv %d answers on %s (%.1f ms after start)", v->name,
		 (int)v->pid, v->ctl, (mono_ns() - v->spawn_ns) / 1e6);
	if (v->role == AG_INCOMING) {
		Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
		Ferry__Cluster__MigReady r = FERRY__CLUSTER__MIG_READY__INIT;

		r.name = v->name;
		r.node = h->nodeid;
		r.port = v->port;
		m.body_case = FERRY__CLUSTER__MSG__BODY_MIG_READY;
		m.mig_ready = &r;
		hacd_send(h, &m);
		return;
	}
	ag_observe(h, v, CL_OBS_RUNNING, -1);
	ag_checkpoint_arm(v);
}

static void ag_probe_timer(void *data)
{
	struct ag_vm *v = data;

	v->probe_timer = 0;
	if (!v->pid)
		return;
	if (v->role == AG_INCOMING ? ag_port_listens(v->port) :
				     ag_hv_answers(v->ctl)) {
		ag_ready(v);
		return;
	}
	if (++v->probes >= AG_PROBE_TRIES) {
		log_warn("vm %s: hv %d never answered on %s", v->name,
			 (int)v->pid, v->ctl);
		return;
	}
	qb_loop_timer_add(v->ag->h->loop, QB_LOOP_MED,
			  AG_PROBE_MS * 1000000ULL, v, ag_probe_timer,
			  &v->probe_timer);
}

/* ---- lifecycle of one local hv ----------------------------------------- */

static void ag_vm_release(struct ag_vm *v)
{
	qb_loop_t *loop = v->ag->h->loop;
	struct cl_children *c = v->ag->h->children;

	if (v->probe_timer)
		qb_loop_timer_del(loop, v->probe_timer);
	if (v->start_timer)
		qb_loop_timer_del(loop, v->start_timer);
	if (v->ckpt_timer)
		qb_loop_timer_del(loop, v->ckpt_timer);
	cl_child_forget(c, v->pid);
	cl_child_forget(c, v->ckpt_pid);
	cl_child_forget(c, v->mig_pid);
	memset(v, 0, sizeof(*v));
}

static void ag_restart_timer(void *data);

static void ag_hv_crashed(struct ag_vm *v, int status)
{
	struct hacd *h = v->ag->h;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) :
				       128 + WTERMSIG(status);

	ag_observe(h, v, CL_OBS_FAILED, code);
	if (v->restarts >= AG_MAX_RESTARTS) {
		log_err("vm %s: hv failed %d times (last status %d); giving "
			"up until the vm is stopped or moved", v->name,
			v->restarts + 1, code);
		v->dead = true;
		return;
	}
	v->restarts++;
	log_warn("vm %s: hv %d ended with status %d; restart %d in %u ms "
		 "(from the latest checkpoint if any)", v->name, (int)v->pid,
		 code, v->restarts, h->opts.restart_delay_ms);
	v->restore = true;
	qb_loop_timer_add(h->loop, QB_LOOP_MED,
			  h->opts.restart_delay_ms * 1000000ULL, v,
			  ag_restart_timer, &v->start_timer);
}

static void ag_hv_exited(void *ctx, pid_t pid, int status)
{
	struct ag_vm *v = ctx;
	struct hacd *h = v->ag->h;

	(void)pid;
	v->pid = 0;
	if (v->ckpt_timer)
		qb_loop_timer_del(h->loop, v->ckpt_timer);
	v->ckpt_timer = 0;
	if (v->stopping || v->migrating) {
		/* Asked to go, or a migration source whose guest moved:
		 * the migrate child reports the outcome. */
		if (!v->migrating)
			ag_vm_release(v);
		hacd_agent_reconcile(h);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("vm %s: guest ended (hv exit 0)", v->name);
		ag_observe(h, v, CL_OBS_STOPPED, 0);
		v->dead = true;
		return;
	}
	ag_hv_crashed(v, status);
}

static int ag_vm_spawn(struct ag_vm *v)
{
	struct hacd *h = v->ag->h;
	struct cl_vm *vm = cl_state_vm_find(h->state, v->name);
	struct ag_argv a;
	int rc;

	if (!vm)
		return -ENOENT;
	rc = ag_hv_run_argv(h, vm, v, &a);
	if (rc < 0)
		return rc;
	v->spawn_ns = mono_ns();
	rc = cl_child_spawn(h->children, a.argv, a.log, ag_hv_exited, v,
			    &v->pid);
	if (rc < 0)
		return rc;
	log_info("vm %s: started hv %d (%s)", v->name, (int)v->pid, a.how);
	v->probes = 0;
	qb_loop_timer_add(h->loop, QB_LOOP_MED, AG_PROBE_MS * 1000000ULL, v,
			  ag_probe_timer, &v->probe_timer);
	return 0;
}

static void ag_restart_timer(void *data)
{
	struct ag_vm *v = data;

	v->start_timer = 0;
	if (!v->ag->h->quorate)
		return;
	if (ag_vm_spawn(v) < 0)
		v->dead = true;
}

static struct ag_vm *ag_vm_find(struct hacd_agent *ag, const char *name)
{
	for (int i = 0; i < CL_MAX_VMS; i++)
		if (ag->vms[i].used && !strcmp(ag->vms[i].name, name))
			return &ag->vms[i];
	return NULL;
}

static void ag_vm_begin(struct hacd *h, const struct cl_vm *vm,
			enum ag_role role)
{
	struct ag_vm *v = NULL;
	unsigned int delay = vm->restore ? h->opts.fence_delay_ms : 0;

	for (int i = 0; i < CL_MAX_VMS && !v; i++)
		if (!h->agent->vms[i].used)
			v = &h->agent->vms[i];
	if (!v)
		return;
	v->used = true;
	v->ag = h->agent;
	v->role = role;
	v->restore = vm->restore;
	v->incarnation = vm->incarnation;
	snprintf(v->name, sizeof(v->name), "%s", vm->spec.name);
	ag_ctl_path(h, v->name, v->ctl, sizeof(v->ctl));
	if (role == AG_RUN && delay) {
		/* Failover: give the lost node's self-fence time to act. */
		log_info("vm %s: starting in %u ms (fence delay)", v->name,
			 delay);
		qb_loop_timer_add(h->loop, QB_LOOP_HIGH, delay * 1000000ULL, v,
				  ag_restart_timer, &v->start_timer);
		return;
	}
	if (ag_vm_spawn(v) < 0)
		v->dead = true;
}

static void ag_kill_timer(void *data)
{
	struct ag_vm *v = data;

	v->start_timer = 0;
	if (!v->pid)
		return;
	log_warn("vm %s: hv %d ignored SIGTERM for %d ms; SIGKILL", v->name,
		 (int)v->pid, AG_STOP_GRACE_MS);
	kill(v->pid, SIGKILL);
}

/* SIGTERM lets hv stop its VM cleanly; SIGKILL follows after a grace
 * period. A snapshot in progress is left to finish or fail by itself. */
static void ag_vm_stop(struct ag_vm *v)
{
	struct hacd *h = v->ag->h;

	if (!v->pid) {
		ag_vm_release(v);
		return;
	}
	if (v->stopping)
		return;
	log_info("vm %s: stopping hv %d", v->name, (int)v->pid);
	v->stopping = true;
	kill(v->pid, SIGTERM);
	if (v->mig_pid)
		kill(v->mig_pid, SIGKILL);
	if (v->start_timer)
		qb_loop_timer_del(h->loop, v->start_timer);
	qb_loop_timer_add(h->loop, QB_LOOP_HIGH, AG_STOP_GRACE_MS * 1000000ULL,
			  v, ag_kill_timer, &v->start_timer);
}

/* ---- reconcile and fence ----------------------------------------------- */

static void ag_vm_sync_one(struct hacd *h, const struct cl_vm *vm)
{
	struct ag_vm *v = ag_vm_find(h->agent, vm->spec.name);
	enum ag_role role;

	if (!ag_role_wanted(h, vm, &role))
		return;
	if (!v) {
		ag_vm_begin(h, vm, role);
		return;
	}
	if (v->stopping)
		return; /* the old one must go first; its exit reconciles */
	if (v->role == AG_INCOMING && vm->phase == CL_VM_PLACED) {
		log_info("vm %s: migration in done; now runs here", v->name);
		v->role = AG_RUN;
		ag_checkpoint_arm(v);
	}
	if (vm->phase == CL_VM_MIGRATING && vm->node == h->nodeid &&
	    vm->mig_port && !v->migrating && v->pid)
		ag_migrate_start(v, vm);
}

void hacd_agent_reconcile(struct hacd *h)
{
	struct hacd_agent *ag = h->agent;

	if (!ag)
		return;
	if (!h->quorate) {
		hacd_agent_fence(h, "no quorum");
		return;
	}
	/* Act only on state synchronised with a quorate configuration: a
	 * node rejoining holds its stale copy until the sync round ends, and
	 * votequorum may report quorum before CPG delivers the new
	 * configuration. */
	if (!h->synced || h->sync.active || !cl_state_quorate(h->state))
		return;
	for (int i = 0; i < CL_MAX_VMS; i++)
		if (ag->vms[i].used && !ag_wanted(h, &ag->vms[i]))
			ag_vm_stop(&ag->vms[i]);
	for (uint32_t i = 0; i < h->state->nvms; i++)
		ag_vm_sync_one(h, &h->state->vms[i]);
}

void hacd_agent_fence(struct hacd *h, const char *why)
{
	struct hacd_agent *ag = h->agent;
	int n = 0;

	if (!ag)
		return;
	for (int i = 0; i < CL_MAX_VMS; i++) {
		struct ag_vm *v = &ag->vms[i];

		if (!v->used)
			continue;
		if (v->pid)
			kill(v->pid, SIGKILL);
		if (v->ckpt_pid)
			kill(v->ckpt_pid, SIGKILL);
		if (v->mig_pid)
			kill(v->mig_pid, SIGKILL);
		n += v->pid != 0;
		ag_vm_release(v);
	}
	if (n)
		log_warn("self-fence (%s): killed %d guest(s)", why, n);
}

int hacd_agent_create(struct hacd *h)
{
	char dir[PATH_MAX];

	h->agent = calloc(1, sizeof(*h->agent));
	if (!h->agent)
		return -ENOMEM;
	h->agent->h = h;
	h->agent->wd_fd = -1;
	snprintf(dir, sizeof(dir), "%s/vms", h->opts.state_dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_err("cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (mkdir(h->opts.ckpt_dir, 0755) < 0 && errno != EEXIST) {
		log_err("cannot create checkpoint directory %s: %s",
			h->opts.ckpt_dir, strerror(errno));
		return -errno;
	}
	return ag_watchdog_start(h->agent);
}

void hacd_agent_destroy(struct hacd *h)
{
	if (!h->agent)
		return;
	for (int i = 0; i < CL_MAX_VMS; i++)
		if (h->agent->vms[i].used)
			ag_vm_stop(&h->agent->vms[i]);
	ag_watchdog_stop(h->agent);
	free(h->agent);
	h->agent = NULL;
}
