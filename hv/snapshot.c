/*
 * hv snapshot: pause, write SPEC, memory, state and END to PATH.tmp.<pid>,
 * fsync it, rename it over PATH, fsync the directory, resume (or stop).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hv/clock.h"
#include "hv/log.h"
#include "hv/snapshot.h"
#include "hv/vm.h"
#include "migrate/stream.h"

static int snap_fsync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, ret = 0;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	return ret;
}

static int snap_write_stream(struct vm *vm, int fd, struct snapshot_report *rep)
{
	struct vm_save_stats st;
	struct mig_writer *w;
	int ret = mig_writer_create(fd, &w);

	if (ret)
		return ret;
	ret = vm_save_spec(vm, w);
	ret = ret ?: vm_save_memory(vm, w, &st);
	ret = ret ?: vm_save_state(vm, w);
	ret = ret ?: mig_write_record(w, MIG_REC_END, NULL, 0);
	ret = ret ?: mig_writer_flush(w);
	rep->bytes = mig_writer_bytes(w);
	rep->pages = st.pages;
	mig_writer_destroy(w);
	return ret;
}

static int snap_write_file(struct vm *vm, const char *path,
			   struct snapshot_report *rep)
{
	char tmp[PATH_MAX];
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		log_err("snapshot: cannot create %s: %m", tmp);
		return ret;
	}
	ret = snap_write_stream(vm, fd, rep);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret) {
		log_err("snapshot: writing %s failed: %s", path, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	return snap_fsync_dir(path);
}

int snapshot_write(struct vm *vm, const char *path, bool stop,
		   struct snapshot_report *rep)
{
	struct vm_status vs;
	uint64_t t0 = mono_ns(), t1;
	bool was_running;
	int ret;

	memset(rep, 0, sizeof(*rep));
	vm_get_status(vm, &vs);
	was_running = vs.state == VM_STATE_RUNNING;
	if (was_running && (ret = vm_pause(vm)))
		return ret;
	t1 = mono_ns();
	ret = snap_write_file(vm, path, rep);
	if (!ret && stop)
		vm_request_stop(vm, 0);
	else if (was_running)
		vm_resume(vm);
	rep->paused_ns = mono_ns() - t1;
	rep->total_ns = mono_ns() - t0;
	if (!ret)
		log_info("snapshot %s: %llu bytes, %llu pages, "
			 "vCPUs paused %.1f ms", path,
			 (unsigned long long)rep->bytes,
			 (unsigned long long)rep->pages,
			 rep->paused_ns / 1e6);
	return ret;
}
