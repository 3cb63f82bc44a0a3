/*
 * `hv migrate --control PATH --to tcp:HOST:PORT [...]`: asks the hv at PATH
 * to migrate its VM, shows progress while it runs (a line on stderr when
 * that is a terminal, from `status` on a second connection) and prints the
 * final report (text, or one JSON object with --json). Exit 0 only when the
 * guest runs on the destination.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/ctl.h"
#include "hv/ctl_internal.h"
#include "hv/json.h"
#include "hv/log.h"

#define MIG_POLL_MS 250

struct mig_opts {
	const char *path;
	bool json;
	Ferry__Control__MigrateRequest req;
};

static int mig_parse_u64(const char *opt, const char *arg, uint64_t max,
			 uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || *out > max) {
		log_err("migrate: %s %s: expected a number up to %" PRIu64, opt,
			arg, max);
		return -EINVAL;
	}
	return 0;
}

static int mig_apply_opt(int c, const char *arg, struct mig_opts *o)
{
	uint64_t v = 0;

	switch (c) {
	case 'c': o->path = arg; return 0;
	case 't': o->req.uri = (char *)arg; return 0;
	case 'j': o->json = true; return 0;
	case 'a': o->req.auto_converge = true; return 0;
	case 'd':
		if (mig_parse_u64("--downtime-ms", arg, 60000, &v))
			return -EINVAL;
		o->req.downtime_ms = (uint32_t)v;
		return 0;
	case 'b':
		return mig_parse_u64("--max-bandwidth", arg, 1 << 20,
				     &o->req.max_bandwidth_mib);
	case 's':
		if (mig_parse_u64("--streams", arg, 8, &v) || v == 0) {
			log_err("migrate: --streams takes 1 to 8");
			return -EINVAL;
		}
		o->req.streams = (uint32_t)v;
		return 0;
	case 'z':
		if (strcmp(arg, "none") && strcmp(arg, "lz4")) {
			log_err("migrate: --compress %s: expected none or lz4", arg);
			return -EINVAL;
		}
		o->req.compress_lz4 = !strcmp(arg, "lz4");
		return 0;
	default:
		log_err("migrate: unknown option %s", arg);
		return -EINVAL;
	}
}

static int mig_parse(int argc, char **argv, struct mig_opts *o)
{
	static const struct option longopts[] = {
		{ "control", required_argument, NULL, 'c' },
		{ "to", required_argument, NULL, 't' },
		{ "downtime-ms", required_argument, NULL, 'd' },
		{ "max-bandwidth", required_argument, NULL, 'b' },
		{ "streams", required_argument, NULL, 's' },
		{ "compress", required_argument, NULL, 'z' },
		{ "auto-converge", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	ferry__control__migrate_request__init(&o->req);
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1)
		if (mig_apply_opt(c, c == '?' || c == ':' ? argv[optind - 1]
							  : optarg, o))
			return -EINVAL;
	if (optind < argc) {
		log_err("migrate: unexpected argument %s", argv[optind]);
		return -EINVAL;
	}
	if (!o->path || !o->req.uri) {
		log_err("migrate: --control PATH and --to tcp:HOST:PORT are "
			"required");
		return -EINVAL;
	}
	return 0;
}

/* One progress line from `status` on its own connection. */
static void mig_progress(const char *path)
{
	Ferry__Control__StatusRequest sreq = FERRY__CONTROL__STATUS_REQUEST__INIT;
	Ferry__Control__Request req = FERRY__CONTROL__REQUEST__INIT;
	Ferry__Control__Reply *rep = NULL;
	const Ferry__Control__MigrationStatus *m;
	qb_ipcc_connection_t *c;

	req.body_case = FERRY__CONTROL__REQUEST__BODY_STATUS;
	req.status = &sreq;
	if (ctl_connect(path, &c))
		return;
	if (!ctl_send_recv(c, path, &req, 1000, &rep) && rep->status &&
	    (m = rep->status->migration))
		fprintf(stderr, "\r%-13s round %u  remaining %" PRIu64
			" pages  dirty %" PRIu64 " pages/s  %.0f MiB/s  "
			"throttle %u%%   ", m->phase, m->round,
			m->pages_remaining, m->dirty_rate,
			m->bandwidth / 1048576.0, m->throttle_pct);
	ferry__control__reply__free_unpacked(rep, NULL);
	qb_ipcc_disconnect(c);
}

void ctl_migration_text(const Ferry__Control__MigrationStatus *m)
{
	printf("migration to %s %s%s%s\n", m->uri, m->phase,
	       m->message[0] ? ": " : "", m->message);
	printf("  round        %u, %" PRIu64 " pages remaining\n", m->round,
	       m->pages_remaining);
	printf("  total        %.1f ms\n", m->total_ns / 1e6);
	printf("  downtime     %.1f ms\n", m->downtime_ns / 1e6);
	printf("  setup        %.1f ms\n", m->setup_ns / 1e6);
	printf("  bytes        %" PRIu64 " (%.1f MiB)\n", m->bytes,
	       m->bytes / 1048576.0);
	printf("  rounds       %u (pages per round:", m->rounds);
	for (size_t i = 0; i < m->n_round_pages; i++)
		printf(" %" PRIu64, m->round_pages[i]);
	printf(")\n  pages sent   %" PRIu64 "\n", m->pages_sent);
	printf("  dirty rate   %" PRIu64 " pages/s\n", m->dirty_rate);
	printf("  bandwidth    %.1f MiB/s\n", m->bandwidth / 1048576.0);
	printf("  throttle     %u%%\n", m->throttle_pct);
	printf("  converged    %s\n", m->converged ? "yes" : "no");
}

void ctl_migration_json(const Ferry__Control__MigrationStatus *m)
{
	printf("{\"uri\":");
	json_print_string(m->uri);
	printf(",\"phase\":\"%s\",\"error\":%d,\"message\":", m->phase,
	       m->error);
	json_print_string(m->message);
	printf(",\"total_ns\":%" PRIu64 ",\"downtime_ns\":%" PRIu64
	       ",\"setup_ns\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"pages_sent\":%" PRIu64 ",\"rounds\":%u,\"round_pages\":[",
	       m->total_ns, m->downtime_ns, m->setup_ns, m->bytes,
	       m->pages_sent, m->rounds);
	for (size_t i = 0; i < m->n_round_pages; i++)
		printf("%s%" PRIu64, i ? "," : "", m->round_pages[i]);
	printf("],\"dirty_rate\":%" PRIu64 ",\"bandwidth\":%" PRIu64
	       ",\"throttle_pct\":%u,\"converged\":%s}",
	       m->dirty_rate, m->bandwidth, m->throttle_pct,
	       m->converged ? "true" : "false");
}

/* Sends the request, then waits for the deferred reply while showing
 * progress. Returns 0 or -errno; *rep is the final reply. */
static int mig_exchange(qb_ipcc_connection_t *c, const struct mig_opts *o,
			Ferry__Control__Reply **rep)
{
	Ferry__Control__Request req = FERRY__CONTROL__REQUEST__INIT;
	bool tty = isatty(STDERR_FILENO);
	struct iovec iov;
	void *out = NULL, *in = malloc(CONTROL_BUF_SIZE);
	ssize_t n;
	int rc;

	req.body_case = FERRY__CONTROL__REQUEST__BODY_MIGRATE;
	req.migrate = (Ferry__Control__MigrateRequest *)&o->req;
	rc = in ? control_req_pack(&req, &out, &iov.iov_len) : -ENOMEM;
	iov.iov_base = out;
	n = rc ? rc : qb_ipcc_sendv(c, &iov, 1);
	while (n >= 0) {
		n = qb_ipcc_recv(c, in, CONTROL_BUF_SIZE, MIG_POLL_MS);
		if (n != -ETIMEDOUT && n != -EAGAIN)
			break;
		if (tty)
			mig_progress(o->path);
		n = 0;
	}
	if (tty)
		fputc('\n', stderr);
	rc = n < 0 ? (int)n : control_reply_unpack(in, (size_t)n, rep);
	if (rc)
		log_err("migrate: lost the hv at %s: %s", o->path, strerror(-rc));
	free(out);
	free(in);
	return rc;
}

int ctl_migrate_main(int argc, char **argv)
{
	Ferry__Control__Reply *rep = NULL;
	qb_ipcc_connection_t *c;
	struct mig_opts o = { 0 };
	int rc;

	if (mig_parse(argc, argv, &o))
		return 2;
	if (ctl_connect(o.path, &c))
		return 1;
	rc = mig_exchange(c, &o, &rep);
	qb_ipcc_disconnect(c);
	if (rc)
		return 1;
	if (rep->migrate) {
		if (o.json) {
			ctl_migration_json(rep->migrate);
			putchar('\n');
		} else {
			ctl_migration_text(rep->migrate);
		}
	}
	if (rep->error < 0)
		log_err("%s", rep->message);
	rc = rep->error < 0 ? 1 : 0;
	ferry__control__reply__free_unpacked(rep, NULL);
	return rc;
}
