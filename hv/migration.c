/*
 * Live migration glue: struct vm behind the engine's mig_source (dirty log,
 * memory, pause/resume, throttle, state) and mig_sink (build from SPEC,
 * load state, start). The outgoing side runs on its own thread; its status
 * is read under m->lock by the control thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/dirty_log.h"
#include "hv/log.h"
#include "hv/migration.h"
#include "hv/vm.h"
#include "hv/vm_internal.h"

struct migration {
	struct vm *vm;
	char *uri;
	struct mig_options opt;
	struct mig_source src;
	pthread_t thread;
	pthread_mutex_t lock;
	struct mig_status st;
	int done_fd;
};

static const char *const phase_names[] = {
	[MIG_PHASE_NONE] = "none",	     [MIG_PHASE_SETUP] = "setup",
	[MIG_PHASE_PRECOPY] = "pre-copy",    [MIG_PHASE_STOP_COPY] = "stop-and-copy",
	[MIG_PHASE_HANDSHAKE] = "handshake", [MIG_PHASE_COMPLETED] = "completed",
	[MIG_PHASE_FAILED] = "failed",
};

const char *migration_phase_name(enum mig_phase ph)
{
	return (unsigned int)ph <= MIG_PHASE_FAILED ? phase_names[ph] : "unknown";
}

/* ---- mig_source on a struct vm ---------------------------------------- */

static int src_dirty_start(void *opaque)
{
	return dirty_log_start(((struct vm *)opaque)->dirty);
}

static void src_dirty_stop(void *opaque)
{
	dirty_log_stop(((struct vm *)opaque)->dirty);
}

static int src_dirty_sync(void *opaque, uint64_t *bitmap)
{
	return dirty_log_sync(((struct vm *)opaque)->dirty, bitmap);
}

static int src_dirty_clear(void *opaque, const uint64_t *bitmap,
			   uint64_t first, uint64_t n)
{
	return dirty_log_clear(((struct vm *)opaque)->dirty, bitmap, first, n);
}

static int src_populated(void *opaque,
			 int (*fn)(void *arg, uint64_t first_pfn, uint64_t n),
			 void *arg)
{
	return vm_for_each_populated(opaque, fn, arg);
}

static int src_pause(void *opaque)
{
	return vm_pause(opaque);
}

static int src_resume(void *opaque)
{
	return vm_resume(opaque);
}

static int src_throttle(void *opaque, uint32_t pct)
{
	return vm_set_throttle(opaque, pct);
}

static int src_save_spec(void *opaque, struct mig_writer *w)
{
	return vm_save_spec(opaque, w);
}

static int src_save_state(void *opaque, struct mig_writer *w)
{
	return vm_save_state(opaque, w);
}

static void mig_lock(void *arg)
{
	pthread_mutex_lock(&((struct migration *)arg)->lock);
}

static void mig_unlock(void *arg)
{
	pthread_mutex_unlock(&((struct migration *)arg)->lock);
}

static void *migration_thread(void *arg)
{
	struct migration *m = arg;
	uint64_t one = 1;
	int ret;

	ret = mig_source_run(&m->src, m->uri, &m->opt, &m->st, mig_lock,
			     mig_unlock, m);
	if (ret)
		log_err("migration to %s failed: %s", m->uri, m->st.message);
	else
		log_info("migration to %s completed: downtime %.1f ms, total "
			 "%.1f ms", m->uri, m->st.downtime_ns / 1e6,
			 m->st.total_ns / 1e6);
	if (write(m->done_fd, &one, sizeof(one)) < 0)
		log_warn("cannot signal the end of the migration: %m");
	return NULL;
}

int migration_start(struct vm *vm, const char *uri,
		    const struct mig_options *opt, struct migration **out)
{
	struct migration *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->vm = vm;
	m->opt = *opt;
	m->uri = strdup(uri);
	m->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&m->lock, NULL);
	m->src = (struct mig_source){
		.opaque = vm, .dirty_start = src_dirty_start,
		.dirty_stop = src_dirty_stop, .dirty_sync = src_dirty_sync,
		.dirty_clear = src_dirty_clear, .populated = src_populated,
		.pause = src_pause, .resume = src_resume,
		.throttle = src_throttle, .save_spec = src_save_spec,
		.save_state = src_save_state,
	};
	vm_get_mig_mem(vm, &m->src.mem);
	m->st.phase = MIG_PHASE_SETUP;
	ret = (!m->uri || m->done_fd < 0) ? -ENOMEM
		: -pthread_create(&m->thread, NULL, migration_thread, m);
	if (ret) {
		log_err("cannot start the migration: %s", strerror(-ret));
		if (m->done_fd >= 0)
			close(m->done_fd);
		free(m->uri);
		free(m);
		return ret;
	}
	*out = m;
	return 0;
}

int migration_done_fd(const struct migration *m)
{
	return m->done_fd;
}

void migration_get_status(struct migration *m, struct mig_status *st)
{
	pthread_mutex_lock(&m->lock);
	*st = m->st;
	pthread_mutex_unlock(&m->lock);
}

void migration_destroy(struct migration *m)
{
	if (!m)
		return;
	pthread_join(m->thread, NULL);
	close(m->done_fd);
	pthread_mutex_destroy(&m->lock);
	free(m->uri);
	free(m);
}

/* ---- mig_sink on a struct vm being built ------------------------------ */

struct incoming {
	const struct vm_config *cfg;
	struct vm *vm;
	struct vm_loader *ld;
};

static int sink_build(void *opaque, const struct mig_record *spec,
		      struct mig_mem *mem)
{
	struct incoming *in = opaque;
	int ret = vm_create_from_spec(in->cfg, spec, &in->vm);

	ret = ret ?: vm_loader_create(in->vm, &in->ld);
	if (!ret)
		vm_get_mig_mem(in->vm, mem);
	return ret;
}

static int sink_load_state(void *opaque, const struct mig_record *rec)
{
	return vm_loader_record(((struct incoming *)opaque)->ld, rec);
}

static int sink_start(void *opaque)
{
	struct incoming *in = opaque;

	/* Test hook: die like a killed host between GO and RUNNING, so tests
	 * can check that the source resumes its guest. */
	if (in->cfg->test_hooks && getenv("FERRY_TEST_DIE_AFTER_GO")) {
		log_warn("test hook: killing this destination after GO");
		raise(SIGKILL);
	}
	/* All vCPU threads exist before any runs guest code, so a failure to
	 * start one cannot leave a half-started guest behind. */
	return vm_start(in->vm, true) ?: vm_resume(in->vm);
}

int migration_incoming(const struct vm_config *cfg, const char *uri,
		       struct vm **out)
{
	struct incoming in = { .cfg = cfg };
	struct mig_sink sink = { .opaque = &in, .build = sink_build,
				 .load_state = sink_load_state,
				 .start = sink_start };
	int ret = mig_sink_run(&sink, uri);

	vm_loader_destroy(in.ld);
	if (ret) {
		vm_destroy(in.vm);
		return ret;
	}
	*out = in.vm;
	return 0;
}
