/*
 * Builds hv's virtio devices into a struct vm: one MMIO window and one
 * IOAPIC line each (hv/virtio.h gives the layout), the QueueNotify register
 * as a KVM ioeventfd so a guest's notify costs no exit to hv, interrupt
 * levels through KVM_IRQ_LINE, guest writes into the dirty log, and the
 * state/pause hooks in vm->devices[]. Owns struct virtio_devs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "hv/log.h"
#include "hv/virtio.h"
#include "hv/virtio_blk.h"
#include "hv/virtio_net.h"
#include "hv/vm_internal.h"

struct virtio_slot {
	char name[24];
	struct vm *vm;
	uint32_t gsi;
	uint64_t base;
	struct virtio_blk *blk;
	struct virtio_net *net;
};

struct virtio_devs {
	unsigned int n;
	struct virtio_slot slot[VIRTIO_MAX_DEVS];
};

char *virtio_vm_cmdline(const struct vm_config *cfg)
{
	unsigned int n = cfg->nr_disks + cfg->nr_nics;
	size_t len = (cfg->cmdline ? strlen(cfg->cmdline) : 0) + 64 * n + 1;
	char *s = malloc(len);
	size_t off;

	if (!s)
		return NULL;
	off = (size_t)snprintf(s, len, "%s", cfg->cmdline ? cfg->cmdline : "");
	for (unsigned int i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(s + off, len - off,
			"%svirtio_mmio.device=0x%x@0x%llx:%u", off ? " " : "",
			VIRTIO_MMIO_SIZE,
			VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE,
			VIRTIO_GSI_BASE + i);
	return s;
}

static void virtio_vm_mark(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm *vm = ctx;

	if (vm->dirty)
		dirty_log_mark(vm->dirty, gpa, len);
}

static void virtio_vm_irq(void *opaque, int level)
{
	struct virtio_slot *s = opaque;
	struct kvm_irq_level irq = { .irq = s->gsi, .level = level };

	if (ioctl(s->vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("%s: KVM_IRQ_LINE %u: %m", s->name, s->gsi);
}

/* Where KVM cannot take the notify write itself, the MMIO exit handler
 * signals the same eventfd; only speed differs. */
static void virtio_vm_ioeventfd(struct virtio_slot *s, struct virtio_mmio *m)
{
	struct kvm_ioeventfd io = {
		.addr = s->base + VIRTIO_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = m->notify_efd,
	};

	if (ioctl(s->vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		log_info("%s: no ioeventfd for queue notify (%m); notifies "
			 "exit to hv", s->name);
}

static int virtio_vm_add(struct vm *vm, struct virtio_slot *s,
			 struct virtio_mmio *m, const struct vm_device *dev)
{
	int ret = bus_register(&vm->mmio, s->base, VIRTIO_MMIO_SIZE,
			       virtio_mmio_io, m);

	if (ret) {
		log_err("%s: cannot place its registers at 0x%llx: %s",
			s->name, (unsigned long long)s->base, strerror(-ret));
		return ret;
	}
	if (vm->nr_devices == VM_MAX_DEVICES) {
		log_err("%s: too many devices", s->name);
		return -ENOSPC;
	}
	virtio_vm_ioeventfd(s, m);
	vm->devices[vm->nr_devices++] = *dev;
	return 0;
}

static struct virtio_dev_env virtio_vm_env(struct vm *vm,
					   struct virtio_slot *s)
{
	return (struct virtio_dev_env){
		.name = s->name, .mem = &vm->mem, .mark = virtio_vm_mark,
		.mark_ctx = vm, .irq = virtio_vm_irq, .irq_opaque = s };
}

static int virtio_vm_add_disk(struct vm *vm, struct virtio_slot *s,
			      const struct blk_opts *o, unsigned int i)
{
	struct virtio_dev_env env;
	int ret;

	snprintf(s->name, sizeof(s->name), "virtio-blk%u", i);
	env = virtio_vm_env(vm, s);
	ret = virtio_blk_create(o, &env, &s->blk);
	if (ret)
		return ret;
	return virtio_vm_add(vm, s, virtio_blk_mmio(s->blk),
		&(struct vm_device){ s->name, s->blk, virtio_blk_save,
				     virtio_blk_restore, virtio_blk_pause,
				     virtio_blk_resume });
}

static int virtio_vm_add_nic(struct vm *vm, struct virtio_slot *s,
			     const struct virtio_net_opts *o, unsigned int i)
{
	struct virtio_dev_env env;
	int ret;

	snprintf(s->name, sizeof(s->name), "virtio-net%u", i);
	env = virtio_vm_env(vm, s);
	ret = virtio_net_create(o, i, &env, &s->net);
	if (ret)
		return ret;
	return virtio_vm_add(vm, s, virtio_net_mmio(s->net),
		&(struct vm_device){ s->name, s->net, virtio_net_save,
				     virtio_net_restore, virtio_net_pause,
				     virtio_net_resume });
}

int virtio_vm_setup(struct vm *vm, const struct vm_config *cfg)
{
	unsigned int n = cfg->nr_disks + cfg->nr_nics;
	int ret = 0;

	if (!n)
		return 0;
	if (cfg->nr_disks > VIRTIO_MAX_DISKS || cfg->nr_nics > VIRTIO_MAX_NICS
	    || n > VIRTIO_MAX_DEVS) {
		log_err("too many virtio devices (%u disks, %u NICs)",
			cfg->nr_disks, cfg->nr_nics);
		return -EINVAL;
	}
	vm->virtio = calloc(1, sizeof(*vm->virtio));
	if (!vm->virtio)
		return -ENOMEM;
	for (unsigned int i = 0; !ret && i < n; i++) {
		struct virtio_slot *s = &vm->virtio->slot[i];

		s->vm = vm;
		s->gsi = VIRTIO_GSI_BASE + i;
		s->base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE;
		vm->virtio->n++;
		ret = i < cfg->nr_disks
			? virtio_vm_add_disk(vm, s, &cfg->disks[i], i)
			: virtio_vm_add_nic(vm, s, &cfg->nics[i - cfg->nr_disks],
					    i - cfg->nr_disks);
	}
	return ret;
}

void virtio_vm_release(struct vm *vm)
{
	if (!vm->virtio)
		return;
	for (unsigned int i = 0; i < vm->virtio->n; i++) {
		virtio_blk_destroy(vm->virtio->slot[i].blk);
		virtio_net_destroy(vm->virtio->slot[i].net);
	}
	free(vm->virtio);
	vm->virtio = NULL;
}
