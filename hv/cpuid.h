/*
 * CPUID for a vCPU: what KVM supports, filtered to what the guest may
 * rely on. Pure logic on a struct kvm_cpuid2 (no ioctls), so unit tests
 * feed it tables. Private to hv.
 */
#ifndef HV_CPUID_H
#define HV_CPUID_H

#include <stdint.h>
#include <linux/kvm.h>

#define CPUID_MAX_ENTRIES 256

/* Rewrites @c in place for vCPU @vcpu_id of @nr_vcpus: APIC ids and
 * topology (leaves 1, 4, 0xb, 0x1f, 0x80000008), the hypervisor bit, and
 * drops what the host cannot honour for a guest (IA32_ARCH_CAPABILITIES,
 * nested VMX/SVM, the PMU, MONITOR/MWAIT). Returns 0 or -EINVAL. */
int cpuid_filter(struct kvm_cpuid2 *c, unsigned int vcpu_id,
		 unsigned int nr_vcpus);

/* Entry for @function/@index, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function,
				    uint32_t index);

#endif
