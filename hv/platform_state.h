/*
 * Save and restore of the in-kernel platform: PIC master and slave, IOAPIC,
 * PIT and kvmclock, as a packed ferry.vmstate.PlatformState. Call while no
 * vCPU runs. Private to hv.
 */
#ifndef HV_PLATFORM_STATE_H
#define HV_PLATFORM_STATE_H

#include <stddef.h>
#include <stdint.h>

/* Packs into a malloc'd buffer the caller frees. Returns 0 or -errno. */
int platform_state_save(int vm_fd, uint8_t **buf, size_t *len);
/* Irqchip and PIT. Returns 0, -EBADMSG or -errno from KVM. */
int platform_state_load(int vm_fd, const uint8_t *buf, size_t len);
/* kvmclock, separately: it must be set after the vCPUs' MSRs so the guest's
 * clock continues from the saved value. */
int platform_clock_load(int vm_fd, const uint8_t *buf, size_t len);

#endif
