/*
 * hacd: Ferry's cluster daemon, one per node. Parses options, loads the
 * persisted cluster state, then runs the qb main loop with the Corosync
 * glue (corosync.c), the node agent (agent.c) and the hactl server
 * (ipc.c). Owns the daemon context; the only place that exits.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/child.h"
#include "cluster/hacd.h"
#include "cluster/log_qb.h"
#include "cluster/persist.h"
#include "hv/log.h"

#define HACD_FENCE_DELAY_MS 250
#define HACD_RESTART_DELAY_MS 500

static void usage(FILE *f)
{
	fprintf(f,
"usage: hacd [--state-dir DIR] [--checkpoint-dir DIR] [--hv PATH]\n"
"            [--capacity MIB] [--fence-delay MS] [--restart-delay MS]\n"
"            [--ipc NAME] [--watchdog DEV] [--syslog]\n"
"Joins Corosync CPG group 'ferry' and runs the VMs placed on this node.\n"
"Defaults: state in /var/lib/ferry, checkpoints in STATE/checkpoints,\n"
"hv beside hacd, capacity = MemTotal, fence delay %d ms.\n",
		HACD_FENCE_DELAY_MS);
}

static uint64_t hacd_mem_total_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long kib = 0;

	if (f) {
		if (fscanf(f, "MemTotal: %llu kB", &kib) != 1)
			kib = 0;
		fclose(f);
	}
	return kib / 1024;
}

static int hacd_num(const char *opt, const char *arg, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-') {
		log_err("%s %s: not a number", opt, arg);
		return -EINVAL;
	}
	return 0;
}

static void hacd_defaults(struct hacd_opts *o, int *syslog_on)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	*syslog_on = 0;
	snprintf(o->state_dir, sizeof(o->state_dir), "/var/lib/ferry");
	self[n > 0 ? n : 0] = 0;
	snprintf(o->hv, sizeof(o->hv), "%s/hv", n > 0 ? dirname(self) : ".");
	o->ipc_name = HACD_IPC_DEFAULT;
	o->fence_delay_ms = HACD_FENCE_DELAY_MS;
	o->restart_delay_ms = HACD_RESTART_DELAY_MS;
}

static void hacd_set_num(struct hacd_opts *o, int opt, unsigned long long v)
{
	if (opt == 'c')
		o->capacity_mib = v;
	else if (opt == 'f')
		o->fence_delay_ms = (unsigned int)v;
	else
		o->restart_delay_ms = (unsigned int)v;
}

static int hacd_parse(int argc, char **argv, struct hacd_opts *o, int *sl)
{
	static const struct option lo[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "checkpoint-dir", required_argument, NULL, 'k' },
		{ "hv", required_argument, NULL, 'v' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "fence-delay", required_argument, NULL, 'f' },
		{ "restart-delay", required_argument, NULL, 'r' },
		{ "ipc", required_argument, NULL, 'i' },
		{ "watchdog", required_argument, NULL, 'w' },
		{ "syslog", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int opt;

	hacd_defaults(o, sl);
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 's')
			snprintf(o->state_dir, sizeof(o->state_dir), "%s", optarg);
		else if (opt == 'k')
			snprintf(o->ckpt_dir, sizeof(o->ckpt_dir), "%s", optarg);
		else if (opt == 'v')
			snprintf(o->hv, sizeof(o->hv), "%s", optarg);
		else if (opt == 'i')
			o->ipc_name = optarg;
		else if (opt == 'w')
			o->watchdog = optarg;
		else if (opt == 'l')
			*sl = 1;
		else if (opt == 'h')
			return usage(stdout), 1;
		else if (opt == 'c' || opt == 'f' || opt == 'r') {
			if (hacd_num(argv[optind - 1], optarg, &v) < 0)
				return -EINVAL;
			hacd_set_num(o, opt, v);
		} else {
			return usage(stderr), -EINVAL;
		}
	}
	if (optind < argc)
		return usage(stderr), -EINVAL;
	if (!o->ckpt_dir[0])
		snprintf(o->ckpt_dir, sizeof(o->ckpt_dir), "%.240s/checkpoints",
			 o->state_dir);
	return 0;
}

void hacd_state_changed(struct hacd *h)
{
	cl_persist_save(h->state_path, h->state);
	hacd_agent_reconcile(h);
}

static int32_t hacd_on_signal(int32_t sig, void *data)
{
	struct hacd *h = data;

	log_info("signal %d: leaving the cluster", sig);
	qb_loop_stop(h->loop);
	return 0;
}

static int hacd_load(struct hacd *h)
{
	int rc;

	if (mkdir(h->opts.state_dir, 0755) < 0 && errno != EEXIST) {
		log_err("cannot create state directory %s: %s",
			h->opts.state_dir, strerror(errno));
		return -errno;
	}
	snprintf(h->state_path, sizeof(h->state_path), "%s/cluster.state",
		 h->opts.state_dir);
	rc = cl_persist_load(h->state_path, h->state);
	if (rc == 0)
		log_info("loaded cluster state version %llu (%u vm(s), %u "
			 "node(s)) from %s", (unsigned long long)h->state->version,
			 h->state->nvms, h->state->nnodes, h->state_path);
	return rc == -ENOENT ? 0 : rc;
}

static int hacd_start(struct hacd *h)
{
	qb_loop_signal_handle sh;
	int rc;

	h->self.capacity_mib = h->opts.capacity_mib ? h->opts.capacity_mib :
						      hacd_mem_total_mib();
	rc = hacd_load(h);
	if (rc == 0)
		rc = cl_children_create(h->loop, &h->children);
	if (rc == 0)
		rc = hacd_agent_create(h);
	if (rc == 0)
		rc = hacd_ipc_create(h);
	if (rc == 0)
		rc = hacd_corosync_start(h);
	qb_loop_signal_add(h->loop, QB_LOOP_HIGH, SIGTERM, h, hacd_on_signal,
			   &sh);
	qb_loop_signal_add(h->loop, QB_LOOP_HIGH, SIGINT, h, hacd_on_signal,
			   &sh);
	return rc;
}

int main(int argc, char **argv)
{
	struct hacd h = { 0 };
	int syslog_on, rc;

	rc = hacd_parse(argc, argv, &h.opts, &syslog_on);
	if (rc)
		return rc < 0 ? 2 : 0;
	hacd_log_init(syslog_on);
	signal(SIGPIPE, SIG_IGN);
	h.loop = qb_loop_create();
	h.state = calloc(1, sizeof(*h.state));
	if (!h.loop || !h.state)
		return 1;
	rc = hacd_start(&h);
	if (rc == 0)
		qb_loop_run(h.loop);
	hacd_corosync_stop(&h);
	hacd_ipc_destroy(&h);
	hacd_agent_destroy(&h);
	cl_children_destroy(h.children);
	cl_sync_fini(&h.sync);
	free(h.state);
	qb_loop_destroy(h.loop);
	hacd_log_fini();
	return rc == 0 ? 0 : 1;
}
