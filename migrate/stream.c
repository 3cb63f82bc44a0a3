/*
 * migrate/stream.c: the framed-record layer of migrate/STREAM.md. Owns the
 * stream header, record framing (type, length, CRC32C, padding), the
 * buffered writer and the record reader over a file descriptor, and
 * CRC32C. Knows nothing of pages, protobuf or VMs; must not touch KVM.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/log.h"
#include "migrate/stream.h"

#define WBUF_SIZE (1u << 20)   /* writer buffer */
#define WPEND_MAX 64	       /* gathered iovs per writev */
#define RBUF_SIZE (256u << 10) /* reader read-ahead */
#define RBODY_STEP (1u << 20)  /* body buffer grows as data arrives */

/* ---- CRC32C ------------------------------------------------------- */

static const uint32_t crc32c_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
    0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
    0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
    0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
    0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
    0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
    0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
    0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
    0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
    0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
    0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
    0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
    0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
    0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
    0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
    0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
    0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
    0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
    0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
    0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
    0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
    0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
    0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
    0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
    0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
    0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
    0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
    0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
    0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
    0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
    0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
    0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
    0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

uint32_t mig_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

__attribute__((target("sse4.2"))) uint32_t
mig_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	for (; len && ((uintptr_t)p & 7); len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

int mig_crc32c_hw_available(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}

uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len)
{
	if (mig_crc32c_hw_available())
		return mig_crc32c_hw(crc, buf, len);
	return mig_crc32c_sw(crc, buf, len);
}

/* ---- names and wire layouts ------------------------------------------ */

const char *mig_rec_type_name(uint32_t type)
{
	switch (type) {
	case MIG_REC_END:
		return "END";
	case MIG_REC_SPEC:
		return "SPEC";
	case MIG_REC_PAGES:
		return "PAGES";
	case MIG_REC_ZERO_BITMAP:
		return "ZERO_BITMAP";
	case MIG_REC_VCPU:
		return "VCPU";
	case MIG_REC_PLATFORM:
		return "PLATFORM";
	case MIG_REC_DEVICE:
		return "DEVICE";
	case MIG_REC_STREAM_INFO:
		return "STREAM_INFO";
	case MIG_REC_ROUND_END:
		return "ROUND_END";
	case MIG_REC_READY:
		return "READY";
	case MIG_REC_GO:
		return "GO";
	case MIG_REC_RUNNING:
		return "RUNNING";
	case MIG_REC_ERROR:
		return "ERROR";
	case MIG_REC_ROUND_ACK:
		return "ROUND_ACK";
	}
	return "UNKNOWN";
}

static bool rec_type_known(uint32_t type)
{
	return strcmp(mig_rec_type_name(type), "UNKNOWN") != 0;
}

static uint32_t pad8(uint32_t len)
{
	return (8 - (len & 7)) & 7;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void stream_hdr_build(uint8_t hdr[MIG_STREAM_HDR_SIZE])
{
	memcpy(hdr, MIG_STREAM_MAGIC, 8);
	put32(hdr + 8, MIG_STREAM_VERSION);
	put32(hdr + 12, 0);
	put32(hdr + 16, 4096);
	put32(hdr + 20, mig_crc32c(0, hdr, 20));
}

/* Record header with the crc field zero, as the CRC covers it. */
static void rec_hdr_build(uint8_t hdr[MIG_REC_HDR_SIZE], uint32_t type,
			  uint32_t len)
{
	put32(hdr, type);
	put32(hdr + 4, len);
	put32(hdr + 8, 0);
	put32(hdr + 12, 0);
}

/* ---- writer ------------------------------------------------------------ */

struct mig_writer {
	int fd;
	int err;	  /* sticky */
	bool not_sock;	  /* sendmsg said ENOTSOCK: use writev */
	uint64_t bytes;	  /* accepted, buffered or not */
	uint64_t written; /* on the fd */
	uint8_t *buf;
	size_t len;	  /* bytes used in buf */
	size_t seg_start; /* start of buf not yet in pend[] */
	/* Gathered for the next writev: segments of buf and direct parts,
	 * in stream order. Invariant between calls: npend <= WPEND_MAX - 2. */
	struct iovec pend[WPEND_MAX];
	int npend;
};

static int w_fail(struct mig_writer *w, int err)
{
	if (!w->err) {
		w->err = err;
		log_err("stream write failed at offset %llu: %s",
			(unsigned long long)w->written, strerror(-err));
	}
	return w->err;
}

static ssize_t w_writev(struct mig_writer *w, struct iovec *iov, int cnt)
{
	if (!w->not_sock) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = cnt};
		ssize_t n = sendmsg(w->fd, &msg, MSG_NOSIGNAL);

		if (n >= 0 || errno != ENOTSOCK)
			return n;
		w->not_sock = true;
	}
	return writev(w->fd, iov, cnt);
}

/* Writes all of @iov (modified in place), handling short writes. */
static int w_sendv(struct mig_writer *w, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t n = w_writev(w, iov, cnt > IOV_MAX ? IOV_MAX : cnt);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return w_fail(w, -errno);
		if (n == 0 && iov->iov_len)
			return w_fail(w, -EIO);
		w->written += n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

static void w_seg_close(struct mig_writer *w)
{
	if (w->len > w->seg_start) {
		w->pend[w->npend].iov_base = w->buf + w->seg_start;
		w->pend[w->npend].iov_len = w->len - w->seg_start;
		w->npend++;
		w->seg_start = w->len;
	}
}

/* Writes everything gathered and buffered; empties the buffer. */
static int w_drain(struct mig_writer *w)
{
	int rc;

	w_seg_close(w);
	rc = w_sendv(w, w->pend, w->npend);
	w->npend = 0;
	w->len = 0;
	w->seg_start = 0;
	return rc;
}

static int w_copy(struct mig_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		size_t n = WBUF_SIZE - w->len;
		int rc;

		if (!n) {
			rc = w_drain(w);
			if (rc)
				return rc;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int w_direct(struct mig_writer *w, const void *data, size_t len)
{
	w_seg_close(w);
	w->pend[w->npend].iov_base = (void *)data;
	w->pend[w->npend].iov_len = len;
	w->npend++;
	return w->npend > WPEND_MAX - 2 ? w_drain(w) : 0;
}

int mig_writer_create(int fd, struct mig_writer **out)
{
	uint8_t hdr[MIG_STREAM_HDR_SIZE];
	struct mig_writer *w = calloc(1, sizeof(*w));

	if (!w)
		goto err;
	w->buf = malloc(WBUF_SIZE);
	if (!w->buf)
		goto free_w;
	w->fd = fd;
	stream_hdr_build(hdr);
	memcpy(w->buf, hdr, sizeof(hdr));
	w->len = sizeof(hdr);
	w->bytes = sizeof(hdr);
	*out = w;
	return 0;

free_w:
	free(w);
err:
	log_err("stream writer: out of memory");
	return -ENOMEM;
}

static int w_check_len(struct mig_writer *w, uint32_t type,
		       const struct iovec *iov, int iovcnt, uint32_t *len)
{
	uint64_t total = 0;

	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (total > MIG_REC_MAX_BODY) {
		log_err(
		    "record %s: body of %llu bytes exceeds the %u byte limit",
		    mig_rec_type_name(type), (unsigned long long)total,
		    MIG_REC_MAX_BODY);
		w->err = -EMSGSIZE;
		return w->err;
	}
	*len = (uint32_t)total;
	return 0;
}

int mig_write_recordv(struct mig_writer *w, uint32_t type,
		      const struct iovec *iov, int iovcnt)
{
	static const uint8_t zeros[8];
	uint8_t hdr[MIG_REC_HDR_SIZE];
	uint32_t len, crc;
	int rc;

	if (w->err)
		return w->err;
	rc = w_check_len(w, type, iov, iovcnt, &len);
	if (rc)
		return rc;
	rec_hdr_build(hdr, type, len);
	crc = mig_crc32c(0, hdr, sizeof(hdr));
	for (int i = 0; i < iovcnt; i++)
		crc = mig_crc32c(crc, iov[i].iov_base, iov[i].iov_len);
	put32(hdr + 8, crc);

	rc = w_copy(w, hdr, sizeof(hdr));
	for (int i = 0; !rc && i < iovcnt; i++) {
		if (iov[i].iov_len >= MIG_WRITE_DIRECT_MIN)
			rc = w_direct(w, iov[i].iov_base, iov[i].iov_len);
		else
			rc = w_copy(w, iov[i].iov_base, iov[i].iov_len);
	}
	if (!rc)
		rc = w_copy(w, zeros, pad8(len));
	/* Direct parts point into the caller's memory: out before return. */
	if (!rc && w->npend)
		rc = w_drain(w);
	if (rc)
		return rc;
	w->bytes += sizeof(hdr) + len + pad8(len);
	return 0;
}

int mig_write_record(struct mig_writer *w, uint32_t type, const void *body,
		     size_t len)
{
	struct iovec iov = {.iov_base = (void *)body, .iov_len = len};

	return mig_write_recordv(w, type, &iov, len ? 1 : 0);
}

int mig_writer_flush(struct mig_writer *w)
{
	if (w->err)
		return w->err;
	return w_drain(w);
}

uint64_t mig_writer_bytes(const struct mig_writer *w)
{
	return w->bytes;
}

void mig_writer_destroy(struct mig_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

/* ---- reader ------------------------------------------------------------ */

struct mig_reader {
	int fd;
	int err; /* sticky; -ENODATA after the clean end */
	bool fd_eof;
	bool seen_end;
	uint64_t off; /* stream bytes consumed */
	uint32_t skipped;
	uint8_t *rbuf;
	size_t rpos, rlen; /* unconsumed read-ahead: rbuf[rpos, rlen) */
	uint8_t *body;
	size_t body_cap;
};

static int r_fail(struct mig_reader *r, int err)
{
	r->err = err;
	return err;
}

/* Reads into the read-ahead buffer. Returns bytes read, 0 at EOF, or
 * -errno (logged). */
static ssize_t r_fill(struct mig_reader *r, void *dst, size_t len)
{
	for (;;) {
		ssize_t n = read(r->fd, dst, len);

		if (n >= 0) {
			r->fd_eof = n == 0;
			return n;
		}
		if (errno != EINTR)
			break;
	}
	log_err("stream read failed at offset %llu: %s",
		(unsigned long long)r->off, strerror(errno));
	return r_fail(r, -errno);
}

/* Consumes up to @len bytes into @dst. Returns the count (short only at
 * EOF) or -errno. */
static ssize_t r_read(struct mig_reader *r, void *dst, size_t len)
{
	uint8_t *p = dst;
	size_t got = 0;

	while (got < len) {
		size_t avail = r->rlen - r->rpos, want = len - got;
		ssize_t n;

		if (avail) {
			if (avail > want)
				avail = want;
			memcpy(p + got, r->rbuf + r->rpos, avail);
			r->rpos += avail;
			got += avail;
			continue;
		}
		if (r->fd_eof)
			break;
		if (want >= RBUF_SIZE) {
			n = r_fill(r, p + got, want);
			if (n < 0)
				return n;
			got += n;
			continue;
		}
		n = r_fill(r, r->rbuf, RBUF_SIZE);
		if (n < 0)
			return n;
		r->rpos = 0;
		r->rlen = n;
	}
	r->off += got;
	return got;
}

static int r_truncated(struct mig_reader *r, const char *what, uint32_t type,
		       uint64_t start)
{
	if (what)
		log_err("stream truncated at offset %llu (inside %s)",
			(unsigned long long)r->off, what);
	else
		log_err("stream truncated at offset %llu (inside record %s "
			"0x%x at offset %llu)",
			(unsigned long long)r->off, mig_rec_type_name(type),
			type, (unsigned long long)start);
	return r_fail(r, -EPIPE);
}

static int r_check_hdr(struct mig_reader *r, const uint8_t *h)
{
	uint32_t version = get32(h + 8), crc = get32(h + 20);

	if (memcmp(h, MIG_STREAM_MAGIC, 8)) {
		log_err("not a Ferry stream (bad magic)");
		return -EPROTO;
	}
	if (version == 0) {
		log_err("stream header: invalid version 0");
		return -EPROTO;
	}
	if (version > MIG_STREAM_VERSION) {
		log_err("stream version %u is newer than this reader (%u)",
			version, MIG_STREAM_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (crc != mig_crc32c(0, h, 20)) {
		log_err("stream header: CRC32C mismatch (stored 0x%08x, "
			"computed 0x%08x)",
			crc, mig_crc32c(0, h, 20));
		return -EBADMSG;
	}
	if (get32(h + 12)) {
		log_err("stream header: unknown flags 0x%x", get32(h + 12));
		return -EPROTONOSUPPORT;
	}
	if (get32(h + 16) != 4096) {
		log_err("stream header: page size %u not supported",
			get32(h + 16));
		return -EPROTONOSUPPORT;
	}
	(void)r;
	return 0;
}

static int r_read_hdr(struct mig_reader *r)
{
	uint8_t h[MIG_STREAM_HDR_SIZE];
	ssize_t n = r_read(r, h, sizeof(h));

	if (n < 0)
		return n;
	if (n == 0) {
		log_err("stream is empty (no stream header)");
		return -EPIPE;
	}
	if (memcmp(h, MIG_STREAM_MAGIC, n < 8 ? n : 8)) {
		log_err("not a Ferry stream (bad magic)");
		return -EPROTO;
	}
	if ((size_t)n < sizeof(h))
		return r_truncated(r, "the stream header", 0, 0);
	return r_check_hdr(r, h);
}

int mig_reader_create(int fd, struct mig_reader **out)
{
	struct mig_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		goto nomem;
	r->rbuf = malloc(RBUF_SIZE);
	if (!r->rbuf)
		goto free_r;
	r->fd = fd;
	rc = r_read_hdr(r);
	if (rc) {
		mig_reader_destroy(r);
		return rc;
	}
	*out = r;
	return 0;

free_r:
	free(r);
nomem:
	log_err("stream reader: out of memory");
	return -ENOMEM;
}

/* Reads @len body bytes plus padding into r->body, growing it as data
 * arrives so that a corrupt length cannot make us allocate 64 MiB for a
 * short stream. */
static int r_read_body(struct mig_reader *r, uint32_t type, uint64_t start,
		       size_t len)
{
	size_t have = 0;

	while (have < len) {
		size_t want = len - have;
		ssize_t n;

		if (want > RBODY_STEP)
			want = RBODY_STEP;
		if (have + want > r->body_cap) {
			size_t cap = r->body_cap ? r->body_cap : RBODY_STEP;
			uint8_t *nb;

			while (cap < have + want)
				cap *= 2;
			nb = realloc(r->body, cap);
			if (!nb) {
				log_err("stream reader: out of memory");
				return r_fail(r, -ENOMEM);
			}
			r->body = nb;
			r->body_cap = cap;
		}
		n = r_read(r, r->body + have, want);
		if (n < 0)
			return n;
		have += n;
		if ((size_t)n < want)
			return r_truncated(r, NULL, type, start);
	}
	return 0;
}

static int r_bad(struct mig_reader *r, uint32_t type, uint64_t start,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int r_bad(struct mig_reader *r, uint32_t type, uint64_t start,
		 const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_err("record %s 0x%x at offset %llu: %s", mig_rec_type_name(type),
		type, (unsigned long long)start, why);
	return r_fail(r, -EBADMSG);
}

/* Input ended exactly at a record boundary. */
static int r_eof(struct mig_reader *r)
{
	if (r->seen_end)
		return r_fail(r, -ENODATA);
	log_err("stream ended at offset %llu without an END record",
		(unsigned long long)r->off);
	return r_fail(r, -EPIPE);
}

/* Reads and checks one record of any type. */
static int r_record(struct mig_reader *r, struct mig_record *rec)
{
	uint8_t h[MIG_REC_HDR_SIZE];
	uint64_t start = r->off;
	uint32_t type, len, crc, calc;
	ssize_t n = r_read(r, h, sizeof(h));
	int rc;

	if (n <= 0)
		return n < 0 ? (int)n : r_eof(r);
	if ((size_t)n < sizeof(h))
		return r_truncated(r, "a record header", 0, start);
	type = get32(h);
	len = get32(h + 4);
	crc = get32(h + 8);
	if (get32(h + 12))
		return r_bad(r, type, start, "reserved field is 0x%x, not 0",
			     get32(h + 12));
	if (len > MIG_REC_MAX_BODY)
		return r_bad(r, type, start,
			     "body length %u exceeds the limit of %u", len,
			     MIG_REC_MAX_BODY);
	rc = r_read_body(r, type, start, (size_t)len + pad8(len));
	if (rc)
		return rc;
	put32(h + 8, 0);
	calc = mig_crc32c(mig_crc32c(0, h, sizeof(h)), r->body, len);
	if (calc != crc)
		return r_bad(r, type, start,
			     "CRC32C mismatch (stored 0x%08x, computed 0x%08x)",
			     crc, calc);
	for (uint32_t i = 0; i < pad8(len); i++)
		if (r->body[len + i])
			return r_bad(r, type, start,
				     "padding byte %u is 0x%02x, not 0", i,
				     r->body[len + i]);
	rec->type = type;
	rec->len = len;
	rec->body = r->body;
	rec->offset = start;
	return 0;
}

int mig_read_record(struct mig_reader *r, struct mig_record *rec)
{
	for (;;) {
		int rc;

		if (r->err)
			return r->err;
		rc = r_record(r, rec);
		if (rc)
			return rc;
		if (rec_type_known(rec->type))
			break;
		if (!(rec->type & MIG_REC_OPTIONAL)) {
			log_err("record at offset %llu: unknown mandatory type "
				"0x%x",
				(unsigned long long)rec->offset, rec->type);
			return r_fail(r, -EPROTONOSUPPORT);
		}
		r->skipped++;
	}
	if (rec->type == MIG_REC_END) {
		if (rec->len)
			return r_bad(r, rec->type, rec->offset,
				     "END has a %u byte body; it must be empty",
				     rec->len);
		r->seen_end = true;
	}
	return 0;
}

int mig_reader_at_eof(struct mig_reader *r)
{
	ssize_t n;

	if (r->rpos < r->rlen)
		return 0;
	if (r->fd_eof)
		return 1;
	n = r_fill(r, r->rbuf, RBUF_SIZE);
	if (n < 0)
		return (int)n;
	r->rpos = 0;
	r->rlen = n;
	return n == 0;
}

uint64_t mig_reader_offset(const struct mig_reader *r)
{
	return r->off;
}

uint32_t mig_reader_skipped(const struct mig_reader *r)
{
	return r->skipped;
}

void mig_reader_destroy(struct mig_reader *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->rbuf);
	free(r);
}
