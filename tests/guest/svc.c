/*
 * CPL3 side of the CPL0 services (ud2 + magic, see isr.S) and the serial
 * console built on them. A line is formatted here at native speed and
 * handed to CPL0 in one call, so the emulated part stays a few
 * instructions however long the line is.
 */
#include "probe.h"

static uint64_t svc_call(uint64_t nr, uint64_t a0, uint64_t a1)
{
	register uint64_t rax asm("rax") = PROBE_SVC_MAGIC;
	register uint64_t rdi asm("rdi") = nr;
	register uint64_t rsi asm("rsi") = a0;
	register uint64_t rdx asm("rdx") = a1;

	asm volatile("ud2"
		     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx)
		     :
		     : "rcx", "r11", "memory", "cc");
	return rax;
}

/* CPUID as the vCPU sees it: executed at CPL0 (see SVC_CPUID). */
void cpu_id(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c,
	    uint32_t *d)
{
	register uint64_t rax asm("rax") = PROBE_SVC_MAGIC;
	register uint64_t rdi asm("rdi") = SVC_CPUID;
	register uint64_t rsi asm("rsi") = leaf;
	register uint64_t rdx asm("rdx") = 0;
	uint64_t rbx, rcx;

	asm volatile("ud2"
		     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "=b"(rbx),
		       "=c"(rcx)
		     :
		     : "r11", "memory", "cc");
	*a = (uint32_t)rax;
	*b = (uint32_t)rbx;
	*c = (uint32_t)rcx;
	*d = (uint32_t)rdx;
}

void svc_write(const char *buf, size_t len)
{
	svc_call(SVC_WRITE, (uint64_t)buf, len);
}

/* The LAPIC initial count is 32 bits of 1 ns counts; 0 would disarm the
 * timer and leave the vCPU halted for good. */
void svc_idle_ns(uint64_t ns)
{
	if (ns == 0)
		ns = 1;
	if (ns > 0xffffffffULL)
		ns = 0xffffffffULL;
	svc_call(SVC_IDLE, ns, 0);
}

void svc_exit(uint32_t status)
{
	for (;;)
		svc_call(SVC_EXIT, status, 0);
}

void svc_kvmclock(uint64_t gpa)
{
	svc_call(SVC_KVMCLOCK, gpa | 1, 0);
}

static void con_lock(struct probe *p)
{
	while (__atomic_exchange_n(&p->con_lock, 1, __ATOMIC_ACQUIRE))
		asm volatile("pause");
}

static void con_unlock(struct probe *p)
{
	__atomic_store_n(&p->con_lock, 0, __ATOMIC_RELEASE);
}

static void con_vprintf(struct probe *p, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	n = fmt_vsn(line, sizeof(line) - 1, fmt, ap);
	line[n++] = '\n';
	con_lock(p);
	svc_write(line, n);
	con_unlock(p);
}

/* Prints one line (a newline is added). */
void con_printf(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	con_vprintf(p, fmt, ap);
	va_end(ap);
}

/* Prints one line and ends the guest with @status. When several vCPUs fail
 * at once only the first one reports; the others wait for the exit. */
void probe_die(struct probe *p, int status, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&p->failed, 1, __ATOMIC_ACQ_REL)) {
		for (;;)
			svc_idle_ns(NS_PER_S);
	}
	va_start(ap, fmt);
	con_vprintf(p, fmt, ap);
	va_end(ap);
	svc_exit(status);
}
