/*
 * The replicated cluster state machine (see state.h). VM lifecycles follow
 * one table, vm_fsm[phase][event], in the style of Corosync's exec/fsm.h:
 * a transition not in the table is rejected with -EBUSY and changes
 * nothing. Node-level operations (drain, membership) turn into VM events.
 * Must stay deterministic: no clock, no randomness, no local facts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/state.h"
#include "hv/log.h"

enum cl_ev_type {
	CL_EV_START,
	CL_EV_STOP,
	CL_EV_REMOVE,
	CL_EV_NODE_LOST,
	CL_EV_RETRY,
	CL_EV_MIGRATE,
	CL_EV_MIG_READY,
	CL_EV_MIG_DONE,
	CL_EV_MIG_FAIL,
	CL_EV_GUEST_EXIT,
	CL_EV_N
};

static const char *const cl_ev_names[CL_EV_N] = {
	"start", "stop", "remove", "node-lost", "retry", "migrate",
	"migrate-ready", "migrate-done", "migrate-fail", "guest-exit",
};

struct cl_ev {
	enum cl_ev_type type;
	uint32_t node;      /* NODE_LOST: the lost node; MIGRATE: target */
	uint32_t port;      /* MIG_READY */
	const char *reason; /* MIG_FAIL */
	char *why;
	size_t why_len;
};

/* Returns 1 (changed), 0 (nothing to do) or a negative errno. */
typedef int (*cl_vm_action)(struct cl_state *s, struct cl_vm *vm,
			    const struct cl_ev *ev);

static int cl_why(const struct cl_ev *ev, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cl_why(const struct cl_ev *ev, int rc, const char *fmt, ...)
{
	va_list ap;

	if (ev->why && ev->why_len) {
		va_start(ap, fmt);
		vsnprintf(ev->why, ev->why_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---- lookups ----------------------------------------------------------- */

void cl_state_init(struct cl_state *s)
{
	memset(s, 0, sizeof(*s));
}

struct cl_vm *cl_state_vm_find(struct cl_state *s, const char *name)
{
	for (uint32_t i = 0; i < s->nvms; i++)
		if (!strcmp(s->vms[i].spec.name, name))
			return &s->vms[i];
	return NULL;
}

struct cl_node *cl_state_node_find(struct cl_state *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->nnodes; i++)
		if (s->nodes[i].id == id)
			return &s->nodes[i];
	return NULL;
}

struct cl_node *cl_state_node_lookup(struct cl_state *s, const char *ref)
{
	char *end;
	unsigned long id = strtoul(ref, &end, 10);

	if (*ref && !*end)
		return cl_state_node_find(s, (uint32_t)id);
	for (uint32_t i = 0; i < s->nnodes; i++)
		if (!strcmp(s->nodes[i].name, ref))
			return &s->nodes[i];
	return NULL;
}

static bool cl_node_is_up(const struct cl_state *s, uint32_t id)
{
	for (uint32_t i = 0; i < s->nnodes; i++)
		if (s->nodes[i].id == id)
			return s->nodes[i].up;
	return false;
}

bool cl_state_quorate(const struct cl_state *s)
{
	uint32_t up = 0, expected = s->nnodes;

	for (uint32_t i = 0; i < s->nnodes; i++) {
		up += s->nodes[i].up;
		if (s->nodes[i].expected_votes > expected)
			expected = s->nodes[i].expected_votes;
	}
	return expected && up * 2 > expected;
}

uint64_t cl_state_node_used(const struct cl_state *s, uint32_t node)
{
	uint64_t used = 0;

	for (uint32_t i = 0; i < s->nvms; i++) {
		const struct cl_vm *vm = &s->vms[i];

		if ((vm->phase == CL_VM_PLACED || vm->phase == CL_VM_MIGRATING) &&
		    vm->node == node)
			used += vm->spec.mem_mib;
		else if (vm->phase == CL_VM_MIGRATING && vm->target == node)
			used += vm->spec.mem_mib;
	}
	return used;
}

uint32_t cl_state_place(const struct cl_state *s, uint64_t mem_mib,
			uint32_t exclude)
{
	uint32_t best = 0;
	uint64_t best_used = 0;

	for (uint32_t i = 0; i < s->nnodes; i++) {
		const struct cl_node *n = &s->nodes[i];
		uint64_t used;

		if (!n->up || n->drained || n->id == exclude)
			continue;
		used = cl_state_node_used(s, n->id);
		if (used + mem_mib > n->capacity_mib)
			continue;
		if (!best || used < best_used ||
		    (used == best_used && n->id < best)) {
			best = n->id;
			best_used = used;
		}
	}
	return best;
}

/* ---- VM actions -------------------------------------------------------- */

/* Places @vm away from @exclude; PENDING if nothing fits. */
static int cl_vm_place(struct cl_state *s, struct cl_vm *vm, uint32_t exclude,
		       const char *cause)
{
	uint32_t to = cl_state_place(s, vm->spec.mem_mib, exclude);

	if (!to) {
		vm->phase = CL_VM_PENDING;
		vm->node = 0;
		snprintf(vm->reason, sizeof(vm->reason),
			 "%s: no up, undrained node has %llu MiB free", cause,
			 (unsigned long long)vm->spec.mem_mib);
		log_warn("vm %s pending: %s", vm->spec.name, vm->reason);
		return 1;
	}
	vm->phase = CL_VM_PLACED;
	vm->node = to;
	vm->target = 0;
	vm->mig_port = 0;
	vm->observed = CL_OBS_NONE;
	snprintf(vm->reason, sizeof(vm->reason),
		 "%s: node %u fits %llu MiB and is least loaded (%llu MiB "
		 "used before)", cause, to, (unsigned long long)vm->spec.mem_mib,
		 (unsigned long long)(cl_state_node_used(s, to) -
				      vm->spec.mem_mib));
	log_info("vm %s placed on node %u (%s, from %s): %s", vm->spec.name, to,
		 vm->restore ? "restore" : "cold boot", cause, vm->reason);
	return 1;
}

static int cl_act_noop(struct cl_state *s, struct cl_vm *vm,
		       const struct cl_ev *ev)
{
	(void)s, (void)vm, (void)ev;
	return 0;
}

static int cl_act_start(struct cl_state *s, struct cl_vm *vm,
			const struct cl_ev *ev)
{
	if (!cl_state_place(s, vm->spec.mem_mib, 0))
		return cl_why(ev, -ENOSPC, "vm %s (%llu MiB) fits on no up, "
			      "undrained node", vm->spec.name,
			      (unsigned long long)vm->spec.mem_mib);
	vm->incarnation++;
	vm->restore = false;
	return cl_vm_place(s, vm, 0, "start");
}

static int cl_act_stop(struct cl_state *s, struct cl_vm *vm,
		       const struct cl_ev *ev)
{
	(void)s;
	vm->phase = CL_VM_STOPPED;
	vm->node = vm->target = vm->mig_port = 0;
	vm->restore = false;
	vm->observed = CL_OBS_NONE;
	snprintf(vm->reason, sizeof(vm->reason), "%s", cl_ev_names[ev->type]);
	log_info("vm %s stopped (%s)", vm->spec.name, vm->reason);
	return 1;
}

static int cl_act_remove(struct cl_state *s, struct cl_vm *vm,
			 const struct cl_ev *ev)
{
	size_t i = (size_t)(vm - s->vms);

	(void)ev;
	log_info("vm %s removed", vm->spec.name);
	memmove(vm, vm + 1, (s->nvms - i - 1) * sizeof(*vm));
	s->nvms--;
	return 1;
}

static int cl_act_failover(struct cl_state *s, struct cl_vm *vm,
			   const struct cl_ev *ev)
{
	char cause[64];

	if (vm->node != ev->node)
		return 0;
	snprintf(cause, sizeof(cause), "failover from lost node %u", ev->node);
	vm->restore = true;
	return cl_vm_place(s, vm, ev->node, cause);
}

static int cl_act_retry(struct cl_state *s, struct cl_vm *vm,
			const struct cl_ev *ev)
{
	(void)ev;
	if (!cl_state_place(s, vm->spec.mem_mib, 0))
		return 0;
	return cl_vm_place(s, vm, 0, "retry of a pending vm");
}

static int cl_act_migrate(struct cl_state *s, struct cl_vm *vm,
			  const struct cl_ev *ev)
{
	struct cl_node *to = cl_state_node_find(s, ev->node);

	if (!to)
		return cl_why(ev, -ENOENT, "unknown node %u", ev->node);
	if (ev->node == vm->node)
		return cl_why(ev, -EINVAL, "vm %s already runs on node %u",
			      vm->spec.name, ev->node);
	if (!to->up)
		return cl_why(ev, -EHOSTDOWN, "node %u is down", ev->node);
	if (cl_state_node_used(s, ev->node) + vm->spec.mem_mib >
	    to->capacity_mib)
		return cl_why(ev, -ENOSPC, "vm %s (%llu MiB) does not fit on "
			      "node %u", vm->spec.name,
			      (unsigned long long)vm->spec.mem_mib, ev->node);
	vm->phase = CL_VM_MIGRATING;
	vm->target = ev->node;
	vm->mig_port = 0;
	snprintf(vm->reason, sizeof(vm->reason), "migrating from node %u to "
		 "node %u", vm->node, vm->target);
	log_info("vm %s: %s", vm->spec.name, vm->reason);
	return 1;
}

static int cl_act_mig_ready(struct cl_state *s, struct cl_vm *vm,
			    const struct cl_ev *ev)
{
	(void)s;
	if (ev->node != vm->target || vm->mig_port)
		return 0;
	vm->mig_port = ev->port;
	return 1;
}

static int cl_act_mig_done(struct cl_state *s, struct cl_vm *vm,
			   const struct cl_ev *ev)
{
	(void)s, (void)ev;
	snprintf(vm->reason, sizeof(vm->reason), "live-migrated from node %u "
		 "to node %u", vm->node, vm->target);
	log_info("vm %s %s", vm->spec.name, vm->reason);
	vm->node = vm->target;
	vm->phase = CL_VM_PLACED;
	vm->target = vm->mig_port = 0;
	vm->observed = CL_OBS_RUNNING;
	return 1;
}

static int cl_act_mig_fail(struct cl_state *s, struct cl_vm *vm,
			   const struct cl_ev *ev)
{
	(void)s;
	snprintf(vm->reason, sizeof(vm->reason), "migration to node %u "
		 "failed: %s; stays on node %u", vm->target,
		 ev->reason ? ev->reason : "target lost", vm->node);
	log_warn("vm %s: %s", vm->spec.name, vm->reason);
	vm->phase = CL_VM_PLACED;
	vm->target = vm->mig_port = 0;
	return 1;
}

/* Source or target of a migration lost. */
static int cl_act_mig_lost(struct cl_state *s, struct cl_vm *vm,
			   const struct cl_ev *ev)
{
	if (ev->node == vm->target)
		return cl_act_mig_fail(s, vm, ev);
	vm->target = vm->mig_port = 0;
	return cl_act_failover(s, vm, ev);
}

/* [phase][event]; NULL = not allowed in that phase. */
static const cl_vm_action vm_fsm[CL_VM_NPHASES][CL_EV_N] = {
	[CL_VM_STOPPED] = {
		[CL_EV_START] = cl_act_start,
		[CL_EV_STOP] = cl_act_noop,
		[CL_EV_REMOVE] = cl_act_remove,
		[CL_EV_NODE_LOST] = cl_act_noop,
		[CL_EV_GUEST_EXIT] = cl_act_noop,
	},
	[CL_VM_PENDING] = {
		[CL_EV_START] = cl_act_noop,
		[CL_EV_STOP] = cl_act_stop,
		[CL_EV_REMOVE] = cl_act_remove,
		[CL_EV_NODE_LOST] = cl_act_noop,
		[CL_EV_RETRY] = cl_act_retry,
	},
	[CL_VM_PLACED] = {
		[CL_EV_START] = cl_act_noop,
		[CL_EV_STOP] = cl_act_stop,
		[CL_EV_REMOVE] = cl_act_remove,
		[CL_EV_NODE_LOST] = cl_act_failover,
		[CL_EV_MIGRATE] = cl_act_migrate,
		[CL_EV_GUEST_EXIT] = cl_act_stop,
	},
	[CL_VM_MIGRATING] = {
		[CL_EV_START] = cl_act_noop,
		[CL_EV_STOP] = cl_act_stop,
		[CL_EV_REMOVE] = cl_act_remove,
		[CL_EV_NODE_LOST] = cl_act_mig_lost,
		[CL_EV_MIG_READY] = cl_act_mig_ready,
		[CL_EV_MIG_DONE] = cl_act_mig_done,
		[CL_EV_MIG_FAIL] = cl_act_mig_fail,
	},
};

static int cl_vm_event(struct cl_state *s, struct cl_vm *vm,
		       const struct cl_ev *ev)
{
	cl_vm_action act = vm_fsm[vm->phase][ev->type];

	if (!act)
		return cl_why(ev, -EBUSY, "vm %s is %s: cannot %s",
			      vm->spec.name, cl_vm_phase_name(vm->phase),
			      cl_ev_names[ev->type]);
	return act(s, vm, ev);
}

/* ---- operations ---------------------------------------------------------- */

static int cl_spec_check(const Ferry__Cluster__VmSpec *sp, struct cl_ev *ev)
{
	const char *p;

	if (!sp->name || !*sp->name || strlen(sp->name) >= CL_NAME_MAX)
		return cl_why(ev, -EINVAL, "vm name must be 1 to %d characters",
			      CL_NAME_MAX - 1);
	for (p = sp->name; *p; p++)
		if (!(*p == '-' || *p == '_' || *p == '.' ||
		      (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return cl_why(ev, -EINVAL, "vm name %s: use letters, "
				      "digits, '-', '_' and '.'", sp->name);
	if (!sp->kernel || sp->kernel[0] != '/' ||
	    strlen(sp->kernel) >= CL_PATH_MAX)
		return cl_why(ev, -EINVAL, "vm %s: kernel must be an absolute "
			      "path under %d characters", sp->name, CL_PATH_MAX);
	if (sp->cmdline && strlen(sp->cmdline) >= CL_CMDLINE_MAX)
		return cl_why(ev, -EINVAL, "vm %s: command line over %d "
			      "characters", sp->name, CL_CMDLINE_MAX - 1);
	if (!sp->mem_mib || sp->mem_mib > CL_MEM_MAX_MIB || !sp->vcpus ||
	    sp->vcpus > CL_VCPUS_MAX)
		return cl_why(ev, -EINVAL, "vm %s: memory must be 1 MiB to "
			      "1 TiB and vCPUs 1 to %d", sp->name, CL_VCPUS_MAX);
	return 0;
}

static int cl_op_vm_add(struct cl_state *s, const Ferry__Cluster__VmSpec *sp,
			struct cl_ev *ev)
{
	struct cl_vm *vm;
	int rc = cl_spec_check(sp, ev);

	if (rc < 0)
		return rc;
	if (cl_state_vm_find(s, sp->name))
		return cl_why(ev, -EEXIST, "vm name %s is in use", sp->name);
	if (s->nvms >= CL_MAX_VMS)
		return cl_why(ev, -ENOSPC, "the cluster holds %d vms at most",
			      CL_MAX_VMS);
	if (!cl_state_place(s, sp->mem_mib, 0))
		return cl_why(ev, -ENOSPC, "vm %s (%llu MiB) fits on no up, "
			      "undrained node", sp->name,
			      (unsigned long long)sp->mem_mib);
	vm = &s->vms[s->nvms++];
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->spec.name, sizeof(vm->spec.name), "%s", sp->name);
	snprintf(vm->spec.kernel, sizeof(vm->spec.kernel), "%s", sp->kernel);
	snprintf(vm->spec.cmdline, sizeof(vm->spec.cmdline), "%s",
		 sp->cmdline ? sp->cmdline : "");
	vm->spec.mem_mib = sp->mem_mib;
	vm->spec.vcpus = sp->vcpus;
	vm->spec.checkpoint_ms = sp->checkpoint_ms;
	vm->phase = CL_VM_STOPPED;
	log_info("vm %s added (%llu MiB, %u vCPUs, checkpoint every %u ms)",
		 vm->spec.name, (unsigned long long)vm->spec.mem_mib,
		 vm->spec.vcpus, vm->spec.checkpoint_ms);
	ev->type = CL_EV_START;
	return cl_vm_event(s, vm, ev);
}

static int cl_op_vm(struct cl_state *s, const char *name, struct cl_ev *ev)
{
	struct cl_vm *vm = name ? cl_state_vm_find(s, name) : NULL;

	if (!vm)
		return cl_why(ev, -ENOENT, "unknown vm %s", name ? name : "");
	return cl_vm_event(s, vm, ev);
}

static int cl_op_drain(struct cl_state *s, uint32_t id, bool drain,
		       struct cl_ev *ev)
{
	struct cl_node *n = cl_state_node_find(s, id);
	int changed;

	if (!n)
		return cl_why(ev, -ENOENT, "unknown node %u", id);
	changed = n->drained != drain;
	n->drained = drain;
	log_info("node %u %s", id, drain ? "drained" : "undrained");
	for (uint32_t i = 0; i < s->nvms; i++) {
		struct cl_vm *vm = &s->vms[i];

		if (!drain && vm->phase == CL_VM_PENDING) {
			ev->type = CL_EV_RETRY;
			changed |= cl_vm_event(s, vm, ev) > 0;
			continue;
		}
		if (!drain || vm->phase != CL_VM_PLACED || vm->node != id)
			continue;
		ev->node = cl_state_place(s, vm->spec.mem_mib, id);
		if (!ev->node) {
			log_warn("drain node %u: vm %s fits on no other node; "
				 "it stays", id, vm->spec.name);
			continue;
		}
		ev->type = CL_EV_MIGRATE;
		changed |= cl_vm_event(s, vm, ev) > 0;
	}
	return changed;
}

static int cl_op_observe(struct cl_state *s, const Ferry__Cluster__Observe *o,
			 struct cl_ev *ev)
{
	struct cl_vm *vm = o->name ? cl_state_vm_find(s, o->name) : NULL;

	if (!vm || vm->node != o->node || vm->incarnation != o->incarnation ||
	    (vm->phase != CL_VM_PLACED && vm->phase != CL_VM_MIGRATING))
		return 0; /* stale report: the vm has moved on */
	if (o->observed == FERRY__CLUSTER__OBSERVED__OBSERVED_STOPPED &&
	    o->exit_status == 0 && vm->phase == CL_VM_PLACED) {
		ev->type = CL_EV_GUEST_EXIT;
		return cl_vm_event(s, vm, ev);
	}
	if (vm->observed == (enum cl_obs)o->observed)
		return 0;
	vm->observed = (enum cl_obs)o->observed;
	return 1;
}

static int cl_op_mig(struct cl_state *s, const char *name, enum cl_ev_type type,
		     struct cl_ev *ev)
{
	struct cl_vm *vm = name ? cl_state_vm_find(s, name) : NULL;

	if (!vm || vm->phase != CL_VM_MIGRATING)
		return 0; /* stale: stopped, removed or already resolved */
	ev->type = type;
	return cl_vm_event(s, vm, ev);
}

/* Operations an operator asks for need a quorate partition. */
static bool cl_op_needs_quorum(Ferry__Cluster__Msg__BodyCase c)
{
	return c != FERRY__CLUSTER__MSG__BODY_OBSERVE &&
	       c != FERRY__CLUSTER__MSG__BODY_MIG_READY &&
	       c != FERRY__CLUSTER__MSG__BODY_MIG_RESULT;
}

static int cl_dispatch(struct cl_state *s, const Ferry__Cluster__Msg *m,
		       struct cl_ev *ev)
{
	switch (m->body_case) {
	case FERRY__CLUSTER__MSG__BODY_VM_ADD:
		return cl_op_vm_add(s, m->vm_add, ev);
	case FERRY__CLUSTER__MSG__BODY_VM_REMOVE:
		ev->type = CL_EV_REMOVE;
		return cl_op_vm(s, m->vm_remove->name, ev);
	case FERRY__CLUSTER__MSG__BODY_VM_START:
		ev->type = CL_EV_START;
		return cl_op_vm(s, m->vm_start->name, ev);
	case FERRY__CLUSTER__MSG__BODY_VM_STOP:
		ev->type = CL_EV_STOP;
		return cl_op_vm(s, m->vm_stop->name, ev);
	case FERRY__CLUSTER__MSG__BODY_VM_MIGRATE:
		ev->type = CL_EV_MIGRATE;
		ev->node = m->vm_migrate->to;
		return cl_op_vm(s, m->vm_migrate->name, ev);
	case FERRY__CLUSTER__MSG__BODY_NODE_DRAIN:
		return cl_op_drain(s, m->node_drain->node, true, ev);
	case FERRY__CLUSTER__MSG__BODY_NODE_UNDRAIN:
		return cl_op_drain(s, m->node_undrain->node, false, ev);
	case FERRY__CLUSTER__MSG__BODY_OBSERVE:
		return cl_op_observe(s, m->observe, ev);
	case FERRY__CLUSTER__MSG__BODY_MIG_READY:
		ev->node = m->mig_ready->node;
		ev->port = m->mig_ready->port;
		return cl_op_mig(s, m->mig_ready->name, CL_EV_MIG_READY, ev);
	case FERRY__CLUSTER__MSG__BODY_MIG_RESULT:
		ev->reason = m->mig_result->reason;
		return cl_op_mig(s, m->mig_result->name, m->mig_result->ok ?
				 CL_EV_MIG_DONE : CL_EV_MIG_FAIL, ev);
	default:
		return cl_why(ev, -EOPNOTSUPP, "unknown operation %d",
			      (int)m->body_case);
	}
}

int cl_state_apply(struct cl_state *s, const Ferry__Cluster__Msg *m,
		   char *why, size_t why_len)
{
	struct cl_ev ev = { .why = why, .why_len = why_len };
	int rc;

	if (why && why_len)
		why[0] = 0;
	if (cl_op_needs_quorum(m->body_case) && !cl_state_quorate(s))
		return cl_why(&ev, -EPERM, "the cluster has no quorum");
	rc = cl_dispatch(s, m, &ev);
	if (rc > 0)
		s->version++;
	return rc < 0 ? rc : 0;
}

/* ---- membership -------------------------------------------------------- */

int cl_state_node_update(struct cl_state *s, const struct cl_node *info)
{
	struct cl_node *n = cl_state_node_find(s, info->id);
	bool drained, up;

	if (!n) {
		if (s->nnodes >= CL_MAX_NODES)
			return -ENOSPC;
		n = &s->nodes[s->nnodes++];
		memset(n, 0, sizeof(*n));
	}
	drained = n->drained;
	up = n->up;
	*n = *info;
	n->drained = drained;
	n->up = up;
	return 0;
}

static bool cl_ids_have(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Fails over what ran on nodes that are down, then places pending VMs. */
static bool cl_state_recover(struct cl_state *s)
{
	struct cl_ev ev = { 0 };
	bool changed = false;

	for (uint32_t i = 0; i < s->nvms; i++) {
		struct cl_vm *vm = &s->vms[i];

		if (vm->phase != CL_VM_PLACED && vm->phase != CL_VM_MIGRATING)
			continue;
		ev.type = CL_EV_NODE_LOST;
		if (!cl_node_is_up(s, vm->node))
			ev.node = vm->node;
		else if (vm->phase == CL_VM_MIGRATING &&
			 !cl_node_is_up(s, vm->target))
			ev.node = vm->target;
		else
			continue;
		changed |= cl_vm_event(s, vm, &ev) > 0;
	}
	for (uint32_t i = 0; i < s->nvms; i++) {
		if (s->vms[i].phase != CL_VM_PENDING)
			continue;
		ev.type = CL_EV_RETRY;
		changed |= cl_vm_event(s, &s->vms[i], &ev) > 0;
	}
	return changed;
}

bool cl_state_set_members(struct cl_state *s, const uint32_t *ids, size_t n)
{
	bool changed = false;

	for (size_t i = 0; i < n; i++) {
		struct cl_node fresh = { .id = ids[i] };

		if (cl_state_node_find(s, ids[i]))
			continue;
		snprintf(fresh.name, sizeof(fresh.name), "node%u", ids[i]);
		if (cl_state_node_update(s, &fresh) == 0)
			changed = true;
	}
	for (uint32_t i = 0; i < s->nnodes; i++) {
		bool up = cl_ids_have(ids, n, s->nodes[i].id);

		changed |= s->nodes[i].up != up;
		s->nodes[i].up = up;
	}
	if (cl_state_quorate(s))
		changed |= cl_state_recover(s);
	else
		log_warn("configuration of %zu member(s) has no quorum: no "
			 "failover", n);
	if (changed)
		s->version++;
	return changed;
}

const char *cl_vm_phase_name(enum cl_vm_phase p)
{
	static const char *const names[] = { "stopped", "pending", "placed",
					     "migrating" };

	return (unsigned int)p < CL_VM_NPHASES ? names[p] : "unknown";
}

const char *cl_obs_name(enum cl_obs o)
{
	static const char *const names[] = { "none", "starting", "running",
					     "stopped", "failed" };

	return (unsigned int)o <= CL_OBS_FAILED ? names[o] : "unknown";
}
