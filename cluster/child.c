/*
 * hacd's child processes (see child.h). A small table of (pid, callback);
 * SIGCHLD arrives through the qb loop's signal pipe, never in a handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/child.h"
#include "hv/log.h"

#define CL_CHILDREN_MAX 512

struct cl_child {
	pid_t pid;
	cl_child_done_fn done;
	void *ctx;
};

struct cl_children {
	qb_loop_t *loop;
	qb_loop_signal_handle sig;
	struct cl_child tab[CL_CHILDREN_MAX];
};

static struct cl_child *cl_child_find(struct cl_children *c, pid_t pid)
{
	for (int i = 0; i < CL_CHILDREN_MAX; i++)
		if (c->tab[i].pid == pid)
			return &c->tab[i];
	return NULL;
}

static void cl_children_reap(struct cl_children *c)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct cl_child *ch = cl_child_find(c, pid);
		struct cl_child copy;

		if (!ch)
			continue;
		copy = *ch;
		memset(ch, 0, sizeof(*ch));
		if (copy.done)
			copy.done(copy.ctx, pid, status);
	}
}

static int32_t cl_children_sigchld(int32_t sig, void *data)
{
	(void)sig;
	cl_children_reap(data);
	return 0;
}

int cl_children_create(qb_loop_t *loop, struct cl_children **out)
{
	struct cl_children *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	rc = qb_loop_signal_add(loop, QB_LOOP_HIGH, SIGCHLD, c,
				cl_children_sigchld, &c->sig);
	if (rc < 0) {
		free(c);
		log_err("cannot watch SIGCHLD: %s", strerror(-rc));
		return rc;
	}
	*out = c;
	return 0;
}

void cl_children_destroy(struct cl_children *c)
{
	if (!c)
		return;
	for (int i = 0; i < CL_CHILDREN_MAX; i++) {
		if (!c->tab[i].pid)
			continue;
		kill(c->tab[i].pid, SIGKILL);
		waitpid(c->tab[i].pid, NULL, 0);
	}
	qb_loop_signal_del(c->loop, c->sig);
	free(c);
}

/* In the child, before exec: die with hacd, quiet stdio, no hacd fds. */
static void cl_child_setup(pid_t parent, const char *log)
{
	int in = open("/dev/null", O_RDONLY);
	int out = open(log ? log : "/dev/null",
		       O_WRONLY | O_CREAT | O_APPEND, 0644);
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (in >= 0)
		dup2(in, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
	closefrom(3);
}

int cl_child_spawn(struct cl_children *c, char *const argv[], const char *log,
		   cl_child_done_fn done, void *ctx, pid_t *pid)
{
	struct cl_child *slot = cl_child_find(c, 0);
	pid_t parent = getpid(), p;

	if (!slot) {
		log_err("%s: too many child processes", argv[0]);
		return -EAGAIN;
	}
	p = fork();
	if (p < 0) {
		log_err("%s: cannot fork: %s", argv[0], strerror(errno));
		return -errno;
	}
	if (p == 0) {
		cl_child_setup(parent, log);
		execv(argv[0], argv);
		_exit(127);
	}
	slot->pid = p;
	slot->done = done;
	slot->ctx = ctx;
	*pid = p;
	return 0;
}

void cl_child_forget(struct cl_children *c, pid_t pid)
{
	struct cl_child *ch = cl_child_find(c, pid);

	if (ch && pid) {
		ch->done = NULL;
		ch->ctx = NULL;
	}
}
