/*
 * hv/control_msg.c: control requests and replies survive a round trip, and
 * every malformed frame from the other process (short, lying header, over
 * 64 KiB, garbage body, header type not matching the body, unknown type) is
 * refused with the documented -errno instead of a crash. Also the mapping
 * of --control PATH to a libqb service name.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include <qb/qbipc_common.h>

#include "hv/control_msg.h"

#define HDR sizeof(struct qb_ipc_request_header)

static void *pack_pause(size_t *len)
{
	Ferry__Control__Request req = FERRY__CONTROL__REQUEST__INIT;
	Ferry__Control__PauseRequest pause = FERRY__CONTROL__PAUSE_REQUEST__INIT;
	void *buf;

	req.body_case = FERRY__CONTROL__REQUEST__BODY_PAUSE;
	req.pause = &pause;
	assert_int_equal(control_req_pack(&req, &buf, len), 0);
	return buf;
}

/* A frame with a valid header around @body_len arbitrary bytes. */
static uint8_t *raw_frame(int32_t id, size_t body_len, uint8_t fill)
{
	struct qb_ipc_request_header hdr = { .id = id,
					     .size = (int32_t)(HDR + body_len) };
	uint8_t *buf = malloc(HDR + body_len);

	assert_non_null(buf);
	memcpy(buf, &hdr, HDR);
	memset(buf + HDR, fill, body_len);
	return buf;
}

static void test_request_round_trip(void **state)
{
	Ferry__Control__Request req = FERRY__CONTROL__REQUEST__INIT;
	Ferry__Control__DebugFlipRequest flip =
		FERRY__CONTROL__DEBUG_FLIP_REQUEST__INIT;
	Ferry__Control__Request *out;
	struct qb_ipc_request_header hdr;
	int32_t type;
	size_t len;
	void *buf;

	(void)state;
	flip.gpa = 0x123456789aULL;
	req.body_case = FERRY__CONTROL__REQUEST__BODY_DEBUG_FLIP;
	req.debug_flip = &flip;
	assert_int_equal(control_req_pack(&req, &buf, &len), 0);
	memcpy(&hdr, buf, HDR);
	assert_int_equal(hdr.id, FERRY__CONTROL__MSG_TYPE__MSG_TYPE_DEBUG_FLIP);
	assert_int_equal(hdr.size, (int32_t)len);
	assert_int_equal(control_req_unpack(buf, len, &type, &out), 0);
	assert_int_equal(type, FERRY__CONTROL__MSG_TYPE__MSG_TYPE_DEBUG_FLIP);
	assert_int_equal(out->body_case,
			 FERRY__CONTROL__REQUEST__BODY_DEBUG_FLIP);
	assert_true(out->debug_flip->gpa == 0x123456789aULL);
	ferry__control__request__free_unpacked(out, NULL);
	free(buf);
}

static void test_request_without_body_refused(void **state)
{
	Ferry__Control__Request req = FERRY__CONTROL__REQUEST__INIT;
	size_t len;
	void *buf = NULL;

	(void)state;
	assert_int_equal(control_req_pack(&req, &buf, &len), -EINVAL);
	assert_null(buf);
}

static void test_reply_round_trip(void **state)
{
	Ferry__Control__Reply rep = FERRY__CONTROL__REPLY__INIT;
	Ferry__Control__StatusReply st = FERRY__CONTROL__STATUS_REPLY__INIT;
	Ferry__Control__Reply *out;
	size_t len;
	void *buf;

	(void)state;
	st.state = FERRY__CONTROL__VM_STATE__VM_STATE_PAUSED;
	st.uptime_ns = 5000000000ULL;
	st.vcpus = 4;
	st.mem_bytes = 1ULL << 30;
	st.name = "vm\"1";
	st.pid = 4242;
	rep.type = FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS;
	rep.body_case = FERRY__CONTROL__REPLY__BODY_STATUS;
	rep.status = &st;
	assert_int_equal(control_reply_pack(&rep, &buf, &len), 0);
	assert_int_equal(control_reply_unpack(buf, len, &out), 0);
	assert_int_equal(out->error, 0);
	assert_int_equal(out->type, FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS);
	assert_non_null(out->status);
	assert_int_equal(out->status->state,
			 FERRY__CONTROL__VM_STATE__VM_STATE_PAUSED);
	assert_true(out->status->uptime_ns == 5000000000ULL);
	assert_int_equal(out->status->vcpus, 4);
	assert_true(out->status->mem_bytes == 1ULL << 30);
	assert_string_equal(out->status->name, "vm\"1");
	assert_int_equal(out->status->pid, 4242);
	ferry__control__reply__free_unpacked(out, NULL);
	free(buf);
}

static void test_error_reply_and_bare_header(void **state)
{
	Ferry__Control__Reply rep = FERRY__CONTROL__REPLY__INIT;
	struct qb_ipc_response_header bare = { .id = 2, .size = sizeof(bare),
					       .error = -ENOMEM };
	Ferry__Control__Reply *out;
	size_t len;
	void *buf;

	(void)state;
	rep.type = FERRY__CONTROL__MSG_TYPE__MSG_TYPE_PAUSE;
	rep.error = -EINVAL;
	rep.message = "cannot pause: VM is paused";
	assert_int_equal(control_reply_pack(&rep, &buf, &len), 0);
	assert_int_equal(control_reply_unpack(buf, len, &out), 0);
	assert_int_equal(out->error, -EINVAL);
	assert_string_equal(out->message, "cannot pause: VM is paused");
	ferry__control__reply__free_unpacked(out, NULL);
	free(buf);

	/* The server's last resort when it cannot pack: the header's error. */
	assert_int_equal(control_reply_unpack(&bare, sizeof(bare), &out), 0);
	assert_int_equal(out->error, -ENOMEM);
	ferry__control__reply__free_unpacked(out, NULL);
}

static void test_short_and_lying_headers(void **state)
{
	Ferry__Control__Request *out = (void *)1;
	struct qb_ipc_request_header hdr;
	int32_t type = 99;
	size_t len;
	uint8_t *buf = pack_pause(&len);

	(void)state;
	assert_int_equal(control_req_unpack(buf, HDR - 1, &type, &out),
			 -EBADMSG);
	assert_null(out);
	assert_int_equal(type, 0);
	/* Header claims more than arrived, or less than a header. */
	memcpy(&hdr, buf, HDR);
	hdr.size = (int32_t)len + 1;
	memcpy(buf, &hdr, HDR);
	assert_int_equal(control_req_unpack(buf, len, &type, &out), -EBADMSG);
	hdr.size = -1;
	memcpy(buf, &hdr, HDR);
	assert_int_equal(control_req_unpack(buf, len, &type, &out), -EBADMSG);
	assert_null(out);
	free(buf);
}

static void test_oversize_refused(void **state)
{
	Ferry__Control__Request *out;
	int32_t type;
	uint8_t *buf = raw_frame(FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS,
				 CONTROL_BODY_MAX + 1, 0);

	(void)state;
	assert_int_equal(control_req_unpack(buf, HDR + CONTROL_BODY_MAX + 1,
					    &type, &out),
			 -EMSGSIZE);
	assert_int_equal(type, FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS);
	assert_null(out);
	free(buf);
	/* Beyond the transport buffer: refused before the body is read. */
	assert_int_equal(control_req_unpack(&(struct qb_ipc_request_header){
						    .id = 1, .size = -1 },
					    CONTROL_BUF_SIZE + 1, &type, &out),
			 -EMSGSIZE);
}

static void test_garbage_body_refused(void **state)
{
	Ferry__Control__Request *out;
	int32_t type;
	uint8_t *buf = raw_frame(FERRY__CONTROL__MSG_TYPE__MSG_TYPE_PAUSE, 64,
				 0xff);

	(void)state;
	assert_int_equal(control_req_unpack(buf, HDR + 64, &type, &out),
			 -EBADMSG);
	assert_null(out);
	free(buf);
}

static void test_type_mismatch_and_unknown(void **state)
{
	Ferry__Control__Request *out;
	struct qb_ipc_request_header hdr;
	int32_t type;
	size_t len;
	uint8_t *buf = pack_pause(&len);
	uint8_t *empty = raw_frame(1000, 0, 0);

	(void)state;
	memcpy(&hdr, buf, HDR);
	hdr.id = FERRY__CONTROL__MSG_TYPE__MSG_TYPE_QUIT;
	memcpy(buf, &hdr, HDR);
	assert_int_equal(control_req_unpack(buf, len, &type, &out), -EBADMSG);
	assert_null(out);
	/* An empty body is a valid protobuf with no body set. */
	hdr.id = FERRY__CONTROL__MSG_TYPE__MSG_TYPE_STATUS;
	hdr.size = HDR;
	memcpy(buf, &hdr, HDR);
	assert_int_equal(control_req_unpack(buf, HDR, &type, &out), -EBADMSG);
	assert_int_equal(control_req_unpack(empty, HDR, &type, &out),
			 -EOPNOTSUPP);
	assert_int_equal(type, 1000);
	assert_null(out);
	free(empty);
	free(buf);
}

static void test_type_names(void **state)
{
	(void)state;
	assert_string_equal(control_msg_type_name(1), "status");
	assert_string_equal(control_msg_type_name(5), "debug-flip");
	assert_string_equal(control_msg_type_name(0), "unknown");
	assert_string_equal(control_msg_type_name(-3), "unknown");
	assert_string_equal(control_msg_type_name(1 << 20), "unknown");
	assert_false(control_msg_type_known(0));
	assert_true(control_msg_type_known(2));
}

static void test_service_names(void **state)
{
	char a[CONTROL_SERVICE_MAX], b[CONTROL_SERVICE_MAX];
	char longp[300];

	(void)state;
	assert_int_equal(control_service_name("/tmp/x/ctl", a, sizeof(a)), 0);
	assert_string_equal(a, "hv:%2ftmp%2fx%2fctl");
	/* Escaping keeps distinct paths distinct. */
	assert_int_equal(control_service_name("/a%2fb", b, sizeof(b)), 0);
	assert_string_equal(b, "hv:%2fa%252fb");
	assert_int_equal(control_service_name("/a/b", a, sizeof(a)), 0);
	assert_string_not_equal(a, b);
	/* Long paths become a short hash, different for different paths. */
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(control_service_name(longp, a, sizeof(a)), 0);
	longp[sizeof(longp) - 2] = 'q';
	assert_int_equal(control_service_name(longp, b, sizeof(b)), 0);
	assert_true(strlen(a) <= CONTROL_SERVICE_LEN);
	assert_int_equal(strncmp(a, "hv#", 3), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(control_service_name("/x", a, CONTROL_SERVICE_MAX - 1),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_without_body_refused),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_error_reply_and_bare_header),
		cmocka_unit_test(test_short_and_lying_headers),
		cmocka_unit_test(test_oversize_refused),
		cmocka_unit_test(test_garbage_body_refused),
		cmocka_unit_test(test_type_mismatch_and_unknown),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_service_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
