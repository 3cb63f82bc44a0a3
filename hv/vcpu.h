/*
 * One vCPU's architectural setup at boot: CPUID, MSRs, FPU, LAPIC and the
 * registers for the boot protocol. Runs on the thread that creates the VM,
 * before any vCPU thread exists. Private to hv.
 */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include "hv/boot.h"

struct kvm_cpuid2;

/* Prepares vCPU @id (fd @fd) of a VM booted as @boot. The boot vCPU starts
 * at the kernel entry; others start at the kernel's AP entry in long mode
 * when it has one, otherwise they wait for INIT/SIPI. @cpuid is already
 * filtered for this vCPU. Returns 0 or -errno (logged). */
int vcpu_setup(int fd, unsigned int id, const struct boot_setup *boot,
	       struct kvm_cpuid2 *cpuid);

#endif
