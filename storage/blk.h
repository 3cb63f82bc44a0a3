/*
 * Block backends behind one ops table. A backend serves byte-addressed
 * requests (read, write, flush, discard, write-zeroes) asynchronously:
 * blk_submit() queues, blk_unplug() hands the queued batch to the kernel,
 * and when blk->event_fd becomes readable blk_reap() runs the completion
 * callback for every finished request. All calls for one struct blk come
 * from one thread at a time (the device's I/O thread); the callbacks run
 * on that thread, inside blk_reap() (or inside blk_submit() for a request
 * refused at once, which returns an error instead).
 *
 * Why io_uring and not a thread pool: one device I/O thread both submits
 * and reaps, a batch of guest requests costs one io_uring_enter() instead
 * of a wakeup and a context switch per request, and O_DIRECT requests run
 * truly asynchronously in the kernel at any queue depth with no worker
 * threads to size. Buffered (cache=writeback) reads and writes are page-
 * cache copies: the file backend does them on the I/O thread itself and
 * completes them inside blk_submit(), since io_uring would punt them to an
 * io-wq worker and pay a wakeup per completion (storage/blk_file.c).
 * liburing is a Debian package.
 *
 * The dirty-region hook sees every range a write, discard or write-zeroes
 * is about to change, before it is submitted: replication and storage
 * migration hang off it.
 */
#ifndef STORAGE_BLK_H
#define STORAGE_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
	BLK_OP_DISCARD,
	BLK_OP_WRITE_ZEROES,
};

enum blk_cache { BLK_CACHE_WRITEBACK, BLK_CACHE_NONE };

#define BLK_SECTOR 512

/* How long, by default, a device's I/O thread keeps polling for more
 * work after some before it sleeps (hv/virtio_blk.c says why). */
#define BLK_POLL_US_DEFAULT 50
#define BLK_POLL_US_MAX 1000000

/* What `--disk PATH[,readonly][,cache=none|writeback][,poll=US]` says. */
struct blk_opts {
	const char *path;
	bool readonly;
	enum blk_cache cache;
	unsigned int poll_us;
};

struct blk;
struct blk_req;

/* Completion: @result is 0 or -errno. The request belongs to the caller
 * again once this runs. */
typedef void (*blk_done_fn)(void *opaque, struct blk_req *req, int result);
/* [offset, offset + len) of the disk is about to change. */
typedef void (*blk_dirty_fn)(void *opaque, uint64_t offset, uint64_t len);

/* A request; owned by the caller, which keeps it alive until done. */
struct blk_req {
	enum blk_op op;
	uint64_t offset; /* bytes */
	uint64_t len;	 /* bytes: sum of iov for read/write */
	struct iovec *iov;
	unsigned int iovcnt;
	void *bounce; /* backend's aligned copy, if it needed one */
	void *opaque; /* caller's */
};

struct blk_ops {
	const char *name;
	int (*submit)(struct blk *b, struct blk_req *r);
	int (*unplug)(struct blk *b);
	int (*reap)(struct blk *b);
	bool (*ready)(struct blk *b);
	int (*flush_sync)(struct blk *b);
	void (*destroy)(struct blk *b);
};

struct blk {
	const struct blk_ops *ops;
	uint64_t size;	  /* bytes, a multiple of BLK_SECTOR */
	bool readonly;
	uint32_t align;	  /* offset/length granularity (512, or the O_DIRECT
			   * alignment with cache=none) */
	int event_fd;	  /* readable when blk_reap() has work */
	unsigned int inflight;
	blk_done_fn done;
	void *done_opaque;
	blk_dirty_fn dirty;
	void *dirty_opaque;
};

/* Parses "PATH[,readonly][,cache=none|writeback][,poll=US]" (PATH points
 * into @s, which is modified). Returns 0 or -EINVAL after logging what is
 * wrong. */
int blk_opts_parse(char *s, struct blk_opts *o);

/* Opens a raw file (or block device) backend. Returns 0 or -errno with the
 * reason logged, naming the path. */
int blk_file_open(const struct blk_opts *o, blk_done_fn done, void *opaque,
		  struct blk **out);

/* Checks the request against the disk (range, alignment, read-only) and
 * queues it (or finishes it, calling @done before returning 0). Returns 0,
 * or -EROFS / -EINVAL / -errno without calling @done. */
int blk_submit(struct blk *b, struct blk_req *r);
/* Submits what blk_submit() queued. Returns 0 or -errno. */
int blk_unplug(struct blk *b);
/* Runs completions that are ready, without blocking. Returns how many. */
int blk_reap(struct blk *b);
/* Whether blk_reap() has completions to run; costs no system call. */
bool blk_ready(struct blk *b);
/* Waits for every request in flight, then makes written data durable.
 * Returns 0 or -errno. */
int blk_drain_flush(struct blk *b);
void blk_set_dirty_hook(struct blk *b, blk_dirty_fn fn, void *opaque);
/* NULL is a no-op. Requests must have completed. */
void blk_destroy(struct blk *b);

#endif
