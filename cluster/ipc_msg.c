/*
 * hactl <-> hacd framing (see ipc_msg.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbipc_common.h>

#include "cluster/ipc_msg.h"

static int hactl_frame(size_t hdr_len, size_t body_len, void **out,
		       size_t *len)
{
	if (body_len > HACTL_BODY_MAX)
		return -EMSGSIZE;
	*out = calloc(1, hdr_len + body_len + 1);
	if (!*out)
		return -ENOMEM;
	*len = hdr_len + body_len;
	return 0;
}

int hactl_req_pack(const Ferry__Hactl__Request *req, void **out, size_t *len)
{
	size_t body = ferry__hactl__request__get_packed_size(req);
	struct qb_ipc_request_header *hdr;
	int rc = hactl_frame(sizeof(*hdr), body, out, len);

	if (rc < 0)
		return rc;
	hdr = *out;
	hdr->id = HACTL_MSG_ID;
	hdr->size = (int32_t)*len;
	ferry__hactl__request__pack(req, (uint8_t *)(hdr + 1));
	return 0;
}

int hactl_reply_pack(const Ferry__Hactl__Reply *rep, void **out, size_t *len)
{
	size_t body = ferry__hactl__reply__get_packed_size(rep);
	struct qb_ipc_response_header *hdr;
	int rc = hactl_frame(sizeof(*hdr), body, out, len);

	if (rc < 0)
		return rc;
	hdr = *out;
	hdr->id = HACTL_MSG_ID;
	hdr->size = (int32_t)*len;
	hdr->error = rep->error;
	ferry__hactl__reply__pack(rep, (uint8_t *)(hdr + 1));
	return 0;
}

static int hactl_check(const void *buf, size_t len, size_t hdr_len)
{
	const struct qb_ipc_request_header *hdr = buf;

	if (len < hdr_len || hdr->id != HACTL_MSG_ID ||
	    hdr->size != (int32_t)len)
		return -EBADMSG;
	if (len - hdr_len > HACTL_BODY_MAX)
		return -EMSGSIZE;
	return 0;
}

int hactl_req_unpack(const void *buf, size_t len,
		     Ferry__Hactl__Request **out)
{
	const size_t hl = sizeof(struct qb_ipc_request_header);
	int rc = hactl_check(buf, len, hl);

	if (rc < 0)
		return rc;
	*out = ferry__hactl__request__unpack(NULL, len - hl,
					     (const uint8_t *)buf + hl);
	return *out ? 0 : -EBADMSG;
}

int hactl_reply_unpack(const void *buf, size_t len,
		       Ferry__Hactl__Reply **out)
{
	const size_t hl = sizeof(struct qb_ipc_response_header);
	int rc = hactl_check(buf, len, hl);

	if (rc < 0)
		return rc;
	*out = ferry__hactl__reply__unpack(NULL, len - hl,
					   (const uint8_t *)buf + hl);
	return *out ? 0 : -EBADMSG;
}
