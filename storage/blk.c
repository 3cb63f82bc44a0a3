/*
 * The backend-independent half of storage/blk.h: option parsing, request
 * checks and the dirty-region hook. Knows nothing of files or io_uring.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "hv/log.h"
#include "storage/blk.h"

static int blk_parse_poll(struct blk_opts *o, const char *v)
{
	char *end;
	unsigned long us;

	errno = 0;
	us = strtoul(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || us > BLK_POLL_US_MAX) {
		log_err("--disk %s: poll=%s is not a number of microseconds "
			"up to %u", o->path, v, BLK_POLL_US_MAX);
		return -EINVAL;
	}
	o->poll_us = (unsigned int)us;
	return 0;
}

int blk_opts_parse(char *s, struct blk_opts *o)
{
	char *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	o->cache = BLK_CACHE_WRITEBACK;
	o->poll_us = BLK_POLL_US_DEFAULT;
	o->path = strtok_r(s, ",", &save);
	if (!o->path || !*o->path || s[0] == ',') {
		log_err("--disk: missing PATH (PATH[,readonly]"
			"[,cache=none|writeback][,poll=US])");
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "readonly") || !strcmp(tok, "ro"))
			o->readonly = true;
		else if (!strcmp(tok, "cache=none"))
			o->cache = BLK_CACHE_NONE;
		else if (!strcmp(tok, "cache=writeback"))
			o->cache = BLK_CACHE_WRITEBACK;
		else if (!strncmp(tok, "poll=", 5)) {
			if (blk_parse_poll(o, tok + 5))
				return -EINVAL;
		} else {
			log_err("--disk %s: unknown option '%s' (readonly, "
				"cache=none, cache=writeback, poll=US)",
				o->path, tok);
			return -EINVAL;
		}
	}
	return 0;
}

static bool blk_is_change(enum blk_op op)
{
	return op == BLK_OP_WRITE || op == BLK_OP_DISCARD ||
	       op == BLK_OP_WRITE_ZEROES;
}

int blk_submit(struct blk *b, struct blk_req *r)
{
	int ret;

	if (r->op != BLK_OP_FLUSH) {
		if (r->offset > b->size || r->len > b->size - r->offset ||
		    r->offset % BLK_SECTOR || r->len % BLK_SECTOR)
			return -EINVAL;
	}
	if (blk_is_change(r->op) && b->readonly)
		return -EROFS;
	if (blk_is_change(r->op) && b->dirty && r->len)
		b->dirty(b->dirty_opaque, r->offset, r->len);
	r->bounce = NULL;
	/* Counted first: a backend may complete the request inside. */
	b->inflight++;
	ret = b->ops->submit(b, r);
	if (ret)
		b->inflight--;
	return ret;
}

int blk_unplug(struct blk *b)
{
	return b->ops->unplug(b);
}

int blk_reap(struct blk *b)
{
	return b->ops->reap(b);
}

bool blk_ready(struct blk *b)
{
	return b->ops->ready(b);
}

/* io_uring_enter() fails these ways when short of memory or CQ room, or
 * interrupted: the requests stay queued and a retry can succeed. */
static bool blk_transient(int err)
{
	return err == -EAGAIN || err == -EBUSY || err == -EINTR ||
	       err == -ENOMEM;
}

int blk_drain_flush(struct blk *b)
{
	struct pollfd p = { .fd = b->event_fd, .events = POLLIN };
	int ret = 0;

	while (b->inflight) {
		ret = blk_unplug(b);
		if (ret && !blk_transient(ret))
			return ret;
		if (blk_reap(b) > 0)
			continue;
		if (poll(&p, 1, ret ? 1 : 1000) < 0 && errno != EINTR)
			return -errno;
	}
	return b->readonly ? 0 : b->ops->flush_sync(b);
}

void blk_set_dirty_hook(struct blk *b, blk_dirty_fn fn, void *opaque)
{
	b->dirty = fn;
	b->dirty_opaque = opaque;
}

void blk_destroy(struct blk *b)
{
	if (b)
		b->ops->destroy(b);
}
