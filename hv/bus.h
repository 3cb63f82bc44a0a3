/*
 * Address decoding for port I/O and MMIO exits: a small table of ranges,
 * each with a handler. Registered before vCPUs start, read-only after, so
 * lookups need no lock. Handlers serialise their own device state.
 */
#ifndef HV_BUS_H
#define HV_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_DEVS 32

/* @offset is relative to the range base; @data holds @size bytes. */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  unsigned int size, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_io_fn fn;
	void *opaque;
};

struct bus {
	unsigned int nr;
	struct bus_range range[BUS_MAX_DEVS];
};

/* Returns 0, -EEXIST on overlap, -ENOSPC when full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_io_fn fn,
		 void *opaque);
/* Dispatches one access. Returns false when nothing is there (reads then
 * see all ones). */
bool bus_access(const struct bus *b, uint64_t addr, uint8_t *data,
		unsigned int size, bool is_write);

#endif
