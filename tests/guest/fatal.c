/*
 * The unexpected-exception report, entered at CPL0 from isr.S with
 * interrupts off. It cannot use the services (it is already at CPL0), so
 * it drives the serial and debug-exit ports itself. Slow on PVM (emulated)
 * but it runs once, on the way out with status 4.
 */
#include "probe.h"

static void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

void probe_fatal(uint64_t vec, uint64_t err, uint64_t rip, uint64_t cs,
		 uint64_t cr2)
{
	char line[160];
	size_t n, i;

	n = fmt_sn(line, sizeof(line) - 1,
		   "probe: FATAL exception vector=%lu rip=0x%lx err=0x%lx "
		   "cs=0x%lx cr2=0x%lx",
		   vec, rip, err, cs, cr2);
	line[n++] = '\n';
	for (i = 0; i < n; i++)
		outb(COM1_PORT, (uint8_t)line[i]);
	for (;;) {
		outl(DEBUG_EXIT_PORT, EXIT_INTERNAL);
		asm volatile("cli; hlt");
	}
}
