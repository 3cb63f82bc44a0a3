/*
 * virtio-mmio transport, version 2 (virtio 1.x, section 4.2): the register
 * block a device sits behind, its split virtqueues, the interrupt status
 * and the level of its interrupt line. A device embeds a struct
 * virtio_mmio and serialises on its lock: vCPU threads (and pause, save
 * and restore) take it with virtio_mmio_lock() for register accesses, the
 * device's I/O thread for queue work, which it may hold for long stretches
 * while busy and gives up at once to anyone waiting (virtio_mmio_relax).
 * Queue notifications arrive on notify_efd (written here, or by KVM when
 * the VMM registered it as an ioeventfd). Knows nothing of KVM.
 */
#ifndef HV_VIRTIO_MMIO_H
#define HV_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/virtqueue.h"

#define VIRTIO_MMIO_SIZE 0x200
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_MAX_QUEUES 2

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 (1ULL << 32)

#define VIRTIO_ISR_USED 1
#define VIRTIO_ISR_CONFIG 2

struct Ferry__Virtio__Transport;
struct Ferry__Virtio__Queue;

/* Raises (1) or lowers (0) the device's interrupt line. */
typedef void (*virtio_irq_fn)(void *opaque, int level);

struct virtio_mmio_ops {
	/* Config space access at @off (the device checks bounds). */
	void (*config)(void *dev, uint64_t off, uint8_t *data,
		       unsigned int size, bool is_write);
	/* The driver wrote 0 to Status: finish or cancel in-flight work.
	 * Called with the lock held. */
	void (*reset)(void *dev);
};

struct virtio_mmio {
	pthread_mutex_t lock;
	/* Takers in virtio_mmio_lock(): arrived, and got the lock. */
	unsigned int lock_arrived, lock_served;
	const char *name;
	uint32_t device_id;
	uint64_t dev_features;
	uint64_t drv_features;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint32_t status, isr, config_gen;
	unsigned int nr_queues;
	uint16_t queue_max;
	struct vq vq[VIRTIO_MMIO_MAX_QUEUES];
	const struct virtio_mmio_ops *ops;
	void *dev;
	virtio_irq_fn irq;
	void *irq_opaque;
	int irq_level;
	int notify_efd;
	uint64_t broken_count;
};

struct virtio_mmio_cfg {
	const char *name; /* kept; must outlive the transport */
	uint32_t device_id;
	uint64_t features; /* VIRTIO_F_VERSION_1 is added */
	unsigned int nr_queues;
	uint16_t queue_max;
	const struct virtio_mmio_ops *ops;
	void *dev;
	virtio_irq_fn irq;
	void *irq_opaque;
};

/* Returns 0 or -errno (eventfd). The queues use @mem and report guest
 * writes through @mark. */
int virtio_mmio_init(struct virtio_mmio *m, const struct virtio_mmio_cfg *c,
		     const struct guest_mem *mem, vq_mark_fn mark, void *ctx);
void virtio_mmio_fini(struct virtio_mmio *m);

/* bus_io_fn for the register block; @opaque is the struct virtio_mmio. */
void virtio_mmio_io(void *opaque, uint64_t off, uint8_t *data,
		    unsigned int size, bool is_write);

/* Everyone but the device's I/O thread takes the lock this way, so that
 * the I/O thread lets them in (virtio_mmio_relax). */
void virtio_mmio_lock(struct virtio_mmio *m);
void virtio_mmio_unlock(struct virtio_mmio *m);

/* The rest are called with m->lock held. */
/* I/O thread between pieces of work: gives the lock up until every thread
 * waiting in virtio_mmio_lock() got it, and briefly anyway if @idle. */
void virtio_mmio_relax(struct virtio_mmio *m, bool idle);
/* DRIVER_OK set and not broken: queues may be processed. */
bool virtio_mmio_running(const struct virtio_mmio *m);
/* Used buffers were added to @q: interrupt unless the driver suppressed
 * it. */
void virtio_mmio_used(struct virtio_mmio *m, const struct vq *q);
/* The guest broke the protocol: DEVICE_NEEDS_RESET, config interrupt; the
 * device stops processing until reset. The caller logged why. */
void virtio_mmio_set_broken(struct virtio_mmio *m);
/* Wakes the device's I/O thread as a queue notification would. */
void virtio_mmio_kick(struct virtio_mmio *m);

/* Fills @t (with @q / @qp as storage for the queues). */
void virtio_mmio_save(struct virtio_mmio *m,
		      struct Ferry__Virtio__Transport *t,
		      struct Ferry__Virtio__Queue *q,
		      struct Ferry__Virtio__Queue **qp);
/* Loads @t, remaps ready queues, restores the interrupt line. Returns 0 or
 * -EINVAL (logged) when it does not fit this device. */
int virtio_mmio_restore(struct virtio_mmio *m,
			const struct Ferry__Virtio__Transport *t);

#endif

#ifndef HV_VIRTIO_DEV_ENV
#define HV_VIRTIO_DEV_ENV
/* What a virtio device needs from the VM that hosts it. */
struct virtio_dev_env {
	const char *name; /* e.g. "virtio-blk0"; must outlive the device */
	const struct guest_mem *mem;
	vq_mark_fn mark;
	void *mark_ctx;
	virtio_irq_fn irq;
	void *irq_opaque;
};
#endif
