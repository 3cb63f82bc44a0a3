/*
 * CPL0 handlers: the 256 IDT stubs at ISR_BASE, the `ud2` service gate, the
 * LAPIC timer and the path that reports an unexpected exception. Kept to a
 * handful of instructions per service because CPL0 is emulated on PVM.
 * Service ABI: rax = PROBE_SVC_MAGIC, rdi = service, rsi/rdx = arguments;
 * clobbers rcx, rdx, rsi, rdi, r11; returns to the instruction after ud2.
 */
#include "layout.h"

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || \
		    (v) == 21 || (v) == 29 || (v) == 30)

	.macro stub v
	.balign ISR_STUB_SIZE, 0xcc
	.if \v == 6
	jmp ud_handler
	.elseif \v == VEC_TIMER
	jmp timer_handler
	.elseif \v == VEC_SPURIOUS
	iretq
	.else
	.if HAS_ERR(\v) == 0
	pushq $0
	.endif
	pushq $\v
	jmp fatal_common
	.endif
	.endm

	.section .isr, "ax"
	.code64
	.altmacro
	.set v, 0
	.rept 256
	stub %v
	.set v, v + 1
	.endr
	.noaltmacro
	.balign ISR_STUB_SIZE, 0xcc

	.text
svc_magic:
	.quad PROBE_SVC_MAGIC
svc_table:
	.quad svc_write, svc_idle, svc_exit, svc_kvmclock, svc_cpuid

/* #UD: a service call only if rax holds the magic and the faulting bytes
 * are ud2 (0f 0b); anything else is a real invalid opcode. */
ud_handler:
	cmpq svc_magic, %rax
	jne 1f
	movq (%rsp), %rcx
	cmpw $0x0b0f, (%rcx)
	jne 1f
	cmpq $SVC_COUNT, %rdi
	jae 1f
	addq $2, (%rsp)
	jmp *svc_table(, %rdi, 8)
1:	pushq $0
	pushq $6
	jmp fatal_common

/* One instruction for the whole line: KVM batches string I/O. */
svc_write:
	cld
	movq %rdx, %rcx
	movl $COM1_PORT, %edx
	rep outsb
	iretq

/* Arm the one-shot timer, then wait with interrupts on. sti delays
 * interrupts by one instruction, so the wakeup cannot slip in before hlt. */
svc_idle:
	movl $LAPIC_BASE, %ecx
	movl %esi, LAPIC_TIMER_INIT(%rcx)
	sti
	hlt
	cli
	iretq

svc_exit:
	movl %esi, %eax
	movl $DEBUG_EXIT_PORT, %edx
	outl %eax, %dx
2:	cli
	hlt
	jmp 2b

svc_kvmclock:
	movl %esi, %eax
	movq %rsi, %rdx
	shrq $32, %rdx
	movl $MSR_KVM_SYSTEM_TIME_NEW, %ecx
	wrmsr
	iretq

svc_cpuid:
	movl %esi, %eax
	movl %edx, %ecx
	cpuid
	iretq

timer_handler:
	pushq %rax
	movl $LAPIC_BASE, %eax
	movl $0, LAPIC_EOI(%rax)
	popq %rax
	iretq

/* Stack: vector, error code, rip, cs, rflags, rsp, ss. */
fatal_common:
	movq (%rsp), %rdi
	movq 8(%rsp), %rsi
	movq 16(%rsp), %rdx
	movq 24(%rsp), %rcx
	movq %cr2, %r8
	andq $-16, %rsp
	call probe_fatal
3:	cli
	hlt
	jmp 3b

	.section .note.GNU-stack, "", @progbits
