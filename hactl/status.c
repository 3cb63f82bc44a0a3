/*
 * `hactl status [--json]`: quorum, nodes and VMs as this node's hacd sees
 * them (its copy of the replicated state).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hactl/hactl.h"
#include "hv/json.h"
#include "hv/log.h"

static uint64_t used_mib(const Ferry__Cluster__State *st, uint32_t node)
{
	uint64_t used = 0;

	for (size_t i = 0; i < st->n_vms; i++) {
		const Ferry__Cluster__Vm *vm = st->vms[i];
		bool here = vm->node == node &&
			    vm->phase >= FERRY__CLUSTER__VM_PHASE__VM_PHASE_PLACED;

		if (here || (vm->target == node && vm->phase ==
			     FERRY__CLUSTER__VM_PHASE__VM_PHASE_MIGRATING))
			used += vm->spec->mem_mib;
	}
	return used;
}

static const Ferry__Hactl__CheckpointInfo *ckpt_of(
	const Ferry__Hactl__Reply *r, const char *name)
{
	for (size_t i = 0; i < r->n_checkpoints; i++)
		if (!strcmp(r->checkpoints[i]->name, name))
			return r->checkpoints[i];
	return NULL;
}

static void json_node(const Ferry__Cluster__State *st,
		      const Ferry__Cluster__Node *n)
{
	printf("{\"id\":%u,\"name\":", n->id);
	json_print_string(n->name);
	printf(",\"addr\":");
	json_print_string(n->addr);
	printf(",\"up\":%s,\"drained\":%s,\"capacity_mib\":%" PRIu64
	       ",\"used_mib\":%" PRIu64 "}", n->up ? "true" : "false",
	       n->drained ? "true" : "false", n->capacity_mib,
	       used_mib(st, n->id));
}

static void json_vm(const Ferry__Hactl__Reply *r, const Ferry__Cluster__Vm *vm)
{
	const Ferry__Hactl__CheckpointInfo *ck = ckpt_of(r, vm->spec->name);

	printf("{\"name\":");
	json_print_string(vm->spec->name);
	printf(",\"phase\":\"%s\",\"node\":%u,\"target\":%u,\"observed\":"
	       "\"%s\",\"mem_mib\":%" PRIu64 ",\"vcpus\":%u,\"incarnation\":"
	       "%u,\"checkpoint_ms\":%u,\"kernel\":",
	       cl_vm_phase_name((enum cl_vm_phase)vm->phase), vm->node,
	       vm->target, cl_obs_name((enum cl_obs)vm->observed),
	       vm->spec->mem_mib, vm->spec->vcpus, vm->incarnation,
	       vm->spec->checkpoint_ms);
	json_print_string(vm->spec->kernel);
	printf(",\"cmdline\":");
	json_print_string(vm->spec->cmdline);
	printf(",\"reason\":");
	json_print_string(vm->reason);
	if (ck)
		printf(",\"checkpoint_age_ms\":%" PRIu64, ck->age_ms);
	printf("}");
}

static void print_json(const Ferry__Hactl__Reply *r)
{
	const Ferry__Cluster__State *st = r->state;

	printf("{\"quorate\":%s,\"local_node\":%u,\"version\":%" PRIu64
	       ",\"nodes\":[", r->quorate ? "true" : "false", r->local_node,
	       st->version);
	for (size_t i = 0; i < st->n_nodes; i++) {
		printf(i ? "," : "");
		json_node(st, st->nodes[i]);
	}
	printf("],\"vms\":[");
	for (size_t i = 0; i < st->n_vms; i++) {
		printf(i ? "," : "");
		json_vm(r, st->vms[i]);
	}
	printf("]}\n");
}

static void print_text(const Ferry__Hactl__Reply *r)
{
	const Ferry__Cluster__State *st = r->state;

	printf("cluster: %s, state version %" PRIu64 ", this is node %u\n",
	       r->quorate ? "quorate" : "NOT QUORATE", st->version,
	       r->local_node);
	printf("%-5s %-12s %-5s %-8s %-16s %s\n", "NODE", "NAME", "STATE",
	       "DRAINED", "MEM USED/CAP", "ADDR");
	for (size_t i = 0; i < st->n_nodes; i++) {
		const Ferry__Cluster__Node *n = st->nodes[i];
		char mem[32];

		snprintf(mem, sizeof(mem), "%" PRIu64 "/%" PRIu64 " MiB",
			 used_mib(st, n->id), n->capacity_mib);
		printf("%-5u %-12s %-5s %-8s %-16s %s\n", n->id, n->name,
		       n->up ? "up" : "down", n->drained ? "yes" : "no", mem,
		       n->addr);
	}
	printf("%-12s %-9s %-5s %-9s %-6s %-10s %s\n", "VM", "PHASE", "NODE",
	       "OBSERVED", "MEM", "CHECKPOINT", "REASON");
	for (size_t i = 0; i < st->n_vms; i++) {
		const Ferry__Cluster__Vm *vm = st->vms[i];
		const Ferry__Hactl__CheckpointInfo *ck =
			ckpt_of(r, vm->spec->name);
		char age[24] = "-";

		if (ck)
			snprintf(age, sizeof(age), "%.1fs ago", ck->age_ms / 1e3);
		printf("%-12s %-9s %-5u %-9s %-6" PRIu64 " %-10s %s\n",
		       vm->spec->name,
		       cl_vm_phase_name((enum cl_vm_phase)vm->phase), vm->node,
		       cl_obs_name((enum cl_obs)vm->observed), vm->spec->mem_mib,
		       age, vm->reason);
	}
}

int hactl_cmd_status(struct hactl *c, int argc, char **argv)
{
	Ferry__Hactl__Reply *r = NULL;

	if (argc > 1) {
		log_err("status: unexpected argument %s", argv[1]);
		return HACTL_EXIT_USAGE;
	}
	if (hactl_status(c, &r) < 0)
		return HACTL_EXIT_FAIL;
	if (c->json)
		print_json(r);
	else
		print_text(r);
	ferry__hactl__reply__free_unpacked(r, NULL);
	return HACTL_EXIT_OK;
}
