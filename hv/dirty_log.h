/*
 * Log-dirty paging for migration: KVM's per-slot dirty log (with
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: get, then clear in chunks just before
 * sending) ORed with hv's own log of guest pages its devices wrote (virtio
 * used rings, block reads into guest buffers). Forgetting the device side
 * silently corrupts migrated guests, so every device write into guest
 * memory goes through dirty_log_mark().
 */
#ifndef HV_DIRTY_LOG_H
#define HV_DIRTY_LOG_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct dirty_log;

/* Created with the VM; @vm_fd's memory slots are the guest_mem regions in
 * order (slot i = region i). Returns 0 or -errno. */
int dirty_log_create(int vm_fd, const struct guest_mem *gm,
		     struct dirty_log **out);
void dirty_log_destroy(struct dirty_log *dl);

/* Marks [gpa, gpa + len) as written by a device. Lock-free, callable from
 * any thread (vCPU or I/O threads), cheap when logging is off. */
void dirty_log_mark(struct dirty_log *dl, uint64_t gpa, uint64_t len);

/* Turns logging on (every page clean) or off. Main/migration thread. */
int dirty_log_start(struct dirty_log *dl);
void dirty_log_stop(struct dirty_log *dl);
bool dirty_log_active(const struct dirty_log *dl);

/* ORs everything dirtied since the last sync into @bitmap (bit per pfn,
 * pfns as guest-physical / 4096). Does not re-protect. */
int dirty_log_sync(struct dirty_log *dl, uint64_t *bitmap);
/* Re-protects, just before they are sent, the pages of [first_pfn,
 * first_pfn + n) whose bit is set in @bitmap (the one dirty_log_sync()
 * filled): exactly those, so a page dirtied after the sync keeps its bit.
 * @first_pfn and @n must be multiples of 64 (@n may instead run to the
 * end of guest RAM). */
int dirty_log_clear(struct dirty_log *dl, const uint64_t *bitmap,
		    uint64_t first_pfn, uint64_t n);
/* One past the highest pfn of guest RAM: the bitmap's length in bits. */
uint64_t dirty_log_max_pfn(const struct dirty_log *dl);

#endif
