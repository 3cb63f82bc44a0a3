/*
 * struct cl_state <-> ferry.cluster.State. The protobuf side borrows the
 * strings of the C side (no copies); cl_state_pb_free() frees only the
 * arrays it allocated.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/state_pb.h"

struct cl_pb_store {
	Ferry__Cluster__State st;
	Ferry__Cluster__Node nodes[CL_MAX_NODES];
	Ferry__Cluster__Node *node_ptrs[CL_MAX_NODES];
	Ferry__Cluster__Vm vms[CL_MAX_VMS];
	Ferry__Cluster__VmSpec specs[CL_MAX_VMS];
	Ferry__Cluster__Vm *vm_ptrs[CL_MAX_VMS];
};

void cl_node_to_pb(const struct cl_node *n, Ferry__Cluster__Node *pb)
{
	ferry__cluster__node__init(pb);
	pb->id = n->id;
	pb->name = (char *)n->name;
	pb->addr = (char *)n->addr;
	pb->capacity_mib = n->capacity_mib;
	pb->drained = n->drained;
	pb->up = n->up;
	pb->expected_votes = n->expected_votes;
}

static void cl_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void cl_node_from_pb(const Ferry__Cluster__Node *pb, struct cl_node *n)
{
	memset(n, 0, sizeof(*n));
	n->id = pb->id;
	cl_copy(n->name, sizeof(n->name), pb->name);
	cl_copy(n->addr, sizeof(n->addr), pb->addr);
	n->capacity_mib = pb->capacity_mib;
	n->drained = pb->drained;
	n->up = pb->up;
	n->expected_votes = pb->expected_votes;
}

static void cl_vm_to_pb(const struct cl_vm *vm, Ferry__Cluster__Vm *pb,
			Ferry__Cluster__VmSpec *sp)
{
	ferry__cluster__vm_spec__init(sp);
	sp->name = (char *)vm->spec.name;
	sp->kernel = (char *)vm->spec.kernel;
	sp->cmdline = (char *)vm->spec.cmdline;
	sp->mem_mib = vm->spec.mem_mib;
	sp->vcpus = vm->spec.vcpus;
	sp->checkpoint_ms = vm->spec.checkpoint_ms;
	ferry__cluster__vm__init(pb);
	pb->spec = sp;
	pb->phase = (Ferry__Cluster__VmPhase)vm->phase;
	pb->node = vm->node;
	pb->target = vm->target;
	pb->incarnation = vm->incarnation;
	pb->observed = (Ferry__Cluster__Observed)vm->observed;
	pb->mig_port = vm->mig_port;
	pb->restore = vm->restore;
	pb->reason = (char *)vm->reason;
}

static int cl_vm_from_pb(const Ferry__Cluster__Vm *pb, struct cl_vm *vm)
{
	const Ferry__Cluster__VmSpec *sp = pb->spec;

	if (!sp || (unsigned int)pb->phase >= CL_VM_NPHASES ||
	    (unsigned int)pb->observed > CL_OBS_FAILED)
		return -EBADMSG;
	memset(vm, 0, sizeof(*vm));
	cl_copy(vm->spec.name, sizeof(vm->spec.name), sp->name);
	cl_copy(vm->spec.kernel, sizeof(vm->spec.kernel), sp->kernel);
	cl_copy(vm->spec.cmdline, sizeof(vm->spec.cmdline), sp->cmdline);
	vm->spec.mem_mib = sp->mem_mib;
	vm->spec.vcpus = sp->vcpus;
	vm->spec.checkpoint_ms = sp->checkpoint_ms;
	vm->phase = (enum cl_vm_phase)pb->phase;
	vm->node = pb->node;
	vm->target = pb->target;
	vm->incarnation = pb->incarnation;
	vm->observed = (enum cl_obs)pb->observed;
	vm->mig_port = pb->mig_port;
	vm->restore = pb->restore;
	cl_copy(vm->reason, sizeof(vm->reason), pb->reason);
	return 0;
}

Ferry__Cluster__State *cl_state_pb_new(const struct cl_state *s)
{
	struct cl_pb_store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	ferry__cluster__state__init(&st->st);
	st->st.version = s->version;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		cl_node_to_pb(&s->nodes[i], &st->nodes[i]);
		st->node_ptrs[i] = &st->nodes[i];
	}
	for (uint32_t i = 0; i < s->nvms; i++) {
		cl_vm_to_pb(&s->vms[i], &st->vms[i], &st->specs[i]);
		st->vm_ptrs[i] = &st->vms[i];
	}
	st->st.n_nodes = s->nnodes;
	st->st.nodes = st->node_ptrs;
	st->st.n_vms = s->nvms;
	st->st.vms = st->vm_ptrs;
	return &st->st;
}

/* The State is the first member of its store. */
void cl_state_pb_free(Ferry__Cluster__State *pb)
{
	free(pb);
}

int cl_state_from_pb(const Ferry__Cluster__State *pb, struct cl_state *s)
{
	struct cl_state *tmp;
	int rc = 0;

	if (pb->n_nodes > CL_MAX_NODES || pb->n_vms > CL_MAX_VMS)
		return -E2BIG;
	tmp = calloc(1, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	tmp->version = pb->version;
	tmp->nnodes = (uint32_t)pb->n_nodes;
	for (size_t i = 0; i < pb->n_nodes; i++)
		cl_node_from_pb(pb->nodes[i], &tmp->nodes[i]);
	tmp->nvms = (uint32_t)pb->n_vms;
	for (size_t i = 0; i < pb->n_vms && rc == 0; i++)
		rc = cl_vm_from_pb(pb->vms[i], &tmp->vms[i]);
	if (rc == 0)
		*s = *tmp;
	free(tmp);
	return rc;
}

int cl_state_pack(const struct cl_state *s, uint8_t **out, size_t *len)
{
	Ferry__Cluster__State *pb = cl_state_pb_new(s);
	uint8_t *buf;

	if (!pb)
		return -ENOMEM;
	*len = ferry__cluster__state__get_packed_size(pb);
	buf = malloc(*len ? *len : 1);
	if (buf)
		ferry__cluster__state__pack(pb, buf);
	cl_state_pb_free(pb);
	if (!buf)
		return -ENOMEM;
	*out = buf;
	return 0;
}

int cl_state_unpack(const uint8_t *buf, size_t len, struct cl_state *s)
{
	Ferry__Cluster__State *pb;
	int rc;

	pb = ferry__cluster__state__unpack(NULL, len, buf);
	if (!pb)
		return -EBADMSG;
	rc = cl_state_from_pb(pb, s);
	ferry__cluster__state__free_unpacked(pb, NULL);
	return rc;
}
