/*
 * virtio-mmio (version 2) driver core at CPL3; see virtio.h. Register
 * accesses are plain 32-bit (or 8-bit config) loads and stores, which the
 * VMM sees as MMIO exits. Ring updates follow the spec's ordering: ring
 * entry, then index; the compiler barrier suffices on x86 (TSO).
 */
#include "probe.h"
#include "virtio.h"

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008,
	R_DEV_FEAT = 0x010, R_DEV_FEAT_SEL = 0x014, R_DRV_FEAT = 0x020,
	R_DRV_FEAT_SEL = 0x024, R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034,
	R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
	R_STATUS = 0x070, R_DESC_LO = 0x080, R_DESC_HI = 0x084,
	R_DRIVER_LO = 0x090, R_DRIVER_HI = 0x094, R_DEVICE_LO = 0x0a0,
	R_DEVICE_HI = 0x0a4, R_CONFIG = 0x100,
};

#define barrier() asm volatile("" ::: "memory")

static uint32_t rd(const struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)(d->base + off);
}

static void wr(const struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(d->base + off) = v;
}

int vdev_find(struct probe *p, uint32_t device_id, unsigned int nth,
	      struct vdev *d)
{
	unsigned int i;

	for (i = 0; i < p->opts.nr_vdevs; i++) {
		d->base = p->opts.vdev[i].base;
		d->irq = p->opts.vdev[i].irq;
		d->features = 0;
		if (rd(d, R_MAGIC) != 0x74726976 || rd(d, R_VERSION) != 2 ||
		    rd(d, R_DEVICE_ID) != device_id)
			continue;
		if (nth--)
			continue;
		vdev_reset(d);
		return 0;
	}
	return -1;
}

void vdev_reset(struct vdev *d)
{
	wr(d, R_STATUS, 0);
}

uint32_t vdev_status(const struct vdev *d)
{
	return rd(d, R_STATUS);
}

int vdev_negotiate(struct vdev *d, uint64_t want)
{
	uint64_t offered;

	wr(d, R_STATUS, VIRTIO_STATUS_ACK);
	wr(d, R_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	wr(d, R_DEV_FEAT_SEL, 0);
	offered = rd(d, R_DEV_FEAT);
	wr(d, R_DEV_FEAT_SEL, 1);
	offered |= (uint64_t)rd(d, R_DEV_FEAT) << 32;
	d->features = offered & (want | VIRTIO_F_VERSION_1);
	wr(d, R_DRV_FEAT_SEL, 0);
	wr(d, R_DRV_FEAT, (uint32_t)d->features);
	wr(d, R_DRV_FEAT_SEL, 1);
	wr(d, R_DRV_FEAT, (uint32_t)(d->features >> 32));
	wr(d, R_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK);
	if (!(rd(d, R_STATUS) & VIRTIO_STATUS_FEATURES_OK) ||
	    !(d->features & VIRTIO_F_VERSION_1))
		return -1;
	return 0;
}

int vdev_queue(struct vdev *d, struct vq *q, uint32_t index,
	       struct vq_rings *r, uint16_t size)
{
	uint64_t desc = (uint64_t)r->desc, avail = (uint64_t)&r->avail;
	uint64_t used = (uint64_t)&r->used;

	memset(r, 0, sizeof(*r));
	q->r = r;
	q->size = size;
	q->last_used = 0;
	q->index = index;
	wr(d, R_QUEUE_SEL, index);
	if (rd(d, R_QUEUE_NUM_MAX) < size)
		return -1;
	wr(d, R_QUEUE_NUM, size);
	wr(d, R_DESC_LO, (uint32_t)desc);
	wr(d, R_DESC_HI, (uint32_t)(desc >> 32));
	wr(d, R_DRIVER_LO, (uint32_t)avail);
	wr(d, R_DRIVER_HI, (uint32_t)(avail >> 32));
	wr(d, R_DEVICE_LO, (uint32_t)used);
	wr(d, R_DEVICE_HI, (uint32_t)(used >> 32));
	/* Polled: ask the device not to interrupt. */
	r->avail.flags = VQ_AVAIL_F_NO_INTERRUPT;
	wr(d, R_QUEUE_READY, 1);
	return rd(d, R_QUEUE_READY) == 1 ? 0 : -1;
}

void vdev_driver_ok(struct vdev *d)
{
	wr(d, R_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

uint32_t vdev_config32(const struct vdev *d, uint32_t off)
{
	return rd(d, R_CONFIG + off);
}

uint8_t vdev_config8(const struct vdev *d, uint32_t off)
{
	return *(volatile uint8_t *)(d->base + R_CONFIG + off);
}

void vq_add(struct vq *q, uint16_t head)
{
	struct vq_rings *r = q->r;

	r->avail.ring[r->avail.idx & (q->size - 1)] = head;
	barrier();
	r->avail.idx++;
}

/* Skips the notify (a VM exit) while the device says it is looking at
 * the ring anyway; the fence orders our avail->idx store before that
 * load, as the device orders its flag store before its avail load. */
void vq_kick(struct vdev *d, struct vq *q)
{
	asm volatile("mfence" ::: "memory");
	if (*(volatile uint16_t *)&q->r->used.flags & VQ_USED_F_NO_NOTIFY)
		return;
	wr(d, R_QUEUE_NOTIFY, q->index);
}

int vq_get_used(struct vq *q, struct vq_used_elem *e)
{
	volatile uint16_t *idx = &q->r->used.idx;

	if (*idx == q->last_used)
		return 0;
	barrier();
	*e = q->r->used.ring[q->last_used & (q->size - 1)];
	q->last_used++;
	return 1;
}
