/*
 * storage/blk.c and blk_file.c on real files: write, read back, flush,
 * discard, write-zeroes through io_uring, with cache=writeback and
 * cache=none (aligned buffers straight through, unaligned ones bounced);
 * requests out of range, unaligned or writing a read-only disk are refused
 * without running; a missing file or an unknown option is named once. Also
 * the --disk and --net option parsers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "hv/virtio.h"
#include "storage/blk.h"

#define DISK (1ULL << 20)

struct ctx {
	char path[64];
	struct blk *b;
	int done, last;
};

static void on_done(void *opaque, struct blk_req *r, int result)
{
	struct ctx *c = opaque;

	(void)r;
	c->done++;
	c->last = result;
}

static int open_disk(struct ctx *c, bool ro, enum blk_cache cache)
{
	struct blk_opts o = { c->path, ro, cache, 0 };

	return blk_file_open(&o, on_done, c, &c->b);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int fd;

	snprintf(c->path, sizeof(c->path), "/var/tmp/ferry-blk.XXXXXX");
	fd = mkstemp(c->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DISK), 0);
	close(fd);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	blk_destroy(c->b);
	unlink(c->path);
	free(c);
	return 0;
}

/* Submits @r and waits for its completion; returns its result. */
static int run(struct ctx *c, struct blk_req *r)
{
	struct pollfd p = { .fd = c->b->event_fd, .events = POLLIN };
	int want = c->done + 1, ret = blk_submit(c->b, r);

	if (ret)
		return ret;
	assert_int_equal(blk_unplug(c->b), 0);
	while (c->done < want) {
		assert_true(poll(&p, 1, 5000) > 0);
		blk_reap(c->b);
	}
	return c->last;
}

static void rw(struct ctx *c, enum blk_op op, uint64_t off, void *buf,
	       uint64_t len, int want)
{
	struct iovec iov = { buf, len };
	struct blk_req r = { .op = op, .offset = off, .len = len,
			     .iov = &iov, .iovcnt = 1 };

	assert_int_equal(run(c, &r), want);
}

static void roundtrip(struct ctx *c, uint8_t *wbuf, uint8_t *rbuf)
{
	memset(wbuf, 0xa5, 4096);
	memset(rbuf, 0, 4096);
	rw(c, BLK_OP_WRITE, 8192, wbuf, 4096, 0);
	rw(c, BLK_OP_READ, 8192, rbuf, 4096, 0);
	assert_memory_equal(wbuf, rbuf, 4096);
	assert_int_equal(c->b->inflight, 0);
}

static void test_writeback(void **state)
{
	struct ctx *c = *state;
	static uint8_t w[4096], r[4096];
	struct blk_req fl = { .op = BLK_OP_FLUSH };

	assert_int_equal(open_disk(c, false, BLK_CACHE_WRITEBACK), 0);
	assert_int_equal(c->b->size, DISK);
	roundtrip(c, w, r);
	assert_int_equal(run(c, &fl), 0);
	struct blk_req z = { .op = BLK_OP_WRITE_ZEROES, .offset = 8192,
			     .len = 1024 };
	assert_int_equal(run(c, &z), 0);
	rw(c, BLK_OP_READ, 8192, r, 4096, 0);
	assert_int_equal(r[0], 0);
	assert_int_equal(r[1023], 0);
	assert_int_equal(r[1024], 0xa5);
	struct blk_req d = { .op = BLK_OP_DISCARD, .offset = 8192, .len = 4096 };
	assert_int_equal(run(c, &d), 0);
	rw(c, BLK_OP_READ, 8192, r, 4096, 0);
	assert_int_equal(r[2048], 0);
	assert_int_equal(blk_drain_flush(c->b), 0);
}

/* A buffered copy finishes inside blk_submit(): the device can publish it
 * before it looks at the next request. O_DIRECT completes only in
 * blk_reap(), after the kernel says so. */
static void test_sync_completion(void **state)
{
	struct ctx *c = *state;
	uint8_t *buf = NULL;
	struct iovec iov;
	struct blk_req r = { .op = BLK_OP_WRITE, .offset = 4096, .len = 4096,
			     .iov = &iov, .iovcnt = 1 };

	assert_int_equal(posix_memalign((void **)&buf, 4096, 4096), 0);
	memset(buf, 0x3c, 4096);
	iov = (struct iovec){ buf, 4096 };
	assert_int_equal(open_disk(c, false, BLK_CACHE_WRITEBACK), 0);
	assert_int_equal(blk_submit(c->b, &r), 0);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->last, 0);
	assert_int_equal(c->b->inflight, 0);
	assert_false(blk_ready(c->b));
	blk_destroy(c->b);
	c->b = NULL;

	assert_int_equal(open_disk(c, false, BLK_CACHE_NONE), 0);
	assert_int_equal(blk_submit(c->b, &r), 0);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->b->inflight, 1);
	assert_int_equal(blk_drain_flush(c->b), 0);
	assert_int_equal(c->done, 2);
	assert_int_equal(c->last, 0);
	assert_int_equal(c->b->inflight, 0);
	free(buf);
}

static void test_direct(void **state)
{
	struct ctx *c = *state;
	uint8_t *w = NULL, *r = NULL;

	assert_int_equal(open_disk(c, false, BLK_CACHE_NONE), 0);
	assert_int_equal(posix_memalign((void **)&w, 4096, 8192), 0);
	assert_int_equal(posix_memalign((void **)&r, 4096, 8192), 0);
	roundtrip(c, w, r);		/* aligned: straight through */
	roundtrip(c, w + 1, r + 3);	/* unaligned: bounced */
	free(w);
	free(r);
}

static void test_refused(void **state)
{
	struct ctx *c = *state;
	static uint8_t buf[4096];

	assert_int_equal(open_disk(c, true, BLK_CACHE_WRITEBACK), 0);
	rw(c, BLK_OP_READ, 0, buf, 4096, 0);
	rw(c, BLK_OP_WRITE, 0, buf, 4096, -EROFS);
	rw(c, BLK_OP_READ, DISK - 512, buf, 1024, -EINVAL);
	rw(c, BLK_OP_READ, 100, buf, 512, -EINVAL);
	rw(c, BLK_OP_READ, ~0ULL - 511, buf, 512, -EINVAL);
	assert_int_equal(c->done, 1);
	assert_int_equal(c->b->inflight, 0);
}

static void test_open_errors(void **state)
{
	struct ctx *c = *state;

	unlink(c->path);
	log_reset();
	assert_int_equal(open_disk(c, false, BLK_CACHE_WRITEBACK), -ENOENT);
	assert_logged_once(c->path);
	assert_null(c->b);
}

static void test_opts(void **state)
{
	char a[] = "/x/disk.img,readonly,cache=none", b[] = "/y",
	     bad[] = "/z,cache=fast", empty[] = ",readonly",
	     p0[] = "/p,poll=0", p200[] = "/p,poll=200,ro";
	char pbad[6][24] = { "/p,poll=", "/p,poll=-1", "/p,poll=5us",
			     "/p,poll=1000001", "/p,poll= 5", "/p,poll=+5" };
	struct blk_opts o;
	struct virtio_net_opts n;

	(void)state;
	assert_int_equal(blk_opts_parse(a, &o), 0);
	assert_string_equal(o.path, "/x/disk.img");
	assert_true(o.readonly);
	assert_int_equal(o.cache, BLK_CACHE_NONE);
	assert_int_equal(o.poll_us, BLK_POLL_US_DEFAULT);
	assert_int_equal(blk_opts_parse(b, &o), 0);
	assert_false(o.readonly);
	assert_int_equal(o.cache, BLK_CACHE_WRITEBACK);
	assert_int_equal(blk_opts_parse(p0, &o), 0);
	assert_int_equal(o.poll_us, 0);
	assert_int_equal(blk_opts_parse(p200, &o), 0);
	assert_int_equal(o.poll_us, 200);
	assert_true(o.readonly);
	for (unsigned int i = 0; i < 6; i++) {
		log_reset();
		assert_int_equal(blk_opts_parse(pbad[i], &o), -EINVAL);
		assert_logged_once("microseconds");
	}
	log_reset();
	assert_int_equal(blk_opts_parse(bad, &o), -EINVAL);
	assert_logged_once("cache=fast");
	log_reset();
	assert_int_equal(blk_opts_parse(empty, &o), -EINVAL);
	assert_logged_once("missing PATH");

	assert_int_equal(virtio_net_opts_parse("tap=tap0", &n), 0);
	assert_string_equal(n.ifname, "tap0");
	assert_false(n.has_mac);
	assert_int_equal(virtio_net_opts_parse("tap=t1,mac=02:00:0a:0B:0c:ff",
					       &n), 0);
	assert_true(n.has_mac);
	assert_int_equal(n.mac[3], 0x0b);
	assert_int_equal(n.mac[5], 0xff);
	log_reset();
	assert_int_equal(virtio_net_opts_parse("tap=averyveryverylongname",
					       &n), -EINVAL);
	assert_logged_once("tap=IFNAME");
	log_reset();
	assert_int_equal(virtio_net_opts_parse("tap=t,mac=01:00:00:00:00:00",
					       &n), -EINVAL);
	assert_logged_once("multicast");
	log_reset();
	assert_int_equal(virtio_net_opts_parse("tap=t,mac=1:2:3", &n), -EINVAL);
	assert_logged_once("mac=");
	log_reset();
	assert_int_equal(virtio_net_opts_parse("user", &n), -EINVAL);
	assert_logged_once("tap=IFNAME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_writeback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sync_completion, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_direct, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	    cmocka_unit_test(test_opts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
