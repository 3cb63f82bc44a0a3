/*
 * The probe's virtio-mmio driver core, run at CPL3: finds devices the
 * command line describes (virtio_mmio.device=<size>@<base>:<irq>, as for
 * Linux), negotiates features, sets up split virtqueues in guest memory
 * (identity-mapped, so a pointer is its gpa) and notifies. No interrupts:
 * the workloads poll the used rings.
 */
#ifndef PROBE_VIRTIO_H
#define PROBE_VIRTIO_H

#include <stdint.h>

#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_F_VERSION_1 (1ULL << 32)

#define VQ_DESC_F_NEXT 1
#define VQ_DESC_F_WRITE 2
#define VQ_AVAIL_F_NO_INTERRUPT 1
#define VQ_USED_F_NO_NOTIFY 1

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Ring memory for a queue of up to VQ_RING_MAX entries, page aligned. */
#define VQ_RING_MAX 256
struct vq_rings {
	struct vq_desc desc[VQ_RING_MAX];
	struct {
		uint16_t flags, idx, ring[VQ_RING_MAX], used_event;
	} avail __attribute__((aligned(4096)));
	struct {
		uint16_t flags, idx;
		struct vq_used_elem ring[VQ_RING_MAX];
		uint16_t avail_event;
	} used __attribute__((aligned(4096)));
} __attribute__((aligned(4096)));

struct vq {
	struct vq_rings *r;
	uint16_t size;
	uint16_t last_used;
	uint32_t index;
};

struct vdev {
	uint64_t base;
	uint32_t irq;
	uint64_t features; /* negotiated */
};

struct probe;

/* Finds the @nth device with @device_id among the command line's
 * virtio_mmio.device= entries and resets it. Returns 0 or -1. */
int vdev_find(struct probe *p, uint32_t device_id, unsigned int nth,
	      struct vdev *d);
/* ACK, DRIVER, features (@want & offered, plus VERSION_1), FEATURES_OK.
 * Returns 0 or -1 when the device refuses. */
int vdev_negotiate(struct vdev *d, uint64_t want);
/* Sets up queue @index with @size entries in @r. Returns 0 or -1 (the
 * device left the queue not ready). */
int vdev_queue(struct vdev *d, struct vq *q, uint32_t index,
	       struct vq_rings *r, uint16_t size);
void vdev_driver_ok(struct vdev *d);
void vdev_reset(struct vdev *d);
uint32_t vdev_status(const struct vdev *d);
uint32_t vdev_config32(const struct vdev *d, uint32_t off);
uint8_t vdev_config8(const struct vdev *d, uint32_t off);

/* Makes head @head available to the device at once. */
void vq_add(struct vq *q, uint16_t head);
/* Notifies the device of what vq_add() made available, unless it asked
 * not to be (VRING_USED_F_NO_NOTIFY). */
void vq_kick(struct vdev *d, struct vq *q);
/* Returns 1 and fills @e when the device used a buffer, else 0. */
int vq_get_used(struct vq *q, struct vq_used_elem *e);

#endif
