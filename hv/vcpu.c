/*
 * Boot-time vCPU state. Segment and control-register values follow the PVH
 * ABI (32-bit flat protected mode) and the Linux 64-bit boot protocol; APs
 * of a kernel with a Ferry AP note enter long mode directly because INIT/
 * SIPI does not start APs on PVM hosts (DESIGN.md).
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "hv/log.h"
#include "hv/vcpu.h"

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_CR_PAT 0x277
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MISC_ENABLE_FAST_STRING 1ULL
#define PAT_DEFAULT 0x0007040600070406ULL

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static int vcpu_ioctl(int fd, unsigned long req, void *arg, const char *what,
		      unsigned int id)
{
	if (ioctl(fd, req, arg) < 0) {
		int ret = -errno;

		log_err("vcpu %u: %s: %m", id, what);
		return ret;
	}
	return 0;
}

static int vcpu_init_msrs(int fd, unsigned int id)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },   { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },  { MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },	       { MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },       { MSR_LSTAR, 0 },
		{ MSR_IA32_CR_PAT, PAT_DEFAULT },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
	};
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[sizeof(init) / sizeof(init[0])];
	} m;
	unsigned int n = sizeof(init) / sizeof(init[0]);
	int ret;

	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = n;
	for (unsigned int i = 0; i < n; i++) {
		m.e[i].index = init[i].index;
		m.e[i].data = init[i].value;
	}
	ret = ioctl(fd, KVM_SET_MSRS, &m);
	if (ret < 0)
		return vcpu_ioctl(fd, KVM_SET_MSRS, &m, "KVM_SET_MSRS", id);
	if ((unsigned int)ret != n)
		log_debug("vcpu %u: host refused MSR 0x%x", id,
			  init[ret].index);
	return 0;
}

static int vcpu_init_fpu(int fd, unsigned int id)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	return vcpu_ioctl(fd, KVM_SET_FPU, &fpu, "KVM_SET_FPU", id);
}

/* LINT0 as ExtINT and LINT1 as NMI, as a PC BIOS leaves them. */
static int vcpu_init_lapic(int fd, unsigned int id)
{
	struct kvm_lapic_state ls;
	uint32_t *lvt0 = (uint32_t *)&ls.regs[APIC_LVT0];
	uint32_t *lvt1 = (uint32_t *)&ls.regs[APIC_LVT1];
	int ret = vcpu_ioctl(fd, KVM_GET_LAPIC, &ls, "KVM_GET_LAPIC", id);

	if (ret)
		return ret;
	*lvt0 = (*lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	*lvt1 = (*lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	return vcpu_ioctl(fd, KVM_SET_LAPIC, &ls, "KVM_SET_LAPIC", id);
}

static void vcpu_flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type,
			  int code64)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = !code64, .s = 1, .l = code64,
		.g = 1,
	};
}

static void vcpu_sregs_pvh32(struct kvm_sregs *s)
{
	vcpu_flat_seg(&s->cs, 0x10, 0xb, 0);
	vcpu_flat_seg(&s->ds, 0x18, 0x3, 0);
	s->es = s->fs = s->gs = s->ss = s->ds;
	s->tr = (struct kvm_segment){ .selector = 0x20, .limit = 0x67,
				      .type = 0xb, .present = 1 };
	s->cr0 = CR0_PE | CR0_ET;
	s->cr4 = 0;
	s->efer = 0;
}

static void vcpu_sregs_long(struct kvm_sregs *s, uint64_t cr3, int hv_gdt)
{
	vcpu_flat_seg(&s->cs, 0x10, 0xb, 1);
	vcpu_flat_seg(&s->ds, 0x18, 0x3, 0);
	s->es = s->fs = s->gs = s->ss = s->ds;
	s->tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb,
				      .present = 1 };
	if (hv_gdt) {
		s->gdt.base = BOOT_GDT_GPA;
		s->gdt.limit = 4 * 8 - 1;
	}
	s->cr0 = CR0_PE | CR0_ET | CR0_PG;
	s->cr3 = cr3;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA;
}

/* Returns 1 when this vCPU was given registers to run from, 0 when it is
 * left waiting for INIT/SIPI. */
static int vcpu_boot_regs(const struct boot_setup *b, unsigned int id,
			  struct kvm_sregs *s, struct kvm_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->rflags = 0x2;
	if (id == 0 && b->mode == BOOT_PVH32) {
		vcpu_sregs_pvh32(s);
		r->rip = b->entry;
		r->rbx = b->arg;
	} else if (id == 0) {
		vcpu_sregs_long(s, b->cr3, 1);
		r->rip = b->entry;
		r->rsi = b->arg;
	} else if (b->ap_entry) {
		vcpu_sregs_long(s, b->ap_cr3, 0);
		r->rip = b->ap_entry;
		r->rdi = id;
	} else {
		return 0;
	}
	return 1;
}

static int vcpu_set_boot_state(int fd, unsigned int id,
			       const struct boot_setup *b)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs s;
	struct kvm_regs r;
	int ret = vcpu_ioctl(fd, KVM_GET_SREGS, &s, "KVM_GET_SREGS", id);

	if (ret || !vcpu_boot_regs(b, id, &s, &r))
		return ret;
	ret = vcpu_ioctl(fd, KVM_SET_SREGS, &s, "KVM_SET_SREGS", id);
	if (!ret)
		ret = vcpu_ioctl(fd, KVM_SET_REGS, &r, "KVM_SET_REGS", id);
	if (!ret && id != 0)
		ret = vcpu_ioctl(fd, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE",
				 id);
	return ret;
}

int vcpu_setup(int fd, unsigned int id, const struct boot_setup *boot,
	       struct kvm_cpuid2 *cpuid)
{
	int ret = vcpu_ioctl(fd, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2", id);

	if (!ret)
		ret = vcpu_init_msrs(fd, id);
	if (!ret)
		ret = vcpu_init_fpu(fd, id);
	if (!ret)
		ret = vcpu_init_lapic(fd, id);
	if (!ret)
		ret = vcpu_set_boot_state(fd, id, boot);
	return ret;
}
