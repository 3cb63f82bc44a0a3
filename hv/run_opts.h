/*
 * `hv run` command line: parsed into plain values, checked for sense, no
 * side effects (files are opened later), so unit tests cover it fully.
 */
#ifndef HV_RUN_OPTS_H
#define HV_RUN_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/virtio.h"

enum run_serial { RUN_SERIAL_STDIO, RUN_SERIAL_FILE, RUN_SERIAL_NONE };

struct run_opts {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	const char *control;
	const char *name;
	const char *restore;	 /* snapshot file to continue from */
	const char *incoming;	 /* tcp:ADDR:PORT to receive a migration on */
	uint64_t mem_size;	 /* 0: not given (default, or the snapshot's) */
	unsigned int nr_vcpus; /* 0: not given */
	enum run_serial serial;
	const char *serial_path; /* RUN_SERIAL_FILE */
	bool test_hooks;
	bool paused; /* start with vCPUs parked until `hv resume` */
	unsigned int nr_disks; /* --disk, repeatable (path points into argv) */
	struct blk_opts disks[VIRTIO_MAX_DISKS];
	unsigned int nr_nics;  /* --net, repeatable */
	struct virtio_net_opts nics[VIRTIO_MAX_NICS];
};

#define RUN_DEFAULT_MEM (256ULL << 20)
#define RUN_DEFAULT_VCPUS 1

/* Parses "512M", "1G", "4096K", "2T" or a bare number of MiB (as QEMU's
 * -m). Returns 0 or -EINVAL. */
int run_parse_size(const char *s, uint64_t *out);

/* Parses argv (argv[0] = "run"). Returns 0, or -EINVAL after printing one
 * error line naming the bad option. Pointers in @o point into argv. */
int run_opts_parse(int argc, char **argv, struct run_opts *o);

#endif
