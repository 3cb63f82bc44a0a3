/*
 * vCPU state <-> ferry.vmstate.VcpuState. Registers, segments and MSRs are
 * named fields; LAPIC, XSAVE, events and debug registers travel as the KVM
 * structures themselves (see proto/vmstate.proto). Restore order follows
 * what KVM requires: sregs (APIC base) before the LAPIC, MSRs before
 * events, MP state last but one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "hv/log.h"
#include "hv/vcpu_state.h"
#include "proto/vmstate.pb-c.h"

#define NR_GPRS 16

/* Storage for everything a VcpuState being packed points into. */
struct vcpu_proto {
	const struct vcpu_kvm_state *k;
	uint64_t gpr[NR_GPRS];
	Ferry__Vmstate__Regs pregs;
	Ferry__Vmstate__Sregs psregs;
	Ferry__Vmstate__Segment seg[8];
	Ferry__Vmstate__Segment *segp[8];
	Ferry__Vmstate__DescTable gdt, idt;
	Ferry__Vmstate__Msr msr[VCPU_STATE_MAX_MSRS];
	Ferry__Vmstate__Msr *msrp[VCPU_STATE_MAX_MSRS];
	Ferry__Vmstate__Xcr xcr[KVM_MAX_XCRS];
	Ferry__Vmstate__Xcr *xcrp[KVM_MAX_XCRS];
	Ferry__Vmstate__VcpuState st;
};

static int vcpu_st_ioctl(int fd, unsigned long req, void *arg,
			 const char *what, unsigned int id)
{
	if (ioctl(fd, req, arg) < 0) {
		int ret = -errno;

		log_err("vcpu %u: %s: %m", id, what);
		return ret;
	}
	return 0;
}

int vcpu_state_msr_list(int kvm_fd, int vcpu_fd, uint32_t *idx)
{
	struct {
		struct kvm_msr_list hdr;
		uint32_t idx[1024];
	} list = { .hdr.nmsrs = 1024 };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} one;
	int n = 0;

	if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0) {
		log_err("KVM_GET_MSR_INDEX_LIST: %m");
		return -errno;
	}
	for (uint32_t i = 0; i < list.hdr.nmsrs && n < VCPU_STATE_MAX_MSRS;
	     i++) {
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.e.index = list.idx[i];
		if (ioctl(vcpu_fd, KVM_GET_MSRS, &one) == 1)
			idx[n++] = list.idx[i];
	}
	return n;
}

static void seg_to_proto(const struct kvm_segment *s, Ferry__Vmstate__Segment *p)
{
	ferry__vmstate__segment__init(p);
	p->base_addr = s->base;
	p->limit = s->limit;
	p->selector = s->selector;
	p->type = s->type;
	/* KVM keeps each attribute in a whole byte; only its bits count. */
	p->attrs = (s->present & 1u) | (s->dpl & 3u) << 1 | (s->db & 1u) << 3 |
		   (s->s & 1u) << 4 | (s->l & 1u) << 5 | (s->g & 1u) << 6 |
		   (s->avl & 1u) << 7 | (s->unusable & 1u) << 8;
}

static void seg_from_proto(const Ferry__Vmstate__Segment *p,
			   struct kvm_segment *s)
{
	memset(s, 0, sizeof(*s));
	if (!p)
		return;
	s->base = p->base_addr;
	s->limit = p->limit;
	s->selector = (uint16_t)p->selector;
	s->type = (uint8_t)p->type;
	s->present = p->attrs & 1;
	s->dpl = (p->attrs >> 1) & 3;
	s->db = (p->attrs >> 3) & 1;
	s->s = (p->attrs >> 4) & 1;
	s->l = (p->attrs >> 5) & 1;
	s->g = (p->attrs >> 6) & 1;
	s->avl = (p->attrs >> 7) & 1;
	s->unusable = (p->attrs >> 8) & 1;
}

static void regs_to_proto(struct vcpu_proto *v)
{
	const struct kvm_regs *r = &v->k->regs;
	const uint64_t g[NR_GPRS] = { r->rax, r->rbx, r->rcx, r->rdx,
				      r->rsi, r->rdi, r->rsp, r->rbp,
				      r->r8,  r->r9,  r->r10, r->r11,
				      r->r12, r->r13, r->r14, r->r15 };

	memcpy(v->gpr, g, sizeof(g));
	ferry__vmstate__regs__init(&v->pregs);
	v->pregs.n_gpr = NR_GPRS;
	v->pregs.gpr = v->gpr;
	v->pregs.rip = r->rip;
	v->pregs.rflags = r->rflags;
}

static int regs_from_proto(const Ferry__Vmstate__Regs *p, struct kvm_regs *r)
{
	const uint64_t *g;

	if (!p || p->n_gpr != NR_GPRS)
		return -EBADMSG;
	g = p->gpr;
	*r = (struct kvm_regs){
		.rax = g[0], .rbx = g[1], .rcx = g[2], .rdx = g[3],
		.rsi = g[4], .rdi = g[5], .rsp = g[6], .rbp = g[7],
		.r8 = g[8], .r9 = g[9], .r10 = g[10], .r11 = g[11],
		.r12 = g[12], .r13 = g[13], .r14 = g[14], .r15 = g[15],
		.rip = p->rip, .rflags = p->rflags,
	};
	return 0;
}

static void sregs_to_proto(struct vcpu_proto *v)
{
	const struct kvm_sregs *s = &v->k->sregs;
	const struct kvm_segment *segs[8] = { &s->cs, &s->ds, &s->es, &s->fs,
					      &s->gs, &s->ss, &s->tr, &s->ldt };
	Ferry__Vmstate__Sregs *p = &v->psregs;

	ferry__vmstate__sregs__init(p);
	for (int i = 0; i < 8; i++) {
		seg_to_proto(segs[i], &v->seg[i]);
		v->segp[i] = &v->seg[i];
	}
	p->cs = v->segp[0]; p->ds = v->segp[1]; p->es = v->segp[2];
	p->fs = v->segp[3]; p->gs = v->segp[4]; p->ss = v->segp[5];
	p->tr = v->segp[6]; p->ldt = v->segp[7];
	ferry__vmstate__desc_table__init(&v->gdt);
	ferry__vmstate__desc_table__init(&v->idt);
	v->gdt.base_addr = s->gdt.base;
	v->gdt.limit = s->gdt.limit;
	v->idt.base_addr = s->idt.base;
	v->idt.limit = s->idt.limit;
	p->gdt = &v->gdt;
	p->idt = &v->idt;
	p->cr0 = s->cr0; p->cr2 = s->cr2; p->cr3 = s->cr3;
	p->cr4 = s->cr4; p->cr8 = s->cr8; p->efer = s->efer;
	p->apic_base = s->apic_base;
	p->n_interrupt_bitmap = 4;
	p->interrupt_bitmap = (uint64_t *)s->interrupt_bitmap;
}

static int sregs_from_proto(const Ferry__Vmstate__Sregs *p,
			    struct kvm_sregs *s)
{
	if (!p || !p->gdt || !p->idt || p->n_interrupt_bitmap != 4)
		return -EBADMSG;
	memset(s, 0, sizeof(*s));
	seg_from_proto(p->cs, &s->cs); seg_from_proto(p->ds, &s->ds);
	seg_from_proto(p->es, &s->es); seg_from_proto(p->fs, &s->fs);
	seg_from_proto(p->gs, &s->gs); seg_from_proto(p->ss, &s->ss);
	seg_from_proto(p->tr, &s->tr); seg_from_proto(p->ldt, &s->ldt);
	s->gdt.base = p->gdt->base_addr;
	s->gdt.limit = (uint16_t)p->gdt->limit;
	s->idt.base = p->idt->base_addr;
	s->idt.limit = (uint16_t)p->idt->limit;
	s->cr0 = p->cr0; s->cr2 = p->cr2; s->cr3 = p->cr3;
	s->cr4 = p->cr4; s->cr8 = p->cr8; s->efer = p->efer;
	s->apic_base = p->apic_base;
	memcpy(s->interrupt_bitmap, p->interrupt_bitmap,
	       sizeof(s->interrupt_bitmap));
	return 0;
}

static void msrs_xcrs_to_proto(struct vcpu_proto *v)
{
	const struct vcpu_kvm_state *k = v->k;
	uint32_t nmsrs = k->msrs.hdr.nmsrs < VCPU_STATE_MAX_MSRS ?
			 k->msrs.hdr.nmsrs : VCPU_STATE_MAX_MSRS;
	uint32_t nxcrs = k->xcrs.nr_xcrs < KVM_MAX_XCRS ? k->xcrs.nr_xcrs
							: KVM_MAX_XCRS;

	for (uint32_t i = 0; i < nmsrs; i++) {
		ferry__vmstate__msr__init(&v->msr[i]);
		v->msr[i].index = k->msrs.e[i].index;
		v->msr[i].value = k->msrs.e[i].data;
		v->msrp[i] = &v->msr[i];
	}
	v->st.n_msrs = nmsrs;
	v->st.msrs = v->msrp;
	for (uint32_t i = 0; i < nxcrs; i++) {
		ferry__vmstate__xcr__init(&v->xcr[i]);
		v->xcr[i].xcr = k->xcrs.xcrs[i].xcr;
		v->xcr[i].value = k->xcrs.xcrs[i].value;
		v->xcrp[i] = &v->xcr[i];
	}
	v->st.n_xcrs = nxcrs;
	v->st.xcrs = v->xcrp;
}

static int vcpu_kvm_get(int fd, unsigned int id, struct vcpu_kvm_state *k,
			const uint32_t *msrs, unsigned int nr_msrs)
{
	int ret;

	k->id = id;
	k->msrs.hdr.nmsrs = nr_msrs;
	for (unsigned int i = 0; i < nr_msrs; i++)
		k->msrs.e[i].index = msrs[i];
	ret = vcpu_st_ioctl(fd, KVM_GET_REGS, &k->regs, "KVM_GET_REGS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_SREGS, &k->sregs, "KVM_GET_SREGS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_XSAVE, &k->xsave, "KVM_GET_XSAVE", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_XCRS, &k->xcrs, "KVM_GET_XCRS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_LAPIC, &k->lapic, "KVM_GET_LAPIC", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_VCPU_EVENTS, &k->events, "KVM_GET_VCPU_EVENTS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_MP_STATE, &k->mp, "KVM_GET_MP_STATE", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_GET_DEBUGREGS, &k->debugregs, "KVM_GET_DEBUGREGS", id);
	if (!ret && ioctl(fd, KVM_GET_MSRS, &k->msrs) != (int)nr_msrs) {
		log_err("vcpu %u: KVM_GET_MSRS read fewer MSRs than listed", id);
		ret = -EIO;
	}
	return ret;
}

int vcpu_state_pack(const struct vcpu_kvm_state *k, uint8_t **buf,
		    size_t *len)
{
	struct vcpu_proto *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->k = k;
	ferry__vmstate__vcpu_state__init(&v->st);
	v->st.id = k->id;
	regs_to_proto(v);
	sregs_to_proto(v);
	msrs_xcrs_to_proto(v);
	v->st.regs = &v->pregs;
	v->st.sregs = &v->psregs;
	v->st.xsave = (ProtobufCBinaryData){ sizeof(k->xsave), (uint8_t *)&k->xsave };
	v->st.lapic = (ProtobufCBinaryData){ sizeof(k->lapic), (uint8_t *)&k->lapic };
	v->st.events = (ProtobufCBinaryData){ sizeof(k->events), (uint8_t *)&k->events };
	v->st.debugregs = (ProtobufCBinaryData){ sizeof(k->debugregs), (uint8_t *)&k->debugregs };
	v->st.mp_state = k->mp.mp_state;
	*len = ferry__vmstate__vcpu_state__get_packed_size(&v->st);
	*buf = malloc(*len ? *len : 1);
	if (*buf)
		ferry__vmstate__vcpu_state__pack(&v->st, *buf);
	free(v);
	return *buf ? 0 : -ENOMEM;
}

int vcpu_state_save(int fd, unsigned int id, const uint32_t *msrs,
		    unsigned int nr_msrs, uint8_t **buf, size_t *len)
{
	struct vcpu_kvm_state *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	if (nr_msrs > VCPU_STATE_MAX_MSRS)
		nr_msrs = VCPU_STATE_MAX_MSRS;
	ret = vcpu_kvm_get(fd, id, k, msrs, nr_msrs);
	if (!ret)
		ret = vcpu_state_pack(k, buf, len);
	free(k);
	return ret;
}

/* Copies a KVM-ABI blob, which must have exactly the structure's size. */
static int blob_get(const ProtobufCBinaryData *b, void *dst, size_t size)
{
	if (b->len != size)
		return -EBADMSG;
	memcpy(dst, b->data, size);
	return 0;
}

static int vcpu_kvm_from_proto(const Ferry__Vmstate__VcpuState *st,
			       struct vcpu_kvm_state *v)
{
	int ret = regs_from_proto(st->regs, &v->regs);

	ret = ret ?: sregs_from_proto(st->sregs, &v->sregs);
	ret = ret ?: blob_get(&st->xsave, &v->xsave, sizeof(v->xsave));
	ret = ret ?: blob_get(&st->lapic, &v->lapic, sizeof(v->lapic));
	ret = ret ?: blob_get(&st->events, &v->events, sizeof(v->events));
	ret = ret ?: blob_get(&st->debugregs, &v->debugregs,
			      sizeof(v->debugregs));
	if (ret || st->n_msrs > VCPU_STATE_MAX_MSRS ||
	    st->n_xcrs > KVM_MAX_XCRS)
		return -EBADMSG;
	v->msrs.hdr.nmsrs = (uint32_t)st->n_msrs;
	for (size_t i = 0; i < st->n_msrs; i++)
		v->msrs.e[i] = (struct kvm_msr_entry){
			.index = st->msrs[i]->index, .data = st->msrs[i]->value };
	v->xcrs.nr_xcrs = (uint32_t)st->n_xcrs;
	for (size_t i = 0; i < st->n_xcrs; i++)
		v->xcrs.xcrs[i] = (struct kvm_xcr){ .xcr = st->xcrs[i]->xcr,
						    .value = st->xcrs[i]->value };
	v->mp.mp_state = st->mp_state;
	v->id = st->id;
	return 0;
}

#define MSR_IA32_TSC 0x10

int vcpu_state_host_tsc_native(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* MSRs one by one, so one the host refuses does not hide the rest. On PVM,
 * CPL3 runs rdtsc natively and never sees a TSC offset while CPL0 (emulated)
 * would: restoring IA32_TSC there would give the guest two clocks that
 * disagree. The guest keeps the host TSC instead and its kvmclock still
 * continues from the saved value (platform_clock_load). */
static void vcpu_put_msrs(int fd, unsigned int id,
			  const struct vcpu_kvm_state *v, int keep_host_tsc)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} one;
	unsigned int refused = 0;

	for (uint32_t i = 0; i < v->msrs.hdr.nmsrs; i++) {
		if (keep_host_tsc && v->msrs.e[i].index == MSR_IA32_TSC)
			continue;
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.e = v->msrs.e[i];
		if (ioctl(fd, KVM_SET_MSRS, &one) != 1) {
			refused++;
			log_debug("vcpu %u: host refused MSR 0x%x", id,
				  one.e.index);
		}
	}
	if (refused)
		log_warn("vcpu %u: host refused %u of %u MSRs", id, refused,
			 v->msrs.hdr.nmsrs);
}

int vcpu_state_put(int fd, struct vcpu_kvm_state *v, int keep_host_tsc)
{
	unsigned int id = v->id;
	int ret;

	ret = vcpu_st_ioctl(fd, KVM_SET_REGS, &v->regs, "KVM_SET_REGS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_XSAVE, &v->xsave, "KVM_SET_XSAVE", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_XCRS, &v->xcrs, "KVM_SET_XCRS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_SREGS, &v->sregs, "KVM_SET_SREGS", id);
	if (!ret)
		vcpu_put_msrs(fd, id, v, keep_host_tsc);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_MP_STATE, &v->mp, "KVM_SET_MP_STATE", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_LAPIC, &v->lapic, "KVM_SET_LAPIC", id);
	/* Ask KVM to take NMI and SIPI state from the record as well. */
	v->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
			   KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_VCPU_EVENTS, &v->events, "KVM_SET_VCPU_EVENTS", id);
	ret = ret ?: vcpu_st_ioctl(fd, KVM_SET_DEBUGREGS, &v->debugregs, "KVM_SET_DEBUGREGS", id);
	return ret;
}

int vcpu_state_unpack(const uint8_t *buf, size_t len,
		      struct vcpu_kvm_state *k)
{
	Ferry__Vmstate__VcpuState *st;
	int ret;

	st = ferry__vmstate__vcpu_state__unpack(NULL, len, buf);
	if (!st) {
		log_err("vcpu state record does not unpack");
		return -EBADMSG;
	}
	memset(k, 0, sizeof(*k));
	ret = vcpu_kvm_from_proto(st, k);
	if (ret)
		log_err("vcpu state record for vcpu %u is malformed", st->id);
	ferry__vmstate__vcpu_state__free_unpacked(st, NULL);
	return ret;
}
