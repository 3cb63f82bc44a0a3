/*
 * Incoming live migration: accepts the streams of one session, hands the
 * SPEC to the sink to build the VM, applies pages from every stream in
 * parallel (a pfn always arrives on the same stream, so no two threads
 * write one page), loads the state from stream 0, then the READY / GO /
 * RUNNING handshake of STREAM.md. Starts nothing unless GO arrives.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/clock.h"
#include "hv/log.h"
#include "migrate/migrate.h"
#include "migrate/transport.h"

#define SINK_ACCEPT_TIMEOUT_MS 10000 /* streams after the first */
#define SINK_IDLE_TIMEOUT_MS 30000   /* silence mid-migration */
#define SINK_GO_TIMEOUT_MS 30000

struct sink_ctx;

struct sink_stream {
	struct sink_ctx *ctx;
	uint32_t rounds_done; /* ROUND_ENDs applied, under ctx->lock */
	bool ended;	      /* receiver finished (END or error) */
	int fd;
	struct mig_reader *r;
	struct mig_stream_info info;
	pthread_t thread;
	bool thread_started;
	int err;
	const struct mig_mem *mem;
};

struct sink_ctx {
	const struct mig_sink *sink;
	int lfd;
	unsigned int count;
	struct sink_stream s[MIG_MAX_STREAMS];
	struct mig_mem mem;
	struct mig_writer *back; /* return path on stream 0 */
	pthread_mutex_t lock;	 /* round progress of the streams */
	pthread_cond_t cond;
	uint64_t t_first_state, t_end0; /* for the downtime breakdown */
	bool keep_stream0; /* the guest runs but RUNNING was not sent */
};

/* Reads STREAM_INFO, the first record of every stream. */
static int sink_read_info(struct sink_stream *s)
{
	struct mig_record rec;
	int ret = mig_reader_create(s->fd, &s->r);

	ret = ret ?: mig_read_record(s->r, &rec);
	if (!ret && (rec.type != MIG_REC_STREAM_INFO || rec.len != 16)) {
		log_err("incoming stream does not start with STREAM_INFO");
		ret = -EPROTO;
	}
	if (ret)
		return ret;
	memcpy(&s->info.session, rec.body, 8);
	memcpy(&s->info.index, rec.body + 8, 4);
	memcpy(&s->info.count, rec.body + 12, 4);
	if (s->info.count == 0 || s->info.count > MIG_MAX_STREAMS ||
	    s->info.index >= s->info.count) {
		log_err("incoming stream %u of %u is out of range",
			s->info.index, s->info.count);
		return -EPROTO;
	}
	return 0;
}

static int sink_accept_one(struct sink_ctx *c, int timeout_ms,
			   struct sink_stream *out)
{
	int ret;

	*out = (struct sink_stream){ .fd = -1 };
	ret = mig_tcp_accept(c->lfd, timeout_ms, &out->fd);
	ret = ret ?: mig_fd_set_timeout(out->fd, SINK_IDLE_TIMEOUT_MS, 0);
	return ret ?: sink_read_info(out);
}

/* Accepts every stream of the first session to arrive, ordered by index. */
static int sink_accept(struct sink_ctx *c)
{
	struct sink_stream first, next;
	int ret = sink_accept_one(c, -1, &first);

	if (ret)
		goto fail_first;
	c->count = first.info.count;
	first.ctx = c;
	c->s[first.info.index] = first;
	for (unsigned int got = 1; got < c->count; got++) {
		ret = sink_accept_one(c, SINK_ACCEPT_TIMEOUT_MS, &next);
		if (!ret && (next.info.session != first.info.session ||
			     next.info.count != c->count ||
			     c->s[next.info.index].r)) {
			log_err("incoming stream does not belong to the session");
			ret = -EPROTO;
		}
		if (ret) {
			mig_reader_destroy(next.r);
			if (next.fd >= 0)
				close(next.fd);
			return ret;
		}
		next.ctx = c;
		c->s[next.info.index] = next;
	}
	return 0;

fail_first:
	mig_reader_destroy(first.r);
	if (first.fd >= 0)
		close(first.fd);
	return ret;
}

/* Records that this stream applied everything up to a ROUND_END. */
static int sink_round_end(struct sink_stream *s, const struct mig_record *rec)
{
	struct sink_ctx *c = s->ctx;
	uint32_t round;

	if (rec->len != 4) {
		log_err("malformed ROUND_END at offset %llu",
			(unsigned long long)rec->offset);
		return -EPROTO;
	}
	memcpy(&round, rec->body, 4);
	if (round != s->rounds_done) {
		log_err("ROUND_END %u where round %u was expected", round,
			s->rounds_done);
		return -EPROTO;
	}
	pthread_mutex_lock(&c->lock);
	s->rounds_done = round + 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void sink_stream_ended(struct sink_stream *s)
{
	pthread_mutex_lock(&s->ctx->lock);
	s->ended = true;
	pthread_cond_broadcast(&s->ctx->cond);
	pthread_mutex_unlock(&s->ctx->lock);
}

/* Page records, any stream. Returns 1 at END, 0 to go on, -errno. */
static int sink_page_record(struct sink_stream *s, const struct mig_record *rec,
			    const struct mig_mem *mem)
{
	switch (rec->type) {
	case MIG_REC_PAGES:
	case MIG_REC_ZERO_BITMAP:
		return mig_pages_apply(rec, mem);
	case MIG_REC_ROUND_END:
		return sink_round_end(s, rec);
	case MIG_REC_END:
		return 1;
	default:
		log_err("unexpected %s record at offset %llu of a page stream",
			mig_rec_type_name(rec->type),
			(unsigned long long)rec->offset);
		return -EPROTO;
	}
}

static void *sink_receiver(void *arg)
{
	struct sink_stream *s = arg;
	struct mig_record rec;
	int ret;

	do {
		ret = mig_read_record(s->r, &rec);
		ret = ret ?: sink_page_record(s, &rec, s->mem);
	} while (!ret);
	s->err = ret < 0 ? ret : 0;
	sink_stream_ended(s);
	return NULL;
}

static int sink_send_back(struct sink_ctx *c, uint32_t type, const void *body,
			  size_t len);

/* Stream 0 reached ROUND_END: once every stream has, acknowledge it. */
static int sink_round_ack(struct sink_ctx *c, const struct mig_record *rec)
{
	uint32_t round;
	int ret = sink_round_end(&c->s[0], rec);
	bool all;

	if (ret)
		return ret;
	memcpy(&round, rec->body, 4);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		all = true;
		for (unsigned int i = 1; i < c->count; i++) {
			if (c->s[i].ended && c->s[i].rounds_done <= round)
				ret = c->s[i].err ? c->s[i].err : -EPROTO;
			all = all && c->s[i].rounds_done > round;
		}
		if (all || ret)
			break;
		pthread_cond_wait(&c->cond, &c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return ret ?: sink_send_back(c, MIG_REC_ROUND_ACK, &round, 4);
}

/* Stream 0: SPEC, pages, then the state up to END. */
static int sink_stream0(struct sink_ctx *c)
{
	struct sink_stream *s = &c->s[0];
	struct mig_record rec;
	int ret = mig_read_record(s->r, &rec);

	if (!ret && rec.type != MIG_REC_SPEC) {
		log_err("stream 0 does not carry SPEC after STREAM_INFO");
		ret = -EPROTO;
	}
	ret = ret ?: c->sink->build(c->sink->opaque, &rec, &c->mem);
	for (unsigned int i = 1; !ret && i < c->count; i++) {
		c->s[i].mem = &c->mem;
		if (pthread_create(&c->s[i].thread, NULL, sink_receiver,
				   &c->s[i]))
			ret = -EAGAIN;
		c->s[i].thread_started = !ret;
	}
	while (!ret) {
		ret = mig_read_record(s->r, &rec);
		if (ret)
			break;
		if (rec.type < MIG_REC_VCPU || rec.type > MIG_REC_DEVICE) {
			if (rec.type == MIG_REC_END) {
				ret = c->sink->load_state(c->sink->opaque, &rec);
				c->t_end0 = mono_ns();
				log_debug("incoming: state loaded in %.2f ms",
					  (c->t_end0 - c->t_first_state) / 1e6);
				return ret == 1 ? 0 : -EPROTO;
			}
			ret = rec.type == MIG_REC_ROUND_END
				      ? sink_round_ack(c, &rec)
				      : sink_page_record(&c->s[0], &rec, &c->mem);
			continue;
		}
		if (!c->t_first_state)
			c->t_first_state = mono_ns();
		ret = c->sink->load_state(c->sink->opaque, &rec);
	}
	return ret < 0 ? ret : -EPROTO;
}

static int sink_join(struct sink_ctx *c)
{
	int ret = 0;

	for (unsigned int i = 1; i < c->count; i++) {
		if (!c->s[i].thread_started)
			continue;
		/* A receiver blocked on a dead peer ends with its read
		 * timeout; shutting the socket down ends it at once. */
		pthread_join(c->s[i].thread, NULL);
		c->s[i].thread_started = false;
		ret = ret ?: c->s[i].err;
	}
	return ret;
}

static void sink_abort_receivers(struct sink_ctx *c)
{
	for (unsigned int i = 1; i < c->count; i++)
		if (c->s[i].thread_started)
			shutdown(c->s[i].fd, SHUT_RDWR);
	sink_join(c);
}

static int sink_send_back(struct sink_ctx *c, uint32_t type, const void *body,
			  size_t len)
{
	int ret = 0;

	if (!c->back)
		ret = mig_writer_create(c->s[0].fd, &c->back);
	ret = ret ?: mig_write_record(c->back, type, body, len);
	return ret ?: mig_writer_flush(c->back);
}

/* READY, then GO within the timeout, then start and RUNNING. */
static int sink_switchover(struct sink_ctx *c)
{
	struct mig_record rec;
	int ret = sink_send_back(c, MIG_REC_READY, NULL, 0);

	ret = ret ?: mig_fd_set_timeout(c->s[0].fd, SINK_GO_TIMEOUT_MS, 0);
	ret = ret ?: mig_read_record(c->s[0].r, &rec);
	if (ret == -ENODATA)
		ret = -EPIPE;
	if (!ret && rec.type != MIG_REC_GO) {
		log_err("expected GO from the source, got %s",
			mig_rec_type_name(rec.type));
		ret = -EPROTO;
	}
	if (ret) {
		log_err("no GO from the source: the guest is not started here");
		return ret;
	}
	log_debug("incoming: GO");
	ret = c->sink->start(c->sink->opaque);
	/* The guest runs now whatever happens to the confirmation. If the
	 * source cannot be told, stream 0 stays open for this process's
	 * life: the source must see silence ("outcome unknown", it keeps its
	 * copy paused), never an EOF, which would tell it to resume. */
	if (!ret && sink_send_back(c, MIG_REC_RUNNING, NULL, 0)) {
		log_warn("could not confirm RUNNING to the source; its copy "
			 "stays paused until an operator decides");
		c->keep_stream0 = true;
	}
	return ret;
}

static void sink_close(struct sink_ctx *c)
{
	mig_writer_destroy(c->back);
	for (unsigned int i = 0; i < MIG_MAX_STREAMS; i++) {
		mig_reader_destroy(c->s[i].r);
		if (c->s[i].r && c->s[i].fd >= 0 && !(i == 0 && c->keep_stream0))
			close(c->s[i].fd);
	}
	if (c->lfd >= 0)
		close(c->lfd);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

int mig_sink_run(const struct mig_sink *sink, const char *uri)
{
	struct sink_ctx c = { .sink = sink, .lfd = -1 };
	struct mig_uri u;
	char why[160];
	int ret = mig_uri_parse_listen(uri, &u);

	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	ret = ret ?: mig_tcp_listen(&u, &c.lfd);
	if (!ret)
		log_info("waiting for a migration on %s", uri);
	ret = ret ?: sink_accept(&c);
	if (!ret)
		ret = sink_stream0(&c);
	if (ret)
		sink_abort_receivers(&c);
	else
		ret = sink_join(&c);
	log_debug("incoming: +%.2f ms after stream 0's END: all streams ended",
		  (mono_ns() - c.t_end0) / 1e6);
	if (ret && c.s[0].r) {
		snprintf(why, sizeof(why), "destination failed: %s",
			 strerror(-ret));
		sink_send_back(&c, MIG_REC_ERROR, why, strlen(why));
	}
	if (!ret)
		ret = sink_switchover(&c);
	sink_close(&c);
	return ret;
}
