/*
 * The control server: a libqb IPC service (QB_IPC_SOCKET) on the qb main
 * loop of hv's main thread. It unpacks each request, calls one vm.h
 * function and sends one Reply. It owns no VM state and never touches KVM.
 *
 * Why QB_IPC_SOCKET and not QB_IPC_SHM: control traffic is a few hundred
 * bytes a few times a second, so shared-memory ring buffers buy nothing,
 * while they cost three buffer-sized (128 KiB) files in /dev/shm per
 * connection that a SIGKILLed hv leaves behind. With sockets libqb keeps
 * only a small control file there, the data travels over abstract unix
 * datagram sockets that vanish with the process, and the kernel reports
 * the peer's credentials.
 */
#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbipcc.h>
#include <qb/qbipcs.h>

#include "hv/control.h"
#include "hv/control_msg.h"
#include "hv/control_migrate.h"
#include "hv/log.h"
#include "hv/migration.h"
#include "hv/snapshot.h"
#include "hv/vm.h"

struct control {
	struct vm *vm;
	qb_ipcs_service_t *svc;
	char path[CONTROL_PATH_MAX + 1];
	/* The running migration, the client waiting for its end, and the
	 * last one's report for `hv status`. */
	struct migration *mig;
	qb_ipcs_connection_t *mig_conn;
	char mig_uri[256];
	struct mig_status last_mig;
};

/* One reply under construction; lives on the stack of one request. */
struct control_reply {
	Ferry__Control__Reply rep;
	Ferry__Control__StatusReply status;
	Ferry__Control__SnapshotReply snap;
	struct control_mig_msg mig;
	bool deferred; /* answered later (migrate) */
	char msg[512];
};

/*
 * libqb's poll callbacks carry no context pointer, so the loop they must
 * use has to live at file scope: the one global here, set by
 * control_create() and cleared by control_destroy() (hence one server per
 * process).
 */
static qb_loop_t *control_loop;

static int32_t control_job_add(enum qb_loop_priority p, void *data,
			       qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(control_loop, p, data, fn);
}

static int32_t control_poll_add(enum qb_loop_priority p, int32_t fd,
				int32_t events, void *data,
				qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(control_loop, p, fd, events, data, fn);
}

static int32_t control_poll_mod(enum qb_loop_priority p, int32_t fd,
				int32_t events, void *data,
				qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(control_loop, p, fd, events, data, fn);
}

static int32_t control_poll_del(int32_t fd)
{
	return qb_loop_poll_del(control_loop, fd);
}

static void control_reply_msg(struct control_reply *r, int error,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets the reply's error (0 or -errno) and its one-line message. */
static void control_reply_msg(struct control_reply *r, int error,
			      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	r->rep.error = error;
	r->rep.message = r->msg;
}

static const char *control_vm_state(struct control *ctl)
{
	struct vm_status st;

	vm_get_status(ctl->vm, &st);
	return vm_state_name(st.state);
}

/* vm_pause/vm_resume refuse with -EINVAL when the state does not allow it. */
static void control_reply_refused(struct control *ctl, struct control_reply *r,
				  int rc, const char *what)
{
	if (rc == -EINVAL)
		control_reply_msg(r, rc, "cannot %s: VM is %s", what,
				  control_vm_state(ctl));
	else
		control_reply_msg(r, rc, "cannot %s: %s", what, strerror(-rc));
}

static Ferry__Control__VmState control_state_to_proto(enum vm_state s)
{
	switch (s) {
	case VM_STATE_CREATED:
		return FERRY__CONTROL__VM_STATE__VM_STATE_CREATED;
	case VM_STATE_RUNNING:
		return FERRY__CONTROL__VM_STATE__VM_STATE_RUNNING;
	case VM_STATE_PAUSED:
		return FERRY__CONTROL__VM_STATE__VM_STATE_PAUSED;
	case VM_STATE_STOPPED:
		return FERRY__CONTROL__VM_STATE__VM_STATE_STOPPED;
	}
	return FERRY__CONTROL__VM_STATE__VM_STATE_UNSPEC;
}

static void control_do_status(struct control *ctl, struct control_reply *r)
{
	Ferry__Control__StatusReply *s = &r->status;
	struct vm_status st;

	vm_get_status(ctl->vm, &st);
	s->state = control_state_to_proto(st.state);
	s->uptime_ns = st.uptime_ns;
	s->vcpus = st.nr_vcpus;
	s->mem_bytes = st.mem_size;
	/* Packed before the request returns; protobuf-c never writes it. */
	s->name = (char *)(st.name ? st.name : "");
	s->pid = (int32_t)getpid();
	if (ctl->mig || ctl->last_mig.phase != MIG_PHASE_NONE) {
		struct mig_status ms = ctl->last_mig;

		if (ctl->mig)
			migration_get_status(ctl->mig, &ms);
		control_mig_to_proto(&ms, ctl->mig_uri, &r->mig);
		s->migration = &r->mig.msg;
	}
	r->rep.body_case = FERRY__CONTROL__REPLY__BODY_STATUS;
	r->rep.status = s;
}

/* While a migration runs it alone pauses and resumes the guest: anyone
 * else doing so could make it run in two places. */
static bool control_migration_busy(struct control *ctl, struct control_reply *r,
				   const char *what)
{
	if (!ctl->mig)
		return false;
	control_reply_msg(r, -EBUSY, "cannot %s: a migration to %s is running",
			  what, ctl->mig_uri);
	return true;
}

static void control_do_pause(struct control *ctl, struct control_reply *r)
{
	int rc;

	if (control_migration_busy(ctl, r, "pause"))
		return;
	rc = vm_pause(ctl->vm);
	if (rc < 0) {
		control_reply_refused(ctl, r, rc, "pause");
		return;
	}
	log_info("control %s: VM paused", ctl->path);
	control_reply_msg(r, 0, "paused");
}

static void control_do_resume(struct control *ctl, struct control_reply *r)
{
	int rc;

	if (control_migration_busy(ctl, r, "resume"))
		return;
	rc = vm_resume(ctl->vm);
	if (rc < 0) {
		control_reply_refused(ctl, r, rc, "resume");
		return;
	}
	log_info("control %s: VM resumed", ctl->path);
	control_reply_msg(r, 0, "resumed");
}

static void control_do_quit(struct control *ctl, struct control_reply *r)
{
	log_info("control %s: quit requested", ctl->path);
	vm_request_stop(ctl->vm, 0);
	control_reply_msg(r, 0, "stopping");
}

static void control_do_debug_flip(struct control *ctl,
				  const Ferry__Control__DebugFlipRequest *req,
				  struct control_reply *r)
{
	uint64_t gpa = req->gpa;
	int rc = ctl->mig ? -EBUSY : vm_debug_flip(ctl->vm, gpa);

	if (rc == -EPERM)
		control_reply_msg(r, rc, "debug-flip needs hv run --test-hooks");
	else if (rc == -EBUSY)
		control_reply_msg(r, rc, "debug-flip needs a paused VM (VM is %s)",
				  control_vm_state(ctl));
	else if (rc == -EFAULT)
		control_reply_msg(r, rc, "gpa 0x%" PRIx64 " is not guest RAM",
				  gpa);
	else if (rc < 0)
		control_reply_msg(r, rc, "debug-flip at gpa 0x%" PRIx64 ": %s",
				  gpa, strerror(-rc));
	else
		control_reply_msg(r, 0, "flipped byte at gpa 0x%" PRIx64, gpa);
}

static void control_do_snapshot(struct control *ctl,
				const Ferry__Control__SnapshotRequest *req,
				struct control_reply *r)
{
	struct snapshot_report rep;
	int rc;

	if (control_migration_busy(ctl, r, "snapshot"))
		return;
	if (!req->path || req->path[0] != '/') {
		control_reply_msg(r, -EINVAL, "snapshot path must be absolute");
		return;
	}
	rc = snapshot_write(ctl->vm, req->path, req->stop, &rep);
	if (rc == -EINVAL) {
		control_reply_msg(r, rc, "cannot snapshot: VM is %s",
				  control_vm_state(ctl));
		return;
	}
	if (rc < 0) {
		control_reply_msg(r, rc, "snapshot to %s failed: %s", req->path,
				  strerror(-rc));
		return;
	}
	ferry__control__snapshot_reply__init(&r->snap);
	r->snap.bytes = rep.bytes;
	r->snap.pages = rep.pages;
	r->snap.paused_ns = rep.paused_ns;
	r->snap.total_ns = rep.total_ns;
	r->rep.body_case = FERRY__CONTROL__REPLY__BODY_SNAPSHOT;
	r->rep.snapshot = &r->snap;
	control_reply_msg(r, 0, "snapshot written to %s", req->path);
}

static int control_migration_done(int fd, int revents, void *data);
static void control_reply_send(struct control *ctl, qb_ipcs_connection_t *conn,
			       struct control_reply *r);

/* Starts the migration; the reply waits for its end (control_migration_done). */
static void control_do_migrate(struct control *ctl, qb_ipcs_connection_t *conn,
			       const Ferry__Control__MigrateRequest *req,
			       struct control_reply *r)
{
	struct mig_options opt;
	struct vm_status vs;
	int rc;

	if (ctl->mig) {
		control_reply_msg(r, -EBUSY, "a migration is already running");
		return;
	}
	vm_get_status(ctl->vm, &vs);
	if (vs.state != VM_STATE_RUNNING) {
		control_reply_msg(r, -EINVAL, "cannot migrate: VM is %s",
				  vm_state_name(vs.state));
		return;
	}
	control_mig_options(req, &opt);
	if (opt.streams > MIG_MAX_STREAMS) {
		control_reply_msg(r, -EINVAL, "--streams: at most %d",
				  MIG_MAX_STREAMS);
		return;
	}
	rc = migration_start(ctl->vm, req->uri, &opt, &ctl->mig);
	if (!rc)
		rc = qb_loop_poll_add(control_loop, QB_LOOP_HIGH,
				      migration_done_fd(ctl->mig), POLLIN, ctl,
				      control_migration_done);
	if (rc) {
		control_reply_msg(r, rc, "cannot start the migration: %s",
				  strerror(-rc));
		return;
	}
	snprintf(ctl->mig_uri, sizeof(ctl->mig_uri), "%s", req->uri);
	qb_ipcs_connection_ref(conn);
	ctl->mig_conn = conn;
	r->deferred = true;
	log_info("control %s: migrating to %s", ctl->path, req->uri);
}

/* Main loop: the migration ended. Answer the waiting client; after a
 * completed migration the guest runs elsewhere, so this hv ends. */
static int control_migration_done(int fd, int revents, void *data)
{
	struct control *ctl = data;
	struct control_reply r;

	(void)revents;
	qb_loop_poll_del(control_loop, fd);
	migration_get_status(ctl->mig, &ctl->last_mig);
	migration_destroy(ctl->mig);
	ctl->mig = NULL;
	memset(&r, 0, sizeof(r));
	ferry__control__reply__init(&r.rep);
	r.rep.type = FERRY__CONTROL__MSG_TYPE__MSG_TYPE_MIGRATE;
	control_mig_to_proto(&ctl->last_mig, ctl->mig_uri, &r.mig);
	r.rep.body_case = FERRY__CONTROL__REPLY__BODY_MIGRATE;
	r.rep.migrate = &r.mig.msg;
	if (ctl->last_mig.phase == MIG_PHASE_COMPLETED)
		control_reply_msg(&r, 0, "migrated to %s", ctl->mig_uri);
	else
		control_reply_msg(&r, ctl->last_mig.error ?: -EIO,
				  "migration to %s failed: %s", ctl->mig_uri,
				  ctl->last_mig.message);
	if (ctl->mig_conn) {
		control_reply_send(ctl, ctl->mig_conn, &r);
		qb_ipcs_connection_unref(ctl->mig_conn);
		ctl->mig_conn = NULL;
	}
	if (ctl->last_mig.phase == MIG_PHASE_COMPLETED)
		vm_request_stop(ctl->vm, 0);
	return 0;
}

/* Only calls handlers; control_req_unpack() has vetted the type. */
static void control_dispatch(struct control *ctl, qb_ipcs_connection_t *conn,
			     const Ferry__Control__Request *req,
			     struct control_reply *r)
{
	switch (req->body_case) {
	case FERRY__CONTROL__REQUEST__BODY_STATUS:
		control_do_status(ctl, r);
		break;
	case FERRY__CONTROL__REQUEST__BODY_PAUSE:
		control_do_pause(ctl, r);
		break;
	case FERRY__CONTROL__REQUEST__BODY_RESUME:
		control_do_resume(ctl, r);
		break;
	case FERRY__CONTROL__REQUEST__BODY_QUIT:
		control_do_quit(ctl, r);
		break;
	case FERRY__CONTROL__REQUEST__BODY_DEBUG_FLIP:
		control_do_debug_flip(ctl, req->debug_flip, r);
		break;
	case FERRY__CONTROL__REQUEST__BODY_SNAPSHOT:
		control_do_snapshot(ctl, req->snapshot, r);
		break;
	case FERRY__CONTROL__REQUEST__BODY_MIGRATE:
		control_do_migrate(ctl, conn, req->migrate, r);
		break;
	default:
		control_reply_msg(r, -EOPNOTSUPP, "unsupported request");
		break;
	}
}

/* Answers a request that could not be unpacked; logs it once. */
static void control_reply_bad(struct control *ctl, struct control_reply *r,
			      int rc, int32_t type, size_t size)
{
	if (rc == -EMSGSIZE)
		control_reply_msg(r, rc, "request of %zu bytes exceeds the %d byte limit",
				  size, CONTROL_BODY_MAX);
	else if (rc == -EOPNOTSUPP)
		control_reply_msg(r, rc, "unknown request type %d", (int)type);
	else
		control_reply_msg(r, rc, "malformed %s request (%zu bytes)",
				  control_msg_type_name(type), size);
	log_warn("control %s: %s", ctl->path, r->msg);
}

static void control_reply_send(struct control *ctl, qb_ipcs_connection_t *conn,
			       struct control_reply *r)
{
	struct qb_ipc_response_header bare = { 0 };
	void *buf = NULL;
	size_t len;
	ssize_t sent;
	int rc;

	rc = control_reply_pack(&r->rep, &buf, &len);
	if (rc < 0) {
		/* Still answer, so the client does not wait for its timeout. */
		bare.id = (int32_t)r->rep.type;
		bare.size = sizeof(bare);
		bare.error = rc;
		sent = qb_ipcs_response_send(conn, &bare, sizeof(bare));
	} else {
		sent = qb_ipcs_response_send(conn, buf, len);
	}
	if (sent < 0)
		log_warn("control %s: cannot send %s reply: %s", ctl->path,
			 control_msg_type_name(r->rep.type), strerror((int)-sent));
	free(buf);
}

static int32_t control_msg_process(qb_ipcs_connection_t *conn, void *data,
				   size_t size)
{
	struct control *ctl = qb_ipcs_connection_service_context_get(conn);
	Ferry__Control__Request *req = NULL;
	struct control_reply r;
	int32_t type;
	int rc;

	memset(&r, 0, sizeof(r));
	ferry__control__reply__init(&r.rep);
	ferry__control__status_reply__init(&r.status);
	rc = control_req_unpack(data, size, &type, &req);
	if (control_msg_type_known(type))
		r.rep.type = (Ferry__Control__MsgType)type;
	if (rc < 0)
		control_reply_bad(ctl, &r, rc, type, size);
	else
		control_dispatch(ctl, conn, req, &r);
	if (!r.deferred)
		control_reply_send(ctl, conn, &r);
	ferry__control__request__free_unpacked(req, NULL);
	return 0;
}

/* The abstract socket namespace has no permissions: check the peer here. */
static int32_t control_accept(qb_ipcs_connection_t *conn, uid_t uid,
			      gid_t gid)
{
	struct control *ctl = qb_ipcs_connection_service_context_get(conn);

	(void)gid;
	if (uid == 0 || uid == geteuid())
		return 0;
	log_warn("control %s: refused a client with uid %u", ctl->path,
		 (unsigned int)uid);
	return -EACCES;
}

static int control_check_path(const char *path)
{
	if (!path || !*path) {
		log_err("control socket path is empty");
		return -EINVAL;
	}
	if (strlen(path) > CONTROL_PATH_MAX) {
		log_err("control socket %s: longer than %d characters", path,
			CONTROL_PATH_MAX);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int control_run(struct control *ctl)
{
	struct qb_ipcs_service_handlers sh = {
		.connection_accept = control_accept,
		.msg_process = control_msg_process,
	};
	struct qb_ipcs_poll_handlers ph = {
		.job_add = control_job_add,
		.dispatch_add = control_poll_add,
		.dispatch_mod = control_poll_mod,
		.dispatch_del = control_poll_del,
	};
	char name[CONTROL_SERVICE_MAX];
	int rc = control_service_name(ctl->path, name, sizeof(name));

	if (rc < 0)
		return rc;
	ctl->svc = qb_ipcs_create(name, 0, QB_IPC_SOCKET, &sh);
	if (!ctl->svc) {
		log_err("control socket %s: cannot create service", ctl->path);
		return -ENOMEM;
	}
	qb_ipcs_poll_handlers_set(ctl->svc, &ph);
	qb_ipcs_service_context_set(ctl->svc, ctl);
	qb_ipcs_enforce_buffer_size(ctl->svc, CONTROL_BUF_SIZE);
	rc = qb_ipcs_run(ctl->svc);
	if (rc < 0) {
		/* qb_ipcs_run() has already destroyed the service. */
		ctl->svc = NULL;
		if (rc == -EADDRINUSE)
			log_err("control socket %s is in use", ctl->path);
		else
			log_err("control socket %s: %s", ctl->path,
				strerror(-rc));
	}
	return rc;
}

int control_check_free(const char *path)
{
	char name[CONTROL_SERVICE_MAX];
	qb_ipcc_connection_t *c;

	if (control_service_name(path, name, sizeof(name)) < 0)
		return 0; /* control_create() reports the bad name */
	c = qb_ipcc_connect(name, CONTROL_BUF_SIZE);
	if (!c)
		return 0;
	qb_ipcc_disconnect(c);
	log_err("control socket %s is in use", path);
	return -EADDRINUSE;
}

int control_create(const char *path, struct vm *vm, qb_loop_t *loop,
		   struct control **out)
{
	struct control *ctl;
	int rc;

	*out = NULL;
	rc = control_check_path(path);
	if (rc < 0)
		return rc;
	if (control_loop) {
		log_err("control socket %s: a control server already runs",
			path);
		return -EBUSY;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		log_err("control socket %s: out of memory", path);
		return -ENOMEM;
	}
	ctl->vm = vm;
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	control_loop = loop;
	rc = control_run(ctl);
	if (rc < 0)
		goto err_run;
	*out = ctl;
	return 0;

err_run:
	control_loop = NULL;
	free(ctl);
	return rc;
}

void control_destroy(struct control *ctl)
{
	if (!ctl)
		return;
	if (ctl->mig) {
		qb_loop_poll_del(control_loop, migration_done_fd(ctl->mig));
		migration_destroy(ctl->mig);
	}
	if (ctl->mig_conn)
		qb_ipcs_connection_unref(ctl->mig_conn);
	qb_ipcs_destroy(ctl->svc);
	control_loop = NULL;
	free(ctl);
}
