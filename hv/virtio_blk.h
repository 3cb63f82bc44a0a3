/*
 * virtio-blk (virtio 1.x, 5.2) over a storage/blk.h backend: read, write,
 * flush, discard, write-zeroes, get-id. One I/O thread per disk pops
 * requests, submits them to the backend and completes them; the VM's
 * pause hook drains every in-flight request (and flushes) so that saved
 * state never has requests in flight. Owns its backend and thread.
 */
#ifndef HV_VIRTIO_BLK_H
#define HV_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "hv/virtio_mmio.h"
#include "storage/blk.h"

#define VIRTIO_ID_BLOCK 2

struct virtio_blk;

/* Opens the backend named by @o and starts the I/O thread. Returns 0 or
 * -errno, the reason logged. */
int virtio_blk_create(const struct blk_opts *o,
		      const struct virtio_dev_env *env,
		      struct virtio_blk **out);
/* Stops the thread after draining; NULL is a no-op. */
void virtio_blk_destroy(struct virtio_blk *d);
struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *d);

/* struct vm_device hooks; @opaque is the struct virtio_blk. save() packs
 * a ferry.virtio.BlkState (malloc'd, caller frees). */
int virtio_blk_save(void *opaque, uint8_t **buf, size_t *len);
int virtio_blk_restore(void *opaque, const uint8_t *buf, size_t len);
void virtio_blk_pause(void *opaque);
void virtio_blk_resume(void *opaque);

#endif
