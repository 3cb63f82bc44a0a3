/*
 * The parts of hacd's agent that drive hv (see agent_hv.h): every action
 * is an `hv` subcommand run as a child process, or a connect to hv's
 * control socket. Main thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/watchdog.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "cluster/agent_hv.h"
#include "cluster/child.h"
#include "hv/clock.h"
#include "hv/control_msg.h"
#include "hv/log.h"

#define AG_WATCHDOG_TIMEOUT_S 10

void ag_ctl_path(struct hacd *h, const char *name, char *out, size_t size)
{
	snprintf(out, size, "ferry/%u/%s", h->nodeid, name);
}

static void ag_ckpt_path(struct hacd *h, const char *name, uint32_t inc,
			 char *out, size_t size)
{
	snprintf(out, size, "%s/%s.%u.snap", h->opts.ckpt_dir, name, inc);
}

/* A cold boot starts a new incarnation: older checkpoints are garbage. */
static void ag_ckpt_prune(struct hacd *h, const char *name, uint32_t keep)
{
	char pat[PATH_MAX], mine[PATH_MAX];
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/%s.*.snap", h->opts.ckpt_dir, name);
	ag_ckpt_path(h, name, keep, mine, sizeof(mine));
	if (glob(pat, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (strcmp(g.gl_pathv[i], mine))
			unlink(g.gl_pathv[i]);
	globfree(&g);
}

static int ag_free_port(uint32_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		rc = -errno;
	close(fd);
	*port = ntohs(sa.sin_port);
	return rc;
}

static void ag_arg(struct ag_argv *a, int *n, const char *s)
{
	if (*n < AG_ARGS_MAX - 1)
		a->argv[(*n)++] = (char *)s;
	a->argv[*n] = NULL;
}

static int ag_how(struct hacd *h, const struct cl_vm *vm, struct ag_vm *v,
		  struct ag_argv *a, int *n)
{
	ag_ckpt_path(h, v->name, v->incarnation, a->store[1],
		     sizeof(a->store[1]));
	snprintf(a->store[2], sizeof(a->store[2]), "%llu",
		 (unsigned long long)vm->spec.mem_mib);
	snprintf(a->store[3], sizeof(a->store[3]), "%u", vm->spec.vcpus);
	if (v->role == AG_INCOMING) {
		int rc = ag_free_port(&v->port);

		if (rc < 0)
			return rc;
		snprintf(a->store[4], sizeof(a->store[4]), "tcp:0.0.0.0:%u",
			 v->port);
		ag_arg(a, n, "--incoming");
		ag_arg(a, n, a->store[4]);
		a->how = "incoming migration";
	} else if (access(a->store[1], R_OK) == 0) {
		/* A checkpoint of this incarnation is always the newest
		 * consistent state of this run: failover, crash restart and
		 * whole-cluster restart all continue from it. */
		ag_arg(a, n, "--restore");
		ag_arg(a, n, a->store[1]);
		a->how = "restore from the latest checkpoint";
		return 0;
	} else {
		ag_ckpt_prune(h, v->name, v->incarnation);
		ag_arg(a, n, "--kernel");
		ag_arg(a, n, vm->spec.kernel);
		ag_arg(a, n, "--cmdline");
		ag_arg(a, n, vm->spec.cmdline);
		a->how = v->restore ? "cold boot: no checkpoint" : "cold boot";
	}
	ag_arg(a, n, "--mem");
	ag_arg(a, n, a->store[2]);
	ag_arg(a, n, "--cpus");
	ag_arg(a, n, a->store[3]);
	return 0;
}

int ag_hv_run_argv(struct hacd *h, const struct cl_vm *vm, struct ag_vm *v,
		   struct ag_argv *a)
{
	int n = 0, rc;

	memset(a, 0, sizeof(*a));
	ag_arg(a, &n, h->opts.hv);
	ag_arg(a, &n, "run");
	rc = ag_how(h, vm, v, a, &n);
	if (rc < 0)
		return rc;
	snprintf(a->store[5], sizeof(a->store[5]), "file:%s/vms/%s.serial",
		 h->opts.state_dir, v->name);
	snprintf(a->log, sizeof(a->log), "%s/vms/%s.log", h->opts.state_dir,
		 v->name);
	ag_arg(a, &n, "--control");
	ag_arg(a, &n, v->ctl);
	ag_arg(a, &n, "--serial");
	ag_arg(a, &n, a->store[5]);
	if (v->role != AG_INCOMING) {
		ag_arg(a, &n, "--name");
		ag_arg(a, &n, v->name);
	}
	return 0;
}

/* An incoming hv is ready once it listens on its port (in this network
 * namespace, which is hacd's). */
bool ag_port_listens(uint32_t port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[256];
	unsigned int lport, st;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &st) == 2)
			found = lport == port && st == 0x0a;
	fclose(f);
	return found;
}

/* hv serves its control socket once its listening abstract socket exists
 * (/proc/net/unix shows the name as "@name" padded with '@' for NULs).
 * Reading the table never blocks, unlike a libqb connect, whose handshake
 * waits for a server that may not be dispatching yet. */
bool ag_hv_answers(const char *ctl)
{
	char name[CONTROL_SERVICE_MAX], line[512];
	unsigned int flags;
	bool found = false;
	size_t len;
	FILE *f;

	if (control_service_name(ctl, name, sizeof(name)) < 0)
		return false;
	f = fopen("/proc/net/unix", "r");
	if (!f)
		return false;
	len = strlen(name);
	while (!found && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '@');

		if (!path || sscanf(line, "%*s %*s %*s %x", &flags) != 1 ||
		    !(flags & 0x10000) || strncmp(path + 1, name, len))
			continue;
		found = path[1 + len] == '@' || path[1 + len] == '\n' ||
			!path[1 + len];
	}
	fclose(f);
	return found;
}

/* ---- checkpoints ------------------------------------------------------- */

static void ag_ckpt_timer(void *data);

static void ag_ckpt_done(void *ctx, pid_t pid, int status)
{
	struct ag_vm *v = ctx;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	(void)pid;
	v->ckpt_pid = 0;
	if (!ok && !v->ckpt_failing && v->pid && !v->stopping)
		log_warn("vm %s: checkpoint failed (status %d); see %s/vms/%s.log",
			 v->name, status, v->ag->h->opts.state_dir, v->name);
	else if (ok && v->ckpt_failing)
		log_info("vm %s: checkpoints work again", v->name);
	v->ckpt_failing = !ok;
}

static void ag_ckpt_take(struct ag_vm *v)
{
	struct hacd *h = v->ag->h;
	char to[PATH_MAX], log[PATH_MAX];
	char *argv[] = { h->opts.hv, "snapshot", "--control", v->ctl, "--to",
			 to, NULL };

	ag_ckpt_path(h, v->name, v->incarnation, to, sizeof(to));
	snprintf(log, sizeof(log), "%s/vms/%s.log", h->opts.state_dir,
		 v->name);
	cl_child_spawn(h->children, argv, log, ag_ckpt_done, v, &v->ckpt_pid);
}

static void ag_ckpt_timer(void *data)
{
	struct ag_vm *v = data;
	struct hacd *h = v->ag->h;
	struct cl_vm *vm = cl_state_vm_find(h->state, v->name);

	v->ckpt_timer = 0;
	if (!vm || !v->pid || v->stopping || v->migrating)
		return;
	if (!v->ckpt_pid)
		ag_ckpt_take(v);
	qb_loop_timer_add(h->loop, QB_LOOP_LOW,
			  vm->spec.checkpoint_ms * 1000000ULL, v, ag_ckpt_timer,
			  &v->ckpt_timer);
}

void ag_checkpoint_arm(struct ag_vm *v)
{
	struct hacd *h = v->ag->h;
	struct cl_vm *vm = cl_state_vm_find(h->state, v->name);

	if (!vm || !vm->spec.checkpoint_ms || v->ckpt_timer)
		return;
	/* The first checkpoint right away: failover needs one soon. */
	qb_loop_timer_add(h->loop, QB_LOOP_LOW, 1000000ULL, v, ag_ckpt_timer,
			  &v->ckpt_timer);
}

int hacd_agent_checkpoint(struct hacd *h, const struct cl_vm *vm, char *path,
			  size_t size, uint64_t *age_ms, uint64_t *bytes)
{
	struct timespec now;
	struct stat st;

	ag_ckpt_path(h, vm->spec.name, vm->incarnation, path, size);
	if (stat(path, &st) < 0)
		return -ENOENT;
	clock_gettime(CLOCK_REALTIME, &now);
	*age_ms = (uint64_t)((now.tv_sec - st.st_mtim.tv_sec) * 1000 +
			     (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000);
	*bytes = (uint64_t)st.st_size;
	return 0;
}

/* ---- migration (source side) ------------------------------------------- */

static void ag_mig_result(struct hacd *h, const char *name, bool ok,
			  const char *reason)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__MigResult r = FERRY__CLUSTER__MIG_RESULT__INIT;

	r.name = (char *)name;
	r.ok = ok;
	r.reason = (char *)reason;
	m.body_case = FERRY__CLUSTER__MSG__BODY_MIG_RESULT;
	m.mig_result = &r;
	hacd_send(h, &m);
}

static void ag_mig_done(void *ctx, pid_t pid, int status)
{
	struct ag_vm *v = ctx;
	struct hacd *h = v->ag->h;
	char why[512];
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	(void)pid;
	v->mig_pid = 0;
	snprintf(why, sizeof(why), "hv migrate exited with status %d (see "
		 "%s/vms/%s.log on node %u)", WIFEXITED(status) ?
		 WEXITSTATUS(status) : 128 + WTERMSIG(status),
		 h->opts.state_dir, v->name, h->nodeid);
	log_info("vm %s: migration %s%s%.*s", v->name, ok ? "done" : "failed",
		 ok ? "" : ": ", ok ? 0 : 120, why);
	v->migrated_out = ok;
	if (!ok) {
		v->migrating = false;
		if (!v->pid)
			v->dead = true; /* the source died meanwhile */
		else
			ag_checkpoint_arm(v);
	}
	ag_mig_result(h, v->name, ok, ok ? "" : why);
}

void ag_migrate_start(struct ag_vm *v, const struct cl_vm *vm)
{
	struct hacd *h = v->ag->h;
	struct cl_node *to = cl_state_node_find(h->state, vm->target);
	char dest[CL_ADDR_MAX + 32], log[PATH_MAX];
	/* A drain must finish even for a guest that dirties faster than the
	 * link: let hv throttle it rather than give up. */
	char *argv[] = { h->opts.hv, "migrate", "--control", v->ctl, "--to",
			 dest, "--auto-converge", NULL };

	if (!to || !to->addr[0]) {
		ag_mig_result(h, v->name, false, "target has no address");
		return;
	}
	snprintf(dest, sizeof(dest), "tcp:%s:%u", to->addr, vm->mig_port);
	snprintf(log, sizeof(log), "%s/vms/%s.log", h->opts.state_dir,
		 v->name);
	if (cl_child_spawn(h->children, argv, log, ag_mig_done, v,
			   &v->mig_pid) < 0) {
		ag_mig_result(h, v->name, false, "cannot run hv migrate");
		return;
	}
	v->migrating = true;
	log_info("vm %s: live migration to node %u at %s", v->name, vm->target,
		 dest);
}

/* ---- hardware watchdog ------------------------------------------------- */

static void ag_wd_timer(void *data)
{
	struct hacd_agent *ag = data;

	if (write(ag->wd_fd, "\0", 1) < 0)
		log_warn("watchdog: ping failed: %s", strerror(errno));
	qb_loop_timer_add(ag->h->loop, QB_LOOP_HIGH,
			  AG_WATCHDOG_TIMEOUT_S * 1000000000ULL / 3, ag,
			  ag_wd_timer, &ag->wd_timer);
}

/* Armed only when asked (--watchdog DEV): a hung hacd stops pinging and
 * the hardware resets the host, which fences its guests. */
int ag_watchdog_start(struct hacd_agent *ag)
{
	int timeout = AG_WATCHDOG_TIMEOUT_S;
	const char *dev = ag->h->opts.watchdog;

	if (!dev)
		return 0;
	ag->wd_fd = open(dev, O_WRONLY | O_CLOEXEC);
	if (ag->wd_fd < 0) {
		log_err("watchdog %s: %s", dev, strerror(errno));
		return -errno;
	}
	if (ioctl(ag->wd_fd, WDIOC_SETTIMEOUT, &timeout) < 0)
		log_warn("watchdog %s: cannot set a %d s timeout: %s", dev,
			 AG_WATCHDOG_TIMEOUT_S, strerror(errno));
	log_info("watchdog %s armed (%d s)", dev, timeout);
	ag_wd_timer(ag);
	return 0;
}

void ag_watchdog_stop(struct hacd_agent *ag)
{
	if (ag->wd_fd < 0)
		return;
	qb_loop_timer_del(ag->h->loop, ag->wd_timer);
	/* Magic close: a clean stop disarms the watchdog. */
	if (write(ag->wd_fd, "V", 1) < 0)
		log_warn("watchdog: cannot disarm: %s", strerror(errno));
	close(ag->wd_fd);
	ag->wd_fd = -1;
}
