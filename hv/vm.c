/*
 * VM construction and teardown: KVM VM, in-kernel irqchip and PIT, guest
 * RAM as KVM memory slots, the kernel, vCPUs and the platform devices (COM1
 * and the debug-exit port). Threads and lifecycle live in vm_run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "hv/cpuid.h"
#include "hv/log.h"
#include "hv/vcpu.h"
#include "hv/vm_internal.h"

/* Addresses KVM needs on VMX hosts for real-mode emulation, as QEMU sets. */
#define KVM_TSS_GPA 0xfffbd000ULL
#define KVM_IDENTITY_MAP_GPA 0xfffbc000ULL

static int vm_open_kvm(struct vm *vm)
{
	int ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		log_err("cannot open /dev/kvm: %m");
		return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_err("/dev/kvm speaks an unsupported API version");
		return -ENOTSUP;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VM: %m");
		return ret;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ret <= 0) {
		log_err("KVM_GET_VCPU_MMAP_SIZE failed");
		return -ENOTSUP;
	}
	vm->run_size = (size_t)ret;
	return 0;
}

static int vm_ioctl(struct vm *vm, unsigned long req, void *arg,
		    const char *what)
{
	if (ioctl(vm->vm_fd, req, arg) < 0) {
		int ret = -errno;

		log_err("%s: %m", what);
		return ret;
	}
	return 0;
}

static int vm_setup_platform(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDENTITY_MAP_GPA;
	int ret;

	/* Both are VMX-only needs; other hosts reject them harmlessly. */
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA);
	ret = vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	if (!ret)
		ret = vm_ioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	return ret;
}

static int vm_setup_memory(struct vm *vm, uint64_t size)
{
	int ret = guest_mem_init(&vm->mem, size);

	for (unsigned int i = 0; !ret && i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)(vm->mem.host + r->offset),
		};

		ret = vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot,
			       "KVM_SET_USER_MEMORY_REGION");
	}
	return ret;
}

static int vm_read_file(const char *path, const char *what, uint8_t **buf,
			size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	*buf = NULL;
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		log_err("cannot read %s %s: %m", what, path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		log_err("%s %s is not a regular non-empty file", what, path);
		ret = -EINVAL;
		goto out;
	}
	*len = (size_t)st.st_size;
	*buf = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*buf == MAP_FAILED) {
		ret = -errno;
		*buf = NULL;
		log_err("cannot map %s %s: %m", what, path);
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

struct vm_images {
	uint8_t *kernel, *initrd;
	size_t klen, ilen;
};

/* Reads kernel and initrd first, so a bad path is reported before any
 * KVM error. */
static int vm_images_read(struct vm_images *im, const struct vm_config *cfg)
{
	int ret = vm_read_file(cfg->kernel, "kernel", &im->kernel, &im->klen);

	if (!ret && cfg->initrd)
		ret = vm_read_file(cfg->initrd, "initrd", &im->initrd,
				   &im->ilen);
	return ret;
}

static void vm_images_release(struct vm_images *im)
{
	if (im->kernel)
		munmap(im->kernel, im->klen);
	if (im->initrd)
		munmap(im->initrd, im->ilen);
}

static int vm_check_vcpus(struct vm *vm, unsigned int n)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4;
	if (max > 255)
		max = 255; /* xAPIC ids are 8 bits */
	if (n == 0 || n > (unsigned int)max) {
		log_err("--cpus %u: this host allows 1 to %d vCPUs", n, max);
		return -EINVAL;
	}
	return 0;
}

static int vm_get_cpuid(struct vm *vm, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES *
						 sizeof(c->entries[0]));

	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		int ret = -errno;

		log_err("KVM_GET_SUPPORTED_CPUID: %m");
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

static int vm_create_vcpu(struct vm *vm, unsigned int id,
			  const struct kvm_cpuid2 *host_cpuid,
			  struct kvm_cpuid2 *scratch)
{
	struct vm_vcpu *v = &vm->vcpus[id];
	size_t sz = sizeof(*host_cpuid) +
		    host_cpuid->nent * sizeof(host_cpuid->entries[0]);

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		int ret = -errno;

		log_err("KVM_CREATE_VCPU %u: %m", id);
		return ret;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_err("cannot map vcpu %u run area: %m", id);
		return -ENOMEM;
	}
	memcpy(scratch, host_cpuid, sz);
	cpuid_filter(scratch, id, vm->nr_vcpus);
	return vcpu_setup(v->fd, id, &vm->boot, scratch);
}

static int vm_copy_cpuid(const struct kvm_cpuid2 *src, struct kvm_cpuid2 **out)
{
	size_t sz = sizeof(*src) + src->nent * sizeof(src->entries[0]);

	if (src->nent > CPUID_MAX_ENTRIES)
		return -EINVAL;
	*out = calloc(1, sizeof(*src) + CPUID_MAX_ENTRIES *
				       sizeof(src->entries[0]));
	if (!*out)
		return -ENOMEM;
	memcpy(*out, src, sz);
	return 0;
}

static int vm_create_vcpus(struct vm *vm, const struct kvm_cpuid2 *spec)
{
	struct kvm_cpuid2 *scratch = NULL;
	int ret = spec ? vm_copy_cpuid(spec, &vm->cpuid)
		       : vm_get_cpuid(vm, &vm->cpuid);

	if (!ret)
		ret = vm_get_cpuid(vm, &scratch);
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!ret && !vm->vcpus)
		ret = -ENOMEM;
	for (unsigned int i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vm_create_vcpu(vm, i, vm->cpuid, scratch);
	free(scratch);
	return ret;
}

static void vm_serial_irq(void *opaque, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = SERIAL_COM1_IRQ, .level = level };

	ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq);
}

static void vm_debug_exit_io(void *opaque, uint64_t offset, uint8_t *data,
			     unsigned int size, bool is_write)
{
	uint32_t v = 0;

	if (!is_write || offset != 0) {
		memset(data, 0, size);
		return;
	}
	memcpy(&v, data, size < 4 ? size : 4);
	vm_request_stop(opaque, (int)(v & 0xff));
}

static int vm_serial_save(void *opaque, uint8_t **buf, size_t *len)
{
	return serial_save(opaque, buf, len);
}

static int vm_serial_restore(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_restore(opaque, buf, len);
}

static int vm_setup_devices(struct vm *vm, const struct vm_config *cfg)
{
	int ret = serial_create(cfg->serial_out_fd, vm_serial_irq, vm,
				&vm->serial);

	if (!ret)
		ret = bus_register(&vm->pio, SERIAL_COM1_BASE, SERIAL_NR_REGS,
				   serial_io, vm->serial);
	if (!ret)
		ret = bus_register(&vm->pio, DEBUG_EXIT_PORT, 4,
				   vm_debug_exit_io, vm);
	if (!ret)
		vm->devices[vm->nr_devices++] = (struct vm_device){
			"serial0", vm->serial, vm_serial_save,
			vm_serial_restore, NULL, NULL };
	if (!ret)
		ret = virtio_vm_setup(vm, cfg);
	return ret;
}

static int vm_init_lifecycle(struct vm *vm, const struct vm_config *cfg)
{
	vm->name = strdup(cfg->name ? cfg->name : "ferry");
	vm->cmdline = strdup(cfg->cmdline ? cfg->cmdline : "");
	vm->kernel_path = strdup(cfg->kernel ? cfg->kernel : "");
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!vm->name || !vm->cmdline || !vm->kernel_path || vm->stop_efd < 0)
		return -ENOMEM;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->state = VM_STATE_CREATED;
	vm->test_hooks = cfg->test_hooks;
	vm->nr_vcpus = cfg->nr_vcpus;
	return 0;
}

int vm_create(const struct vm_config *cfg, struct vm **out)
{
	return vm_build(cfg, NULL, out);
}

int vm_build(const struct vm_config *cfg, const struct kvm_cpuid2 *cpuid,
	     struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct vm_images im = { 0 };
	char *cmdline = NULL;
	int ret;

	if (!vm)
		return -ENOMEM;
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->mem.fd = -1;
	ret = vm_init_lifecycle(vm, cfg);
	if (!ret && cfg->kernel)
		ret = vm_images_read(&im, cfg);
	if (!ret)
		ret = vm_open_kvm(vm);
	if (!ret)
		ret = vm_check_vcpus(vm, cfg->nr_vcpus);
	if (!ret)
		ret = vm_setup_platform(vm);
	if (!ret)
		ret = vm_setup_memory(vm, cfg->mem_size);
	if (!ret)
		ret = dirty_log_create(vm->vm_fd, &vm->mem, &vm->dirty);
	if (!ret && cfg->kernel && !(cmdline = virtio_vm_cmdline(cfg)))
		ret = -ENOMEM; /* the guest learns of virtio devices here */
	if (!ret && cfg->kernel)
		ret = boot_load(&vm->mem, im.kernel, im.klen, im.initrd,
				im.ilen, cmdline, &vm->boot);
	free(cmdline);
	vm_images_release(&im);
	if (!ret)
		ret = vm_create_vcpus(vm, cpuid);
	if (!ret)
		ret = vm_setup_devices(vm, cfg);
	if (ret) {
		vm_destroy(vm);
		return ret;
	}
	*out = vm;
	return 0;
}

void vm_release(struct vm *vm)
{
	for (unsigned int i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	free(vm->vcpus);
	virtio_vm_release(vm); /* stops device threads before RAM goes */
	serial_destroy(vm->serial);
	dirty_log_destroy(vm->dirty);
	guest_mem_fini(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	free(vm->cpuid);
	free(vm->cmdline);
	free(vm->kernel_path);
	free(vm->name);
	free(vm);
}
