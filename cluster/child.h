/*
 * Child processes of hacd (hv run, hv snapshot, hv migrate): spawned with
 * PR_SET_PDEATHSIG=SIGKILL, so a guest never outlives the hacd that
 * fences it; reaped on SIGCHLD from the qb loop, which then calls the
 * owner's callback. Main thread only. Private to cluster/.
 */
#ifndef CLUSTER_CHILD_H
#define CLUSTER_CHILD_H

#include <sys/types.h>

#include <qb/qbloop.h>

struct cl_children;

/* Called once when @pid ended, with its waitpid() status. */
typedef void (*cl_child_done_fn)(void *ctx, pid_t pid, int status);

int cl_children_create(qb_loop_t *loop, struct cl_children **out);
/* Kills (SIGKILL) and reaps every child still running. NULL is a no-op. */
void cl_children_destroy(struct cl_children *c);

/* Runs @argv (argv[0] a path) with stdin from /dev/null and stdout/stderr
 * appended to @log (NULL: /dev/null). @done(@ctx, ...) runs on exit.
 * Returns 0 with *pid set, or -errno (logged). */
int cl_child_spawn(struct cl_children *c, char *const argv[], const char *log,
		   cl_child_done_fn done, void *ctx, pid_t *pid);

/* Forgets @pid's callback (the owner is going away); the child is still
 * reaped. */
void cl_child_forget(struct cl_children *c, pid_t pid);

#endif
