/*
 * Save and restore of one vCPU's architectural state as a packed
 * ferry.vmstate.VcpuState (proto/vmstate.proto). Call only while the vCPU
 * is outside KVM_RUN (VM paused or not yet started); any thread.
 */
#ifndef HV_VCPU_STATE_H
#define HV_VCPU_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#define VCPU_STATE_MAX_MSRS 256

/* One vCPU's state as KVM hands it out. */
struct vcpu_kvm_state {
	uint32_t id;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_mp_state mp;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[VCPU_STATE_MAX_MSRS];
	} msrs;
};

/* Pure conversion to and from a packed VcpuState (no ioctls). pack returns
 * 0 or -ENOMEM with a malloc'd buffer; unpack returns 0 or -EBADMSG. */
int vcpu_state_pack(const struct vcpu_kvm_state *k, uint8_t **buf,
		    size_t *len);
int vcpu_state_unpack(const uint8_t *buf, size_t len,
		      struct vcpu_kvm_state *k);

/* Which MSRs this host can save: KVM_GET_MSR_INDEX_LIST filtered by what
 * vCPU @vcpu_fd can actually read. @idx has room for VCPU_STATE_MAX_MSRS.
 * Returns the count or -errno. */
int vcpu_state_msr_list(int kvm_fd, int vcpu_fd, uint32_t *idx);

/* Packs vCPU @id's state into a malloc'd buffer the caller frees.
 * Returns 0 or -errno (logged). */
int vcpu_state_save(int fd, unsigned int id, const uint32_t *msrs,
		    unsigned int nr_msrs, uint8_t **buf, size_t *len);

/* Applies unpacked state to vCPU fd @fd. With @keep_host_tsc, IA32_TSC is
 * not restored (see vcpu_state.c). Returns 0 or -errno from KVM. */
int vcpu_state_put(int fd, struct vcpu_kvm_state *k, int keep_host_tsc);

/* True on hosts whose guests read the TSC natively at CPL3 (PVM), where a
 * restored TSC offset would reach kernel code but not user code. */
int vcpu_state_host_tsc_native(void);

#endif
