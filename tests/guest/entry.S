/*
 * Boot path of every vCPU, the only CPL0 code that runs before CPL3:
 * the PVH 32-bit entry of the boot vCPU, the 64-bit AP entry that hv jumps
 * to, and the ELF notes that announce both. Every instruction here is
 * emulated on PVM hosts (~1.6 us each), so it is straight-line code that
 * only loads prebuilt tables (tables.S) and drops to CPL3.
 */
#include "layout.h"

/* ELF notes. The Xen note is last and followed by four zero bytes outside
 * the note section: loaders that read its descriptor as a 64-bit value
 * (QEMU) see the same entry as those that read 32 bits. */
	.section .note.ferry, "a"
	.balign 4
	.long 6			/* namesz: "Ferry\0" */
	.long 16		/* descsz */
	.long 1			/* FERRY_NOTE_AP_START */
	.asciz "Ferry"
	.balign 4
	.quad ap_entry64	/* 64-bit AP entry */
	.quad pml4		/* CR3 for the APs */

	.section .note.xen, "a"
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry32

	.section .notepad, "a", @progbits
	.long 0

	.section .boot, "ax"
	.code32
	.globl pvh_entry32
/* PVH: protected mode, paging off, flat segments, ebx = hvm_start_info. */
pvh_entry32:
	movl %ebx, probe_start_info
	lgdt gdt_desc
	movl $0x20, %eax		/* CR4.PAE; no SMEP/SMAP, no TSD */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	movl $0x100, %eax		/* LME */
	xorl %edx, %edx
	wrmsr
	movl $0x80000011, %eax		/* PG | ET | PE */
	movl %eax, %cr0
	ljmp $SEL_KCODE, $bsp_entry64

	.code64
bsp_entry64:
	movl $1, %ebp			/* is the boot vCPU */
	/* Mask both 8259 PICs: KVM wires the PIC to the boot vCPU's LINT0,
	 * and the probe takes no device interrupts (virtio is polled). */
	movb $0xff, %al
	outb %al, $0xa1
	outb %al, $0x21
	jmp cpu_init

/* hv starts APs here: long mode, CR3 = pml4, interrupts off, no GDT/IDT. */
	.globl ap_entry64
ap_entry64:
	xorl %ebp, %ebp
cpu_init:
	lgdt gdt_desc
	lidt idt_desc
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $1, %eax			/* CPUID.1:EBX[31:24] = vCPU index */
	cpuid
	shrl $24, %ebx
	cmpl $PROBE_MAX_CPUS, %ebx
	jae park
	leal 1(%ebx), %eax
	shll $12, %eax			/* KSTACK_SIZE */
	leaq kstacks(%rax), %rsp
	movl %ebx, %eax
	shll $4, %eax
	addl $SEL_TSS0, %eax
	ltr %ax
	/* LAPIC on, timer one-shot on VEC_TIMER, divide by 1 (1 count = 1 ns
	 * under KVM). Interrupts stay off at CPL0 except inside SVC_IDLE. */
	movl $LAPIC_BASE, %eax
	movl $0x100 | VEC_SPURIOUS, LAPIC_SVR(%rax)
	movl $0xb, LAPIC_TIMER_DIV(%rax)
	movl $VEC_TIMER, LAPIC_LVT_TIMER(%rax)
	/* iretq to probe_cpu_main(index, is_bsp) at CPL3 with IF=1. The user
	 * stack top is offset by 8 as if a call had pushed a return address. */
	leal 1(%ebx), %eax
	shll $14, %eax			/* USTACK_SIZE */
	leaq ustacks-8(%rax), %rcx
	pushq $(SEL_UDATA | 3)
	pushq %rcx
	pushq $0x202
	pushq $(SEL_UCODE | 3)
	pushq $probe_cpu_main
	movl %ebx, %edi
	movl %ebp, %esi
	iretq

/* vCPUs beyond PROBE_MAX_CPUS never run the workload. */
park:
	cli
	hlt
	jmp park

	.section .note.GNU-stack, "", @progbits
