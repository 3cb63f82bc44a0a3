/*
 * Control message framing: a libqb request/response header followed by a
 * packed protobuf-c Request or Reply (proto/control.proto). Owns the size
 * limits and every check on bytes that come from the other process; knows
 * nothing about IPC or the VM. Pure: safe on any thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qb/qbipc_common.h>

#include "hv/control_msg.h"

static const char *const control_type_names[] = {
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS] = "status",
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_PAUSE] = "pause",
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_RESUME] = "resume",
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_QUIT] = "quit",
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_DEBUG_FLIP] = "debug-flip",
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_SNAPSHOT] = "snapshot",
	[FERRY__CONTROL__MSG_TYPE__MSG_TYPE_MIGRATE] = "migrate",
};

#define CONTROL_NR_TYPES \
	(int32_t)(sizeof(control_type_names) / sizeof(control_type_names[0]))

/* FNV-1a, 64 bits: only to shorten long paths, not for security. */
static uint64_t control_path_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 0x100000001b3ULL;
	return h;
}

int control_service_name(const char *path, char *out, size_t size)
{
	size_t n = 3;

	if (size < CONTROL_SERVICE_MAX)
		return -ENAMETOOLONG;
	memcpy(out, "hv:", 3);
	for (const char *p = path; *p; p++) {
		const char *esc = *p == '/' ? "%2f" : *p == '%' ? "%25" : NULL;
		size_t len = esc ? 3 : 1;

		if (n + len > CONTROL_SERVICE_LEN) {
			/* "hv#" cannot clash with an escaped "hv:" name. */
			snprintf(out, size, "hv#%016" PRIx64,
				 control_path_hash(path));
			return 0;
		}
		memcpy(out + n, esc ? esc : p, len);
		n += len;
	}
	out[n] = 0;
	return 0;
}

bool control_msg_type_known(int32_t type)
{
	return type > 0 && type < CONTROL_NR_TYPES && control_type_names[type];
}

const char *control_msg_type_name(int32_t type)
{
	return control_msg_type_known(type) ? control_type_names[type] : "unknown";
}

/* Allocates header + body and packs @msg behind @hdr_len header bytes. */
static int control_frame_alloc(const ProtobufCMessage *msg, size_t hdr_len,
			       uint8_t **out, size_t *out_len)
{
	size_t body = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf;

	if (body > CONTROL_BODY_MAX)
		return -EMSGSIZE;
	buf = calloc(1, hdr_len + body);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf + hdr_len);
	*out = buf;
	*out_len = hdr_len + body;
	return 0;
}

int control_req_pack(const Ferry__Control__Request *req, void **out,
		     size_t *out_len)
{
	struct qb_ipc_request_header hdr = { 0 };
	uint8_t *buf;
	size_t len;
	int rc;

	if (req->body_case == FERRY__CONTROL__REQUEST__BODY__NOT_SET)
		return -EINVAL;
	rc = control_frame_alloc(&req->base, sizeof(hdr), &buf, &len);
	if (rc < 0)
		return rc;
	hdr.id = (int32_t)req->body_case;
	hdr.size = (int32_t)len;
	memcpy(buf, &hdr, sizeof(hdr));
	*out = buf;
	*out_len = len;
	return 0;
}

int control_reply_pack(const Ferry__Control__Reply *rep, void **out,
		       size_t *out_len)
{
	struct qb_ipc_response_header hdr = { 0 };
	uint8_t *buf;
	size_t len;
	int rc;

	rc = control_frame_alloc(&rep->base, sizeof(hdr), &buf, &len);
	if (rc < 0)
		return rc;
	hdr.id = (int32_t)rep->type;
	hdr.size = (int32_t)len;
	hdr.error = rep->error;
	memcpy(buf, &hdr, sizeof(hdr));
	*out = buf;
	*out_len = len;
	return 0;
}

/* Checks a header's claimed size against the bytes we have and the limits.
 * @len is never above what the caller's buffer holds. */
static int control_check_size(int32_t hdr_size, size_t hdr_len, size_t len)
{
	if (len > CONTROL_BUF_SIZE)
		return -EMSGSIZE;
	if (hdr_size < 0 || (size_t)hdr_size != len)
		return -EBADMSG;
	if (len - hdr_len > CONTROL_BODY_MAX)
		return -EMSGSIZE;
	return 0;
}

int control_req_unpack(const void *buf, size_t len, int32_t *type,
		       Ferry__Control__Request **out)
{
	struct qb_ipc_request_header hdr;
	Ferry__Control__Request *req;
	int rc;

	*type = 0;
	*out = NULL;
	if (len < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof(hdr));
	*type = hdr.id;
	rc = control_check_size(hdr.size, sizeof(hdr), len);
	if (rc < 0)
		return rc;
	if (!control_msg_type_known(hdr.id))
		return -EOPNOTSUPP;
	req = ferry__control__request__unpack(NULL, len - sizeof(hdr),
					      (const uint8_t *)buf + sizeof(hdr));
	if (!req)
		return -EBADMSG;
	if ((int32_t)req->body_case != hdr.id) {
		ferry__control__request__free_unpacked(req, NULL);
		return -EBADMSG;
	}
	*out = req;
	return 0;
}

int control_reply_unpack(const void *buf, size_t len,
			 Ferry__Control__Reply **out)
{
	struct qb_ipc_response_header hdr;
	Ferry__Control__Reply *rep;
	int rc;

	*out = NULL;
	if (len < sizeof(hdr))
		return -EBADMSG;
	memcpy(&hdr, buf, sizeof(hdr));
	rc = control_check_size(hdr.size, sizeof(hdr), len);
	if (rc < 0)
		return rc;
	rep = ferry__control__reply__unpack(NULL, len - sizeof(hdr),
					    (const uint8_t *)buf + sizeof(hdr));
	if (!rep)
		return -EBADMSG;
	/* A bare header (server out of memory) still carries the error. */
	if (!rep->error && hdr.error < 0)
		rep->error = hdr.error;
	*out = rep;
	return 0;
}
