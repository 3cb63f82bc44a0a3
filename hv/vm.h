/*
 * The public face of hv's virtual machine: create from a config, run its
 * vCPUs (one thread each), pause/resume, query, stop. Opaque; no KVM types
 * here. All functions are safe to call from the main (control) thread while
 * vCPU threads run.
 */
#ifndef HV_VM_H
#define HV_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/virtio.h"

struct vm;
struct mig_writer;
struct mig_reader;
struct mig_record;
struct mig_mem;
struct vm_loader;

struct vm_config {
	const char *name;
	const char *kernel;
	const char *initrd;  /* may be NULL */
	const char *cmdline; /* may be NULL */
	uint64_t mem_size;
	unsigned int nr_vcpus;
	int serial_out_fd; /* -1: discard */
	int serial_in_fd;  /* -1: no input */
	bool test_hooks;   /* enables vm_debug_flip() */
	unsigned int nr_disks; /* virtio-blk, hv/virtio.h */
	struct blk_opts disks[VIRTIO_MAX_DISKS];
	unsigned int nr_nics;  /* virtio-net */
	struct virtio_net_opts nics[VIRTIO_MAX_NICS];
};

enum vm_state {
	VM_STATE_CREATED,
	VM_STATE_RUNNING,
	VM_STATE_PAUSED,
	VM_STATE_STOPPED,
};

struct vm_status {
	enum vm_state state;
	uint64_t uptime_ns;
	uint64_t mem_size;
	unsigned int nr_vcpus;
	const char *name;
};

/* Builds the VM (KVM VM, RAM, devices, kernel loaded, vCPUs set up) without
 * running it. Returns 0 or -errno; the reason has been logged. */
int vm_create(const struct vm_config *cfg, struct vm **out);
/* Stops and joins vCPU threads, frees everything. NULL is a no-op. */
void vm_destroy(struct vm *vm);

/* Starts one thread per vCPU; with @paused they park at once and the VM is
 * paused until vm_resume(). */
int vm_start(struct vm *vm, bool paused);
/* Returns once every vCPU is outside the guest (0), or -EINVAL when the VM
 * is not running. */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);

/* Slows the guest for migration's auto-converge: vCPUs are held outside
 * the guest for @pct percent of every 10 ms (0 turns it off). Returns 0 or
 * -errno. */
int vm_set_throttle(struct vm *vm, uint32_t pct);

/* Asks the VM to stop with @status as hv's exit status (SIGTERM, quit). */
void vm_request_stop(struct vm *vm, int status);
/* An fd that becomes readable once the VM has stopped for any reason (guest
 * exit through the debug port, a fatal exit, vm_request_stop()). */
int vm_stop_fd(const struct vm *vm);
/* hv's exit status once stopped: the guest's debug-exit value, or 1 after a
 * fatal VM error. */
int vm_exit_status(const struct vm *vm);

/* Feeds host console input to the guest's serial port. */
void vm_serial_input(struct vm *vm, const uint8_t *buf, size_t len);

void vm_get_status(struct vm *vm, struct vm_status *st);
const char *vm_state_name(enum vm_state s);

/* Test hook (only with cfg.test_hooks, only while paused): XORs the byte at
 * @gpa with 0xff. Returns 0, -EPERM (hooks off), -EBUSY (not paused) or
 * -EFAULT (not RAM). */
int vm_debug_flip(struct vm *vm, uint64_t gpa);

/*
 * Whole-VM state (hv/vm_state.c): the one API that snapshots, migration and
 * replication use. Records follow migrate/STREAM.md.
 */
struct vm_save_stats {
	uint64_t pages;	     /* page frames examined */
	uint64_t bytes;	     /* stream bytes written */
};

/* MIG_REC_SPEC: what the VM was built from. */
int vm_save_spec(struct vm *vm, struct mig_writer *w);
/* Every guest page that the memfd holds (holes are zero and are skipped;
 * a reader starts from zeroed memory). */
int vm_save_memory(struct vm *vm, struct mig_writer *w,
		   struct vm_save_stats *st);
/* Platform, every vCPU and every device. The VM must be paused. */
int vm_save_state(struct vm *vm, struct mig_writer *w);

/* Guest RAM as the stream layer reaches it. */
void vm_get_mig_mem(struct vm *vm, struct mig_mem *out);
/* Calls @fn for each stretch of guest pages the memfd holds (others are
 * zero). Returns the first nonzero value @fn returned. */
int vm_for_each_populated(struct vm *vm,
			  int (*fn)(void *arg, uint64_t first_pfn, uint64_t n),
			  void *arg);

/* Builds a VM, ready for state, from a SPEC record checked against @cfg
 * (nonzero mem_size / nr_vcpus must match). Returns 0 or -errno, logged. */
int vm_create_from_spec(const struct vm_config *cfg,
			const struct mig_record *spec, struct vm **out);
/* Applies a stream's records after SPEC, one at a time: pages, platform,
 * vCPUs, devices; END only once the state is whole. */
int vm_loader_create(struct vm *vm, struct vm_loader **out);
/* Returns 1 once END was accepted, 0 to go on, or -errno (logged). */
int vm_loader_record(struct vm_loader *ld, const struct mig_record *rec);
void vm_loader_destroy(struct vm_loader *ld);

/* Builds a VM from a stream: SPEC first (checked against @cfg: a nonzero
 * mem_size or nr_vcpus must match it), then pages and state up to END.
 * @cfg->kernel is ignored. The VM is ready for vm_start(). Returns 0 or
 * -errno with the reason logged (-EINVAL for a spec mismatch, -EBADMSG or
 * -EPIPE for a bad stream). */
int vm_create_from_stream(const struct vm_config *cfg, struct mig_reader *r,
			  struct vm **out);

#endif
