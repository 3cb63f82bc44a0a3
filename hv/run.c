/*
 * `hv run`: the process that hosts one VM. The main thread owns the qb main
 * loop (control socket, signals, console input, VM stop); vCPUs run on their
 * own threads (vm_run.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <qb/qbloop.h>

#include "hv/control.h"
#include "hv/log.h"
#include "hv/migration.h"
#include "hv/run.h"
#include "hv/run_opts.h"
#include "hv/vm.h"
#include "migrate/stream.h"

struct run_ctx {
	struct vm *vm;
	qb_loop_t *loop;
	struct control *control;
	int serial_out;
	int serial_in;
};

static int run_on_stop(int fd, int revents, void *data)
{
	struct run_ctx *rc = data;

	(void)fd;
	(void)revents;
	qb_loop_stop(rc->loop);
	return 0;
}

static int run_on_signal(int32_t sig, void *data)
{
	struct run_ctx *rc = data;

	log_info("signal %d: stopping the VM", sig);
	vm_request_stop(rc->vm, 0);
	return 0;
}

static int run_on_input(int fd, int revents, void *data)
{
	struct run_ctx *rc = data;
	uint8_t buf[16];
	ssize_t n;

	(void)revents;
	n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		/* EOF on stdin: stop watching, the guest keeps running. */
		qb_loop_poll_del(rc->loop, fd);
		return 0;
	}
	vm_serial_input(rc->vm, buf, (size_t)n);
	return 0;
}

static int run_open_serial(const struct run_opts *o, struct run_ctx *rc)
{
	rc->serial_out = -1;
	rc->serial_in = -1;
	if (o->serial == RUN_SERIAL_STDIO) {
		rc->serial_out = STDOUT_FILENO;
		rc->serial_in = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	} else if (o->serial == RUN_SERIAL_FILE) {
		rc->serial_out = open(o->serial_path, O_WRONLY | O_CREAT |
				      O_TRUNC | O_CLOEXEC, 0644);
		if (rc->serial_out < 0) {
			int ret = -errno;

			log_err("cannot open serial file %s: %m",
				o->serial_path);
			return ret;
		}
	}
	return 0;
}

/* Control socket, signals, VM stop and console input on the loop. */
static int run_setup_loop(const struct run_opts *o, struct run_ctx *rc)
{
	int ret;

	if (o->control) {
		ret = control_create(o->control, rc->vm, rc->loop,
				     &rc->control);
		if (ret)
			return ret;
	}
	qb_loop_signal_add(rc->loop, QB_LOOP_HIGH, SIGINT, rc, run_on_signal,
			   NULL);
	qb_loop_signal_add(rc->loop, QB_LOOP_HIGH, SIGTERM, rc, run_on_signal,
			   NULL);
	ret = qb_loop_poll_add(rc->loop, QB_LOOP_HIGH, vm_stop_fd(rc->vm),
			       POLLIN, rc, run_on_stop);
	if (!ret && rc->serial_in >= 0)
		ret = qb_loop_poll_add(rc->loop, QB_LOOP_MED, rc->serial_in,
				       POLLIN, rc, run_on_input);
	return ret;
}

static int run_restore(const char *path, const struct vm_config *cfg,
		       struct vm **vm)
{
	struct mig_reader *r = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0) {
		ret = -errno;
		log_err("cannot open snapshot %s: %m", path);
		return ret;
	}
	ret = mig_reader_create(fd, &r);
	if (!ret)
		ret = vm_create_from_stream(cfg, r, vm);
	mig_reader_destroy(r);
	close(fd);
	return ret;
}

/* Everything that can fail is checked before the migration is accepted:
 * once the source's GO arrived the guest runs here, and nothing may tear
 * it down any more (the source has already let go of it). */
static int run_incoming(const struct run_opts *o, const struct vm_config *cfg,
			struct run_ctx *rc)
{
	if (o->control && control_check_free(o->control))
		return -EADDRINUSE;
	if (migration_incoming(cfg, o->incoming, &rc->vm))
		return -EIO;
	if (run_setup_loop(o, rc))
		log_warn("the migrated guest runs, but without a control socket "
			 "or signal handling: stop it with SIGKILL");
	return 0;
}

static void run_teardown(struct run_ctx *rc)
{
	control_destroy(rc->control);
	vm_destroy(rc->vm);
	if (rc->loop)
		qb_loop_destroy(rc->loop);
	if (rc->serial_out > STDERR_FILENO)
		close(rc->serial_out);
}

int run_main(int argc, char **argv)
{
	struct run_ctx rc = { 0 };
	struct run_opts o;
	struct vm_config cfg;
	int status = 1;

	if (run_opts_parse(argc, argv, &o))
		return 2;
	if (run_open_serial(&o, &rc))
		return 1;
	cfg = (struct vm_config){
		.name = o.name, .kernel = o.kernel, .initrd = o.initrd,
		.cmdline = o.cmdline, .mem_size = o.mem_size,
		.nr_vcpus = o.nr_vcpus, .serial_out_fd = rc.serial_out,
		.serial_in_fd = rc.serial_in, .test_hooks = o.test_hooks,
		.nr_disks = o.nr_disks, .nr_nics = o.nr_nics,
	};
	memcpy(cfg.disks, o.disks, sizeof(cfg.disks));
	memcpy(cfg.nics, o.nics, sizeof(cfg.nics));
	rc.loop = qb_loop_create();
	if (!rc.loop) {
		log_err("cannot create the main loop");
		goto out;
	}
	if (o.incoming) {
		if (run_incoming(&o, &cfg, &rc))
			goto out;
	} else {
		if (o.restore ? run_restore(o.restore, &cfg, &rc.vm)
			      : vm_create(&cfg, &rc.vm))
			goto out;
		if (run_setup_loop(&o, &rc) || vm_start(rc.vm, o.paused))
			goto out;
	}
	qb_loop_run(rc.loop);
	status = vm_exit_status(rc.vm);
out:
	run_teardown(&rc);
	return status;
}
