/*
 * The guest memory map shared by the PVH and Linux loaders. Holes below
 * 1 MiB follow the PC layout Linux expects (EBDA, VGA, BIOS) even though
 * hv puts nothing there, so a stock kernel never allocates from them.
 */
#include "hv/memmap.h"

static int memmap_add(struct memmap_entry *out, int n, uint64_t addr,
		      uint64_t size, uint32_t type)
{
	if (size == 0)
		return n;
	out[n] = (struct memmap_entry){ addr, size, type };
	return n + 1;
}

int memmap_build(const struct guest_mem *gm, struct memmap_entry *out)
{
	uint64_t low_end = guest_mem_low_end(gm);
	int n = 0;

	n = memmap_add(out, n, 0, MEMMAP_EBDA_START, MEMMAP_RAM);
	n = memmap_add(out, n, MEMMAP_EBDA_START, 0xa0000 - MEMMAP_EBDA_START,
		       MEMMAP_RESERVED);
	n = memmap_add(out, n, MEMMAP_BIOS_START,
		       MEMMAP_HIGH_MEM - MEMMAP_BIOS_START, MEMMAP_RESERVED);
	if (low_end > MEMMAP_HIGH_MEM)
		n = memmap_add(out, n, MEMMAP_HIGH_MEM,
			       low_end - MEMMAP_HIGH_MEM, MEMMAP_RAM);
	for (unsigned int i = 1; i < gm->nr_regions; i++)
		n = memmap_add(out, n, gm->region[i].gpa, gm->region[i].size,
			       MEMMAP_RAM);
	return n;
}
