/*
 * hactl's side of the hacd IPC (proto/hactl.proto over libqb IPC), and
 * --node K: entering that node's network namespace, where its hacd
 * listens (libqb IPC uses abstract unix sockets, one set per namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qb/qbipcc.h>

#include "cluster/ipc_msg.h"
#include "hactl/hactl.h"
#include "hv/log.h"

/* An operation waits for Corosync to order it: seconds at most. */
#define HACTL_REPLY_TIMEOUT_MS 30000

int hactl_enter_node(const char *node)
{
	const char *cl = getenv("FERRY_CLUSTER");
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s-n%s", cl && *cl ? cl :
		 "ferry", node);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("node %s: no network namespace %s (is the cluster up? "
			"FERRY_CLUSTER names it)", node, path);
		return -errno;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		log_err("node %s: cannot enter %s: %s", node, path,
			strerror(errno));
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static int hactl_exchange(const struct hactl *c,
			  const Ferry__Hactl__Request *req,
			  Ferry__Hactl__Reply **rep)
{
	qb_ipcc_connection_t *conn;
	void *out = NULL, *in = malloc(HACTL_BUF_SIZE);
	struct iovec iov;
	size_t len;
	ssize_t n;
	int rc;

	rc = in ? hactl_req_pack(req, &out, &len) : -ENOMEM;
	if (rc < 0)
		goto out;
	conn = qb_ipcc_connect(c->ipc, HACTL_BUF_SIZE);
	if (!conn) {
		log_err("no hacd running (service %s)", c->ipc);
		rc = -ECONNREFUSED;
		goto out;
	}
	iov.iov_base = out;
	iov.iov_len = len;
	n = qb_ipcc_sendv_recv(conn, &iov, 1, in, HACTL_BUF_SIZE,
			       HACTL_REPLY_TIMEOUT_MS);
	qb_ipcc_disconnect(conn);
	if (n < 0)
		log_err("hacd (%s) did not answer: %s", c->ipc,
			strerror((int)-n));
	rc = n < 0 ? (int)n : hactl_reply_unpack(in, (size_t)n, rep);
	if (n >= 0 && rc < 0)
		log_err("hacd (%s): unreadable reply", c->ipc);
out:
	free(out);
	free(in);
	return rc;
}

int hactl_status(const struct hactl *c, Ferry__Hactl__Reply **out)
{
	Ferry__Hactl__Request req = FERRY__HACTL__REQUEST__INIT;
	Ferry__Hactl__StatusRequest st = FERRY__HACTL__STATUS_REQUEST__INIT;
	int rc;

	req.body_case = FERRY__HACTL__REQUEST__BODY_STATUS;
	req.status = &st;
	rc = hactl_exchange(c, &req, out);
	if (rc == 0 && (!(*out)->state || (*out)->error)) {
		log_err("hacd: %s", (*out)->message && *(*out)->message ?
			(*out)->message : "status without a state");
		ferry__hactl__reply__free_unpacked(*out, NULL);
		return -EPROTO;
	}
	return rc;
}

int hactl_op(const struct hactl *c, Ferry__Cluster__Msg *op)
{
	Ferry__Hactl__Request req = FERRY__HACTL__REQUEST__INIT;
	Ferry__Hactl__Reply *rep = NULL;
	int rc;

	req.body_case = FERRY__HACTL__REQUEST__BODY_OP;
	req.op = op;
	rc = hactl_exchange(c, &req, &rep);
	if (rc < 0)
		return rc;
	rc = rep->error;
	if (rc < 0)
		log_err("%s", rep->message && *rep->message ? rep->message :
			strerror(-rc));
	ferry__hactl__reply__free_unpacked(rep, NULL);
	return rc;
}

uint32_t hactl_node_id(const struct hactl *c, const char *ref)
{
	Ferry__Hactl__Reply *r = NULL;
	uint32_t id = 0;
	char num[16];

	if (hactl_status(c, &r) < 0)
		return 0;
	for (size_t i = 0; i < r->state->n_nodes && !id; i++) {
		const Ferry__Cluster__Node *n = r->state->nodes[i];

		snprintf(num, sizeof(num), "%u", n->id);
		if (!strcmp(num, ref) || (n->name && !strcmp(n->name, ref)))
			id = n->id;
	}
	if (!id)
		log_err("unknown node %s", ref);
	ferry__hactl__reply__free_unpacked(r, NULL);
	return id;
}
