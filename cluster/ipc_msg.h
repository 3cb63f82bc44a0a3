/*
 * Framing of hactl <-> hacd messages (proto/hactl.proto) in libqb IPC
 * buffers, shared by hacd's server (ipc.c) and hactl. Pure functions on
 * memory; callers own what they pass and what they get back.
 */
#ifndef CLUSTER_IPC_MSG_H
#define CLUSTER_IPC_MSG_H

#include <stddef.h>

#include "proto/hactl.pb-c.h"

#define HACTL_MSG_ID 1
#define HACTL_BODY_MAX (1024 * 1024)
/* Larger than any body plus header (libqb's per-connection buffer). */
#define HACTL_BUF_SIZE (HACTL_BODY_MAX + 4096)

/* Packs behind a qb_ipc_{request,response}_header; *out is malloc'd.
 * Return 0, -EMSGSIZE or -ENOMEM. */
int hactl_req_pack(const Ferry__Hactl__Request *req, void **out, size_t *len);
int hactl_reply_pack(const Ferry__Hactl__Reply *rep, void **out, size_t *len);

/* Validate the header and unpack. Return 0, -EBADMSG or -EMSGSIZE. */
int hactl_req_unpack(const void *buf, size_t len,
		     Ferry__Hactl__Request **out);
int hactl_reply_unpack(const void *buf, size_t len,
		       Ferry__Hactl__Reply **out);

#endif
