/*
 * virtio-blk device. Everything runs under the transport lock: register
 * accesses (vCPU threads) and the I/O thread, which polls the ring for a
 * while after work (vblk_spin) and otherwise sleeps in poll() on the
 * queue notification, the backend's completion eventfd and its stop
 * eventfd. The guest's chains are parsed once into backend requests whose
 * iovecs point straight into guest RAM; completions write the status byte
 * and the used entry and mark both (and read data) in the dirty log.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/clock.h"
#include "hv/log.h"
#include "hv/virtio_blk.h"
#include "proto/virtio.pb-c.h"

#define VBLK_QUEUE_MAX 256
#define VBLK_SEG_MAX (VQ_MAX_SEGS - 2)
#define VBLK_CONFIG_SIZE 60
#define VBLK_ID_BYTES 20

#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define VIRTIO_BLK_F_DISCARD (1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ULL << 14)

enum { VBLK_T_IN = 0, VBLK_T_OUT = 1, VBLK_T_FLUSH = 4, VBLK_T_GET_ID = 8,
       VBLK_T_DISCARD = 11, VBLK_T_WRITE_ZEROES = 13 };
enum { VBLK_S_OK = 0, VBLK_S_IOERR = 1, VBLK_S_UNSUPP = 2 };

struct vblk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct vblk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

struct vblk_req {
	struct blk_req br;
	struct virtio_blk *d;
	uint8_t *status;
	uint64_t status_gpa;
	uint32_t type;
	uint32_t used_len;
	struct vq_chain c;
	struct iovec iov[VQ_MAX_SEGS];
};

struct virtio_blk {
	struct virtio_mmio m;
	struct blk *blk;
	char serial[VBLK_ID_BYTES];
	uint8_t config[VBLK_CONFIG_SIZE];
	bool paused;
	bool need_irq;
	pthread_t thread;
	bool thread_ok;
	int stop_efd;
	bool stopping;
	bool unplug_err; /* the backend holds requests it could not submit */
	uint64_t poll_ns;
	struct vblk_req *reqs;
	uint16_t free_list[VBLK_QUEUE_MAX];
	unsigned int nr_free;
	uint64_t nr_reqs, nr_errors;
	uint64_t err_logged_ns;
};

/* ---- config space ---- */

static void vblk_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void vblk_build_config(struct virtio_blk *d)
{
	uint64_t cap = d->blk->size / BLK_SECTOR;
	uint32_t max_sectors = (uint32_t)((1u << 30) / BLK_SECTOR);

	memcpy(d->config, &cap, 8);
	vblk_put32(d->config + 12, VBLK_SEG_MAX);	/* seg_max */
	vblk_put32(d->config + 20, d->blk->align);	/* blk_size */
	vblk_put32(d->config + 36, max_sectors);	/* max_discard_sectors */
	vblk_put32(d->config + 40, 1);			/* max_discard_seg */
	vblk_put32(d->config + 44, d->blk->align / BLK_SECTOR);
	vblk_put32(d->config + 48, max_sectors);	/* max_write_zeroes_sectors */
	vblk_put32(d->config + 52, 1);			/* max_write_zeroes_seg */
	d->config[56] = 1;				/* write_zeroes_may_unmap */
}

static void vblk_config(void *dev, uint64_t off, uint8_t *data,
			unsigned int size, bool is_write)
{
	struct virtio_blk *d = dev;

	if (is_write)
		return; /* writeback toggling is not offered */
	memset(data, 0, size);
	if (off < VBLK_CONFIG_SIZE && size <= VBLK_CONFIG_SIZE - off)
		memcpy(data, d->config + off, size);
}

/* ---- requests ---- */

static struct vblk_req *vblk_req_get(struct virtio_blk *d)
{
	return d->nr_free ? &d->reqs[d->free_list[--d->nr_free]] : NULL;
}

static void vblk_req_put(struct virtio_blk *d, struct vblk_req *r)
{
	d->free_list[d->nr_free++] = (uint16_t)(r - d->reqs);
}

static void vblk_complete(struct virtio_blk *d, struct vblk_req *r,
			  uint8_t status)
{
	struct vq *q = &d->m.vq[0];

	*r->status = status;
	q->mark(q->mark_ctx, r->status_gpa, 1);
	if (r->type == VBLK_T_IN || r->type == VBLK_T_GET_ID)
		vq_chain_mark(q, &r->c, r->used_len - 1);
	vq_push(q, r->c.head, r->used_len);
	d->need_irq = true;
	vblk_req_put(d, r);
}

static const char *const vblk_op_names[] = {
	[BLK_OP_READ] = "read", [BLK_OP_WRITE] = "write",
	[BLK_OP_FLUSH] = "flush", [BLK_OP_DISCARD] = "discard",
	[BLK_OP_WRITE_ZEROES] = "write-zeroes",
};

/* The guest gets VIRTIO_BLK_S_IOERR; the operator gets the first failure
 * and then one line a second at most, with the count, since a guest that
 * retries a full disk fails thousands of times a second. */
static void vblk_io_error(struct virtio_blk *d, const struct blk_req *br,
			  int err)
{
	uint64_t now = mono_ns();

	d->nr_errors++;
	if (d->nr_errors > 1 && now - d->err_logged_ns < 1000000000ULL)
		return;
	d->err_logged_ns = now;
	log_err("%s: %s of %llu bytes at offset %llu failed: %s (%llu "
		"failed requests so far)", d->m.name, vblk_op_names[br->op],
		(unsigned long long)br->len, (unsigned long long)br->offset,
		strerror(-err), (unsigned long long)d->nr_errors);
}

static void vblk_done(void *opaque, struct blk_req *br, int result)
{
	struct vblk_req *r = (struct vblk_req *)br;

	if (result)
		vblk_io_error(opaque, br, result);
	vblk_complete(opaque, r, result ? VBLK_S_IOERR : VBLK_S_OK);
}

/* Copies bytes [from, from + len) of segments [first, last) of @c into
 * iovecs at @r->iov; returns the number of iovecs or -1 if short. */
static int vblk_iov(struct vblk_req *r, unsigned int first, unsigned int last,
		    uint64_t from, uint64_t len)
{
	int n = 0;

	for (unsigned int i = first; i < last && len; i++) {
		const struct vq_seg *s = &r->c.seg[i];
		uint64_t k;

		if (from >= s->len) {
			from -= s->len;
			continue;
		}
		k = s->len - from < len ? s->len - from : len;
		r->iov[n++] = (struct iovec){ s->host + from, k };
		len -= k;
		from = 0;
	}
	return len ? -1 : n;
}

static uint64_t vblk_out_bytes(const struct vq_chain *c)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < c->n_out; i++)
		n += c->seg[i].len;
	return n;
}

/* Header and status byte. Returns 0 or -EINVAL for a chain no driver
 * should ever send (the device then needs a reset). */
static int vblk_parse(struct vblk_req *r, struct vblk_hdr *h)
{
	struct vq_chain *c = &r->c;
	const struct vq_seg *last = &c->seg[c->n - 1];
	struct iovec *v = r->iov;
	int n = vblk_iov(r, 0, c->n_out, 0, sizeof(*h));
	uint8_t *p = (uint8_t *)h;

	if (n < 0 || c->n == c->n_out || last->len == 0)
		return -EINVAL;
	for (int i = 0; i < n; p += v[i].iov_len, i++)
		memcpy(p, v[i].iov_base, v[i].iov_len);
	r->status = last->host + last->len - 1;
	r->status_gpa = last->gpa + last->len - 1;
	r->type = h->type;
	r->used_len = 1;
	return 0;
}

static int vblk_prep_rw(struct vblk_req *r, const struct vblk_hdr *h)
{
	struct vq_chain *c = &r->c;
	bool rd = h->type == VBLK_T_IN;
	uint64_t len = rd ? c->in_bytes - 1 : vblk_out_bytes(c) - sizeof(*h);
	int n = rd ? vblk_iov(r, c->n_out, c->n, 0, len)
		   : vblk_iov(r, 0, c->n_out, sizeof(*h), len);

	if (n < 0)
		return -EINVAL;
	r->br = (struct blk_req){ .op = rd ? BLK_OP_READ : BLK_OP_WRITE,
				  .iov = r->iov, .iovcnt = (unsigned)n,
				  .len = len };
	if (h->sector > UINT64_MAX / BLK_SECTOR)
		return -ERANGE;
	r->br.offset = h->sector * BLK_SECTOR;
	if (rd)
		r->used_len = (uint32_t)len + 1;
	return 0;
}

static int vblk_prep_dwz(struct vblk_req *r, const struct vblk_hdr *h)
{
	struct vblk_dwz z;
	int n = vblk_iov(r, 0, r->c.n_out, sizeof(*h), sizeof(z));
	uint8_t *p = (uint8_t *)&z;

	if (n < 0)
		return -EINVAL;
	for (int i = 0; i < n; p += r->iov[i].iov_len, i++)
		memcpy(p, r->iov[i].iov_base, r->iov[i].iov_len);
	r->br = (struct blk_req){
		.op = h->type == VBLK_T_DISCARD ? BLK_OP_DISCARD
						: BLK_OP_WRITE_ZEROES,
		.offset = z.sector * BLK_SECTOR,
		.len = (uint64_t)z.num_sectors * BLK_SECTOR };
	if (vblk_out_bytes(&r->c) - sizeof(*h) > sizeof(z))
		return -ERANGE; /* one segment only (max_*_seg = 1) */
	if (z.sector > UINT64_MAX / BLK_SECTOR)
		return -ERANGE;
	return 0;
}

static void vblk_get_id(struct virtio_blk *d, struct vblk_req *r)
{
	struct vq *q = &d->m.vq[0];
	uint64_t room = r->c.in_bytes - 1;
	size_t k = room < VBLK_ID_BYTES ? (size_t)room : VBLK_ID_BYTES;

	vq_chain_write(q, &r->c, 0, d->serial, k);
	r->used_len = (uint32_t)k + 1;
	vblk_complete(d, r, VBLK_S_OK);
}

/* Starts one popped request. Returns -EINVAL when the chain is malformed
 * (nothing was completed), else 0. */
static int vblk_start(struct virtio_blk *d, struct vblk_req *r)
{
	struct vblk_hdr h;
	int ret = vblk_parse(r, &h);

	if (ret)
		return ret;
	d->nr_reqs++;
	switch (h.type) {
	case VBLK_T_IN: case VBLK_T_OUT: ret = vblk_prep_rw(r, &h); break;
	case VBLK_T_FLUSH:
		r->br = (struct blk_req){ .op = BLK_OP_FLUSH };
		break;
	case VBLK_T_DISCARD: case VBLK_T_WRITE_ZEROES:
		ret = vblk_prep_dwz(r, &h);
		break;
	case VBLK_T_GET_ID: vblk_get_id(d, r); return 0;
	default: vblk_complete(d, r, VBLK_S_UNSUPP); return 0;
	}
	if (ret == -EINVAL)
		return ret;
	r->br.opaque = d;
	if (!ret)
		ret = blk_submit(d->blk, &r->br);
	if (ret) {
		vblk_io_error(d, &r->br, ret);
		vblk_complete(d, r, VBLK_S_IOERR);
	}
	return 0;
}

/* Pops and starts what is available, one ring's worth at most: buffered
 * requests finish as they start, so a guest refilling as fast as the
 * thread copies would otherwise keep it here, with no interrupt sent and
 * the lock never offered. Returns -EINVAL when the guest broke the ring
 * or a request (the device is then broken). Lock held. */
static int vblk_pop_all(struct virtio_blk *d, struct vq *q)
{
	struct vblk_req *r;
	unsigned int budget = q->num;
	int ret = 0;

	while (budget-- && (r = vblk_req_get(d))) {
		ret = vq_pop(q, &r->c, d->m.name);
		if (ret > 0 && vblk_start(d, r) < 0) {
			log_err("%s: malformed request at head %u (no header "
				"or status byte)", d->m.name, r->c.head);
			ret = -EINVAL;
		}
		if (ret <= 0) {
			vblk_req_put(d, r);
			break;
		}
	}
	return ret < 0 ? ret : 0;
}

static void vblk_flush_irq(struct virtio_blk *d)
{
	if (d->need_irq)
		virtio_mmio_used(&d->m, &d->m.vq[0]);
	d->need_irq = false;
}

static bool vblk_runnable(struct virtio_blk *d)
{
	return d->m.vq[0].ready && virtio_mmio_running(&d->m) && !d->paused;
}

/* Completions, then every request the guest made available. Returns
 * whether anything happened. Lock held. */
static bool vblk_work(struct virtio_blk *d)
{
	struct vq *q = &d->m.vq[0];
	uint64_t before = d->nr_reqs;
	int reaped = blk_reap(d->blk), err;

	if (vblk_runnable(d) && vblk_pop_all(d, q) < 0)
		virtio_mmio_set_broken(&d->m);
	err = blk_unplug(d->blk);
	if (err && !d->unplug_err)
		log_warn("%s: cannot submit requests (%s); retrying",
			 d->m.name, strerror(-err));
	d->unplug_err = err != 0;
	vblk_flush_irq(d);
	return reaped > 0 || d->nr_reqs != before;
}

/*
 * After work, the I/O thread keeps looking at the avail ring and the
 * backend's completions for poll_ns before it sleeps, with guest
 * notifications off: a busy driver then never exits to notify, and a
 * buffered request is picked up within a microsecond instead of a wakeup
 * later (QEMU's iothread poll-max-ns is the same idea). The lock is
 * given up between looks and to any waiter between pieces of work, so
 * register accesses, pause and save get through.
 * Lock held.
 */
static void vblk_spin(struct virtio_blk *d)
{
	struct vq *q = &d->m.vq[0];
	uint64_t deadline = mono_ns() + d->poll_ns;

	for (;;) {
		bool run = vblk_runnable(d), more;

		if (run)
			vq_set_notify(q, d->poll_ns == 0 && !d->blk->inflight);
		more = blk_ready(d->blk) || d->unplug_err ||
		       (run && vq_pending(q));
		if (more && vblk_work(d)) {
			deadline = mono_ns() + d->poll_ns;
			virtio_mmio_relax(&d->m, false);
			continue;
		}
		if (mono_ns() >= deadline ||
		    __atomic_load_n(&d->stopping, __ATOMIC_RELAXED))
			return;
		virtio_mmio_relax(&d->m, true);
	}
}

/* Before sleeping, notifications come back on unless requests are in
 * flight (their completions wake the thread, which looks at the ring
 * then), followed by one more look to close the race. Returns whether
 * that look found work. Lock held. */
static bool vblk_rearm(struct virtio_blk *d)
{
	struct vq *q = &d->m.vq[0];

	if (!vblk_runnable(d) || d->blk->inflight)
		return false;
	vq_set_notify(q, true);
	return vq_pending(q) && vblk_work(d);
}

static void *vblk_thread(void *arg)
{
	struct virtio_blk *d = arg;
	struct pollfd p[3] = {
		{ .fd = d->m.notify_efd, .events = POLLIN },
		{ .fd = d->blk->event_fd, .events = POLLIN },
		{ .fd = d->stop_efd, .events = POLLIN },
	};
	uint64_t cnt;

	for (;;) {
		/* Requests the kernel refused are retried every millisecond:
		 * no completion will come for them. */
		if (poll(p, 3, d->unplug_err ? 1 : -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			break;
		if ((p[0].revents & POLLIN) &&
		    read(d->m.notify_efd, &cnt, sizeof(cnt)) < 0)
			cnt = 0;
		pthread_mutex_lock(&d->m.lock);
		vblk_work(d);
		do
			vblk_spin(d);
		while (vblk_rearm(d));
		pthread_mutex_unlock(&d->m.lock);
	}
	return NULL;
}

/* Waits for every request in flight (their completions run here, under
 * the lock) and flushes. Lock held. */
static void vblk_drain(struct virtio_blk *d)
{
	int ret = blk_drain_flush(d->blk);

	if (ret)
		log_err("%s: draining requests failed: %s", d->m.name,
			strerror(-ret));
	vblk_flush_irq(d);
}

static void vblk_reset(void *dev)
{
	struct virtio_blk *d = dev;

	vblk_drain(d);
	d->need_irq = false;
}

static const struct virtio_mmio_ops vblk_ops = {
	.config = vblk_config,
	.reset = vblk_reset,
};

void virtio_blk_pause(void *opaque)
{
	struct virtio_blk *d = opaque;

	virtio_mmio_lock(&d->m);
	d->paused = true;
	vblk_drain(d);
	virtio_mmio_unlock(&d->m);
}

void virtio_blk_resume(void *opaque)
{
	struct virtio_blk *d = opaque;

	virtio_mmio_lock(&d->m);
	d->paused = false;
	virtio_mmio_kick(&d->m);
	virtio_mmio_unlock(&d->m);
}

int virtio_blk_save(void *opaque, uint8_t **buf, size_t *len)
{
	struct virtio_blk *d = opaque;
	Ferry__Virtio__BlkState st = FERRY__VIRTIO__BLK_STATE__INIT;
	Ferry__Virtio__Transport t;
	Ferry__Virtio__Queue q[1], *qp[1];

	virtio_mmio_lock(&d->m);
	vblk_drain(d); /* normally a no-op: the pause hook drained */
	virtio_mmio_save(&d->m, &t, q, qp);
	st.transport = &t;
	st.capacity = d->blk->size / BLK_SECTOR;
	*len = ferry__virtio__blk_state__get_packed_size(&st);
	*buf = malloc(*len ? *len : 1);
	if (*buf)
		ferry__virtio__blk_state__pack(&st, *buf);
	virtio_mmio_unlock(&d->m);
	return *buf ? 0 : -ENOMEM;
}

int virtio_blk_restore(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_blk *d = opaque;
	Ferry__Virtio__BlkState *st;
	int ret = -EINVAL;

	st = ferry__virtio__blk_state__unpack(NULL, len, buf);
	if (!st || !st->transport) {
		ret = -EBADMSG; /* vm_state.c names the record */
	} else if (st->capacity != d->blk->size / BLK_SECTOR) {
		log_err("%s: the snapshot's disk had %llu sectors, this one "
			"has %llu", d->m.name,
			(unsigned long long)st->capacity,
			(unsigned long long)(d->blk->size / BLK_SECTOR));
	} else {
		virtio_mmio_lock(&d->m);
		ret = virtio_mmio_restore(&d->m, st->transport);
		/* Chains made available but not popped are still in guest
		 * memory past last_avail: look at them. */
		if (!ret)
			virtio_mmio_kick(&d->m);
		virtio_mmio_unlock(&d->m);
	}
	if (st)
		ferry__virtio__blk_state__free_unpacked(st, NULL);
	return ret;
}

static int vblk_start_thread(struct virtio_blk *d)
{
	int ret;

	d->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->stop_efd < 0)
		return -errno;
	ret = -pthread_create(&d->thread, NULL, vblk_thread, d);
	d->thread_ok = !ret;
	return ret;
}

static int vblk_init(struct virtio_blk *d, const struct blk_opts *o,
		     const struct virtio_dev_env *env)
{
	struct virtio_mmio_cfg c = {
		.name = env->name, .device_id = VIRTIO_ID_BLOCK,
		.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
			    VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_DISCARD |
			    VIRTIO_BLK_F_WRITE_ZEROES |
			    (o->readonly ? VIRTIO_BLK_F_RO : 0),
		.nr_queues = 1, .queue_max = VBLK_QUEUE_MAX, .ops = &vblk_ops,
		.dev = d, .irq = env->irq, .irq_opaque = env->irq_opaque };
	int ret = virtio_mmio_init(&d->m, &c, env->mem, env->mark,
				   env->mark_ctx);

	if (ret)
		return ret;
	ret = blk_file_open(o, vblk_done, d, &d->blk);
	if (ret)
		return ret;
	d->reqs = calloc(VBLK_QUEUE_MAX, sizeof(*d->reqs));
	if (!d->reqs)
		return -ENOMEM;
	for (unsigned int i = 0; i < VBLK_QUEUE_MAX; i++)
		d->free_list[d->nr_free++] = (uint16_t)(VBLK_QUEUE_MAX - 1 - i);
	snprintf(d->serial, sizeof(d->serial), "ferry-%s", env->name);
	d->poll_ns = (uint64_t)o->poll_us * 1000;
	vblk_build_config(d);
	return vblk_start_thread(d);
}

int virtio_blk_create(const struct blk_opts *o,
		      const struct virtio_dev_env *env,
		      struct virtio_blk **out)
{
	struct virtio_blk *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->stop_efd = -1;
	ret = vblk_init(d, o, env);
	if (ret) {
		virtio_blk_destroy(d);
		return ret;
	}
	*out = d;
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *d)
{
	uint64_t one = 1;

	if (!d)
		return;
	if (d->thread_ok) {
		__atomic_store_n(&d->stopping, true, __ATOMIC_RELAXED);
		if (write(d->stop_efd, &one, sizeof(one)) < 0)
			log_warn("%s: cannot stop the I/O thread: %m",
				 d->m.name);
		pthread_join(d->thread, NULL);
	}
	if (d->blk) {
		virtio_mmio_lock(&d->m);
		vblk_drain(d);
		virtio_mmio_unlock(&d->m);
	}
	blk_destroy(d->blk);
	if (d->stop_efd >= 0)
		close(d->stop_efd);
	virtio_mmio_fini(&d->m);
	free(d->reqs);
	free(d);
}

struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *d)
{
	return &d->m;
}
