/*
 * hv's virtio devices as the VM sees them: the options `hv run --disk` and
 * `--net` give (kept in struct vm_config), the kernel command line that
 * describes the devices (virtio_mmio.device=<size>@<base>:<irq>, read by
 * Linux and by the probe guest alike), and the glue that builds them into
 * a struct vm (hv/virtio_vm.c). Device i (disks first, then NICs) sits at
 * VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE on IOAPIC GSI
 * VIRTIO_GSI_BASE + i, so the layout follows from the options alone.
 */
#ifndef HV_VIRTIO_H
#define HV_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/blk.h"

#define VIRTIO_MMIO_BASE 0xd0000000ULL /* in the PCI hole: never RAM */
#define VIRTIO_MMIO_STRIDE 0x1000ULL
#define VIRTIO_GSI_BASE 5 /* GSIs 5..15 are free; COM1 uses 4 */
#define VIRTIO_MAX_DEVS 11
#define VIRTIO_MAX_DISKS 8
#define VIRTIO_MAX_NICS 3
#define VIRTIO_IFNAMSIZ 16

/* What `--net tap=IFNAME[,mac=XX:XX:XX:XX:XX:XX]` says. */
struct virtio_net_opts {
	char ifname[VIRTIO_IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
};

/* Parses the --net value. Returns 0 or -EINVAL after logging. */
int virtio_net_opts_parse(const char *s, struct virtio_net_opts *o);

struct vm;
struct vm_config;

/* @cfg->cmdline plus one virtio_mmio.device= per device; malloc'd (caller
 * frees), NULL when out of memory. */
char *virtio_vm_cmdline(const struct vm_config *cfg);
/* Creates every device of @cfg in @vm: MMIO range, notify ioeventfd,
 * interrupt line, state hooks. Returns 0 or -errno, logged. */
int virtio_vm_setup(struct vm *vm, const struct vm_config *cfg);
/* Stops and frees the devices (their I/O drained). vCPUs must be gone. */
void virtio_vm_release(struct vm *vm);

#endif
