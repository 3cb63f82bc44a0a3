/* `hv run`: builds a VM from the command line and runs it to the end. */
#ifndef HV_RUN_H
#define HV_RUN_H

/* argv[0] is "run". Returns hv's exit status: the guest's debug-exit value,
 * 0 after SIGINT/SIGTERM/quit, 1 on a VM error, 2 on a usage error. */
int run_main(int argc, char **argv);

#endif
