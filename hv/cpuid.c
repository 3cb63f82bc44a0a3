/*
 * CPUID filtering. Topology is presented as one socket with one core per
 * vCPU and no SMT, so APIC id == vCPU index; the probe guest and Linux both
 * read their identity from here.
 */
#include <errno.h>
#include <stddef.h>

#include "hv/cpuid.h"

#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_MONITOR (1u << 3)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_7_EDX_ARCH_CAPABILITIES (1u << 29)
#define CPUID_80000001_ECX_SVM (1u << 2)

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t function,
				    uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != function)
			continue;
		if (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		    e->index == index)
			return e;
	}
	return NULL;
}

static unsigned int cpuid_order(unsigned int n)
{
	unsigned int bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

/* Leaves 0xb and 0x1f: level 0 is SMT (one thread), level 1 the cores. */
static void cpuid_topology_leaf(struct kvm_cpuid_entry2 *e,
				unsigned int vcpu_id, unsigned int nr_vcpus)
{
	e->edx = vcpu_id;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | 0;
		break;
	case 1:
		e->eax = cpuid_order(nr_vcpus);
		e->ebx = nr_vcpus;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void cpuid_filter_entry(struct kvm_cpuid_entry2 *e,
			       unsigned int vcpu_id, unsigned int nr_vcpus)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0xffff) | (nr_vcpus << 16) |
			 (vcpu_id << 24);
		e->ecx &= ~(CPUID_1_ECX_VMX | CPUID_1_ECX_MONITOR);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		e->edx |= CPUID_1_EDX_HTT;
		break;
	case 4:
		/* Cores per package (a 6-bit field); caches not shared. */
		e->eax = (e->eax & 0x3fff) |
			 ((nr_vcpus > 64 ? 63 : nr_vcpus - 1) << 26);
		break;
	case 5: /* MONITOR/MWAIT is hidden above. */
	case 0xa: /* No virtual PMU. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 7:
		if (e->index == 0)
			e->edx &= ~CPUID_7_EDX_ARCH_CAPABILITIES;
		break;
	case 0xb:
	case 0x1f:
		cpuid_topology_leaf(e, vcpu_id, nr_vcpus);
		break;
	case 0x80000001:
		e->ecx &= ~CPUID_80000001_ECX_SVM;
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~0xffu) | (nr_vcpus - 1);
		break;
	}
}

int cpuid_filter(struct kvm_cpuid2 *c, unsigned int vcpu_id,
		 unsigned int nr_vcpus)
{
	if (nr_vcpus == 0 || vcpu_id >= nr_vcpus || nr_vcpus > 255 ||
	    c->nent > CPUID_MAX_ENTRIES)
		return -EINVAL;
	for (uint32_t i = 0; i < c->nent; i++)
		cpuid_filter_entry(&c->entries[i], vcpu_id, nr_vcpus);
	return 0;
}
