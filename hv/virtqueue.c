/*
 * Split virtqueue rings in guest memory. The guest may change any ring
 * byte at any time, so every descriptor is copied once before it is
 * checked and used, indices are taken modulo the queue size only after
 * they were checked, and chain walks are bounded by the queue size.
 */
#include <errno.h>
#include <string.h>

#include "hv/guest_mem.h"
#include "hv/log.h"
#include "hv/virtqueue.h"

#define VQ_AVAIL_FLAGS 0
#define VQ_AVAIL_IDX 1
#define VQ_AVAIL_RING 2 /* in u16 units */
#define VQ_USED_IDX_OFF 2
#define VQ_USED_RING_OFF 4

void vq_init(struct vq *q, const struct guest_mem *mem, vq_mark_fn mark,
	     void *ctx)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	q->mark = mark;
	q->mark_ctx = ctx;
}

void vq_reset(struct vq *q)
{
	vq_init(q, q->mem, q->mark, q->mark_ctx);
}

static void vq_mark(struct vq *q, uint64_t gpa, uint64_t len)
{
	if (q->mark && len)
		q->mark(q->mark_ctx, gpa, len);
}

static void *vq_ring_ptr(struct vq *q, uint64_t gpa, uint64_t len,
			 uint64_t align)
{
	if (gpa & (align - 1))
		return NULL;
	return guest_mem_ptr(q->mem, gpa, len);
}

int vq_map(struct vq *q, uint16_t max, const char *name)
{
	uint64_t n = q->num;

	if (n == 0 || n > max || (n & (n - 1))) {
		log_err("%s: queue size %u is not a power of two up to %u",
			name, q->num, max);
		return -EINVAL;
	}
	q->desc = vq_ring_ptr(q, q->desc_gpa, 16 * n, 16);
	q->avail = vq_ring_ptr(q, q->avail_gpa, 6 + 2 * n, 2);
	q->used = vq_ring_ptr(q, q->used_gpa, 6 + 8 * n, 4);
	if (!q->desc || !q->avail || !q->used) {
		log_err("%s: rings (desc 0x%llx, avail 0x%llx, used 0x%llx, "
			"size %u) are misaligned or outside guest RAM", name,
			(unsigned long long)q->desc_gpa,
			(unsigned long long)q->avail_gpa,
			(unsigned long long)q->used_gpa, q->num);
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -EINVAL;
	}
	return 0;
}

static uint16_t vq_avail_idx(const struct vq *q)
{
	return __atomic_load_n(&q->avail[VQ_AVAIL_IDX], __ATOMIC_ACQUIRE);
}

uint16_t vq_pending(const struct vq *q)
{
	if (!q->ready || !q->avail)
		return 0;
	return (uint16_t)(vq_avail_idx(q) - q->last_avail);
}

/* Adds one descriptor to @c; returns 0 or -EINVAL with the reason. */
static int vq_add_seg(struct vq *q, struct vq_chain *c,
		      const struct vring_desc *d, const char **why)
{
	struct vq_seg *s;
	bool write = d->flags & VRING_DESC_F_WRITE;

	if (d->flags & VRING_DESC_F_INDIRECT) {
		*why = "indirect descriptor (not negotiated)";
		return -EINVAL;
	}
	if (c->n == VQ_MAX_SEGS) {
		*why = "chain longer than the device accepts (or a loop)";
		return -EINVAL;
	}
	if (!write && c->n > c->n_out) {
		*why = "readable descriptor after a writable one";
		return -EINVAL;
	}
	s = &c->seg[c->n];
	s->host = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!s->host) {
		*why = "buffer outside guest RAM";
		return -EINVAL;
	}
	s->gpa = d->addr;
	s->len = d->len;
	s->write = write;
	c->n++;
	if (write)
		c->in_bytes += d->len;
	else
		c->n_out++;
	return 0;
}

static int vq_walk(struct vq *q, struct vq_chain *c, uint16_t head,
		   const char **why, uint64_t *bytes)
{
	uint16_t i = head;

	for (unsigned int steps = 0;; steps++) {
		struct vring_desc d;

		if (steps >= q->num) {
			*why = "descriptor loop";
			return -EINVAL;
		}
		memcpy(&d, &q->desc[i], sizeof(d));
		*bytes += d.len;
		if (*bytes > VQ_MAX_CHAIN_BYTES) {
			*why = "chain larger than 64 MiB";
			return -EINVAL;
		}
		if (vq_add_seg(q, c, &d, why))
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= q->num) {
			*why = "next index out of range";
			return -EINVAL;
		}
		i = d.next;
	}
}

/* The avail index the guest published, re-read only once the device has
 * caught up with the copy: the guest rewrites that cache line with every
 * request, so reading it per pop costs a cache miss each time. Whoever
 * sets last_avail sets the copy with it (vq_init, vq_set_last_avail), so
 * it is never ahead of what the guest published; one further ahead than
 * a ring is re-read (and then refused by vq_pop). */
static uint16_t vq_avail_cached(struct vq *q)
{
	uint16_t ahead = (uint16_t)(q->avail_seen - q->last_avail);

	if (ahead == 0 || ahead > q->num)
		q->avail_seen = vq_avail_idx(q);
	return q->avail_seen;
}

int vq_pop(struct vq *q, struct vq_chain *c, const char *name)
{
	uint16_t avail = vq_avail_cached(q), head;
	const char *why = NULL;
	uint64_t bytes = 0;

	if (avail == q->last_avail)
		return 0;
	if ((uint16_t)(avail - q->last_avail) > q->num) {
		log_err("%s: avail index %u is %u entries ahead of the device "
			"(queue size %u)", name, avail,
			(uint16_t)(avail - q->last_avail), q->num);
		return -EINVAL;
	}
	head = q->avail[VQ_AVAIL_RING + (q->last_avail & (q->num - 1))];
	c->head = head;
	c->n = c->n_out = 0;
	c->in_bytes = 0;
	if (head >= q->num) {
		why = "head index out of range";
	} else if (vq_walk(q, c, head, &why, &bytes) == 0) {
		q->last_avail++;
		return 1;
	}
	log_err("%s: bad chain at head %u: %s", name, head, why);
	return -EINVAL;
}

void vq_unpop(struct vq *q)
{
	q->last_avail--;
}

void vq_set_last_avail(struct vq *q, uint16_t idx)
{
	q->last_avail = idx;
	q->avail_seen = idx; /* caught up: the next pop reads avail->idx */
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	uint64_t slot = q->used_idx & (q->num - 1);
	volatile uint8_t *e = q->used + VQ_USED_RING_OFF + 8 * slot;
	uint32_t id = head;

	memcpy((void *)e, &id, 4);
	memcpy((void *)(e + 4), &len, 4);
	vq_mark(q, q->used_gpa + VQ_USED_RING_OFF + 8 * slot, 8);
	q->used_idx++;
	__atomic_store_n((uint16_t *)(q->used + VQ_USED_IDX_OFF), q->used_idx,
			 __ATOMIC_RELEASE);
	vq_mark(q, q->used_gpa + VQ_USED_IDX_OFF, 2);
}

void vq_set_notify(struct vq *q, bool on)
{
	volatile uint16_t *flags = (volatile uint16_t *)q->used;
	uint16_t want = on ? 0 : VRING_USED_F_NO_NOTIFY;

	if (*flags != want) {
		*flags = want;
		vq_mark(q, q->used_gpa, 2);
	}
	/* Order the flag before the caller's re-read of avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vq_want_irq(const struct vq *q)
{
	/* Read the flags after the used index was published. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !(q->avail[VQ_AVAIL_FLAGS] & VRING_AVAIL_F_NO_INTERRUPT);
}

size_t vq_chain_write(struct vq *q, const struct vq_chain *c, uint64_t off,
		      const void *src, size_t len)
{
	const uint8_t *p = src;
	size_t done = 0;

	for (unsigned int i = c->n_out; i < c->n && done < len; i++) {
		const struct vq_seg *s = &c->seg[i];
		size_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = s->len - off;
		if (k > len - done)
			k = len - done;
		memcpy(s->host + off, p + done, k);
		vq_mark(q, s->gpa + off, k);
		done += k;
		off = 0;
	}
	return done;
}

void vq_chain_mark(struct vq *q, const struct vq_chain *c, uint64_t len)
{
	for (unsigned int i = c->n_out; i < c->n && len; i++) {
		uint64_t k = c->seg[i].len < len ? c->seg[i].len : len;

		vq_mark(q, c->seg[i].gpa, k);
		len -= k;
	}
}
