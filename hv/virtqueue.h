/*
 * Split virtqueues (virtio 1.x, section 2.7) living in guest RAM: map and
 * check the rings, pop descriptor chains as host segments, push used
 * entries. Pure logic over struct guest_mem, no KVM, no threads: the
 * device that owns a queue serialises calls. Everything the guest wrote is
 * input: a chain that loops, points outside RAM, is too long or carries a
 * bad index is refused with -EINVAL and one log line; nothing here ever
 * touches memory outside the guest mapping. Every byte written into guest
 * memory (used ring) is reported through @mark for the dirty log.
 */
#ifndef HV_VIRTQUEUE_H
#define HV_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

#define VQ_MAX_SIZE 1024  /* largest queue the devices offer */
#define VQ_MAX_SEGS 130	  /* segments in one chain (seg_max 128 + 2) */
#define VQ_MAX_CHAIN_BYTES (64ULL << 20)

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Reports a range of guest memory the device wrote. */
typedef void (*vq_mark_fn)(void *ctx, uint64_t gpa, uint64_t len);

struct vq {
	/* Set by the driver through the transport. */
	uint16_t num;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Device side. */
	uint16_t last_avail; /* next avail ring slot to pop */
	uint16_t avail_seen; /* avail->idx as last read (may be stale) */
	uint16_t used_idx;   /* shadow of used->idx */
	/* Host views of the rings, valid while ready. */
	struct vring_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[num] */
	volatile uint8_t *used;	  /* flags, idx, {id, len}[num] */
	const struct guest_mem *mem;
	vq_mark_fn mark;
	void *mark_ctx;
};

struct vq_seg {
	uint64_t gpa;
	uint8_t *host;
	uint32_t len;
	bool write; /* device-writable */
};

struct vq_chain {
	uint16_t head;
	unsigned int n;	    /* segments, readable ones first */
	unsigned int n_out; /* readable (driver -> device) */
	uint64_t in_bytes;  /* writable bytes */
	struct vq_seg seg[VQ_MAX_SEGS];
};

/* Binds @q to guest memory; the queue starts unconfigured. */
void vq_init(struct vq *q, const struct guest_mem *mem, vq_mark_fn mark,
	     void *ctx);
/* Forgets the driver's configuration (device reset). */
void vq_reset(struct vq *q);
/* Checks num (power of two, 1..@max) and that the three rings lie in RAM
 * with the spec's alignment, then maps them. Returns 0 or -EINVAL (logged
 * with @name). */
int vq_map(struct vq *q, uint16_t max, const char *name);

/* Pops the next available chain. Returns 1 with @c filled, 0 when the ring
 * is empty, -EINVAL for a malformed ring or chain (logged with @name): the
 * device must then stop using the queue. */
int vq_pop(struct vq *q, struct vq_chain *c, const char *name);
/* Puts @head back so that the next vq_pop() returns it again. */
void vq_unpop(struct vq *q);
/* Restore: the device had taken every chain before avail index @idx. */
void vq_set_last_avail(struct vq *q, uint16_t idx);
/* Publishes a used entry (@len bytes written) and its index. */
void vq_push(struct vq *q, uint16_t head, uint32_t len);
/* Asks the driver to notify (@on) or not to bother (the device will look
 * at the avail ring anyway): VRING_USED_F_NO_NOTIFY. After turning
 * notifications back on, re-check vq_pending(): the driver may have added
 * a chain while they were off. */
void vq_set_notify(struct vq *q, bool on);
/* True when the driver has not suppressed interrupts. */
bool vq_want_irq(const struct vq *q);
/* Number of chains the driver made available that are not popped yet. */
uint16_t vq_pending(const struct vq *q);

/* Copies @len bytes at @off of the chain's writable part from @src; marks
 * them dirty. Returns bytes copied. */
size_t vq_chain_write(struct vq *q, const struct vq_chain *c, uint64_t off,
		      const void *src, size_t len);
/* Marks every writable segment of @c dirty (after a backend filled them). */
void vq_chain_mark(struct vq *q, const struct vq_chain *c, uint64_t len);

#endif
