/*
 * Every CPU table the probe needs, assembled as constant data so that no
 * CPL0 loop builds them at run time: identity page tables (2 MiB pages, all
 * user-accessible, MAP_GIB GiB), GDT with one TSS per vCPU, IDT, the TSSs
 * and the per-vCPU stacks. The IDT and TSS descriptors point at fixed
 * addresses (ISR_BASE, TSS_BASE) that probe.ld places and checks.
 */
#include "layout.h"

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_A 0x20
#define PTE_D 0x40
#define PTE_PS 0x80
/* A and D preset: nothing has to set them later, on a CPL0 emulator. */
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)
#define PTE_LARGE (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_PS)

	.section .pgtable, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + PTE_TABLE
	.fill 511, 8, 0
pdpt:
	.set i, 0
	.rept MAP_GIB
	.quad pds + i * 4096 + PTE_TABLE
	.set i, i + 1
	.endr
	.fill 512 - MAP_GIB, 8, 0
pds:
	/* The 2 MiB page holding the LAPIC is uncached. */
	.set i, 0
	.rept MAP_GIB * 512
	.if i == (LAPIC_BASE >> 21)
	.quad (i << 21) + PTE_LARGE + PTE_PCD + PTE_PWT
	.else
	.quad (i << 21) + PTE_LARGE
	.endif
	.set i, i + 1
	.endr

	.section .data
	.balign 16
	.globl gdt_desc
/* 10 bytes: a 32-bit lgdt reads the low 4 bytes of the base, that is
 * enough for an address below 4 GiB. */
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt
	.balign 16
	.globl idt_desc
idt_desc:
	.word 256 * 16 - 1
	.quad idt

	.balign 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* SEL_KCODE: 64-bit, DPL0 */
	.quad 0x00cf92000000ffff	/* SEL_KDATA */
	.quad 0x00cff2000000ffff	/* SEL_UDATA: DPL3 */
	.quad 0x00affa000000ffff	/* SEL_UCODE: 64-bit, DPL3 */
	.set i, 0
	.rept PROBE_MAX_CPUS
	.set base, TSS_BASE + i * TSS_STRIDE
	/* available 64-bit TSS, present, DPL0, limit 103 */
	.quad 103 | ((base & 0xffff) << 16) | \
	      (((base >> 16) & 0xff) << 32) | (0x89 << 40) | \
	      (((base >> 24) & 0xff) << 56)
	.quad base >> 32
	.set i, i + 1
	.endr
gdt_end:

	.balign 16
idt:
	.set v, 0
	.rept 256
	.set off, ISR_BASE + v * ISR_STUB_SIZE
	/* interrupt gate: present, DPL0, SEL_KCODE, no IST */
	.quad (off & 0xffff) | (SEL_KCODE << 16) | (0x8e << 40) | \
	      (((off >> 16) & 0xffff) << 48)
	.quad off >> 32
	.set v, v + 1
	.endr

	.section .tss, "aw"
	.set i, 0
	.rept PROBE_MAX_CPUS
	.long 0
	.quad kstacks + (i + 1) * KSTACK_SIZE	/* RSP0 */
	.fill 11, 8, 0				/* RSP1-2, IST1-7, reserved */
	.word 0
	.word 104				/* no I/O bitmap */
	.fill TSS_STRIDE - 104, 1, 0
	.set i, i + 1
	.endr

	.section .bss
	.balign 4096
	.globl kstacks, ustacks
kstacks:
	.fill PROBE_MAX_CPUS * KSTACK_SIZE, 1, 0
ustacks:
	.fill PROBE_MAX_CPUS * USTACK_SIZE, 1, 0

	.section .note.GNU-stack, "", @progbits
