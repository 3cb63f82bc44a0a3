/*
 * `hactl node drain|undrain NODE`: drain live-migrates every VM off NODE
 * and marks it drained (nothing is placed there until undrain); it waits
 * until no VM runs there any more.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hactl/hactl.h"
#include "hv/log.h"

/* 1 when nothing runs on or moves off the node; -EIO if a VM stays. */
static int drain_done(const Ferry__Hactl__Reply *r, const void *arg)
{
	uint32_t node = *(const uint32_t *)arg;
	int stuck = 0;

	for (size_t i = 0; i < r->state->n_vms; i++) {
		const Ferry__Cluster__Vm *vm = r->state->vms[i];

		if (vm->phase == FERRY__CLUSTER__VM_PHASE__VM_PHASE_MIGRATING &&
		    (vm->node == node || vm->target == node))
			return 0;
		if (vm->phase == FERRY__CLUSTER__VM_PHASE__VM_PHASE_PLACED &&
		    vm->node == node) {
			log_err("vm %s stays on node %u: %s", vm->spec->name,
				node, vm->reason);
			stuck++;
		}
	}
	return stuck ? -EIO : 1;
}

int hactl_cmd_node(struct hactl *c, const char *verb, int argc, char **argv)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__NodeRef ref = FERRY__CLUSTER__NODE_REF__INIT;
	bool drain = !strcmp(verb, "drain");

	if (argc != 2) {
		log_err("node %s: give exactly one NODE", verb);
		return HACTL_EXIT_USAGE;
	}
	ref.node = hactl_node_id(c, argv[1]);
	if (!ref.node)
		return HACTL_EXIT_FAIL;
	m.body_case = drain ? FERRY__CLUSTER__MSG__BODY_NODE_DRAIN :
			      FERRY__CLUSTER__MSG__BODY_NODE_UNDRAIN;
	if (drain)
		m.node_drain = &ref;
	else
		m.node_undrain = &ref;
	if (hactl_op(c, &m) < 0)
		return HACTL_EXIT_FAIL;
	if (drain && c->wait && hactl_wait(c, drain_done, &ref.node) < 0)
		return HACTL_EXIT_FAIL;
	printf("node %u %s\n", ref.node, drain ? "drained" : "undrained");
	return HACTL_EXIT_OK;
}
