/*
 * hv: one process per VM. Dispatches the subcommand; the only place that
 * decides the process exit status.
 */
#include <stdio.h>
#include <string.h>

#include "hv/ctl.h"
#include "hv/run.h"

static void usage(FILE *f)
{
	fputs("usage: hv run --kernel FILE [--initrd FILE] [--cmdline STR] "
	      "[--mem SIZE] [--cpus N]\n"
	      "              [--serial stdio|file:PATH|none] "
	      "[--control PATH] [--name NAME]\n"
	      "              [--disk PATH[,readonly][,cache=none|writeback]"
	      "[,poll=US]]... [--net tap=IFNAME[,mac=MAC]]...\n"
	      "       hv run --restore FILE [--mem SIZE] [--cpus N] [--serial ...] "
	      "[--control PATH]\n"
	      "       hv run --incoming tcp:ADDR:PORT [--mem SIZE] [--cpus N] [--name NAME] "
	      "[--serial ...] [--control PATH]\n"
	      "       hv snapshot --control PATH --to FILE [--stop]\n"
	      "       hv migrate --control PATH --to tcp:HOST:PORT "
	      "[--downtime-ms N] [--max-bandwidth MiB/s]\n"
	      "              [--streams N] [--compress none|lz4] "
	      "[--auto-converge] [--json]\n"
	      "       hv status|pause|resume|quit --control PATH [--json]\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return run_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "migrate"))
		return ctl_migrate_main(argc - 1, argv + 1);
	if (ctl_is_command(argv[1]))
		return ctl_main(argv[1], argc - 1, argv + 1);
	fprintf(stderr, "hv: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
