/* `hv run` option parsing; see run_opts.h. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hv/log.h"
#include "hv/run_opts.h"

int run_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	case 0: break;
	default: return -EINVAL;
	}
	if ((*end == 'B' || *end == 'b') && end[-1] > '9')
		end++;
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int run_parse_serial(const char *s, struct run_opts *o)
{
	if (!strcmp(s, "stdio"))
		o->serial = RUN_SERIAL_STDIO;
	else if (!strcmp(s, "none"))
		o->serial = RUN_SERIAL_NONE;
	else if (!strncmp(s, "file:", 5) && s[5])
		o->serial = RUN_SERIAL_FILE;
	else
		return -EINVAL;
	o->serial_path = o->serial == RUN_SERIAL_FILE ? s + 5 : NULL;
	return 0;
}

static int run_parse_cpus(const char *s, unsigned int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 255)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* --disk (argv strings are writable: the first comma becomes a NUL) and
 * --net, each repeatable. */
static int run_parse_device(int c, const char *arg, struct run_opts *o)
{
	bool disk = c == 'D';
	unsigned int max = disk ? VIRTIO_MAX_DISKS : VIRTIO_MAX_NICS;
	unsigned int *n = disk ? &o->nr_disks : &o->nr_nics;
	int ret;

	if (*n == max || o->nr_disks + o->nr_nics == VIRTIO_MAX_DEVS) {
		log_err("%s %s: at most %u disks, %u NICs, %u devices in all",
			disk ? "--disk" : "--net", arg, VIRTIO_MAX_DISKS,
			VIRTIO_MAX_NICS, VIRTIO_MAX_DEVS);
		return -EINVAL;
	}
	ret = disk ? blk_opts_parse((char *)arg, &o->disks[*n])
		   : virtio_net_opts_parse(arg, &o->nics[*n]);
	if (!ret)
		(*n)++;
	return ret;
}

enum { OPT_TEST_HOOKS = 0x100, OPT_PAUSED };

static const struct option run_long_opts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'a' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "serial", required_argument, NULL, 's' },
	{ "control", required_argument, NULL, 'C' },
	{ "name", required_argument, NULL, 'n' },
	{ "restore", required_argument, NULL, 'r' },
	{ "incoming", required_argument, NULL, 'I' },
	{ "test-hooks", no_argument, NULL, OPT_TEST_HOOKS },
	{ "paused", no_argument, NULL, OPT_PAUSED },
	{ "disk", required_argument, NULL, 'D' },
	{ "net", required_argument, NULL, 'N' },
	{ NULL, 0, NULL, 0 },
};

/* Applies one option; returns 0 or -EINVAL after logging. */
static int run_opt_apply(int c, const char *arg, char *const *argv,
			 struct run_opts *o)
{
	switch (c) {
	case 'k': o->kernel = arg; return 0;
	case 'i': o->initrd = arg; return 0;
	case 'a': o->cmdline = arg; return 0;
	case 'C': o->control = arg; return 0;
	case 'n': o->name = arg; return 0;
	case 'r': o->restore = arg; return 0;
	case 'I': o->incoming = arg; return 0;
	case OPT_TEST_HOOKS: o->test_hooks = true; return 0;
	case OPT_PAUSED: o->paused = true; return 0;
	case 'D': case 'N': return run_parse_device(c, arg, o);
	case 'm':
		if (!run_parse_size(arg, &o->mem_size))
			return 0;
		log_err("--mem %s: expected a size such as 512M or 4G", arg);
		return -EINVAL;
	case 'c':
		if (!run_parse_cpus(arg, &o->nr_vcpus))
			return 0;
		log_err("--cpus %s: expected a number from 1 to 255", arg);
		return -EINVAL;
	case 's':
		if (!run_parse_serial(arg, o))
			return 0;
		log_err("--serial %s: expected stdio, file:PATH or none", arg);
		return -EINVAL;
	case ':':
		log_err("option %s needs a value", argv[optind - 1]);
		return -EINVAL;
	default:
		/* optopt names a bad short option inside a group like -xy. */
		if (optopt)
			log_err("unknown option -%c", optopt);
		else
			log_err("unknown option %s", argv[optind - 1]);
		return -EINVAL;
	}
}

int run_opts_parse(int argc, char **argv, struct run_opts *o)
{
	int c, ret = 0;

	memset(o, 0, sizeof(*o));
	o->serial = RUN_SERIAL_STDIO;
	optind = 1;
	opterr = 0;
	while (!ret && (c = getopt_long(argc, argv, ":", run_long_opts,
					NULL)) != -1)
		ret = run_opt_apply(c, optarg, argv, o);
	if (!ret && optind < argc) {
		log_err("unexpected argument %s", argv[optind]);
		ret = -EINVAL;
	}
	if (!ret && !o->kernel && !o->restore && !o->incoming) {
		log_err("missing --kernel FILE (or --restore FILE, or "
			"--incoming tcp:ADDR:PORT)");
		ret = -EINVAL;
	}
	if (!ret && o->restore && (o->kernel || o->incoming)) {
		log_err("--restore excludes --kernel and --incoming: a snapshot "
			"carries its guest");
		ret = -EINVAL;
	}
	/* With --incoming the guest comes from the stream; --kernel is
	 * accepted (source and destination may share a command line) and
	 * not loaded. */
	if (!ret && !o->restore && !o->incoming) {
		o->mem_size = o->mem_size ? o->mem_size : RUN_DEFAULT_MEM;
		o->nr_vcpus = o->nr_vcpus ? o->nr_vcpus : RUN_DEFAULT_VCPUS;
	}
	return ret;
}
