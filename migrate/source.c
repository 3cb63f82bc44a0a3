/*
 * Outgoing live migration: connects the streams, sends the spec, runs
 * pre-copy rounds from the dirty log until the policy says stop, then
 * stop-and-copy and the switchover handshake of STREAM.md. Runs on hv's
 * migration thread plus one sender thread per stream per round. Reaches the
 * VM only through struct mig_source; never includes KVM headers.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv/clock.h"
#include "hv/log.h"
#include "migrate/migrate.h"
#include "migrate/transport.h"

#define SRC_CONNECT_TIMEOUT_MS 5000
#define SRC_READY_TIMEOUT_MS 30000   /* destination loads the state */
#define SRC_RUNNING_TIMEOUT_MS 10000 /* destination starts its vCPUs */
#define SRC_BLOCK_PAGES 512	     /* pfns per block, one stream each */
#define SRC_STATE_ESTIMATE (64u << 10)
#define SRC_ACK_TIMEOUT_MS 10000     /* destination applies one round */
#define SRC_STOP_COPY_TIMEOUT_MS 10000 /* a write while the guest is paused */

struct src_ctx;

/* One stream and, during a round, its sender thread. */
struct src_stream {
	struct src_ctx *ctx;
	unsigned int index;
	int fd;
	struct mig_writer *w;
	pthread_t thread;
	bool started;
	int err;
	uint64_t pages;	   /* sent this round */
	uint64_t budget_t0; /* bandwidth cap bookkeeping */
	uint64_t budget_bytes0;
};

struct src_ctx {
	const struct mig_source *src;
	const struct mig_options *opt;
	struct mig_status *st;
	void (*lock)(void *);
	void (*unlock)(void *);
	void *lock_arg;
	unsigned int nstreams;
	struct src_stream s[MIG_MAX_STREAMS];
	uint64_t *bitmap;
	uint64_t nwords;
	struct mig_reader *back; /* return path, stream 0 */
	uint64_t session;
	uint64_t t_start, t_pause, t_running;
};

/* The status is shared with the thread that answers `hv status`. */
static void src_lock(struct src_ctx *c)
{
	if (c->lock)
		c->lock(c->lock_arg);
}

static void src_unlock(struct src_ctx *c)
{
	if (c->unlock)
		c->unlock(c->lock_arg);
}

static void src_set_phase(struct src_ctx *c, enum mig_phase ph)
{
	src_lock(c);
	c->st->phase = ph;
	src_unlock(c);
}

static void src_fail_msg(struct src_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records why the migration failed (first reason wins). */
static void src_fail_msg(struct src_ctx *c, const char *fmt, ...)
{
	va_list ap;

	src_lock(c);
	if (!c->st->message[0]) {
		va_start(ap, fmt);
		vsnprintf(c->st->message, sizeof(c->st->message), fmt, ap);
		va_end(ap);
	}
	src_unlock(c);
}

/* @n per @ns as a rate per second, without overflow for big rounds. */
static uint64_t per_second(uint64_t n, uint64_t ns)
{
	return ns ? (uint64_t)((unsigned __int128)n * 1000000000ULL / ns) : 0;
}

static uint64_t src_wire_bytes(const struct src_ctx *c)
{
	uint64_t b = 0;

	for (unsigned int i = 0; i < c->nstreams; i++)
		b += c->s[i].w ? mig_writer_bytes(c->s[i].w) : 0;
	return b;
}

/* ---- setup ------------------------------------------------------------- */

static int src_stream_open(struct src_ctx *c, const struct mig_uri *u,
			   unsigned int i)
{
	struct src_stream *s = &c->s[i];
	uint8_t info[16];
	uint32_t idx = i, cnt = c->nstreams;
	int ret = mig_tcp_connect(u, SRC_CONNECT_TIMEOUT_MS, &s->fd);

	if (ret)
		return ret;
	ret = mig_writer_create(s->fd, &s->w);
	if (ret)
		return ret;
	memcpy(info, &c->session, 8);
	memcpy(info + 8, &idx, 4);
	memcpy(info + 12, &cnt, 4);
	ret = mig_write_record(s->w, MIG_REC_STREAM_INFO, info, sizeof(info));
	if (!ret && i == 0)
		ret = c->src->save_spec(c->src->opaque, s->w);
	return ret ?: mig_writer_flush(s->w);
}

static unsigned int src_default_streams(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4 ? 4 : (unsigned int)n;
}

static int src_setup(struct src_ctx *c, const char *uri)
{
	struct mig_uri u;
	int ret = mig_uri_parse(uri, &u);
	uint64_t max_pfn = c->src->mem.max_pfn;

	c->nstreams = c->opt->streams ? c->opt->streams : src_default_streams();
	if (c->nstreams > MIG_MAX_STREAMS)
		c->nstreams = MIG_MAX_STREAMS;
	for (unsigned int i = 0; i < c->nstreams; i++)
		c->s[i] = (struct src_stream){ .ctx = c, .index = i, .fd = -1 };
	c->session = mono_ns() ^ ((uint64_t)getpid() << 32);
	c->nwords = (max_pfn + 63) / 64;
	c->bitmap = calloc(c->nwords, sizeof(uint64_t));
	if (!c->bitmap)
		return -ENOMEM;
	for (unsigned int i = 0; !ret && i < c->nstreams; i++)
		ret = src_stream_open(c, &u, i);
	return ret;
}

static void src_teardown(struct src_ctx *c)
{
	mig_reader_destroy(c->back);
	for (unsigned int i = 0; i < c->nstreams; i++) {
		mig_writer_destroy(c->s[i].w);
		if (c->s[i].fd >= 0)
			close(c->s[i].fd);
	}
	free(c->bitmap);
}

/* ---- one round --------------------------------------------------------- */

/* Sleeps as needed to keep this stream under its share of the cap. */
static void src_pace(struct src_stream *s)
{
	const struct src_ctx *c = s->ctx;
	uint64_t cap = c->opt->max_bandwidth / c->nstreams;
	uint64_t sent, due_ns, el;

	if (!cap)
		return;
	sent = mig_writer_bytes(s->w) - s->budget_bytes0;
	due_ns = (uint64_t)((unsigned __int128)sent * 1000000000ULL / cap);
	el = mono_ns() - s->budget_t0;
	if (due_ns > el) {
		struct timespec ts = { (time_t)((due_ns - el) / 1000000000ULL),
				       (long)((due_ns - el) % 1000000000ULL) };
		nanosleep(&ts, NULL);
	}
}

/* Sends the dirty pages of one 512-pfn block: re-protect exactly them,
 * then read and send them, then forget them. */
static int src_send_block(struct src_stream *s, uint64_t first)
{
	struct src_ctx *c = s->ctx;
	uint64_t pfns[SRC_BLOCK_PAGES], end = first + SRC_BLOCK_PAGES;
	unsigned int n = 0;
	int ret;

	if (end > c->src->mem.max_pfn)
		end = c->src->mem.max_pfn;
	for (uint64_t w = first / 64; w < (end + 63) / 64; w++)
		for (uint64_t bits = c->bitmap[w]; bits; bits &= bits - 1)
			pfns[n++] = w * 64 + (uint64_t)__builtin_ctzll(bits);
	if (!n)
		return 0;
	ret = c->src->dirty_clear(c->src->opaque, c->bitmap, first,
				  end - first);
	if (!ret)
		ret = mig_pages_write(s->w, &c->src->mem, pfns, n,
				      c->opt->compress);
	memset(&c->bitmap[first / 64], 0, (end - first + 63) / 64 * 8);
	s->pages += n;
	src_pace(s);
	return ret;
}

static void *src_sender(void *arg)
{
	struct src_stream *s = arg;
	struct src_ctx *c = s->ctx;
	uint64_t max_pfn = c->src->mem.max_pfn;
	uint64_t step = (uint64_t)SRC_BLOCK_PAGES * c->nstreams;

	for (uint64_t b = (uint64_t)s->index * SRC_BLOCK_PAGES;
	     !s->err && b < max_pfn; b += step)
		s->err = src_send_block(s, b);
	if (!s->err)
		s->err = mig_writer_flush(s->w);
	return NULL;
}

/* Sends every page set in the bitmap, each stream its own blocks, in
 * parallel. Returns pages sent or -errno. */
static int64_t src_send_round(struct src_ctx *c)
{
	int64_t pages = 0;
	int err = 0;

	for (unsigned int i = 0; i < c->nstreams; i++) {
		struct src_stream *s = &c->s[i];

		s->pages = 0;
		s->err = 0;
		s->budget_t0 = mono_ns();
		s->budget_bytes0 = mig_writer_bytes(s->w);
		s->started = !pthread_create(&s->thread, NULL, src_sender, s);
		if (!s->started)
			s->err = -EAGAIN;
	}
	for (unsigned int i = 0; i < c->nstreams; i++) {
		struct src_stream *s = &c->s[i];

		if (s->started)
			pthread_join(s->thread, NULL);
		err = err ?: s->err;
		pages += (int64_t)s->pages;
	}
	return err ? err : pages;
}

static int src_mark_populated(void *arg, uint64_t first, uint64_t n)
{
	struct src_ctx *c = arg;

	for (uint64_t p = first; p < first + n && p < c->src->mem.max_pfn; p++)
		c->bitmap[p / 64] |= 1ULL << (p % 64);
	return 0;
}

static uint64_t src_count_dirty(const struct src_ctx *c)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < c->nwords; w++)
		n += (uint64_t)__builtin_popcountll(c->bitmap[w]);
	return n;
}

/* Reads the next return-path record within @timeout_ms. Returns its type,
 * -ETIMEDOUT when the destination stays silent, -EPIPE when it is gone. */
static int src_return_record(struct src_ctx *c, int timeout_ms,
			     struct mig_record *rec)
{
	int fd = c->s[0].fd;
	int ret = mig_fd_set_timeout(fd, timeout_ms, 0);

	if (!ret && !c->back)
		ret = mig_reader_create(fd, &c->back);
	if (!ret)
		ret = mig_read_record(c->back, rec);
	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		return -ETIMEDOUT;
	if (ret == -ENODATA || ret == -ECONNRESET)
		return -EPIPE;
	return ret ? ret : (int)rec->type;
}

/* Turns an ERROR record or an unexpected one into a logged failure. */
static int src_unexpected(struct src_ctx *c, int t, const struct mig_record *rec,
			  const char *wanted)
{
	if (t == MIG_REC_ERROR) {
		src_fail_msg(c, "destination refused: %.*s", (int)rec->len,
			     (const char *)rec->body);
		return -EREMOTEIO;
	}
	if (t >= 0) {
		src_fail_msg(c, "destination sent %s instead of %s",
			     mig_rec_type_name((uint32_t)t), wanted);
		return -EPROTO;
	}
	src_fail_msg(c, "no %s from the destination: %s", wanted, strerror(-t));
	return t;
}

/* ROUND_END on every stream, then wait until the destination applied it. */
static int src_round_sync(struct src_ctx *c, uint32_t round)
{
	struct mig_record rec;
	uint32_t acked;
	int ret = 0, t;

	for (unsigned int i = 0; !ret && i < c->nstreams; i++) {
		ret = mig_write_record(c->s[i].w, MIG_REC_ROUND_END, &round,
				       sizeof(round));
		ret = ret ?: mig_writer_flush(c->s[i].w);
	}
	if (ret)
		return ret;
	t = src_return_record(c, SRC_ACK_TIMEOUT_MS, &rec);
	if (t != MIG_REC_ROUND_ACK || rec.len != 4)
		return src_unexpected(c, t, &rec, "ROUND_ACK");
	memcpy(&acked, rec.body, 4);
	if (acked != round) {
		src_fail_msg(c, "destination acknowledged round %u, not %u",
			     acked, round);
		return -EPROTO;
	}
	return 0;
}

/* ---- pre-copy ---------------------------------------------------------- */

static void src_round_done(struct src_ctx *c, uint32_t round, uint64_t pages,
			   uint64_t dirty, uint64_t bw, uint64_t rate)
{
	src_lock(c);
	c->st->round = round + 1;
	if (round < MIG_MAX_ROUNDS)
		c->st->round_pages[round] = pages;
	c->st->rounds = round + 1;
	c->st->pages_sent += pages;
	c->st->pages_remaining = dirty;
	c->st->bandwidth = bw;
	c->st->dirty_rate = rate;
	c->st->bytes = src_wire_bytes(c);
	src_unlock(c);
}

/* What the policy sees after round @round took @ns and carried @bytes. */
static void src_policy_in(const struct src_ctx *c, uint32_t round,
			  uint64_t dirty, uint64_t bytes, uint64_t ns,
			  uint64_t elapsed, uint32_t throttle,
			  struct mig_policy_in *in)
{
	*in = (struct mig_policy_in){
		.round = round + 1,
		.dirty_pages = dirty,
		.state_bytes = SRC_STATE_ESTIMATE,
		.bandwidth = per_second(bytes, ns),
		.dirty_rate = per_second(dirty, ns),
		.elapsed_ns = elapsed,
		.downtime_ms = c->opt->downtime_ms ? c->opt->downtime_ms
						   : MIG_DEFAULT_DOWNTIME_MS,
		.auto_converge = c->opt->auto_converge,
		.throttle_pct = throttle,
	};
}

/* Returns 0 when it is time to stop and copy, or -errno to abort. */
static int src_precopy(struct src_ctx *c)
{
	struct mig_policy_out out = { MIG_CONTINUE, 0, NULL };
	struct mig_policy_in in;
	uint64_t t_pre = mono_ns();
	uint32_t throttle = 0;
	int ret = c->src->populated(c->src->opaque, src_mark_populated, c);

	for (uint32_t round = 0; !ret; round++) {
		uint64_t t0 = mono_ns(), b0 = src_wire_bytes(c), t1, bytes, dirty;
		int64_t sent = src_send_round(c);

		if (sent < 0)
			return (int)sent;
		ret = src_round_sync(c, round);
		if (ret)
			return ret;
		t1 = mono_ns();
		bytes = src_wire_bytes(c) - b0;
		ret = c->src->dirty_sync(c->src->opaque, c->bitmap);
		if (ret)
			return ret;
		dirty = src_count_dirty(c);
		src_policy_in(c, round, dirty, bytes, t1 - t0, t1 - t_pre,
			      throttle, &in);
		src_round_done(c, round, (uint64_t)sent, dirty, in.bandwidth,
			       in.dirty_rate);
		mig_policy_decide(&in, &out);
		log_debug("migrate: round %u sent %lld pages, %llu dirty: %s",
			  round, (long long)sent, (unsigned long long)dirty,
			  out.reason);
		if (out.decision == MIG_STOP_AND_COPY) {
			log_debug("migrate: last sync %.2f ms ago", (mono_ns() - t1) / 1e6);
			return 0;
		}
		if (out.decision == MIG_ABORT) {
			src_fail_msg(c, "did not converge within the bounds: %s",
				     out.reason);
			return -ETIME;
		}
		if (out.throttle_pct != throttle) {
			throttle = out.throttle_pct;
			ret = c->src->throttle(c->src->opaque, throttle);
			src_lock(c);
			c->st->throttle_pct = throttle;
			src_unlock(c);
		}
	}
	return ret;
}

/* ---- stop and copy, handshake ------------------------------------------ */

static int src_stop_copy(struct src_ctx *c, bool *paused)
{
	int64_t sent;
	int ret;

	c->t_pause = mono_ns();
	ret = c->src->pause(c->src->opaque);
	if (ret)
		return ret;
	*paused = true;
	/* From here the guest waits for us: a destination that stops reading
	 * must not keep it paused forever (GO is not sent yet, so resuming
	 * after this deadline is safe). */
	for (unsigned int i = 0; i < c->nstreams; i++)
		mig_fd_set_timeout(c->s[i].fd, 0, SRC_STOP_COPY_TIMEOUT_MS);
	src_set_phase(c, MIG_PHASE_STOP_COPY);
	ret = c->src->dirty_sync(c->src->opaque, c->bitmap);
	log_debug("migrate: paused +%.2f ms: %llu pages dirty",
		  (mono_ns() - c->t_pause) / 1e6,
		  (unsigned long long)src_count_dirty(c));
	sent = ret ? ret : src_send_round(c);
	if (sent < 0)
		return (int)sent;
	src_lock(c);
	c->st->pages_sent += (uint64_t)sent;
	c->st->pages_remaining = 0;
	src_unlock(c);
	log_debug("migrate: paused +%.2f ms: final %lld pages sent",
		  (mono_ns() - c->t_pause) / 1e6, (long long)sent);
	ret = c->src->save_state(c->src->opaque, c->s[0].w);
	for (unsigned int i = 0; !ret && i < c->nstreams; i++) {
		ret = mig_write_record(c->s[i].w, MIG_REC_END, NULL, 0);
		ret = ret ?: mig_writer_flush(c->s[i].w);
	}
	log_debug("migrate: paused +%.2f ms: state and END sent",
		  (mono_ns() - c->t_pause) / 1e6);
	return ret;
}

/* Returns 0 once the destination runs the guest; -EPIPE/-EPROTO etc. when
 * the guest may safely resume here; -ETIMEDOUT when GO may have arrived and
 * the source must not resume (STREAM.md). */
static int src_handshake(struct src_ctx *c, bool *may_resume)
{
	struct mig_record rec;
	int t = src_return_record(c, SRC_READY_TIMEOUT_MS, &rec);

	*may_resume = true;
	src_set_phase(c, MIG_PHASE_HANDSHAKE);
	if (t != MIG_REC_READY)
		return src_unexpected(c, t, &rec, "READY");
	log_debug("migrate: paused +%.2f ms: READY", (mono_ns() - c->t_pause) / 1e6);
	t = mig_write_record(c->s[0].w, MIG_REC_GO, NULL, 0);
	t = t ?: mig_writer_flush(c->s[0].w);
	if (t) /* GO never left: the destination cannot start */
		return t;
	*may_resume = false;
	t = src_return_record(c, SRC_RUNNING_TIMEOUT_MS, &rec);
	/* The destination process is gone: it cannot be running the guest. */
	if (t == -EPIPE || t == -EIO)
		*may_resume = true;
	if (t != MIG_REC_RUNNING)
		return src_unexpected(c, t, &rec, "RUNNING");
	c->t_running = mono_ns();
	return 0;
}

/* ---- the whole migration ----------------------------------------------- */

static int src_run_phases(struct src_ctx *c, const char *uri, bool *paused,
			  bool *may_resume)
{
	int ret;

	src_set_phase(c, MIG_PHASE_SETUP);
	ret = src_setup(c, uri);
	if (!ret)
		ret = c->src->dirty_start(c->src->opaque);
	if (ret)
		return ret;
	src_lock(c);
	c->st->setup_ns = mono_ns() - c->t_start;
	c->st->phase = MIG_PHASE_PRECOPY;
	src_unlock(c);
	ret = src_precopy(c);
	c->src->throttle(c->src->opaque, 0);
	if (!ret)
		ret = src_stop_copy(c, paused);
	if (!ret)
		ret = src_handshake(c, may_resume);
	return ret;
}

/* After a failed send, the destination may have said why before closing:
 * take its ERROR line as the reason. */
static void src_collect_reason(struct src_ctx *c)
{
	struct mig_record rec;

	if (c->nstreams && c->s[0].fd >= 0 && !c->st->message[0] &&
	    src_return_record(c, 200, &rec) == MIG_REC_ERROR)
		src_unexpected(c, MIG_REC_ERROR, &rec, "");
}

int mig_source_run(const struct mig_source *src, const char *uri,
		   const struct mig_options *opt, struct mig_status *st,
		   void (*lock)(void *), void (*unlock)(void *), void *lock_arg)
{
	struct src_ctx c = { .src = src, .opt = opt, .st = st, .lock = lock,
			     .unlock = unlock, .lock_arg = lock_arg };
	bool paused = false, may_resume = true;
	int ret;

	c.t_start = mono_ns();
	ret = src_run_phases(&c, uri, &paused, &may_resume);
	src->dirty_stop(src->opaque);
	if (ret && paused && may_resume)
		src->resume(src->opaque);
	/* Only once the guest runs again: this may wait a little. */
	if (ret && may_resume)
		src_collect_reason(&c);
	src_lock(&c);
	st->total_ns = mono_ns() - c.t_start;
	st->bytes = src_wire_bytes(&c);
	st->error = ret;
	st->converged = !ret;
	if (!ret)
		st->downtime_ns = c.t_running - c.t_pause;
	st->phase = ret ? MIG_PHASE_FAILED : MIG_PHASE_COMPLETED;
	if (ret && !st->message[0])
		snprintf(st->message, sizeof(st->message), "%s",
			 strerror(-ret));
	if (ret && paused && !may_resume)
		snprintf(st->message, sizeof(st->message),
			 "outcome unknown: the destination did not confirm "
			 "after GO; the guest stays paused here (hv resume or "
			 "hv quit once the destination is checked)");
	src_unlock(&c);
	src_teardown(&c);
	return ret;
}
