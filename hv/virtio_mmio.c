/*
 * virtio-mmio version 2 registers (virtio 1.x, 4.2.2). Accesses to the
 * register block are 32 bits wide and aligned; the config space from
 * 0x100 is the device's. Queue registers act on QueueSel and are ignored
 * while that queue is ready, as the spec forbids changing them then.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/log.h"
#include "hv/virtio_mmio.h"
#include "proto/virtio.pb-c.h"

enum {
	VM_MAGIC = 0x000, VM_VERSION = 0x004, VM_DEVICE_ID = 0x008,
	VM_VENDOR_ID = 0x00c, VM_DEV_FEAT = 0x010, VM_DEV_FEAT_SEL = 0x014,
	VM_DRV_FEAT = 0x020, VM_DRV_FEAT_SEL = 0x024, VM_QUEUE_SEL = 0x030,
	VM_QUEUE_NUM_MAX = 0x034, VM_QUEUE_NUM = 0x038, VM_QUEUE_READY = 0x044,
	VM_QUEUE_NOTIFY = 0x050, VM_ISR = 0x060, VM_ISR_ACK = 0x064,
	VM_STATUS = 0x070, VM_DESC_LO = 0x080, VM_DESC_HI = 0x084,
	VM_DRIVER_LO = 0x090, VM_DRIVER_HI = 0x094, VM_DEVICE_LO = 0x0a0,
	VM_DEVICE_HI = 0x0a4, VM_CONFIG_GEN = 0x0fc, VM_CONFIG = 0x100,
};

#define VIRTIO_MMIO_MAGIC 0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x59525246 /* "FRRY" */

int virtio_mmio_init(struct virtio_mmio *m, const struct virtio_mmio_cfg *c,
		     const struct guest_mem *mem, vq_mark_fn mark, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->notify_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->notify_efd < 0)
		return -errno;
	pthread_mutex_init(&m->lock, NULL);
	m->name = c->name;
	m->device_id = c->device_id;
	m->dev_features = c->features | VIRTIO_F_VERSION_1;
	m->nr_queues = c->nr_queues;
	m->queue_max = c->queue_max;
	m->ops = c->ops;
	m->dev = c->dev;
	m->irq = c->irq;
	m->irq_opaque = c->irq_opaque;
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vq_init(&m->vq[i], mem, mark, ctx);
	return 0;
}

void virtio_mmio_fini(struct virtio_mmio *m)
{
	if (m->notify_efd >= 0)
		close(m->notify_efd);
	m->notify_efd = -1;
	pthread_mutex_destroy(&m->lock);
}

static void virtio_mmio_set_irq(struct virtio_mmio *m)
{
	int level = m->isr != 0;

	if (level != m->irq_level && m->irq)
		m->irq(m->irq_opaque, level);
	m->irq_level = level;
}

bool virtio_mmio_running(const struct virtio_mmio *m)
{
	return (m->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(m->status & (VIRTIO_STATUS_NEEDS_RESET |
			      VIRTIO_STATUS_FAILED));
}

void virtio_mmio_used(struct virtio_mmio *m, const struct vq *q)
{
	if (!vq_want_irq(q) && !(m->isr & VIRTIO_ISR_USED))
		return;
	m->isr |= VIRTIO_ISR_USED;
	virtio_mmio_set_irq(m);
}

void virtio_mmio_set_broken(struct virtio_mmio *m)
{
	m->broken_count++;
	if (!(m->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	m->status |= VIRTIO_STATUS_NEEDS_RESET;
	m->isr |= VIRTIO_ISR_CONFIG;
	virtio_mmio_set_irq(m);
}

void virtio_mmio_kick(struct virtio_mmio *m)
{
	uint64_t one = 1;

	if (write(m->notify_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("%s: cannot signal the I/O thread: %m", m->name);
}

static void virtio_mmio_reset(struct virtio_mmio *m)
{
	if (m->ops->reset)
		m->ops->reset(m->dev);
	m->status = 0;
	m->drv_features = 0;
	m->dev_feat_sel = m->drv_feat_sel = m->queue_sel = 0;
	m->isr = 0;
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vq_reset(&m->vq[i]);
	virtio_mmio_set_irq(m);
}

static void virtio_mmio_set_status(struct virtio_mmio *m, uint32_t v)
{
	uint32_t was = m->status;

	if (v == 0) {
		virtio_mmio_reset(m);
		return;
	}
	m->status = v | (was & VIRTIO_STATUS_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(was & VIRTIO_STATUS_FEATURES_OK) &&
	    ((m->drv_features & ~m->dev_features) ||
	     !(m->drv_features & VIRTIO_F_VERSION_1))) {
		log_warn("%s: driver asked for features 0x%llx of 0x%llx "
			 "(VERSION_1 is required)", m->name,
			 (unsigned long long)m->drv_features,
			 (unsigned long long)m->dev_features);
		m->status &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(was & VIRTIO_STATUS_DRIVER_OK))
		virtio_mmio_kick(m);
}

static struct vq *virtio_mmio_sel_vq(struct virtio_mmio *m)
{
	return m->queue_sel < m->nr_queues ? &m->vq[m->queue_sel] : NULL;
}

static void virtio_mmio_set_addr(uint64_t *a, uint32_t v, bool hi)
{
	if (hi)
		*a = (*a & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*a = (*a & ~0xffffffffULL) | v;
}

static void virtio_mmio_queue_ready(struct virtio_mmio *m, struct vq *q,
				    uint32_t v)
{
	if (!v) {
		q->ready = false;
		return;
	}
	if (vq_map(q, m->queue_max, m->name)) {
		virtio_mmio_set_broken(m);
		return;
	}
	q->ready = true;
	/* The ring may be one the device last left with notifications off
	 * (QueueReady 0 and 1 again, no reset): let the I/O thread look. */
	virtio_mmio_kick(m);
}

static void virtio_mmio_queue_write(struct virtio_mmio *m, uint64_t off,
				    uint32_t v)
{
	struct vq *q = virtio_mmio_sel_vq(m);

	if (!q)
		return;
	if (off == VM_QUEUE_READY) {
		virtio_mmio_queue_ready(m, q, v);
		return;
	}
	if (q->ready)
		return;
	switch (off) {
	case VM_QUEUE_NUM: q->num = (uint16_t)(v > 0xffff ? 0 : v); break;
	case VM_DESC_LO: case VM_DESC_HI:
		virtio_mmio_set_addr(&q->desc_gpa, v, off == VM_DESC_HI);
		break;
	case VM_DRIVER_LO: case VM_DRIVER_HI:
		virtio_mmio_set_addr(&q->avail_gpa, v, off == VM_DRIVER_HI);
		break;
	case VM_DEVICE_LO: case VM_DEVICE_HI:
		virtio_mmio_set_addr(&q->used_gpa, v, off == VM_DEVICE_HI);
		break;
	}
}

static void virtio_mmio_write(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	switch (off) {
	case VM_DEV_FEAT_SEL: m->dev_feat_sel = v; break;
	case VM_DRV_FEAT_SEL: m->drv_feat_sel = v; break;
	case VM_DRV_FEAT:
		if (m->drv_feat_sel < 2)
			virtio_mmio_set_addr(&m->drv_features, v,
					     m->drv_feat_sel == 1);
		break;
	case VM_QUEUE_SEL: m->queue_sel = v; break;
	case VM_QUEUE_NOTIFY: virtio_mmio_kick(m); break;
	case VM_ISR_ACK:
		m->isr &= ~v;
		virtio_mmio_set_irq(m);
		break;
	case VM_STATUS: virtio_mmio_set_status(m, v); break;
	default: virtio_mmio_queue_write(m, off, v); break;
	}
}

static uint32_t virtio_mmio_read(struct virtio_mmio *m, uint64_t off)
{
	struct vq *q = virtio_mmio_sel_vq(m);

	switch (off) {
	case VM_MAGIC: return VIRTIO_MMIO_MAGIC;
	case VM_VERSION: return 2;
	case VM_DEVICE_ID: return m->device_id;
	case VM_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VM_DEV_FEAT:
		return m->dev_feat_sel < 2 ?
		       (uint32_t)(m->dev_features >> (32 * m->dev_feat_sel)) : 0;
	case VM_QUEUE_NUM_MAX: return q ? m->queue_max : 0;
	case VM_QUEUE_READY: return q ? q->ready : 0;
	case VM_ISR: return m->isr;
	case VM_STATUS: return m->status;
	case VM_CONFIG_GEN: return m->config_gen;
	default: return 0;
	}
}

void virtio_mmio_lock(struct virtio_mmio *m)
{
	__atomic_add_fetch(&m->lock_arrived, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&m->lock);
	__atomic_add_fetch(&m->lock_served, 1, __ATOMIC_SEQ_CST);
}

void virtio_mmio_unlock(struct virtio_mmio *m)
{
	pthread_mutex_unlock(&m->lock);
}

/* A plain unlock and lock would not do: the I/O thread takes the mutex
 * back before a woken waiter runs. It waits for the waiters there are now,
 * not for later ones, so a stream of register accesses cannot starve the
 * disk, and yields its core while one of them holds the lock. */
void virtio_mmio_relax(struct virtio_mmio *m, bool idle)
{
	unsigned int want = __atomic_load_n(&m->lock_arrived, __ATOMIC_SEQ_CST);

	if (!idle && want == __atomic_load_n(&m->lock_served, __ATOMIC_SEQ_CST))
		return;
	pthread_mutex_unlock(&m->lock);
	for (int i = 0; i < 16; i++)
		__builtin_ia32_pause();
	while ((int)(__atomic_load_n(&m->lock_served, __ATOMIC_SEQ_CST) -
		     want) < 0)
		sched_yield();
	pthread_mutex_lock(&m->lock);
}

void virtio_mmio_io(void *opaque, uint64_t off, uint8_t *data,
		    unsigned int size, bool is_write)
{
	struct virtio_mmio *m = opaque;
	uint32_t v = 0;

	virtio_mmio_lock(m);
	if (off >= VM_CONFIG) {
		if (m->ops->config)
			m->ops->config(m->dev, off - VM_CONFIG, data, size,
				       is_write);
	} else if (size != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, size);
	} else if (is_write) {
		memcpy(&v, data, 4);
		virtio_mmio_write(m, off, v);
	} else {
		v = virtio_mmio_read(m, off);
		memcpy(data, &v, 4);
	}
	virtio_mmio_unlock(m);
}

void virtio_mmio_save(struct virtio_mmio *m, Ferry__Virtio__Transport *t,
		      Ferry__Virtio__Queue *q, Ferry__Virtio__Queue **qp)
{
	ferry__virtio__transport__init(t);
	t->status = m->status;
	t->device_features = m->dev_features;
	t->driver_features = m->drv_features;
	t->device_features_sel = m->dev_feat_sel;
	t->driver_features_sel = m->drv_feat_sel;
	t->queue_sel = m->queue_sel;
	t->interrupt_status = m->isr;
	t->config_generation = m->config_gen;
	for (unsigned int i = 0; i < m->nr_queues; i++) {
		const struct vq *v = &m->vq[i];

		ferry__virtio__queue__init(&q[i]);
		q[i].num = v->num;
		q[i].ready = v->ready;
		q[i].desc = v->desc_gpa;
		q[i].avail = v->avail_gpa;
		q[i].used = v->used_gpa;
		q[i].last_avail = v->last_avail;
		q[i].used_idx = v->used_idx;
		qp[i] = &q[i];
	}
	t->n_queues = m->nr_queues;
	t->queues = qp;
}

static int virtio_mmio_restore_queue(struct virtio_mmio *m, struct vq *v,
				     const Ferry__Virtio__Queue *q)
{
	vq_reset(v);
	v->num = (uint16_t)q->num;
	v->desc_gpa = q->desc;
	v->avail_gpa = q->avail;
	v->used_gpa = q->used;
	vq_set_last_avail(v, (uint16_t)q->last_avail);
	v->used_idx = (uint16_t)q->used_idx;
	if (q->num > 0xffff || q->last_avail > 0xffff || q->used_idx > 0xffff)
		return -EBADMSG;
	if (!q->ready)
		return 0;
	if (vq_map(v, m->queue_max, m->name))
		return -EBADMSG;
	v->ready = true;
	return 0;
}

int virtio_mmio_restore(struct virtio_mmio *m,
			const Ferry__Virtio__Transport *t)
{
	int ret = 0;

	if (t->n_queues != m->nr_queues ||
	    (t->driver_features & ~m->dev_features)) {
		log_err("%s: saved state does not fit this device (%zu queues, "
			"driver features 0x%llx, device offers 0x%llx)",
			m->name, t->n_queues,
			(unsigned long long)t->driver_features,
			(unsigned long long)m->dev_features);
		return -EINVAL;
	}
	m->status = t->status;
	m->drv_features = t->driver_features;
	m->dev_feat_sel = t->device_features_sel;
	m->drv_feat_sel = t->driver_features_sel;
	m->queue_sel = t->queue_sel;
	m->isr = t->interrupt_status;
	m->config_gen = t->config_generation;
	for (unsigned int i = 0; !ret && i < m->nr_queues; i++)
		ret = virtio_mmio_restore_queue(m, &m->vq[i], t->queues[i]);
	if (ret) {
		log_err("%s: saved queue state does not fit guest RAM",
			m->name);
		return -EINVAL;
	}
	m->irq_level = -1; /* force the line to the saved level */
	virtio_mmio_set_irq(m);
	return 0;
}
