/*
 * `hv status|pause|resume|quit|debug-flip`: parses options, sends one
 * request to the hv serving --control PATH over libqb IPC, prints the reply.
 * Runs on the main thread of a short-lived process; owns no VM. Errors are
 * one line on stderr (hv/log.h), the exit status says which kind.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <unistd.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbipcc.h>

#include "hv/control.h"
#include "hv/control_msg.h"
#include "hv/ctl.h"
#include "hv/ctl_internal.h"
#include "hv/json.h"
#include "hv/log.h"

#define CTL_CONNECT_TIMEOUT_MS 1000

enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

struct ctl_opts {
	const char *path;
	bool json;
	bool have_gpa;
	uint64_t gpa;
	char to[PATH_MAX]; /* snapshot file, made absolute */
	bool stop;
};

struct ctl_cmd {
	const char *name;
	Ferry__Control__MsgType type;
	bool needs_gpa;
	bool needs_to;
	int timeout_ms;
	void (*print)(const struct ctl_opts *o, const Ferry__Control__Reply *r);
};

static void ctl_print_status(const struct ctl_opts *o,
			     const Ferry__Control__Reply *r);
static void ctl_print_done(const struct ctl_opts *o,
			   const Ferry__Control__Reply *r);

static void ctl_print_snapshot(const struct ctl_opts *o,
			       const Ferry__Control__Reply *r);

/* Pausing waits for every vCPU to leave the guest; a snapshot writes all of
 * guest memory, so it may take much longer. */
#define CTL_REPLY_TIMEOUT_MS 10000
#define CTL_SNAPSHOT_TIMEOUT_MS 600000

static const struct ctl_cmd ctl_cmds[] = {
	{ "status", FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS, false, false,
	  CTL_REPLY_TIMEOUT_MS, ctl_print_status },
	{ "pause", FERRY__CONTROL__MSG_TYPE__MSG_TYPE_PAUSE, false, false,
	  CTL_REPLY_TIMEOUT_MS, ctl_print_done },
	{ "resume", FERRY__CONTROL__MSG_TYPE__MSG_TYPE_RESUME, false, false,
	  CTL_REPLY_TIMEOUT_MS, ctl_print_done },
	{ "quit", FERRY__CONTROL__MSG_TYPE__MSG_TYPE_QUIT, false, false,
	  CTL_REPLY_TIMEOUT_MS, ctl_print_done },
	{ "debug-flip", FERRY__CONTROL__MSG_TYPE__MSG_TYPE_DEBUG_FLIP, true,
	  false, CTL_REPLY_TIMEOUT_MS, ctl_print_done },
	{ "snapshot", FERRY__CONTROL__MSG_TYPE__MSG_TYPE_SNAPSHOT, false, true,
	  CTL_SNAPSHOT_TIMEOUT_MS, ctl_print_snapshot },
};

static const struct ctl_cmd *ctl_cmd_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (name && !strcmp(ctl_cmds[i].name, name))
			return &ctl_cmds[i];
	return NULL;
}

bool ctl_is_command(const char *cmd)
{
	return ctl_cmd_find(cmd) != NULL;
}

/* ---- output ------------------------------------------------------------ */

static const char *ctl_state_name(Ferry__Control__VmState s)
{
	static const char *const names[] = { "unknown", "created", "running",
					     "paused", "stopped" };

	if ((unsigned int)s >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[s];
}


static void ctl_print_mem(uint64_t bytes)
{
	if (bytes && !(bytes % (1ULL << 30)))
		printf("memory:  %" PRIu64 " GiB\n", bytes >> 30);
	else if (bytes && !(bytes % (1ULL << 20)))
		printf("memory:  %" PRIu64 " MiB\n", bytes >> 20);
	else
		printf("memory:  %" PRIu64 " bytes\n", bytes);
}

static void ctl_print_status(const struct ctl_opts *o,
			     const Ferry__Control__Reply *r)
{
	const Ferry__Control__StatusReply *s = r->status;

	if (o->json) {
		printf("{\"state\":\"%s\",\"uptime_ns\":%" PRIu64
		       ",\"vcpus\":%u,\"mem_bytes\":%" PRIu64 ",\"name\":",
		       ctl_state_name(s->state), s->uptime_ns, s->vcpus,
		       s->mem_bytes);
		json_print_string(s->name);
		printf(",\"pid\":%d", (int)s->pid);
		if (s->migration) {
			printf(",\"migration\":");
			ctl_migration_json(s->migration);
		}
		printf("}\n");
		return;
	}
	printf("state:   %s\n", ctl_state_name(s->state));
	printf("uptime:  %.3f s\n", (double)s->uptime_ns / 1e9);
	printf("vCPUs:   %u\n", s->vcpus);
	ctl_print_mem(s->mem_bytes);
	printf("name:    %s\n", s->name);
	printf("pid:     %d\n", (int)s->pid);
	if (s->migration)
		ctl_migration_text(s->migration);
}

static void ctl_print_done(const struct ctl_opts *o,
			   const Ferry__Control__Reply *r)
{
	const char *msg = r->message && *r->message ? r->message : "done";

	if (o->json) {
		printf("{\"ok\":true,\"message\":");
		json_print_string(msg);
		printf("}\n");
		return;
	}
	printf("%s\n", msg);
}

static void ctl_print_snapshot(const struct ctl_opts *o,
			       const Ferry__Control__Reply *r)
{
	const Ferry__Control__SnapshotReply *s = r->snapshot;

	if (o->json) {
		printf("{\"ok\":true,\"path\":");
		json_print_string(o->to);
		printf(",\"bytes\":%" PRIu64 ",\"pages\":%" PRIu64
		       ",\"paused_ns\":%" PRIu64 ",\"total_ns\":%" PRIu64 "}\n",
		       s->bytes, s->pages, s->paused_ns, s->total_ns);
		return;
	}
	printf("snapshot %s: %" PRIu64 " bytes, %" PRIu64 " pages, vCPUs "
	       "paused %.1f ms, total %.1f ms\n", o->to, s->bytes, s->pages,
	       s->paused_ns / 1e6, s->total_ns / 1e6);
}

/* ---- options ----------------------------------------------------------- */

static int ctl_parse_gpa(const char *cmd, const char *arg, uint64_t *gpa)
{
	char *end;

	errno = 0;
	*gpa = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || *arg == '-') {
		log_err("%s: --gpa %s is not an address", cmd, arg);
		return -EINVAL;
	}
	return 0;
}

/* hv resolves paths in its own cwd, so send an absolute one. */
static int ctl_abs_path(const char *cmd, const char *path, char *out,
			size_t size)
{
	char cwd[PATH_MAX];

	if (!path || !*path) {
		log_err("%s: --to FILE is required", cmd);
		return -EINVAL;
	}
	if (path[0] == '/')
		cwd[0] = 0;
	else if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(out, size, "%s%s%s", cwd, cwd[0] ? "/" : "",
			     path) >= size) {
		log_err("%s: path %s is too long", cmd, path);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int ctl_bad_option(const char *cmd, int opt, char **argv)
{
	const char *text = argv[optind - 1];

	if (opt == ':')
		log_err("%s: option %s needs an argument", cmd, text);
	else if (opt == 'g')
		log_err("%s: option --gpa is only for debug-flip", cmd);
	else
		log_err("%s: unknown option %s", cmd, text);
	return -EINVAL;
}

static int ctl_parse(const struct ctl_cmd *cmd, int argc, char **argv,
		     struct ctl_opts *o)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "gpa", required_argument, NULL, 'g' },
		{ "to", required_argument, NULL, 't' },
		{ "stop", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL;
	int opt;

	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		if (opt == 'c')
			o->path = optarg;
		else if (opt == 'j')
			o->json = true;
		else if (opt == 'g' && cmd->needs_gpa)
			o->have_gpa = true;
		else if (opt == 'g')
			return ctl_bad_option(cmd->name, 'g', argv);
		else if ((opt == 't' || opt == 's') && !cmd->needs_to)
			return ctl_bad_option(cmd->name, '?', argv);
		else if (opt == 't')
			to = optarg;
		else if (opt == 's')
			o->stop = true;
		else
			return ctl_bad_option(cmd->name, opt, argv);
		if (opt == 'g' && ctl_parse_gpa(cmd->name, optarg, &o->gpa))
			return -EINVAL;
	}
	if (optind < argc) {
		log_err("%s: unexpected argument %s", cmd->name, argv[optind]);
		return -EINVAL;
	}
	if (!o->path) {
		log_err("%s: --control PATH is required", cmd->name);
		return -EINVAL;
	}
	if (cmd->needs_gpa && !o->have_gpa) {
		log_err("%s: --gpa ADDR is required", cmd->name);
		return -EINVAL;
	}
	if (cmd->needs_to)
		return ctl_abs_path(cmd->name, to, o->to, sizeof(o->to));
	return 0;
}

/* ---- the exchange ------------------------------------------------------ */

/* Connects within CTL_CONNECT_TIMEOUT_MS; logs why not. */
int ctl_connect(const char *path, qb_ipcc_connection_t **out)
{
	struct pollfd pfd = { .events = POLLIN };
	char name[CONTROL_SERVICE_MAX];
	qb_ipcc_connection_t *c = NULL;
	int n;

	if (strlen(path) > CONTROL_PATH_MAX) {
		log_err("control socket %s: longer than %d characters", path,
			CONTROL_PATH_MAX);
		return -ENAMETOOLONG;
	}
	errno = 0;
	if (control_service_name(path, name, sizeof(name)) < 0)
		return -ENAMETOOLONG;
	c = qb_ipcc_connect_async(name, CONTROL_BUF_SIZE, &pfd.fd);
	if (!c) {
		log_err("no hv at control socket %s", path);
		return errno ? -errno : -ECONNREFUSED;
	}
	do
		n = poll(&pfd, 1, CTL_CONNECT_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		log_err("hv at control socket %s did not answer within %d ms",
			path, CTL_CONNECT_TIMEOUT_MS);
		qb_ipcc_disconnect(c);
		return -ETIMEDOUT;
	}
	/* On failure libqb has already freed the connection. */
	n = qb_ipcc_connect_continue(c);
	if (n < 0) {
		log_err("control socket %s: %s", path, strerror(-n));
		return n;
	}
	*out = c;
	return 0;
}

int ctl_send_recv(qb_ipcc_connection_t *c, const char *path,
		  const Ferry__Control__Request *req, int timeout_ms,
		  Ferry__Control__Reply **rep)
{
	struct iovec iov;
	void *out = NULL, *in;
	size_t out_len;
	ssize_t n;
	int rc;

	in = malloc(CONTROL_BUF_SIZE);
	rc = in ? control_req_pack(req, &out, &out_len) : -ENOMEM;
	if (rc < 0) {
		log_err("control socket %s: cannot build request: %s", path,
			strerror(-rc));
		goto out_free;
	}
	iov.iov_base = out;
	iov.iov_len = out_len;
	n = qb_ipcc_sendv_recv(c, &iov, 1, in, CONTROL_BUF_SIZE, timeout_ms);
	if (n == -ETIMEDOUT || n == -EAGAIN)
		log_err("hv at control socket %s did not reply within %d ms",
			path, timeout_ms);
	else if (n < 0)
		log_err("control socket %s: %s", path, strerror((int)-n));
	rc = n < 0 ? (int)n : control_reply_unpack(in, (size_t)n, rep);
	if (n >= 0 && rc < 0)
		log_err("control socket %s: unreadable reply (%s)", path,
			strerror(-rc));
out_free:
	free(out);
	free(in);
	return rc;
}

/* Fills @req's body for @type; @bodies provides the storage. */
struct ctl_bodies {
	Ferry__Control__StatusRequest status;
	Ferry__Control__PauseRequest pause;
	Ferry__Control__ResumeRequest resume;
	Ferry__Control__QuitRequest quit;
	Ferry__Control__DebugFlipRequest flip;
	Ferry__Control__SnapshotRequest snap;
};

static void ctl_build(const struct ctl_cmd *cmd, const struct ctl_opts *o,
		      struct ctl_bodies *b, Ferry__Control__Request *req)
{
	ferry__control__request__init(req);
	ferry__control__status_request__init(&b->status);
	ferry__control__pause_request__init(&b->pause);
	ferry__control__resume_request__init(&b->resume);
	ferry__control__quit_request__init(&b->quit);
	ferry__control__debug_flip_request__init(&b->flip);
	b->flip.gpa = o->gpa;
	ferry__control__snapshot_request__init(&b->snap);
	b->snap.path = (char *)o->to;
	b->snap.stop = o->stop;
	req->body_case = (Ferry__Control__Request__BodyCase)cmd->type;
	if (cmd->type == FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS)
		req->status = &b->status;
	else if (cmd->type == FERRY__CONTROL__MSG_TYPE__MSG_TYPE_PAUSE)
		req->pause = &b->pause;
	else if (cmd->type == FERRY__CONTROL__MSG_TYPE__MSG_TYPE_RESUME)
		req->resume = &b->resume;
	else if (cmd->type == FERRY__CONTROL__MSG_TYPE__MSG_TYPE_QUIT)
		req->quit = &b->quit;
	else if (cmd->type == FERRY__CONTROL__MSG_TYPE__MSG_TYPE_SNAPSHOT)
		req->snapshot = &b->snap;
	else
		req->debug_flip = &b->flip;
}

/* Checks that the reply answers @cmd; prints its error line if it has one. */
static int ctl_check_reply(const struct ctl_cmd *cmd, const char *path,
			   const Ferry__Control__Reply *rep)
{
	if (rep->error < 0) {
		log_err("%s", rep->message && *rep->message ?
				      rep->message : strerror(-rep->error));
		return rep->error;
	}
	if (rep->type != cmd->type ||
	    (cmd->print == ctl_print_status && !rep->status) ||
	    (cmd->print == ctl_print_snapshot && !rep->snapshot)) {
		log_err("control socket %s: reply does not answer %s", path,
			cmd->name);
		return -EPROTO;
	}
	return 0;
}

int ctl_main(const char *cmd_name, int argc, char **argv)
{
	const struct ctl_cmd *cmd = ctl_cmd_find(cmd_name);
	Ferry__Control__Reply *rep = NULL;
	Ferry__Control__Request req;
	struct ctl_opts o = { 0 };
	struct ctl_bodies bodies;
	qb_ipcc_connection_t *c = NULL;
	int rc;

	if (!cmd) {
		log_err("unknown command %s", cmd_name ? cmd_name : "(none)");
		return CTL_EXIT_USAGE;
	}
	if (ctl_parse(cmd, argc, argv, &o) < 0)
		return CTL_EXIT_USAGE;
	if (ctl_connect(o.path, &c) < 0)
		return CTL_EXIT_FAIL;
	ctl_build(cmd, &o, &bodies, &req);
	rc = ctl_send_recv(c, o.path, &req, cmd->timeout_ms, &rep);
	qb_ipcc_disconnect(c);
	if (rc == 0)
		rc = ctl_check_reply(cmd, o.path, rep);
	if (rc == 0)
		cmd->print(&o, rep);
	ferry__control__reply__free_unpacked(rep, NULL);
	return rc == 0 ? CTL_EXIT_OK : CTL_EXIT_FAIL;
}
