/*
 * The probe guest's fixed layout and its CPL3 -> CPL0 service ABI, shared by
 * the assembly (boot, tables, handlers) and the C workloads. Everything here
 * is part of the guest/VMM contract documented in README.md; change both.
 */
#ifndef PROBE_LAYOUT_H
#define PROBE_LAYOUT_H

#define PROBE_MAX_CPUS 64

/* GDT selectors. One 16-byte TSS descriptor per vCPU from SEL_TSS0. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS0 0x28

/* Sections at fixed addresses so that the IDT and GDT can be assembled as
 * constant data (their descriptors split addresses into bit fields, which
 * the assembler only does for absolute values). probe.ld checks these. */
#define IMAGE_BASE 0x100000
#define ISR_BASE 0x101000 /* 256 interrupt stubs, 16 bytes each */
#define ISR_STUB_SIZE 16
#define TSS_BASE 0x102000 /* PROBE_MAX_CPUS TSSs, TSS_STRIDE apart */
#define TSS_STRIDE 128

#define KSTACK_SIZE 4096  /* CPL0 stack per vCPU (handlers only) */
#define USTACK_SIZE 16384 /* CPL3 stack per vCPU */

#define LAPIC_BASE 0xfee00000
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

#define VEC_TIMER 0x20
#define VEC_SPURIOUS 0xff

#define COM1_PORT 0x3f8
#define DEBUG_EXIT_PORT 0xf4

#define MSR_EFER 0xc0000080
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

/* Services: `ud2` with rax = PROBE_SVC_MAGIC, rdi = service, rsi/rdx =
 * arguments. The handler clobbers rcx, r11, rdx, rsi, rdi (SVC_CPUID also
 * rax, rbx). SVC_CPUID exists because on PVM hosts a CPL3 cpuid is not
 * intercepted: it returns the host CPU's values, not the vCPU's. */
#define PROBE_SVC_MAGIC 0x50524f4245 /* "PROBE" */
#define SVC_WRITE 0    /* rsi = buffer, rdx = length: COM1, rep outsb */
#define SVC_IDLE 1     /* rsi = ns (1..2^32-1): LAPIC one-shot, sti; hlt */
#define SVC_EXIT 2     /* rsi = status: 32-bit out to DEBUG_EXIT_PORT */
#define SVC_KVMCLOCK 3 /* rsi = gpa | 1 of this vCPU's pvclock struct */
#define SVC_CPUID 4    /* rsi = leaf, rdx = subleaf: eax/ebx/ecx/edx */
#define SVC_COUNT 5

/* The working set starts here, past the image, 2 MiB aligned. */
#define WSS_BASE 0x1000000
/* Identity map size of the prebuilt page tables (2 MiB pages). */
#define MAP_GIB 64

#endif
