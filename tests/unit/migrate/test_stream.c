/*
 * migrate/stream.c: CRC32C against known vectors (table and SSE4.2), the
 * writer -> reader round trip over a memfd and a socket, and the reader's
 * rejections: truncation at every length, a flip of every bit, bad magic,
 * future version, unknown flags, oversized length, bad padding, unknown
 * mandatory vs optional records. Each rejection is logged exactly once.
 * Also replays tests/fuzz/corpus-regress/ through the fuzz harness.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "migrate/stream.h"
#include "tests/fuzz/harness.h"

#define MiB (1u << 20)

/* ---- helpers ----------------------------------------------------------- */

static int memfd(void)
{
	int fd = memfd_create("stream", MFD_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static int memfd_with(const uint8_t *buf, size_t len)
{
	int fd = memfd();

	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Reads the whole of @fd into a malloc'd buffer. */
static uint8_t *slurp(int fd, size_t *len)
{
	struct stat st;
	uint8_t *buf;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, st.st_size, 0), st.st_size);
	*len = st.st_size;
	return buf;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

/* A small valid stream: SPEC-like body, a 13-byte record, an empty one,
 * END. Returned malloc'd. */
static uint8_t *small_stream(size_t *len)
{
	uint8_t body[40];
	struct mig_writer *w;
	int fd = memfd();
	uint8_t *s;

	fill(body, sizeof(body), 7);
	assert_int_equal(mig_writer_create(fd, &w), 0);
	assert_int_equal(mig_write_record(w, MIG_REC_SPEC, body, 40), 0);
	assert_int_equal(mig_write_record(w, MIG_REC_VCPU, body, 13), 0);
	assert_int_equal(mig_write_record(w, MIG_REC_PLATFORM, NULL, 0), 0);
	assert_int_equal(mig_write_record(w, MIG_REC_END, NULL, 0), 0);
	assert_int_equal(mig_writer_flush(w), 0);
	mig_writer_destroy(w);
	s = slurp(fd, len);
	close(fd);
	assert_int_equal(*len, 24 + (16 + 40) + (16 + 16) + 16 + 16);
	return s;
}

/* Reads @buf as a stream to its end. Returns 0 for a whole stream (END,
 * then the clean end) or the first error. */
static int read_all(const uint8_t *buf, size_t len)
{
	struct mig_reader *r;
	struct mig_record rec;
	int fd = memfd_with(buf, len), rc;

	rc = mig_reader_create(fd, &r);
	if (!rc) {
		while ((rc = mig_read_record(r, &rec)) == 0)
			;
		if (rc == -ENODATA)
			rc = 0;
		mig_reader_destroy(r);
	}
	close(fd);
	return rc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Rewrites the CRC of the record at @off after an edit. */
static void fix_crc(uint8_t *s, size_t off)
{
	uint32_t len;

	memcpy(&len, s + off + 4, 4);
	put_le32(s + off + 8, 0);
	put_le32(s + off + 8,
		 mig_crc32c(mig_crc32c(0, s + off, 16), s + off + 16, len));
}

/* ---- CRC32C ------------------------------------------------------------ */

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn crc)
{
	uint8_t buf[32];

	assert_int_equal(crc(0, "123456789", 9), 0xE3069283);
	assert_int_equal(crc(0, "", 0), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc(0, buf, 32), 0x8A9136AA);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc(0, buf, 32), 0x62A8AB43);
	for (int i = 0; i < 32; i++)
		buf[i] = i;
	assert_int_equal(crc(0, buf, 32), 0x46DD794E);
	/* Chained in pieces equals in one go. */
	assert_int_equal(crc(crc(0, "1234", 4), "56789", 5), 0xE3069283);
}

static void test_crc_sw(void **state)
{
	(void)state;
	check_vectors(mig_crc32c_sw);
	check_vectors(mig_crc32c);
}

static void test_crc_hw(void **state)
{
	uint8_t buf[1000];

	(void)state;
	if (!mig_crc32c_hw_available())
		skip();
	check_vectors(mig_crc32c_hw);
	fill(buf, sizeof(buf), 3);
	/* Every alignment and length mix of head, words and tail. */
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 40; len++)
			assert_int_equal(mig_crc32c_hw(5, buf + off, len),
					 mig_crc32c_sw(5, buf + off, len));
	assert_int_equal(mig_crc32c_hw(0, buf, sizeof(buf)),
			 mig_crc32c_sw(0, buf, sizeof(buf)));
}

/* ---- round trip -------------------------------------------------------- */

static const size_t sizes[] = {0,    1,	   7,	  8,	   9,	       4095,
			       4096, 4097, 65536, MiB + 1, 3 * MiB + 5};
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static uint64_t sizes_stream_len(void)
{
	uint64_t len = MIG_STREAM_HDR_SIZE + 16; /* header, END */

	for (size_t i = 0; i < NR_SIZES; i++)
		len += 2 * (16 + ((sizes[i] + 7) & ~7ul));
	return len;
}

/* Writes every size twice: whole, and split into an iov of a small part,
 * a large (direct) part and a small tail. */
static void write_sizes(int fd, const uint8_t *data)
{
	struct mig_writer *w;
	uint64_t expect = MIG_STREAM_HDR_SIZE;

	assert_int_equal(mig_writer_create(fd, &w), 0);
	for (size_t i = 0; i < NR_SIZES; i++) {
		size_t n = sizes[i], a = n / 3, b = n - a - n / 5;
		struct iovec iov[3] = {
		    {(void *)data, a},
		    {(void *)(data + a), b},
		    {(void *)(data + a + b), n - a - b},
		};

		assert_int_equal(mig_write_record(w, MIG_REC_PAGES, data, n),
				 0);
		assert_int_equal(mig_write_recordv(w, MIG_REC_VCPU, iov, 3), 0);
		expect += 2 * (16 + ((n + 7) & ~7ul));
		assert_int_equal(mig_writer_bytes(w), expect);
	}
	assert_int_equal(mig_write_record(w, MIG_REC_END, NULL, 0), 0);
	assert_int_equal(mig_writer_flush(w), 0);
	assert_int_equal(mig_writer_bytes(w), sizes_stream_len());
	mig_writer_destroy(w);
}

/* The bytes on the wire, checked without the reader. */
static void check_layout(const uint8_t *s, size_t len, const uint8_t *data)
{
	size_t off = MIG_STREAM_HDR_SIZE;

	for (size_t i = 0; i < 2 * NR_SIZES; i++) {
		size_t n = sizes[i / 2];
		uint32_t type, rlen, rsvd;

		assert_true(off + 16 + n <= len);
		memcpy(&type, s + off, 4);
		memcpy(&rlen, s + off + 4, 4);
		memcpy(&rsvd, s + off + 12, 4);
		assert_int_equal(type, i % 2 ? MIG_REC_VCPU : MIG_REC_PAGES);
		assert_int_equal(rlen, n);
		assert_int_equal(rsvd, 0);
		assert_memory_equal(s + off + 16, data, n);
		off += 16 + ((n + 7) & ~7ul);
	}
	assert_int_equal(off + 16, len);
}

static void read_sizes(int fd, const uint8_t *data, uint64_t len)
{
	struct mig_record rec;
	struct mig_reader *r;

	assert_int_equal(mig_reader_create(fd, &r), 0);
	for (size_t i = 0; i < 2 * NR_SIZES; i++) {
		assert_int_equal(mig_read_record(r, &rec), 0);
		assert_int_equal(rec.type,
				 i % 2 ? MIG_REC_VCPU : MIG_REC_PAGES);
		assert_int_equal(rec.len, sizes[i / 2]);
		assert_int_equal(rec.offset % 8, 0);
		assert_memory_equal(rec.body, data, rec.len);
	}
	assert_int_equal(mig_read_record(r, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_END);
	assert_int_equal(mig_reader_at_eof(r), 1);
	assert_int_equal(mig_read_record(r, &rec), -ENODATA);
	assert_int_equal(mig_read_record(r, &rec), -ENODATA);
	assert_int_equal(mig_reader_offset(r), len);
	mig_reader_destroy(r);
}

static void test_round_trip(void **state)
{
	size_t max = 3 * MiB + 5, len;
	uint8_t *data = malloc(max), *s;
	int fd = memfd();

	(void)state;
	log_reset();
	fill(data, max, 1);
	write_sizes(fd, data);
	s = slurp(fd, &len);
	check_layout(s, len, data);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	read_sizes(fd, data, len);
	assert_int_equal(log_errors(), 0);
	close(fd);
	free(s);
	free(data);
}

struct sock_job {
	int fd;
	const uint8_t *data;
};

static void *sock_writer(void *arg)
{
	struct sock_job *job = arg;

	write_sizes(job->fd, job->data);
	close(job->fd);
	return NULL;
}

/* Through a socket (sendmsg, short writes), read while it is written. */
static void test_round_trip_socket(void **state)
{
	size_t max = 3 * MiB + 5;
	uint8_t *data = malloc(max);
	struct sock_job job = {.data = data};
	pthread_t t;
	int sv[2];

	(void)state;
	fill(data, max, 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	job.fd = sv[0];
	assert_int_equal(pthread_create(&t, NULL, sock_writer, &job), 0);
	read_sizes(sv[1], data, sizes_stream_len());
	pthread_join(t, NULL);
	close(sv[1]);
	free(data);
}

/* ---- rejections -------------------------------------------------------- */

static void test_truncated_everywhere(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);

	(void)state;
	assert_int_equal(read_all(s, len), 0);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n + 1);

		memcpy(cut, s, n);
		log_reset();
		assert_int_equal(read_all(cut, n), -EPIPE);
		assert_int_equal(log_errors(), 1);
		free(cut);
	}
	free(s);
}

static void test_truncation_messages(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);

	(void)state;
	log_reset();
	assert_int_equal(read_all(s, 24 + 56), -EPIPE);
	assert_logged_once("stream ended at offset 80 without an END record");
	log_reset();
	assert_int_equal(read_all(s, 24 + 56 + 20), -EPIPE);
	assert_logged_once("stream truncated at offset 100 (inside record "
			   "VCPU 0x4 at offset 80)");
	log_reset();
	assert_int_equal(read_all(s, 24 + 10), -EPIPE);
	assert_logged_once("inside a record header");
	log_reset();
	assert_int_equal(read_all(s, 0), -EPIPE);
	assert_logged_once("stream is empty");
	free(s);
}

static void test_bit_flips(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);

	(void)state;
	for (size_t bit = 0; bit < len * 8; bit++) {
		int rc;

		s[bit / 8] ^= 1u << (bit % 8);
		log_reset();
		rc = read_all(s, len);
		if (rc == 0 || log_errors() != 1)
			fail_msg("flip of bit %zu: rc %d, %d errors logged",
				 bit, rc, log_errors());
		s[bit / 8] ^= 1u << (bit % 8);
	}
	free(s);
}

static void test_bad_header(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);

	(void)state;
	log_reset();
	s[0] = 'X';
	assert_int_equal(read_all(s, len), -EPROTO);
	assert_logged_once("bad magic");
	s[0] = 'F';

	log_reset();
	put_le32(s + 8, 2);
	assert_int_equal(read_all(s, len), -EPROTONOSUPPORT);
	assert_logged_once("stream version 2 is newer than this reader (1)");
	put_le32(s + 8, 1);

	log_reset();
	put_le32(s + 12, 4);
	put_le32(s + 20, mig_crc32c(0, s, 20));
	assert_int_equal(read_all(s, len), -EPROTONOSUPPORT);
	assert_logged_once("unknown flags 0x4");
	put_le32(s + 12, 0);
	put_le32(s + 20, mig_crc32c(0, s, 20));

	log_reset();
	assert_int_equal(read_all(s, len), 0);
	assert_int_equal(log_errors(), 0);
	free(s);
}

static void test_oversized(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);

	(void)state;
	put_le32(s + 24 + 4, MIG_REC_MAX_BODY + 1);
	log_reset();
	assert_int_equal(read_all(s, len), -EBADMSG);
	assert_logged_once("exceeds the limit");
	free(s);
}

static void test_bad_padding_reserved(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);
	size_t vcpu = 24 + 56;

	(void)state;
	s[vcpu + 16 + 13] = 1; /* padding is outside the CRC */
	log_reset();
	assert_int_equal(read_all(s, len), -EBADMSG);
	assert_logged_once("padding byte 0 is 0x01");
	s[vcpu + 16 + 13] = 0;

	put_le32(s + vcpu + 12, 9);
	fix_crc(s, vcpu);
	log_reset();
	assert_int_equal(read_all(s, len), -EBADMSG);
	assert_logged_once("reserved field is 0x9");
	free(s);
}

/* The VCPU record retyped: unknown mandatory is refused, unknown optional
 * skipped; END with a body is refused. */
static void test_unknown_types(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len);
	size_t vcpu = 24 + 56;
	struct mig_record rec;
	struct mig_reader *r;
	int fd;

	(void)state;
	put_le32(s + vcpu, 42);
	fix_crc(s, vcpu);
	log_reset();
	assert_int_equal(read_all(s, len), -EPROTONOSUPPORT);
	assert_logged_once("unknown mandatory type 0x2a");

	put_le32(s + vcpu, 42 | MIG_REC_OPTIONAL);
	fix_crc(s, vcpu);
	log_reset();
	fd = memfd_with(s, len);
	assert_int_equal(mig_reader_create(fd, &r), 0);
	assert_int_equal(mig_read_record(r, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_SPEC);
	assert_int_equal(mig_read_record(r, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_PLATFORM);
	assert_int_equal(mig_reader_skipped(r), 1);
	assert_int_equal(mig_read_record(r, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_END);
	assert_int_equal(mig_read_record(r, &rec), -ENODATA);
	assert_int_equal(log_errors(), 0);
	mig_reader_destroy(r);
	close(fd);

	put_le32(s + vcpu, MIG_REC_END);
	fix_crc(s, vcpu);
	log_reset();
	assert_int_equal(read_all(s, len), -EBADMSG);
	assert_logged_once("END has a 13 byte body");
	free(s);
}

/* Bytes after END: at_eof says so without consuming them. */
static void test_data_after_end(void **state)
{
	size_t len;
	uint8_t *s = small_stream(&len), *two = malloc(2 * len);
	struct mig_record rec;
	struct mig_reader *r;
	int fd;

	(void)state;
	memcpy(two, s, len);
	memcpy(two + len, s, len);
	fd = memfd_with(two, len + 1);
	log_reset();
	assert_int_equal(mig_reader_create(fd, &r), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mig_read_record(r, &rec), 0);
	assert_int_equal(rec.type, MIG_REC_END);
	assert_int_equal(mig_reader_at_eof(r), 0);
	assert_int_equal(mig_reader_at_eof(r), 0);
	assert_int_equal(mig_reader_offset(r), len);
	assert_int_equal(mig_read_record(r, &rec), -EPIPE);
	assert_logged_once("inside a record header");
	mig_reader_destroy(r);
	close(fd);
	free(two);
	free(s);
}

static void test_write_errors_stick(void **state)
{
	struct mig_writer *w;
	uint8_t big[8192] = {0};

	(void)state;
	log_reset();
	assert_int_equal(mig_writer_create(-1, &w), 0);
	assert_int_equal(mig_write_record(w, MIG_REC_SPEC, big, 10), 0);
	assert_int_equal(mig_write_record(w, MIG_REC_PAGES, big, 8192), -EBADF);
	assert_int_equal(mig_write_record(w, MIG_REC_SPEC, big, 10), -EBADF);
	assert_int_equal(mig_writer_flush(w), -EBADF);
	assert_logged_once("stream write failed at offset 0");
	mig_writer_destroy(w);
	mig_writer_destroy(NULL);
	mig_reader_destroy(NULL);
}

static void test_write_oversized(void **state)
{
	struct mig_writer *w;
	struct iovec iov[2] = {{NULL, MIG_REC_MAX_BODY}, {NULL, 1}};
	int fd = memfd();

	(void)state;
	log_reset();
	assert_int_equal(mig_writer_create(fd, &w), 0);
	assert_int_equal(mig_write_recordv(w, MIG_REC_PAGES, iov, 2),
			 -EMSGSIZE);
	assert_logged_once("exceeds the");
	mig_writer_destroy(w);
	close(fd);
}

/* ---- fuzz regressions -------------------------------------------------- */

static void replay(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len;
	uint8_t *buf;

	assert_true(fd >= 0);
	buf = slurp(fd, &len);
	close(fd);
	fuzz_one(buf, len);
	free(buf);
}

static void test_fuzz_regressions(void **state)
{
	char dir[512], path[1024];
	const char *src = __FILE__;
	const char *slash = strrchr(src, '/');
	struct dirent *de;
	int n = 0;
	DIR *d;

	(void)state;
	/* __FILE__ is tests/unit/migrate/test_stream.c from the top. */
	snprintf(dir, sizeof(dir), "%.*s/../../fuzz/corpus-regress",
		 (int)(slash ? slash - src : 1), slash ? src : ".");
	d = opendir(dir);
	if (!d)
		skip();
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "README"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		replay(path);
		n++;
	}
	closedir(d);
	if (getenv("FERRY_TEST_LOG"))
		fprintf(stderr, "  replayed %d fuzz regressions\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc_sw),
	    cmocka_unit_test(test_crc_hw),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_round_trip_socket),
	    cmocka_unit_test(test_truncated_everywhere),
	    cmocka_unit_test(test_truncation_messages),
	    cmocka_unit_test(test_bit_flips),
	    cmocka_unit_test(test_bad_header),
	    cmocka_unit_test(test_oversized),
	    cmocka_unit_test(test_bad_padding_reserved),
	    cmocka_unit_test(test_unknown_types),
	    cmocka_unit_test(test_data_after_end),
	    cmocka_unit_test(test_write_errors_stick),
	    cmocka_unit_test(test_write_oversized),
	    cmocka_unit_test(test_fuzz_regressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
