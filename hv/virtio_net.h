/*
 * virtio-net (virtio 1.x, 5.1) on a TAP device that hv opens: one receive
 * and one transmit queue, a MAC in config space, no offloads (the tap is
 * told so), and an I/O thread that moves frames between the tap and the
 * queues. Owns the tap fd and its thread.
 */
#ifndef HV_VIRTIO_NET_H
#define HV_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/virtio.h"
#include "hv/virtio_mmio.h"

#define VIRTIO_ID_NET 1

struct virtio_net;

/* Opens (or creates) the tap and starts the I/O thread. Without a MAC in
 * @o, 52:54:00:00:00:<index + 1>. Returns 0 or -errno, logged. */
int virtio_net_create(const struct virtio_net_opts *o, unsigned int index,
		      const struct virtio_dev_env *env,
		      struct virtio_net **out);
void virtio_net_destroy(struct virtio_net *n);
struct virtio_mmio *virtio_net_mmio(struct virtio_net *n);

/* struct vm_device hooks; save() packs a ferry.virtio.NetState. */
int virtio_net_save(void *opaque, uint8_t **buf, size_t *len);
int virtio_net_restore(void *opaque, const uint8_t *buf, size_t len);
void virtio_net_pause(void *opaque);
void virtio_net_resume(void *opaque);

#endif
