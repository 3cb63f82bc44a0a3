/*
 * Dirty logging: KVM's per-slot log with manual protect (get, then clear
 * exactly the pages about to be sent) ORed with a bitmap of pages hv's
 * devices wrote. Slots are guest_mem regions, slot i = region i.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "hv/dirty_log.h"
#include "hv/guest_mem.h"
#include "hv/log.h"

struct dirty_slot {
	uint64_t first_pfn;
	uint64_t npages;
	uint64_t userspace_addr;
	uint64_t *kvm_bits; /* scratch for KVM_GET_DIRTY_LOG */
};

struct dirty_log {
	int vm_fd;
	unsigned int nr_slots;
	struct dirty_slot slot[GUEST_MAX_REGIONS];
	uint64_t max_pfn;
	uint64_t *dev_bits; /* pages devices wrote, atomically ORed */
	bool manual;	    /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 enabled */
	bool active;
};

#define WORDS(bits) (((bits) + 63) / 64)

static int dirty_log_enable_manual(struct dirty_log *dl);

int dirty_log_create(int vm_fd, const struct guest_mem *gm,
		     struct dirty_log **out)
{
	struct dirty_log *dl = calloc(1, sizeof(*dl));
	const struct guest_region *last = &gm->region[gm->nr_regions - 1];

	if (!dl)
		return -ENOMEM;
	dl->vm_fd = vm_fd;
	dl->nr_slots = gm->nr_regions;
	dl->max_pfn = (last->gpa + last->size) / GUEST_PAGE_SIZE;
	dl->dev_bits = calloc(WORDS(dl->max_pfn), sizeof(uint64_t));
	for (unsigned int i = 0; i < gm->nr_regions; i++) {
		struct dirty_slot *s = &dl->slot[i];

		s->first_pfn = gm->region[i].gpa / GUEST_PAGE_SIZE;
		s->npages = gm->region[i].size / GUEST_PAGE_SIZE;
		s->userspace_addr = (uintptr_t)(gm->host + gm->region[i].offset);
		s->kvm_bits = calloc(WORDS(s->npages), sizeof(uint64_t));
		if (!s->kvm_bits)
			break;
	}
	if (!dl->dev_bits || !dl->slot[dl->nr_slots - 1].kvm_bits) {
		dirty_log_destroy(dl);
		return -ENOMEM;
	}
	/* Once, at creation; without it dirty_log_start() refuses. */
	dirty_log_enable_manual(dl);
	*out = dl;
	return 0;
}

void dirty_log_destroy(struct dirty_log *dl)
{
	if (!dl)
		return;
	for (unsigned int i = 0; i < dl->nr_slots; i++)
		free(dl->slot[i].kvm_bits);
	free(dl->dev_bits);
	free(dl);
}

void dirty_log_mark(struct dirty_log *dl, uint64_t gpa, uint64_t len)
{
	uint64_t pfn, last;

	if (!dl || !len || !__atomic_load_n(&dl->active, __ATOMIC_ACQUIRE))
		return;
	last = (gpa + len - 1) / GUEST_PAGE_SIZE;
	for (pfn = gpa / GUEST_PAGE_SIZE; pfn <= last && pfn < dl->max_pfn;
	     pfn++)
		__atomic_fetch_or(&dl->dev_bits[pfn / 64], 1ULL << (pfn % 64),
				  __ATOMIC_RELAXED);
}

static int dirty_log_set_slot_flags(struct dirty_log *dl, unsigned int i,
				    uint32_t flags)
{
	const struct dirty_slot *s = &dl->slot[i];
	struct kvm_userspace_memory_region r = {
		.slot = i,
		.flags = flags,
		.guest_phys_addr = s->first_pfn * GUEST_PAGE_SIZE,
		.memory_size = s->npages * GUEST_PAGE_SIZE,
		.userspace_addr = s->userspace_addr,
	};

	if (ioctl(dl->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int ret = -errno;

		log_err("dirty log: cannot set slot %u flags 0x%x: %m", i,
			flags);
		return ret;
	}
	return 0;
}

/* Manual protect: KVM_GET_DIRTY_LOG no longer clears, so a page is only
 * re-protected when we are about to send it. */
static int dirty_log_enable_manual(struct dirty_log *dl)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
	};
	int has = ioctl(dl->vm_fd, KVM_CHECK_EXTENSION,
			KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

	if (has <= 0 || ioctl(dl->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -ENOTSUP;
	dl->manual = true;
	return 0;
}

int dirty_log_start(struct dirty_log *dl)
{
	int ret = 0;

	if (!dl->manual) {
		log_err("dirty log: KVM lacks manual dirty-log protect");
		return -ENOTSUP;
	}
	memset(dl->dev_bits, 0, WORDS(dl->max_pfn) * sizeof(uint64_t));
	for (unsigned int i = 0; !ret && i < dl->nr_slots; i++)
		ret = dirty_log_set_slot_flags(dl, i, KVM_MEM_LOG_DIRTY_PAGES);
	if (ret) {
		dirty_log_stop(dl);
		return ret;
	}
	__atomic_store_n(&dl->active, true, __ATOMIC_RELEASE);
	return 0;
}

void dirty_log_stop(struct dirty_log *dl)
{
	__atomic_store_n(&dl->active, false, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < dl->nr_slots; i++)
		dirty_log_set_slot_flags(dl, i, 0);
}

bool dirty_log_active(const struct dirty_log *dl)
{
	return dl && __atomic_load_n(&dl->active, __ATOMIC_ACQUIRE);
}

uint64_t dirty_log_max_pfn(const struct dirty_log *dl)
{
	return dl->max_pfn;
}

/* ORs @n bits of @src into @dst starting at bit @first (a multiple of 64,
 * as slot bases are: guest regions are 2 MiB aligned). */
static void bits_or(uint64_t *dst, uint64_t first, const uint64_t *src,
		    uint64_t n)
{
	for (uint64_t w = 0; w < WORDS(n); w++)
		dst[first / 64 + w] |= src[w];
}

int dirty_log_sync(struct dirty_log *dl, uint64_t *bitmap)
{
	for (unsigned int i = 0; i < dl->nr_slots; i++) {
		struct dirty_slot *s = &dl->slot[i];
		struct kvm_dirty_log log = { .slot = i,
					     .dirty_bitmap = s->kvm_bits };

		if (ioctl(dl->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
			int ret = -errno;

			log_err("dirty log: KVM_GET_DIRTY_LOG slot %u: %m", i);
			return ret;
		}
		bits_or(bitmap, s->first_pfn, s->kvm_bits, s->npages);
	}
	for (uint64_t w = 0; w < WORDS(dl->max_pfn); w++)
		if (dl->dev_bits[w])
			bitmap[w] |= __atomic_exchange_n(&dl->dev_bits[w], 0,
							 __ATOMIC_RELAXED);
	return 0;
}

static int dirty_log_clear_slot(struct dirty_log *dl, unsigned int i,
				const uint64_t *bitmap, uint64_t first,
				uint64_t n)
{
	const struct dirty_slot *s = &dl->slot[i];
	struct kvm_clear_dirty_log c = {
		.slot = i,
		.num_pages = (uint32_t)n,
		.first_page = first - s->first_pfn,
		.dirty_bitmap = (void *)&bitmap[first / 64],
	};

	if (ioctl(dl->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) < 0) {
		int ret = -errno;

		log_err("dirty log: KVM_CLEAR_DIRTY_LOG slot %u pfn 0x%llx+%llu: %m",
			i, (unsigned long long)first, (unsigned long long)n);
		return ret;
	}
	return 0;
}

int dirty_log_clear(struct dirty_log *dl, const uint64_t *bitmap,
		    uint64_t first_pfn, uint64_t n)
{
	for (unsigned int i = 0; i < dl->nr_slots; i++) {
		const struct dirty_slot *s = &dl->slot[i];
		uint64_t lo = first_pfn > s->first_pfn ? first_pfn : s->first_pfn;
		uint64_t hi = first_pfn + n < s->first_pfn + s->npages ?
			      first_pfn + n : s->first_pfn + s->npages;
		int ret;

		if (lo >= hi)
			continue;
		/* KVM wants num_pages a multiple of 64 unless it ends the
		 * slot: callers pass ranges that are (or end the slot). */
		hi = lo + ((hi - lo + 63) & ~63ULL);
		if (hi > s->first_pfn + s->npages)
			hi = s->first_pfn + s->npages;
		ret = dirty_log_clear_slot(dl, i, bitmap, lo, hi - lo);
		if (ret)
			return ret;
	}
	return 0;
}
