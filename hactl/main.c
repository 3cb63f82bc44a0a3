/*
 * hactl: Ferry's cluster CLI. Takes the global options (--node K, --json,
 * --ipc NAME, --no-wait, --timeout S) wherever they appear, then hands the
 * rest to the subcommand's file. The only place that decides exit codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/hacd.h"
#include "hactl/hactl.h"
#include "hv/log.h"

static void usage(FILE *f)
{
	fputs(
"usage: hactl [--node K] [--json] COMMAND\n"
"  status                                   nodes, VMs, quorum\n"
"  vm add NAME --kernel F --mem M [--cpus N] [--cmdline S]\n"
"         [--checkpoint-interval SECONDS]   define and start a VM\n"
"  vm remove|start|stop NAME\n"
"  vm migrate NAME --to NODE                live migration\n"
"  node drain|undrain NODE                  move every VM off NODE\n"
"--node K (or HACTL_NODE=K) talks to node K of a cluster made by\n"
"deploy/cluster-up.sh (namespace $FERRY_CLUSTER-nK); --no-wait returns\n"
"before drains and migrations finish; --timeout S bounds the wait.\n", f);
}

/* Removes global options from argv; returns the new argc or -1. */
static int take_globals(struct hactl *c, int argc, char **argv,
			const char **node)
{
	int out = 1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = !strcmp(a, "--node") || !strcmp(a, "--ipc") ||
			       !strcmp(a, "--timeout");

		if (has_val && i + 1 >= argc) {
			log_err("option %s needs an argument", a);
			return -1;
		}
		if (!strcmp(a, "--json"))
			c->json = true;
		else if (!strcmp(a, "--no-wait"))
			c->wait = false;
		else if (!strcmp(a, "--node"))
			*node = argv[++i];
		else if (!strcmp(a, "--ipc"))
			c->ipc = argv[++i];
		else if (!strcmp(a, "--timeout"))
			c->timeout_s = (unsigned int)atoi(argv[++i]);
		else
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}

static int dispatch(struct hactl *c, int argc, char **argv)
{
	const char *cmd = argv[1], *sub = argc > 2 ? argv[2] : "";

	if (!strcmp(cmd, "status"))
		return hactl_cmd_status(c, argc - 1, argv + 1);
	if (!strcmp(cmd, "vm") && !strcmp(sub, "add"))
		return hactl_cmd_vm_add(c, argc - 2, argv + 2);
	if (!strcmp(cmd, "vm") && (!strcmp(sub, "remove") ||
				   !strcmp(sub, "start") || !strcmp(sub, "stop")))
		return hactl_cmd_vm_simple(c, sub, argc - 2, argv + 2);
	if (!strcmp(cmd, "vm") && !strcmp(sub, "migrate"))
		return hactl_cmd_vm_migrate(c, argc - 2, argv + 2);
	if (!strcmp(cmd, "node") && (!strcmp(sub, "drain") ||
				     !strcmp(sub, "undrain")))
		return hactl_cmd_node(c, sub, argc - 2, argv + 2);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return HACTL_EXIT_OK;
	}
	log_err("unknown command: %s %s", cmd, sub);
	usage(stderr);
	return HACTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct hactl c = { .ipc = HACD_IPC_DEFAULT, .wait = true,
			   .timeout_s = 300 };
	const char *node = getenv("HACTL_NODE");

	if (getenv("HACTL_IPC"))
		c.ipc = getenv("HACTL_IPC");
	argc = take_globals(&c, argc, argv, &node);
	if (argc < 0)
		return HACTL_EXIT_USAGE;
	if (argc < 2) {
		usage(stderr);
		return HACTL_EXIT_USAGE;
	}
	if (node && *node && hactl_enter_node(node) < 0)
		return HACTL_EXIT_FAIL;
	return dispatch(&c, argc, argv);
}
