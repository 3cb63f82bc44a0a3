/*
 * Framing of control messages (proto/control.proto) into libqb IPC
 * buffers, shared by the server (control.c) and the client (ctl.c).
 * Pure functions on memory: no IPC, no VM, no logging, callable from any
 * thread. Callers own everything they pass in and everything returned.
 */
#ifndef HV_CONTROL_MSG_H
#define HV_CONTROL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/control.pb-c.h"

/* Largest packed Request or Reply body we accept. */
#define CONTROL_BODY_MAX (64 * 1024)
/* libqb per-connection buffer: larger than the body limit plus header, so an
 * oversize request still arrives whole and is answered with -EMSGSIZE
 * instead of a transport error. */
#define CONTROL_BUF_SIZE (128 * 1024)

/* Packs @req behind a qb_ipc_request_header whose id is the request type.
 * On success *out is a malloc'd buffer of *out_len bytes (caller frees).
 * Returns 0, -EINVAL (no body set), -EMSGSIZE or -ENOMEM. */
int control_req_pack(const Ferry__Control__Request *req, void **out,
		     size_t *out_len);

/* Validates the header in @buf (@len bytes, as received) and unpacks the
 * body. On success *out is the request (free with
 * ferry__control__request__free_unpacked). Returns 0, or:
 *   -EBADMSG    header or body malformed, or header id not the body's type
 *   -EMSGSIZE   body over CONTROL_BODY_MAX
 *   -EOPNOTSUPP a request type this hv does not know
 * *type is set to the header's id whenever the header was readable, else 0. */
int control_req_unpack(const void *buf, size_t len, int32_t *type,
		       Ferry__Control__Request **out);

/* Packs @rep behind a qb_ipc_response_header (id = rep->type, error =
 * rep->error). Same ownership and returns as control_req_pack(). */
int control_reply_pack(const Ferry__Control__Reply *rep, void **out,
		       size_t *out_len);

/* Validates and unpacks a reply of @len bytes. Returns 0, -EBADMSG or
 * -EMSGSIZE; *out as for control_req_unpack (reply__free_unpacked). */
int control_reply_unpack(const void *buf, size_t len,
			 Ferry__Control__Reply **out);

/* libqb derives /dev/shm file and abstract socket names from the service
 * name: '/' fails, and since those socket names are cut at 107 bytes after
 * a ~45-byte per-connection prefix, a name over ~56 characters makes them
 * collide (connect fails with EPERM). So the service for --control PATH is
 * "hv:" + PATH with '%' and '/' escaped as %25 and %2f (one-to-one, so two
 * paths never collide) while that fits CONTROL_SERVICE_LEN characters, else
 * "hv#" + a 64-bit hash of PATH. Returns 0, or -ENAMETOOLONG when @size is
 * below CONTROL_SERVICE_MAX. */
int control_service_name(const char *path, char *out, size_t size);
#define CONTROL_SERVICE_LEN 48
#define CONTROL_SERVICE_MAX (CONTROL_SERVICE_LEN + 1)

/* True for the request types this hv serves. */
bool control_msg_type_known(int32_t type);
/* "status", "pause", ...; "unknown" for anything else. Static storage. */
const char *control_msg_type_name(int32_t type);

#endif
