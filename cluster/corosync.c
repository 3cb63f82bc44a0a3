/*
 * hacd's Corosync glue: joins CPG group "ferry" (ordered messages and
 * membership), tracks votequorum (local quorum for fencing, expected votes
 * for the replicated quorum rule) and reads this node's name and address
 * from cmap. Translates CS_* codes into -errno here, at the edge. Runs on
 * the main thread; Corosync's fds are polled by the qb loop. Losing
 * Corosync fences the node's guests and stops the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <corosync/cmap.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#include "cluster/hacd.h"
#include "cluster/state_pb.h"
#include "hv/log.h"

#define HACD_GROUP "ferry"
#define HACD_SEND_TRIES 200

struct hacd_corosync {
	cpg_handle_t cpg;
	votequorum_handle_t vq;
	int cpg_fd, vq_fd;
	uint32_t expected_votes;
};

static int cs_errno(cs_error_t e)
{
	switch (e) {
	case CS_OK: return 0;
	case CS_ERR_TRY_AGAIN: return -EAGAIN;
	case CS_ERR_NO_MEMORY: return -ENOMEM;
	case CS_ERR_LIBRARY: return -ENOTCONN;
	case CS_ERR_ACCESS: return -EACCES;
	case CS_ERR_BAD_HANDLE: return -EBADF;
	case CS_ERR_TOO_BIG: return -EMSGSIZE;
	default: return -EIO;
	}
}

/* ---- sending ----------------------------------------------------------- */

int hacd_send(struct hacd *h, Ferry__Cluster__Msg *m)
{
	struct iovec iov;
	cs_error_t e = CS_ERR_TRY_AGAIN;
	uint8_t *buf;
	int tries;

	m->origin = h->nodeid;
	iov.iov_len = ferry__cluster__msg__get_packed_size(m);
	buf = malloc(iov.iov_len ? iov.iov_len : 1);
	if (!buf)
		return -ENOMEM;
	ferry__cluster__msg__pack(m, buf);
	iov.iov_base = buf;
	/* Flow control: Corosync asks us to retry while its queue drains. */
	for (tries = 0; tries < HACD_SEND_TRIES && e == CS_ERR_TRY_AGAIN;
	     tries++) {
		e = cpg_mcast_joined(h->cs->cpg, CPG_TYPE_AGREED, &iov, 1);
		if (e == CS_ERR_TRY_AGAIN)
			usleep(1000);
	}
	free(buf);
	if (e != CS_OK)
		log_err("cpg: cannot send message %d: error %d",
			(int)m->body_case, (int)e);
	return cs_errno(e);
}

static void hacd_send_sync(struct hacd *h, const uint32_t *ids, size_t n)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__Sync sy = FERRY__CLUSTER__SYNC__INIT;
	Ferry__Cluster__Node self;

	h->self.expected_votes = h->cs->expected_votes;
	cl_node_to_pb(&h->self, &self);
	sy.n_members = n;
	sy.members = (uint32_t *)ids;
	sy.self = &self;
	sy.state = cl_state_pb_new(h->state);
	if (!sy.state) {
		log_err("sync: out of memory");
		return;
	}
	m.body_case = FERRY__CLUSTER__MSG__BODY_SYNC;
	m.sync = &sy;
	hacd_send(h, &m);
	cl_state_pb_free(sy.state);
}

/* ---- receiving --------------------------------------------------------- */

static void hacd_apply(struct hacd *h, const Ferry__Cluster__Msg *m)
{
	uint64_t before = h->state->version;
	char why[256];
	int rc;

	rc = cl_state_apply(h->state, m, why, sizeof(why));
	if (rc < 0 && m->origin == h->nodeid)
		log_info("operation %d from node %u rejected: %s",
			 (int)m->body_case, m->origin, why);
	if (m->origin == h->nodeid && m->req_id)
		hacd_ipc_complete(h, m->req_id, rc, why);
	if (h->state->version != before)
		hacd_state_changed(h);
}

static void hacd_replay(struct hacd *h)
{
	while (h->queue && !h->sync.active) {
		struct hacd_queued *q = h->queue;
		Ferry__Cluster__Msg *m;

		h->queue = q->next;
		if (!h->queue)
			h->queue_tail = &h->queue;
		m = ferry__cluster__msg__unpack(NULL, q->len, q->buf);
		if (m)
			hacd_apply(h, m);
		ferry__cluster__msg__free_unpacked(m, NULL);
		free(q);
	}
}

static void hacd_enqueue(struct hacd *h, uint32_t from, const void *buf,
			 size_t len)
{
	struct hacd_queued *q = malloc(sizeof(*q) + len);

	if (!q) {
		log_err("cpg: out of memory queueing a message from node %u",
			from);
		return;
	}
	q->next = NULL;
	q->from = from;
	q->len = len;
	memcpy(q->buf, buf, len);
	*h->queue_tail = q;
	h->queue_tail = &q->next;
}

static void hacd_on_sync(struct hacd *h, uint32_t from,
			 const Ferry__Cluster__Sync *sy)
{
	int rc = cl_sync_offer(&h->sync, from, sy);

	if (rc <= 0)
		return;
	cl_sync_finish(&h->sync, h->state);
	if (!h->synced)
		log_info("sync: joined the cluster at state version %llu",
			 (unsigned long long)h->state->version);
	h->synced = true;
	hacd_state_changed(h);
	hacd_replay(h);
}

static void hacd_deliver(cpg_handle_t handle, const struct cpg_name *group,
			 uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	struct hacd *h = NULL;
	Ferry__Cluster__Msg *m;

	(void)group, (void)pid;
	cpg_context_get(handle, (void **)&h);
	m = ferry__cluster__msg__unpack(NULL, len, msg);
	if (!m || m->origin != nodeid) {
		log_warn("cpg: unreadable message of %zu bytes from node %u",
			 len, nodeid);
	} else if (m->body_case == FERRY__CLUSTER__MSG__BODY_SYNC) {
		hacd_on_sync(h, nodeid, m->sync);
	} else if (h->sync.active || !h->synced) {
		hacd_enqueue(h, nodeid, msg, len);
	} else {
		hacd_apply(h, m);
	}
	ferry__cluster__msg__free_unpacked(m, NULL);
}

static void hacd_confchg(cpg_handle_t handle, const struct cpg_name *group,
			 const struct cpg_address *mem, size_t nmem,
			 const struct cpg_address *left, size_t nleft,
			 const struct cpg_address *joined, size_t njoined)
{
	uint32_t ids[CL_MAX_NODES];
	struct hacd *h = NULL;
	size_t n = 0;

	(void)group, (void)joined;
	cpg_context_get(handle, (void **)&h);
	for (size_t i = 0; i < nmem && n < CL_MAX_NODES; i++) {
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup |= ids[j] == mem[i].nodeid;
		if (!dup)
			ids[n++] = mem[i].nodeid;
	}
	for (size_t i = 0; i < nleft; i++)
		log_info("cpg: node %u left (reason %u)", left[i].nodeid,
			 left[i].reason);
	log_info("cpg: configuration of %zu member(s), %zu joined, %zu left",
		 n, njoined, nleft);
	cl_sync_begin(&h->sync, ids, n);
	hacd_send_sync(h, ids, n);
}

/* ---- votequorum -------------------------------------------------------- */

static void hacd_quorum_notify(votequorum_handle_t handle, uint64_t context,
			       uint32_t quorate, uint32_t nnodes,
			       votequorum_node_t nodes[])
{
	struct hacd *h = (struct hacd *)(uintptr_t)context;
	struct votequorum_info info;

	if (nnodes && votequorum_getinfo(handle, nodes[0].nodeid, &info) ==
			      CS_OK)
		h->cs->expected_votes = info.highest_expected;
	if (h->quorate != !!quorate)
		log_info("votequorum: %s (%u node(s), expected votes %u)",
			 quorate ? "quorate" : "NOT quorate", nnodes,
			 h->cs->expected_votes);
	h->quorate = quorate;
	if (!quorate)
		hacd_agent_fence(h, "quorum lost");
	else
		hacd_agent_reconcile(h);
}

/* ---- loop glue ----------------------------------------------------------- */

static void hacd_corosync_lost(struct hacd *h, const char *what, cs_error_t e)
{
	log_err("%s: lost Corosync (error %d): fencing and exiting", what,
		(int)e);
	h->quorate = false;
	hacd_agent_fence(h, "Corosync lost");
	qb_loop_stop(h->loop);
}

static int32_t hacd_cpg_ready(int32_t fd, int32_t revents, void *data)
{
	struct hacd *h = data;
	cs_error_t e = cpg_dispatch(h->cs->cpg, CS_DISPATCH_ALL);

	(void)fd;
	if (e != CS_OK || (revents & (POLLHUP | POLLERR))) {
		hacd_corosync_lost(h, "cpg", e);
		return -1;
	}
	return 0;
}

static int32_t hacd_vq_ready(int32_t fd, int32_t revents, void *data)
{
	struct hacd *h = data;
	cs_error_t e = votequorum_dispatch(h->cs->vq, CS_DISPATCH_ALL);

	(void)fd;
	if (e != CS_OK || (revents & (POLLHUP | POLLERR))) {
		hacd_corosync_lost(h, "votequorum", e);
		return -1;
	}
	return 0;
}

/* Name and ring0 address of this node from Corosync's nodelist. */
static void hacd_read_cmap(struct hacd *h)
{
	cmap_handle_t c;
	char key[128], *s;
	uint32_t id;

	snprintf(h->self.name, sizeof(h->self.name), "node%u", h->nodeid);
	if (cmap_initialize(&c) != CS_OK) {
		log_warn("cmap: cannot connect; node name %s", h->self.name);
		return;
	}
	for (int i = 0; i < CL_MAX_NODES; i++) {
		snprintf(key, sizeof(key), "nodelist.node.%d.nodeid", i);
		if (cmap_get_uint32(c, key, &id) != CS_OK)
			break;
		if (id != h->nodeid)
			continue;
		snprintf(key, sizeof(key), "nodelist.node.%d.name", i);
		if (cmap_get_string(c, key, &s) == CS_OK) {
			snprintf(h->self.name, sizeof(h->self.name), "%s", s);
			free(s);
		}
		snprintf(key, sizeof(key), "nodelist.node.%d.ring0_addr", i);
		if (cmap_get_string(c, key, &s) == CS_OK) {
			snprintf(h->self.addr, sizeof(h->self.addr), "%s", s);
			free(s);
		}
	}
	cmap_finalize(c);
}

static int hacd_vq_start(struct hacd *h)
{
	votequorum_callbacks_t cb = {
		.votequorum_quorum_notify_fn = hacd_quorum_notify,
	};
	struct hacd_corosync *cs = h->cs;
	cs_error_t e;

	e = votequorum_initialize(&cs->vq, &cb);
	if (e != CS_OK) {
		log_err("votequorum: cannot connect (error %d): is corosync "
			"running?", (int)e);
		return cs_errno(e);
	}
	votequorum_fd_get(cs->vq, &cs->vq_fd);
	e = votequorum_trackstart(cs->vq, (uint64_t)(uintptr_t)h,
				  CS_TRACK_CHANGES | CS_TRACK_CURRENT);
	if (e != CS_OK) {
		log_err("votequorum: cannot track quorum (error %d)", (int)e);
		return cs_errno(e);
	}
	return qb_loop_poll_add(h->loop, QB_LOOP_HIGH, cs->vq_fd, POLLIN, h,
				hacd_vq_ready);
}

static int hacd_cpg_start(struct hacd *h)
{
	cpg_callbacks_t cb = {
		.cpg_deliver_fn = hacd_deliver,
		.cpg_confchg_fn = hacd_confchg,
	};
	struct hacd_corosync *cs = h->cs;
	struct cpg_name group;
	cs_error_t e;

	e = cpg_initialize(&cs->cpg, &cb);
	if (e != CS_OK) {
		log_err("cpg: cannot connect (error %d): is corosync running?",
			(int)e);
		return cs_errno(e);
	}
	cpg_context_set(cs->cpg, h);
	cpg_local_get(cs->cpg, &h->nodeid);
	h->self.id = h->nodeid;
	cpg_fd_get(cs->cpg, &cs->cpg_fd);
	hacd_read_cmap(h);
	group.length = strlen(HACD_GROUP);
	memcpy(group.value, HACD_GROUP, group.length);
	e = cpg_join(cs->cpg, &group);
	if (e != CS_OK) {
		log_err("cpg: cannot join group %s (error %d)", HACD_GROUP,
			(int)e);
		return cs_errno(e);
	}
	return qb_loop_poll_add(h->loop, QB_LOOP_HIGH, cs->cpg_fd, POLLIN, h,
				hacd_cpg_ready);
}

int hacd_corosync_start(struct hacd *h)
{
	int rc;

	h->cs = calloc(1, sizeof(*h->cs));
	if (!h->cs)
		return -ENOMEM;
	h->queue_tail = &h->queue;
	/* Quorum first: the node must know it may run guests before it
	 * learns that some are placed on it. */
	rc = hacd_vq_start(h);
	if (rc == 0)
		rc = hacd_cpg_start(h);
	if (rc == 0)
		log_info("node %u (%s, %s) joined cpg group %s", h->nodeid,
			 h->self.name, h->self.addr, HACD_GROUP);
	return rc;
}

void hacd_corosync_stop(struct hacd *h)
{
	struct hacd_corosync *cs = h->cs;

	if (!cs)
		return;
	if (cs->cpg) {
		qb_loop_poll_del(h->loop, cs->cpg_fd);
		cpg_finalize(cs->cpg);
	}
	if (cs->vq) {
		qb_loop_poll_del(h->loop, cs->vq_fd);
		votequorum_finalize(cs->vq);
	}
	while (h->queue) {
		struct hacd_queued *q = h->queue;

		h->queue = q->next;
		free(q);
	}
	free(cs);
	h->cs = NULL;
}
