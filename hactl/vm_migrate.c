/*
 * `hactl vm migrate NAME --to NODE`: live-migrates a running VM; waits
 * until it runs on NODE (or the migration failed and it stayed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hactl/hactl.h"
#include "hv/log.h"

struct mig_wait {
	const char *name;
	uint32_t to;
};

/* 1 done, 0 not yet, -errno failed. */
static int mig_done(const Ferry__Hactl__Reply *r, const void *arg)
{
	const struct mig_wait *w = arg;

	for (size_t i = 0; i < r->state->n_vms; i++) {
		const Ferry__Cluster__Vm *vm = r->state->vms[i];

		if (strcmp(vm->spec->name, w->name))
			continue;
		if (vm->phase == FERRY__CLUSTER__VM_PHASE__VM_PHASE_MIGRATING)
			return 0;
		if (vm->node == w->to)
			return 1;
		log_err("vm %s: %s", w->name, vm->reason);
		return -EIO;
	}
	log_err("vm %s disappeared", w->name);
	return -ENOENT;
}

int hactl_cmd_vm_migrate(struct hactl *c, int argc, char **argv)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__VmMigrate vm = FERRY__CLUSTER__VM_MIGRATE__INIT;
	struct mig_wait w;

	if (argc != 4 || strcmp(argv[2], "--to")) {
		log_err("vm migrate: usage: hactl vm migrate NAME --to NODE");
		return HACTL_EXIT_USAGE;
	}
	w.name = argv[1];
	w.to = hactl_node_id(c, argv[3]);
	if (!w.to)
		return HACTL_EXIT_FAIL;
	vm.name = argv[1];
	vm.to = w.to;
	m.body_case = FERRY__CLUSTER__MSG__BODY_VM_MIGRATE;
	m.vm_migrate = &vm;
	if (hactl_op(c, &m) < 0)
		return HACTL_EXIT_FAIL;
	if (c->wait && hactl_wait(c, mig_done, &w) < 0)
		return HACTL_EXIT_FAIL;
	printf("vm %s: %s node %u\n", w.name, c->wait ? "now runs on" :
	       "migrating to", w.to);
	return HACTL_EXIT_OK;
}
