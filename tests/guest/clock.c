/*
 * Time from kvmclock, read at CPL3 with rdtsc. Every read goes back to the
 * pvclock page that KVM maintains, so time stays right across save,
 * restore and migration (KVM rewrites the page; nothing derived from it is
 * cached). Sleeping goes through the SVC_IDLE service.
 */
#include "probe.h"

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)


/* Returns 0 once this vCPU's clock runs, -1 when KVM offers no kvmclock. */
int clock_start(struct probe_cpu *c)
{
	uint32_t a, b, cx, d;

	cpu_id(KVM_CPUID_SIGNATURE, &a, &b, &cx, &d);
	/* "KVMKVMKVM\0\0\0" in ebx, ecx, edx */
	if (b != 0x4b4d564b || cx != 0x564b4d56 || d != 0x0000004d)
		return -1;
	if (a < KVM_CPUID_FEATURES)
		return -1;
	cpu_id(KVM_CPUID_FEATURES, &a, &b, &cx, &d);
	if (!(a & KVM_FEATURE_CLOCKSOURCE2))
		return -1;
	svc_kvmclock((uint64_t)&c->clock);
	return 0;
}

static uint64_t rdtsc_ordered(void)
{
	uint32_t lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Nanoseconds of guest time; the version loop retries a read that raced
 * with KVM updating the page (odd version = update in progress). */
uint64_t clock_ns(const struct probe_cpu *c)
{
	const volatile struct pvclock *pv = &c->clock;
	uint32_t ver;
	uint64_t delta, ns;
	int8_t shift;

	do {
		ver = pv->version;
		asm volatile("" ::: "memory");
		delta = rdtsc_ordered() - pv->tsc_timestamp;
		if ((int64_t)delta < 0)
			delta = 0;
		shift = pv->shift;
		if (shift < 0)
			delta >>= -shift;
		else
			delta <<= shift;
		ns = pv->system_time +
		     (uint64_t)(((unsigned __int128)delta * pv->mul) >> 32);
		asm volatile("" ::: "memory");
	} while ((ver & 1) || ver != pv->version);
	return ns;
}

/* Idles until @deadline (one timer shot; an early wakeup just returns and
 * the caller's loop looks at the clock again). */
void clock_sleep_until(const struct probe_cpu *c, uint64_t deadline)
{
	uint64_t now = clock_ns(c);

	if ((int64_t)(deadline - now) <= 0)
		return;
	svc_idle_ns(deadline - now);
}
