/*
 * Device setup for mode=blk and io=bad: chains no driver should send (a
 * descriptor loop, a buffer outside RAM, a next index out of range, an
 * avail index far ahead) and a queue size that is not a power of two. For
 * each, the device must refuse the queue or set DEVICE_NEEDS_RESET within
 * a second; after a reset it must serve a normal write and read again.
 */
#include "blk.h"

#define BAD_WAIT_NS NS_PER_S

int blk_dev_init(struct probe *p, struct blk_state *s)
{
	static int found;

	if (!found && vdev_find(p, VIRTIO_ID_BLOCK, 0, &s->dev) < 0)
		return -1;
	found = 1;
	vdev_reset(&s->dev);
	if (vdev_negotiate(&s->dev, VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH |
			   VIRTIO_BLK_F_BLK_SIZE) < 0 ||
	    vdev_queue(&s->dev, &s->q, 0, &s->rings, BLK_QSIZE) < 0)
		return -1;
	vdev_driver_ok(&s->dev);
	s->free_mask = ~0ULL;
	s->inflight = 0;
	return 0;
}

/* Waits until the device reports NEEDS_RESET; dies if it does not. */
static void bad_expect_reset(struct probe *p, struct blk_state *s,
			     const char *what)
{
	uint64_t t0 = clock_ns(&p->cpu[p->bsp_index]);

	vq_kick(&s->dev, &s->q);
	while (!(vdev_status(&s->dev) & VIRTIO_STATUS_NEEDS_RESET)) {
		if (clock_ns(&p->cpu[p->bsp_index]) - t0 > BAD_WAIT_NS)
			probe_die(p, EXIT_VERIFY, "probe: ERROR blk bad case "
				  "'%s' was not refused", what);
		svc_idle_ns(NS_PER_MS);
	}
	con_printf(p, "probe: bad %s -> device needs reset", what);
	if (blk_dev_init(p, s) < 0)
		probe_die(p, EXIT_VERIFY, "probe: ERROR blk device unusable "
			  "after reset (%s)", what);
}

static void bad_chain(struct probe *p, struct blk_state *s, uint64_t addr,
		      uint16_t next, const char *what)
{
	s->rings.desc[0] = (struct vq_desc){ addr, 16, VQ_DESC_F_NEXT, next };
	s->rings.desc[1] = (struct vq_desc){ (uint64_t)&s->status[0], 1,
					     VQ_DESC_F_WRITE, 0 };
	vq_add(&s->q, 0);
	bad_expect_reset(p, s, what);
}

static void bad_queue_size(struct probe *p, struct blk_state *s)
{
	struct vq q;

	vdev_reset(&s->dev);
	if (vdev_negotiate(&s->dev, 0) < 0 ||
	    vdev_queue(&s->dev, &q, 0, &s->rings, 3) == 0)
		probe_die(p, EXIT_VERIFY, "probe: ERROR blk queue size 3 was "
			  "accepted");
	con_printf(p, "probe: bad queue-size -> queue not ready");
	if (blk_dev_init(p, s) < 0)
		probe_die(p, EXIT_VERIFY, "probe: ERROR blk device unusable "
			  "after reset (queue-size)");
}

/* One write and one read of block 0 through slot 0. */
static void bad_roundtrip(struct probe *p, struct blk_state *s)
{
	struct vq_used_elem e;
	uint32_t t;

	for (t = BLK_T_OUT; ; t = BLK_T_IN) {
		blk_submit(s, 0, t, 0);
		vq_kick(&s->dev, &s->q);
		while (!vq_get_used(&s->q, &e))
			asm volatile("pause");
		if (s->status[0] != 0)
			probe_die(p, EXIT_VERIFY, "probe: ERROR blk status=%u "
				  "after the bad cases", s->status[0]);
		s->free_mask |= 1;
		s->inflight--;
		if (t == BLK_T_IN)
			return;
	}
}

void blk_bad(struct probe *p, struct blk_state *s)
{
	bad_chain(p, s, (uint64_t)&s->hdr[0], 0, "loop");
	bad_chain(p, s, 0x7f0000000000ULL, 1, "outside-ram");
	bad_chain(p, s, (uint64_t)&s->hdr[0], 999, "next-range");
	s->rings.avail.idx += 1000;
	bad_expect_reset(p, s, "avail-ahead");
	bad_queue_size(p, s);
	bad_roundtrip(p, s);
	con_printf(p, "probe: done mode=blk io=bad cases=5 errors=0");
	svc_exit(EXIT_OK);
}
