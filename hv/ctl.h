/*
 * The client side of hv's control socket: `hv status|pause|resume|quit|
 * debug-flip --control PATH [--json] [--gpa ADDR]`. Runs on the main thread
 * of a short-lived hv process; talks to the VM's hv only through
 * proto/control.proto, never through vm.h.
 */
#ifndef HV_CTL_H
#define HV_CTL_H

#include <stdbool.h>

/* Runs subcommand @cmd. @argc/@argv are as for getopt: argv[0] is the
 * subcommand itself, options follow. Prints results on stdout and one error
 * line on stderr. Returns the process exit status: 0 done, 1 the request
 * failed (no hv at PATH, error reply, timeout), 2 usage error. */
int ctl_main(const char *cmd, int argc, char **argv);

/* `hv migrate`: argv[0] is "migrate". Returns the exit status: 0 when the
 * guest runs on the destination, 1 failed, 2 usage error. */
int ctl_migrate_main(int argc, char **argv);

/* True if @cmd is one of the subcommands ctl_main() handles. */
bool ctl_is_command(const char *cmd);

#endif
