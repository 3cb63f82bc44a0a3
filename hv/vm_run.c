/*
 * vCPU threads and the VM lifecycle: start, pause, resume, stop. A vCPU is
 * kicked out of KVM_RUN by setting kvm_run.immediate_exit and sending it
 * SIGUSR1 (an empty handler), which closes the race with a thread that is
 * about to enter the guest. Paused vCPUs park on vm->cond.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "hv/log.h"
#include "hv/vm_internal.h"

#define VM_KICK_SIGNAL SIGUSR1

static const char *const vm_state_names[] = {
	[VM_STATE_CREATED] = "created",
	[VM_STATE_RUNNING] = "running",
	[VM_STATE_PAUSED] = "paused",
	[VM_STATE_STOPPED] = "stopped",
};

const char *vm_state_name(enum vm_state s)
{
	return (unsigned int)s < 4 ? vm_state_names[s] : "unknown";
}

static void vm_kick_handler(int sig)
{
	(void)sig;
}

/* Caller holds vm->lock. */
static void vm_kick_all(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vm_vcpu *v = &vm->vcpus[i];

		if (!v->run)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->thread_started)
			pthread_kill(v->thread, VM_KICK_SIGNAL);
	}
}

/* Parks while paused. Returns true when the thread must end. */
static bool vm_vcpu_checkpoint(struct vm *vm, struct vm_vcpu *v)
{
	bool stop;

	pthread_mutex_lock(&vm->lock);
	while ((vm->pause_req || vm->hold_req) && !vm->stop_req) {
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
	}
	stop = vm->stop_req;
	if (!stop)
		v->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->lock);
	return stop;
}

static int vm_exit_io(struct vm *vm, struct vm_vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool is_write = r->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < r->io.count; i++) {
		if (!bus_access(&vm->pio, r->io.port, data, r->io.size,
				is_write))
			v->exits_unhandled++;
		data += r->io.size;
	}
	return 0;
}

static int vm_exit_mmio(struct vm *vm, struct vm_vcpu *v)
{
	struct kvm_run *r = v->run;

	if (r->mmio.len > sizeof(r->mmio.data))
		return -EINVAL;
	if (!bus_access(&vm->mmio, r->mmio.phys_addr, r->mmio.data,
			r->mmio.len, r->mmio.is_write))
		v->exits_unhandled++;
	return 0;
}

static void vm_log_fatal(struct vm_vcpu *v, const char *why)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		log_err("vcpu %u: %s at rip 0x%llx", v->id, why,
			(unsigned long long)regs.rip);
	else
		log_err("vcpu %u: %s", v->id, why);
}

/* Returns 0 to keep running, or -errno after a fatal guest or KVM error. */
static int vm_handle_exit(struct vm *vm, struct vm_vcpu *v)
{
	struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		return vm_exit_io(vm, v);
	case KVM_EXIT_MMIO:
		return vm_exit_mmio(vm, v);
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		vm_log_fatal(v, "guest shut down (triple fault)");
		return -EFAULT;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_log_fatal(v, "guest requested reset or power-off");
		return -ECANCELED;
	case KVM_EXIT_FAIL_ENTRY:
		vm_log_fatal(v, "KVM refused to enter the guest");
		return -EIO;
	case KVM_EXIT_INTERNAL_ERROR:
		log_err("vcpu %u: KVM internal error, suberror %u", v->id,
			r->internal.suberror);
		vm_log_fatal(v, "KVM internal error");
		return -EIO;
	default:
		log_err("vcpu %u: unhandled KVM exit %u", v->id,
			r->exit_reason);
		return -EIO;
	}
}

/*
 * A vCPU parks only after KVM_RUN returned -EINTR: KVM completes a pending
 * port or MMIO access before it honours immediate_exit, so the registers a
 * snapshot or migration saves are never in the middle of an instruction
 * (a UART write would otherwise be replayed after restore).
 */
static void *vm_vcpu_thread(void *arg)
{
	struct vm_vcpu *v = arg;
	struct vm *vm = v->vm;
	bool stop = vm_vcpu_checkpoint(vm, v);

	while (!stop) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN) {
				log_err("vcpu %u: KVM_RUN: %m", v->id);
				vm_request_stop(vm, 1);
			}
			stop = vm_vcpu_checkpoint(vm, v);
			continue;
		}
		if (vm_handle_exit(vm, v) < 0)
			vm_request_stop(vm, 1);
	}
	pthread_mutex_lock(&vm->lock);
	vm->threads--;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

static int vm_install_kick(void)
{
	struct sigaction sa = { .sa_handler = vm_kick_handler };

	sigemptyset(&sa.sa_mask);
	if (sigaction(VM_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vm_start(struct vm *vm, bool paused)
{
	int ret = vm_install_kick();

	if (ret)
		return ret;
	pthread_mutex_lock(&vm->lock);
	clock_gettime(CLOCK_MONOTONIC, &vm->started);
	vm->state = paused ? VM_STATE_PAUSED : VM_STATE_RUNNING;
	vm->pause_req = paused;
	for (unsigned int i = 0; i < vm->nr_vcpus; i++) {
		struct vm_vcpu *v = &vm->vcpus[i];

		ret = -pthread_create(&v->thread, NULL, vm_vcpu_thread, v);
		if (ret) {
			log_err("cannot start vcpu %u thread: %s", i,
				strerror(-ret));
			break;
		}
		v->thread_started = true;
		vm->threads++;
	}
	pthread_mutex_unlock(&vm->lock);
	if (ret)
		vm_request_stop(vm, 1);
	return ret;
}

/* Device pause/resume hooks (virtio-blk drains its requests there). */
static void vm_devices_hook(struct vm *vm, bool pause)
{
	for (unsigned int i = 0; i < vm->nr_devices; i++) {
		struct vm_device *d = &vm->devices[i];

		if (pause && d->pause)
			d->pause(d->opaque);
		else if (!pause && d->resume)
			d->resume(d->opaque);
	}
}

/* One pause or resume at a time: a second caller gets -EBUSY, so two
 * pausers (a snapshot and a migration, say) can never both believe they
 * own the pause, and device hooks never interleave. */
int vm_pause(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->transition) {
		pthread_mutex_unlock(&vm->lock);
		return -EBUSY;
	}
	if (vm->state != VM_STATE_RUNNING || vm->stop_req) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	vm->transition = true;
	vm->pause_req = true;
	vm_kick_all(vm);
	while (vm->parked < vm->threads && !vm->stop_req)
		pthread_cond_wait(&vm->cond, &vm->lock);
	if (vm->stop_req)
		ret = -ECANCELED;
	pthread_mutex_unlock(&vm->lock);
	if (!ret)
		vm_devices_hook(vm, true);
	pthread_mutex_lock(&vm->lock);
	if (!ret && !vm->stop_req)
		vm->state = VM_STATE_PAUSED;
	vm->transition = false;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_resume(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->transition) {
		ret = -EBUSY;
	} else if (vm->state != VM_STATE_PAUSED) {
		ret = -EINVAL;
	} else {
		vm->pause_req = false;
		vm->state = VM_STATE_RUNNING;
		vm_devices_hook(vm, false);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

void vm_request_stop(struct vm *vm, int status)
{
	uint64_t one = 1;

	pthread_mutex_lock(&vm->lock);
	if (!vm->stop_req) {
		vm->stop_req = true;
		vm->exit_status = status;
		vm->state = VM_STATE_STOPPED;
		if (write(vm->stop_efd, &one, sizeof(one)) < 0)
			log_warn("cannot signal VM stop: %m");
		vm_kick_all(vm);
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

#define VM_THROTTLE_PERIOD_NS 10000000L

static void vm_sleep_ns(long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Holds the vCPUs for pct% of each period until throttling is turned off
 * or the VM stops. */
static void *vm_throttle_thread(void *arg)
{
	struct vm *vm = arg;

	for (;;) {
		uint32_t pct;

		pthread_mutex_lock(&vm->lock);
		pct = vm->throttle_pct;
		if (!pct || vm->stop_req) {
			vm->hold_req = false;
			pthread_cond_broadcast(&vm->cond);
			pthread_mutex_unlock(&vm->lock);
			return NULL;
		}
		vm->hold_req = true;
		vm_kick_all(vm);
		pthread_mutex_unlock(&vm->lock);
		vm_sleep_ns(VM_THROTTLE_PERIOD_NS / 100 * pct);
		pthread_mutex_lock(&vm->lock);
		vm->hold_req = false;
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		vm_sleep_ns(VM_THROTTLE_PERIOD_NS / 100 * (100 - pct));
	}
}

int vm_set_throttle(struct vm *vm, uint32_t pct)
{
	bool start, join;
	int ret = 0;

	if (pct > 99)
		pct = 99;
	pthread_mutex_lock(&vm->lock);
	vm->throttle_pct = pct;
	start = pct && !vm->throttle_started;
	join = !pct && vm->throttle_started;
	if (start) {
		ret = -pthread_create(&vm->throttle_thread, NULL,
				      vm_throttle_thread, vm);
		vm->throttle_started = !ret;
	}
	if (join)
		vm->throttle_started = false;
	pthread_mutex_unlock(&vm->lock);
	if (join)
		pthread_join(vm->throttle_thread, NULL);
	if (ret)
		log_err("cannot start the vCPU throttle: %s", strerror(-ret));
	return ret;
}

void vm_serial_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	serial_input(vm->serial, buf, len);
}

int vm_stop_fd(const struct vm *vm)
{
	return vm->stop_efd;
}

int vm_exit_status(const struct vm *vm)
{
	return vm->exit_status;
}

void vm_get_status(struct vm *vm, struct vm_status *st)
{
	struct timespec now;

	pthread_mutex_lock(&vm->lock);
	clock_gettime(CLOCK_MONOTONIC, &now);
	st->state = vm->state;
	st->uptime_ns = vm->state == VM_STATE_CREATED ? 0 :
		(uint64_t)(now.tv_sec - vm->started.tv_sec) * 1000000000ULL +
		(uint64_t)(now.tv_nsec - vm->started.tv_nsec);
	pthread_mutex_unlock(&vm->lock);
	st->mem_size = vm->mem.size;
	st->nr_vcpus = vm->nr_vcpus;
	st->name = vm->name;
}

int vm_debug_flip(struct vm *vm, uint64_t gpa)
{
	uint8_t *p;
	int ret = 0;

	if (!vm->test_hooks)
		return -EPERM;
	pthread_mutex_lock(&vm->lock);
	p = guest_mem_ptr(&vm->mem, gpa, 1);
	if (vm->state != VM_STATE_PAUSED)
		ret = -EBUSY;
	else if (!p)
		ret = -EFAULT;
	else
		*p ^= 0xff;
	pthread_mutex_unlock(&vm->lock);
	if (!ret)
		log_info("test hook: flipped byte at gpa 0x%llx",
			 (unsigned long long)gpa);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->vcpus)
		vm_request_stop(vm, vm->exit_status);
	if (vm->throttle_started)
		vm_set_throttle(vm, 0);
	for (unsigned int i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
	vm_release(vm);
}
