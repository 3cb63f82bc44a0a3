/*
 * `hactl vm add NAME --kernel F --mem M --cpus N [--cmdline S]
 *  [--checkpoint-interval SECONDS]`: defines a VM and starts it where the
 * cluster places it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hactl/hactl.h"
#include "hv/log.h"

#define HACTL_CKPT_DEFAULT_MS 3000

/* "512M", "1G", "2048" (MiB). Returns MiB or 0. */
static uint64_t parse_mem(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	if (!strcmp(end, "") || !strcasecmp(end, "M") || !strcasecmp(end, "MiB"))
		return v;
	if (!strcasecmp(end, "G") || !strcasecmp(end, "GiB"))
		return v * 1024;
	if (!strcasecmp(end, "T") || !strcasecmp(end, "TiB"))
		return v * 1024 * 1024;
	return 0;
}

struct add_opts {
	char kernel[PATH_MAX];
	const char *cmdline;
	uint64_t mem_mib;
	unsigned long vcpus;
	double ckpt_s;
};

static int add_bad(const char *what, const char *arg)
{
	log_err("vm add: %s %s", what, arg);
	return -EINVAL;
}

static int add_opt(struct add_opts *o, int opt, const char *arg)
{
	char *end;

	switch (opt) {
	case 'k':
		if (!realpath(arg, o->kernel) || access(o->kernel, R_OK))
			return add_bad("cannot read kernel", arg);
		return 0;
	case 'm':
		o->mem_mib = parse_mem(arg);
		return o->mem_mib ? 0 : add_bad("--mem: not a size:", arg);
	case 'c':
		o->vcpus = strtoul(arg, &end, 10);
		return *end || !o->vcpus ? add_bad("--cpus: not a count:", arg) : 0;
	case 'l':
		o->cmdline = arg;
		return 0;
	case 'i':
		o->ckpt_s = strtod(arg, &end);
		return *end || o->ckpt_s < 0 || o->ckpt_s > 86400 ||
			isnan(o->ckpt_s) ?
			add_bad("--checkpoint-interval: not seconds:", arg) : 0;
	default:
		log_err("vm add: unknown option or missing argument");
		return -EINVAL;
	}
}

static int add_parse(int argc, char **argv, struct add_opts *o)
{
	static const struct option lo[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "cmdline", required_argument, NULL, 'l' },
		{ "checkpoint-interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	o->vcpus = 1;
	o->ckpt_s = HACTL_CKPT_DEFAULT_MS / 1000.0;
	opterr = 0;
	optind = 1;
	if (argc < 2 || argv[1][0] == '-') {
		log_err("vm add: NAME comes first: hactl vm add NAME --kernel ...");
		return -EINVAL;
	}
	/* argv[1] is NAME: getopt sees it as its argv[0]. */
	while ((opt = getopt_long(argc - 1, argv + 1, "+:", lo, NULL)) != -1)
		if (add_opt(o, opt, optarg) < 0)
			return -EINVAL;
	if (optind != argc - 1) {
		log_err("vm add: unexpected argument %s", argv[optind + 1]);
		return -EINVAL;
	}
	if (!o->kernel[0] || !o->mem_mib) {
		log_err("vm add: --kernel FILE and --mem SIZE are required");
		return -EINVAL;
	}
	return 0;
}

int hactl_cmd_vm_add(struct hactl *c, int argc, char **argv)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__VmSpec sp = FERRY__CLUSTER__VM_SPEC__INIT;
	struct add_opts o = { 0 };

	if (add_parse(argc, argv, &o) < 0)
		return HACTL_EXIT_USAGE;
	sp.name = argv[1];
	sp.kernel = o.kernel;
	sp.cmdline = (char *)(o.cmdline ? o.cmdline : "");
	sp.mem_mib = o.mem_mib;
	sp.vcpus = (uint32_t)o.vcpus;
	sp.checkpoint_ms = (uint32_t)lround(o.ckpt_s * 1000);
	m.body_case = FERRY__CLUSTER__MSG__BODY_VM_ADD;
	m.vm_add = &sp;
	if (hactl_op(c, &m) < 0)
		return HACTL_EXIT_FAIL;
	printf("vm %s added\n", sp.name);
	return HACTL_EXIT_OK;
}
