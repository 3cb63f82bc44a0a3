/*
 * Ferry's framed-record stream: the one format of snapshot files, migration
 * streams and replication checkpoints (spec: migrate/STREAM.md). This layer
 * frames, checksums and buffers records over an fd; it does not know what
 * a VM is. Never includes KVM headers.
 *
 * Errors stick (as in Redis's rio): after the first failure every call
 * returns the same -errno, so callers may check once at the end.
 */
#ifndef MIGRATE_STREAM_H
#define MIGRATE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define MIG_STREAM_MAGIC "FERRYVM\n" /* 8 bytes, no NUL on the wire */
#define MIG_STREAM_VERSION 1
#define MIG_STREAM_HDR_SIZE 24u	     /* magic, version, flags, page size, crc */
#define MIG_REC_HDR_SIZE 16u	     /* type, length, crc, reserved */
#define MIG_REC_MAX_BODY (64u << 20) /* larger is corruption */
#define MIG_REC_OPTIONAL 0x80000000u /* reader may skip if unknown */
#define MIG_WRITE_DIRECT_MIN 4096u   /* iov parts this big skip the buffer */

enum mig_rec_type {
	MIG_REC_END = 0,
	MIG_REC_SPEC = 1,	 /* proto VmSpec; must be first */
	MIG_REC_PAGES = 2,	 /* page batch, see migrate/pages.h */
	MIG_REC_ZERO_BITMAP = 3, /* pages known to be zero */
	MIG_REC_VCPU = 4,	 /* proto VcpuState, one per vCPU */
	MIG_REC_PLATFORM = 5,	 /* proto PlatformState: irqchip, PIT, clock */
	MIG_REC_DEVICE = 6,	 /* proto DeviceState, one per device */
	/* Live migration (STREAM.md, "Live migration"). */
	MIG_REC_STREAM_INFO = 16, /* session, index, count: first record */
	MIG_REC_ROUND_END = 17,	  /* a pre-copy round ended on this stream */
	MIG_REC_READY = 18,	  /* dst -> src: state loaded, waiting for GO */
	MIG_REC_GO = 19,	  /* src -> dst: start the guest */
	MIG_REC_RUNNING = 20,	  /* dst -> src: the guest runs */
	MIG_REC_ERROR = 21,	  /* dst -> src: refused; body is one line */
	MIG_REC_ROUND_ACK = 22,	  /* dst -> src: a round is applied */
};

/* MIG_REC_STREAM_INFO body. */
struct mig_stream_info {
	uint64_t session;
	uint32_t index;
	uint32_t count;
};

struct mig_writer;
struct mig_reader;

struct mig_record {
	uint32_t type;	     /* including MIG_REC_OPTIONAL */
	uint32_t len;	     /* body length */
	const uint8_t *body; /* valid until the next mig_read_record() */
	uint64_t offset;     /* stream offset of the record header */
};

/* Writer over @fd (not owned, not closed; must be blocking). Writes the
 * stream header immediately (buffered). Returns 0 or -ENOMEM. Writes to a
 * socket use MSG_NOSIGNAL; on a pipe, the caller must ignore SIGPIPE. */
int mig_writer_create(int fd, struct mig_writer **out);
/* Appends one record gathered from @iov. Small parts are copied into a
 * 1 MiB buffer; parts of MIG_WRITE_DIRECT_MIN bytes or more are written
 * with writev(2) from the caller's memory before this returns (so the
 * caller may reuse it afterwards). The CRC is computed from the same
 * memory, so it must not change during the call. Returns 0, -EMSGSIZE
 * (body over MIG_REC_MAX_BODY) or the sticky -errno. */
int mig_write_recordv(struct mig_writer *w, uint32_t type,
		      const struct iovec *iov, int iovcnt);
int mig_write_record(struct mig_writer *w, uint32_t type, const void *body,
		     size_t len);
/* Writes everything buffered. Returns 0 or the sticky -errno. */
int mig_writer_flush(struct mig_writer *w);
/* Stream bytes accepted so far (header included, buffered or not). */
uint64_t mig_writer_bytes(const struct mig_writer *w);
void mig_writer_destroy(struct mig_writer *w);

/* Reader over @fd (not owned). Reads and checks the stream header:
 * -EPROTO wrong magic, -EPROTONOSUPPORT future version or unknown flags,
 * -EBADMSG header CRC, -EPIPE truncated, -ENOMEM. Logs the reason once;
 * *out is set only on success. */
int mig_reader_create(int fd, struct mig_reader **out);
/* Next record, CRC-checked; unknown optional records are skipped.
 * Returns 0, or:
 *   -ENODATA  input ended at a record boundary after an END record was
 *             returned (the clean end; not logged);
 *   -EPIPE    input ended inside a record, or at a boundary before any END
 *             record (logged, saying which, with the offset);
 *   -EBADMSG  CRC mismatch, non-zero padding or reserved field, oversized
 *             body, END with a body;
 *   -EPROTONOSUPPORT  unknown mandatory record type;
 *   -EIO etc. from read(2), -ENOMEM.
 * Logs the reason with the record's offset and type. Errors stick. The
 * reader does not require END; callers stop at END themselves. */
int mig_read_record(struct mig_reader *r, struct mig_record *rec);
/* 1 when the input ends at the current offset, 0 when more bytes follow
 * (reads ahead, blocking, to find out), or the sticky -errno. Lets a
 * snapshot consumer check that nothing follows END without reading it as
 * a record. */
int mig_reader_at_eof(struct mig_reader *r);
/* Stream bytes consumed so far (header included). */
uint64_t mig_reader_offset(const struct mig_reader *r);
/* Unknown optional records skipped so far. */
uint32_t mig_reader_skipped(const struct mig_reader *r);
void mig_reader_destroy(struct mig_reader *r);

/* CRC32C (Castagnoli). Chains like zlib's crc32(): start with 0, pass the
 * previous result to continue. Uses the SSE4.2 crc32 instruction when the
 * CPU has it. The _sw and _hw variants force one implementation (for
 * tests); _hw must only be called when mig_crc32c_hw_available(). */
uint32_t mig_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t mig_crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t mig_crc32c_hw(uint32_t crc, const void *buf, size_t len);
int mig_crc32c_hw_available(void);

/* "SPEC", "PAGES", ...; "UNKNOWN" for a type this version does not know. */
const char *mig_rec_type_name(uint32_t type);

#endif
