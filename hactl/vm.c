/*
 * `hactl vm remove|start|stop NAME`.
 */
#include <stdio.h>
#include <string.h>

#include "hactl/hactl.h"
#include "hv/log.h"

int hactl_cmd_vm_simple(struct hactl *c, const char *verb, int argc,
			char **argv)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__VmName vn = FERRY__CLUSTER__VM_NAME__INIT;

	if (argc != 2) {
		log_err("vm %s: give exactly one NAME", verb);
		return HACTL_EXIT_USAGE;
	}
	vn.name = argv[1];
	if (!strcmp(verb, "remove")) {
		m.body_case = FERRY__CLUSTER__MSG__BODY_VM_REMOVE;
		m.vm_remove = &vn;
	} else if (!strcmp(verb, "start")) {
		m.body_case = FERRY__CLUSTER__MSG__BODY_VM_START;
		m.vm_start = &vn;
	} else {
		m.body_case = FERRY__CLUSTER__MSG__BODY_VM_STOP;
		m.vm_stop = &vn;
	}
	if (hactl_op(c, &m) < 0)
		return HACTL_EXIT_FAIL;
	printf("vm %s: %s done\n", vn.name, verb);
	return HACTL_EXIT_OK;
}
