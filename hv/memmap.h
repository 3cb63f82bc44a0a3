/*
 * The guest's physical memory map as both boot protocols describe it
 * (PVH hvm_memmap_table_entry, Linux e820): RAM, the legacy holes below
 * 1 MiB, and RAM above 4 GiB when the guest is larger than 3 GiB.
 */
#ifndef HV_MEMMAP_H
#define HV_MEMMAP_H

#include <stdint.h>

#include "hv/guest_mem.h"

#define MEMMAP_MAX 8
/* Same values as e820 and hvm_memmap_table_entry types. */
#define MEMMAP_RAM 1
#define MEMMAP_RESERVED 2

#define MEMMAP_EBDA_START 0x9fc00ULL
#define MEMMAP_BIOS_START 0xf0000ULL
#define MEMMAP_HIGH_MEM 0x100000ULL /* 1 MiB */

struct memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fills @out (room for MEMMAP_MAX) and returns the number of entries. */
int memmap_build(const struct guest_mem *gm, struct memmap_entry *out);

#endif
