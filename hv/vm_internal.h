/*
 * struct vm, shared by vm.c (construction) and vm_run.c (vCPU threads,
 * pause/resume/stop). Nothing outside those two files includes this.
 */
#ifndef HV_VM_INTERNAL_H
#define HV_VM_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "hv/boot.h"
#include "hv/bus.h"
#include "hv/dirty_log.h"
#include "hv/guest_mem.h"
#include "hv/serial.h"
#include "hv/vcpu_state.h"
#include "hv/vm.h"

#define DEBUG_EXIT_PORT 0xf4

struct kvm_run;
struct kvm_cpuid2;

/* A device's state hooks, so snapshot and migration reach every device the
 * same way. Buffers from save() are malloc'd; the caller frees them. */
struct vm_device {
	const char *name;
	void *opaque;
	int (*save)(void *opaque, uint8_t **buf, size_t *len);
	int (*restore)(void *opaque, const uint8_t *buf, size_t len);
	/* Optional: called once every vCPU is parked (devices finish
	 * in-flight I/O and stop touching guest memory) and before vCPUs
	 * run again. */
	void (*pause)(void *opaque);
	void (*resume)(void *opaque);
};

#define VM_MAX_DEVICES 16

struct vm_vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	uint64_t exits_unhandled;
};

struct vm {
	char *name;
	bool test_hooks;
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct guest_mem mem;
	struct dirty_log *dirty; /* devices mark guest writes here */
	struct virtio_devs *virtio; /* hv/virtio_vm.c */
	struct boot_setup boot;
	struct bus pio;
	struct bus mmio;
	struct serial *serial;
	unsigned int nr_devices;
	struct vm_device devices[VM_MAX_DEVICES];
	char *cmdline;
	char *kernel_path;
	struct kvm_cpuid2 *cpuid; /* as shown to the guest, before topology */
	int nr_msrs;		  /* saveable MSRs, found at the first save */
	uint32_t msrs[VCPU_STATE_MAX_MSRS];
	unsigned int nr_vcpus;
	struct vm_vcpu *vcpus;

	/* Lifecycle, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_state state;
	bool pause_req;
	bool transition; /* a vm_pause() is under way */
	bool hold_req;	/* throttle: parked without becoming "paused" */
	bool stop_req;
	unsigned int parked;  /* vCPU threads waiting in vm_vcpu_park() */
	unsigned int threads; /* vCPU threads still running */
	int exit_status;
	uint32_t throttle_pct;
	bool throttle_started;
	pthread_t throttle_thread;
	int stop_efd;
	struct timespec started;
};

/* Builds a VM; with @cpuid (from a stream's spec) instead of the host's,
 * and without loading a kernel when cfg->kernel is NULL. */
int vm_build(const struct vm_config *cfg, const struct kvm_cpuid2 *cpuid,
	     struct vm **out);

/* Frees everything vm_create() built; vCPU threads must be gone. */
void vm_release(struct vm *vm);

#endif
