/*
 * hacd's server for hactl: libqb IPC (QB_IPC_SOCKET) on service
 * "ferry-hacd" (--ipc NAME), proto/hactl.proto. Status is answered from
 * the local copy of the state; an operation is multicast through CPG and
 * answered once it has been applied in the cluster's total order (so
 * hactl reports what the cluster decided, not what this node guessed).
 * Main thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbipcs.h>

#include "cluster/hacd.h"
#include "cluster/ipc_msg.h"
#include "cluster/state_pb.h"
#include "hv/log.h"

#define HACD_PENDING_MAX 64

struct hacd_pending {
	uint64_t req_id;
	qb_ipcs_connection_t *conn;
};

struct hacd_ipc {
	qb_ipcs_service_t *svc;
	struct hacd_pending pending[HACD_PENDING_MAX];
};

/* qb's service handlers carry no context of ours: one server per process. */
static struct hacd *ipc_hacd;

static void ipc_send(qb_ipcs_connection_t *conn, Ferry__Hactl__Reply *rep)
{
	struct qb_ipc_response_header bare = { .size = sizeof(bare) };
	void *buf = NULL;
	size_t len;
	ssize_t n;

	if (hactl_reply_pack(rep, &buf, &len) == 0) {
		n = qb_ipcs_response_send(conn, buf, len);
	} else {
		bare.id = HACTL_MSG_ID;
		bare.error = -ENOMEM;
		n = qb_ipcs_response_send(conn, &bare, sizeof(bare));
	}
	if (n < 0)
		log_warn("hactl: cannot send a reply: %s", strerror((int)-n));
	free(buf);
}

static void ipc_send_error(qb_ipcs_connection_t *conn, int rc, const char *msg)
{
	Ferry__Hactl__Reply rep = FERRY__HACTL__REPLY__INIT;

	rep.error = rc;
	rep.message = (char *)msg;
	ipc_send(conn, &rep);
}

/* ---- status ------------------------------------------------------------ */

static void ipc_status(struct hacd *h, qb_ipcs_connection_t *conn)
{
	Ferry__Hactl__Reply rep = FERRY__HACTL__REPLY__INIT;
	Ferry__Hactl__CheckpointInfo *ci, **cp;
	char (*paths)[PATH_MAX];
	size_t n = 0;

	ci = calloc(CL_MAX_VMS, sizeof(*ci));
	cp = calloc(CL_MAX_VMS, sizeof(*cp));
	paths = calloc(CL_MAX_VMS, sizeof(*paths));
	rep.state = cl_state_pb_new(h->state);
	if (!ci || !cp || !paths || !rep.state) {
		ipc_send_error(conn, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < h->state->nvms; i++) {
		const struct cl_vm *vm = &h->state->vms[i];

		ferry__hactl__checkpoint_info__init(&ci[n]);
		if (hacd_agent_checkpoint(h, vm, paths[n], PATH_MAX,
					  &ci[n].age_ms, &ci[n].bytes) < 0)
			continue;
		ci[n].name = (char *)vm->spec.name;
		ci[n].path = paths[n];
		cp[n] = &ci[n];
		n++;
	}
	rep.checkpoints = cp;
	rep.n_checkpoints = n;
	rep.quorate = h->quorate;
	rep.local_node = h->nodeid;
	ipc_send(conn, &rep);
out:
	cl_state_pb_free(rep.state);
	free(paths);
	free(cp);
	free(ci);
}

/* ---- operations -------------------------------------------------------- */

static struct hacd_pending *ipc_slot(struct hacd_ipc *ipc, uint64_t req_id)
{
	for (int i = 0; i < HACD_PENDING_MAX; i++)
		if (ipc->pending[i].req_id == req_id)
			return &ipc->pending[i];
	return NULL;
}

static void ipc_op(struct hacd *h, qb_ipcs_connection_t *conn,
		   Ferry__Cluster__Msg *op)
{
	struct hacd_pending *p = ipc_slot(h->ipc, 0);
	int rc;

	if (op->body_case == FERRY__CLUSTER__MSG__BODY_SYNC ||
	    op->body_case == FERRY__CLUSTER__MSG__BODY__NOT_SET)
		return ipc_send_error(conn, -EINVAL, "not an operation");
	if (!h->quorate)
		return ipc_send_error(conn, -EPERM, "no quorum: this node is "
				      "not in a quorate partition");
	if (!h->synced)
		return ipc_send_error(conn, -EAGAIN, "not yet synchronised "
				      "with the cluster; try again");
	if (!p)
		return ipc_send_error(conn, -EBUSY, "too many requests in "
				      "flight");
	op->req_id = ++h->next_req;
	rc = hacd_send(h, op);
	if (rc < 0)
		return ipc_send_error(conn, rc, "cannot multicast the "
				      "operation through Corosync");
	p->req_id = op->req_id;
	p->conn = conn;
	qb_ipcs_connection_ref(conn);
}

void hacd_ipc_complete(struct hacd *h, uint64_t req_id, int rc,
		       const char *why)
{
	struct hacd_pending *p = h->ipc ? ipc_slot(h->ipc, req_id) : NULL;

	if (!p || !req_id)
		return;
	ipc_send_error(p->conn, rc, rc < 0 ? why : "done");
	qb_ipcs_connection_unref(p->conn);
	memset(p, 0, sizeof(*p));
}

/* ---- libqb glue -------------------------------------------------------- */

static int32_t ipc_msg_process(qb_ipcs_connection_t *conn, void *data,
			       size_t size)
{
	Ferry__Hactl__Request *req = NULL;
	int rc = hactl_req_unpack(data, size, &req);

	if (rc < 0)
		ipc_send_error(conn, rc, "malformed request");
	else if (req->body_case == FERRY__HACTL__REQUEST__BODY_STATUS)
		ipc_status(ipc_hacd, conn);
	else if (req->body_case == FERRY__HACTL__REQUEST__BODY_OP)
		ipc_op(ipc_hacd, conn, req->op);
	else
		ipc_send_error(conn, -EOPNOTSUPP, "unknown request");
	ferry__hactl__request__free_unpacked(req, NULL);
	return 0;
}

static int32_t ipc_accept(qb_ipcs_connection_t *conn, uid_t uid, gid_t gid)
{
	(void)conn, (void)gid;
	return uid == 0 || uid == geteuid() ? 0 : -EACCES;
}

/* A client that went away gets no reply; drop its pending requests. */
static void ipc_destroyed(qb_ipcs_connection_t *conn)
{
	struct hacd_ipc *ipc = ipc_hacd ? ipc_hacd->ipc : NULL;

	for (int i = 0; ipc && i < HACD_PENDING_MAX; i++) {
		if (ipc->pending[i].conn != conn)
			continue;
		memset(&ipc->pending[i], 0, sizeof(ipc->pending[i]));
	}
}

static int32_t ipc_job_add(enum qb_loop_priority p, void *data,
			   qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(ipc_hacd->loop, p, data, fn);
}

static int32_t ipc_poll_add(enum qb_loop_priority p, int32_t fd,
			    int32_t events, void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(ipc_hacd->loop, p, fd, events, data, fn);
}

static int32_t ipc_poll_mod(enum qb_loop_priority p, int32_t fd,
			    int32_t events, void *data, qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(ipc_hacd->loop, p, fd, events, data, fn);
}

static int32_t ipc_poll_del(int32_t fd)
{
	return qb_loop_poll_del(ipc_hacd->loop, fd);
}

int hacd_ipc_create(struct hacd *h)
{
	struct qb_ipcs_service_handlers sh = {
		.connection_accept = ipc_accept,
		.msg_process = ipc_msg_process,
		.connection_destroyed = ipc_destroyed,
	};
	struct qb_ipcs_poll_handlers ph = {
		.job_add = ipc_job_add,
		.dispatch_add = ipc_poll_add,
		.dispatch_mod = ipc_poll_mod,
		.dispatch_del = ipc_poll_del,
	};
	int rc;

	h->ipc = calloc(1, sizeof(*h->ipc));
	if (!h->ipc)
		return -ENOMEM;
	ipc_hacd = h;
	h->ipc->svc = qb_ipcs_create(h->opts.ipc_name, 0, QB_IPC_SOCKET, &sh);
	if (!h->ipc->svc) {
		log_err("hactl service %s: cannot create", h->opts.ipc_name);
		return -ENOMEM;
	}
	qb_ipcs_poll_handlers_set(h->ipc->svc, &ph);
	qb_ipcs_enforce_buffer_size(h->ipc->svc, HACTL_BUF_SIZE);
	rc = qb_ipcs_run(h->ipc->svc);
	if (rc < 0) {
		h->ipc->svc = NULL;
		log_err("hactl service %s: %s%s", h->opts.ipc_name,
			strerror(-rc), rc == -EADDRINUSE ?
			" (another hacd runs in this network namespace)" : "");
	}
	return rc;
}

void hacd_ipc_destroy(struct hacd *h)
{
	if (!h->ipc)
		return;
	if (h->ipc->svc)
		qb_ipcs_destroy(h->ipc->svc);
	free(h->ipc);
	h->ipc = NULL;
	ipc_hacd = NULL;
}
