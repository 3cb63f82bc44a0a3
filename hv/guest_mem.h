/*
 * Guest RAM: one memfd, mapped once into hv, split into at most two
 * guest-physical regions around the 32-bit PCI hole (below 3 GiB and from
 * 4 GiB up). Owns the fd and the mapping; knows nothing of KVM, so loaders
 * and their unit tests use it without /dev/kvm.
 */
#ifndef HV_GUEST_MEM_H
#define HV_GUEST_MEM_H

#include <stdint.h>
#include <stddef.h>

#define GUEST_PAGE_SIZE 4096ULL
#define GUEST_PCI_HOLE_START 0xC0000000ULL /* 3 GiB */
#define GUEST_HIGH_START 0x100000000ULL	   /* 4 GiB */
#define GUEST_MEM_MIN (2ULL << 20)
#define GUEST_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset; /* into the memfd and the host mapping */
};

struct guest_mem {
	int fd;
	uint8_t *host;
	uint64_t size;
	unsigned int nr_regions;
	struct guest_region region[GUEST_MAX_REGIONS];
};

/* Creates the memfd of @size bytes (page multiple) and maps it.
 * Returns 0 or -errno (-EINVAL for a bad size, -ENOMEM when the host
 * cannot give it). */
int guest_mem_init(struct guest_mem *gm, uint64_t size);
void guest_mem_fini(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) or NULL unless the whole range lies in
 * one RAM region. Never returns a pointer outside the mapping. */
void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Highest guest-physical address of low RAM (end of region 0). */
uint64_t guest_mem_low_end(const struct guest_mem *gm);

#endif
