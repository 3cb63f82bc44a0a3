/* Range table for port I/O and MMIO; see bus.h. */
#include <errno.h>
#include <string.h>

#include "hv/bus.h"

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
		 void *opaque)
{
	for (unsigned int i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->range[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (b->nr == BUS_MAX_DEVS)
		return -ENOSPC;
	b->range[b->nr++] = (struct bus_range){ base, len, fn, opaque };
	return 0;
}

bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data,
		unsigned int size, bool is_write)
{
	for (unsigned int i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->range[i];

		if (addr >= r->base && addr - r->base < r->len) {
			r->fn(r->opaque, addr - r->base, data, size, is_write);
			return true;
		}
	}
	if (!is_write)
		memset(data, 0xff, size);
	return false;
}
