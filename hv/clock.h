/*
 * Monotonic time in nanoseconds, for durations and deadlines: one helper
 * for hv, migrate/ and the cluster agent instead of a copy in each.
 */
#ifndef HV_CLOCK_H
#define HV_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
