/*
 * migrate/pages.c: PAGES and ZERO_BITMAP records written from one fake
 * guest memory (malloc'd pages, with holes) and applied to another, raw and
 * lz4, through the real stream writer and reader; malformed batches (count,
 * encoding, reserved bits, pfn outside RAM, data short or long, corrupt
 * lz4) rejected with one log line and no page touched.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/unit.h"

#include "migrate/pages.h"
#include "migrate/stream.h"

#define NR_PFNS 1200u
#define HOLE_START 700u /* [HOLE_START, HOLE_END) is not RAM */
#define HOLE_END 800u

struct fake_mem {
	uint8_t *pages;
	struct mig_mem mem;
	unsigned int writes, zeroes; /* calls through mem.write / mem.zero */
};

static uint8_t *fake_page(void *opaque, uint64_t pfn)
{
	struct fake_mem *fm = opaque;

	if (pfn >= HOLE_START && pfn < HOLE_END)
		return NULL;
	return fm->pages + pfn * MIG_PAGE_SIZE;
}

static void fake_init(struct fake_mem *fm)
{
	fm->pages = calloc(NR_PFNS, MIG_PAGE_SIZE);
	assert_non_null(fm->pages);
	fm->mem = (struct mig_mem){ .opaque = fm, .page = fake_page,
				    .max_pfn = NR_PFNS };
	fm->writes = fm->zeroes = 0;
}

/* The receiving side's write/zero path: runs of pages, all RAM. */
static int fake_write(void *opaque, uint64_t pfn, const uint8_t *src,
		      uint32_t n)
{
	struct fake_mem *fm = opaque;

	for (uint32_t i = 0; i < n; i++)
		assert_non_null(fake_page(fm, pfn + i));
	memcpy(fm->pages + pfn * MIG_PAGE_SIZE, src, (size_t)n * MIG_PAGE_SIZE);
	fm->writes++;
	return 0;
}

static int fake_zero(void *opaque, uint64_t pfn, uint32_t n)
{
	struct fake_mem *fm = opaque;

	for (uint32_t i = 0; i < n; i++)
		assert_non_null(fake_page(fm, pfn + i));
	memset(fm->pages + pfn * MIG_PAGE_SIZE, 0, (size_t)n * MIG_PAGE_SIZE);
	fm->zeroes++;
	return 0;
}

static void fake_fini(struct fake_mem *fm)
{
	free(fm->pages);
}

static uint8_t *pg(struct fake_mem *fm, uint64_t pfn)
{
	return fm->pages + pfn * MIG_PAGE_SIZE;
}

/* Kinds of page content: zero, random (incompressible), text-like. */
static void fill_page(uint8_t *p, uint64_t pfn, int kind)
{
	uint32_t seed = (uint32_t)pfn * 2654435761u;

	for (unsigned int i = 0; i < MIG_PAGE_SIZE; i++) {
		seed = seed * 1103515245 + 12345;
		if (kind == 0)
			p[i] = 0;
		else if (kind == 1)
			p[i] = seed >> 16;
		else
			p[i] = "ferry migrates pages "[i % 21] + (pfn & 3);
	}
}

/* ---- stream plumbing ---------------------------------------------------- */

struct rt {
	int fd;
	struct mig_writer *w;
	struct mig_reader *r;
};

static void rt_start(struct rt *rt)
{
	rt->fd = memfd_create("pages", MFD_CLOEXEC);
	assert_true(rt->fd >= 0);
	assert_int_equal(mig_writer_create(rt->fd, &rt->w), 0);
}

static void rt_turn(struct rt *rt)
{
	assert_int_equal(mig_write_record(rt->w, MIG_REC_END, NULL, 0), 0);
	assert_int_equal(mig_writer_flush(rt->w), 0);
	assert_int_equal(lseek(rt->fd, 0, SEEK_SET), 0);
	assert_int_equal(mig_reader_create(rt->fd, &rt->r), 0);
}

/* Applies every record up to END to @dst; returns the number applied. */
static int rt_apply_all(struct rt *rt, struct fake_mem *dst,
			struct mig_pages_info *sum)
{
	struct mig_record rec;
	int n = 0;

	memset(sum, 0, sizeof(*sum));
	for (;;) {
		struct mig_pages_info info;

		assert_int_equal(mig_read_record(rt->r, &rec), 0);
		if (rec.type == MIG_REC_END)
			break;
		assert_int_equal(mig_pages_describe(&rec, &info), 0);
		sum->nr_pages += info.nr_pages;
		sum->nr_zero += info.nr_zero;
		sum->data_bytes += info.data_bytes;
		sum->wire_bytes += info.wire_bytes;
		sum->encoding |= 1u << info.encoding;
		assert_int_equal(mig_pages_apply(&rec, &dst->mem), 0);
		n++;
	}
	return n;
}

static void rt_end(struct rt *rt)
{
	mig_reader_destroy(rt->r);
	mig_writer_destroy(rt->w);
	close(rt->fd);
}

/* ---- round trips -------------------------------------------------------- */

/* Writes pfns [0, HOLE_START) and [HOLE_END, NR_PFNS) in batches of up
 * to 512, content by @kind_of, and checks the destination equals. */
static void round_trip_via(enum mig_compress comp, int (*kind_of)(uint64_t),
			   struct mig_pages_info *sum, bool via_write)
{
	struct fake_mem src, dst;
	uint64_t pfns[MIG_BATCH_MAX_PAGES];
	unsigned int n = 0;
	struct rt rt;

	fake_init(&src);
	fake_init(&dst);
	if (via_write) {
		dst.mem.write = fake_write;
		dst.mem.zero = fake_zero;
	}
	/* Stale destination content the zero entries must clear. */
	for (uint64_t pfn = 0; pfn < NR_PFNS; pfn += 3)
		fill_page(pg(&dst, pfn), pfn + 1, 1);
	rt_start(&rt);
	for (uint64_t pfn = 0; pfn < NR_PFNS; pfn++) {
		if (pfn >= HOLE_START && pfn < HOLE_END)
			continue;
		fill_page(pg(&src, pfn), pfn, kind_of(pfn));
		pfns[n++] = pfn;
		if (n == MIG_BATCH_MAX_PAGES || pfn == NR_PFNS - 1) {
			assert_int_equal(
			    mig_pages_write(rt.w, &src.mem, pfns, n, comp), 0);
			n = 0;
		}
	}
	rt_turn(&rt);
	assert_int_equal(rt_apply_all(&rt, &dst, sum), 3);
	rt_end(&rt);
	for (uint64_t pfn = 0; pfn < NR_PFNS; pfn++)
		if (pfn < HOLE_START || pfn >= HOLE_END)
			assert_memory_equal(pg(&src, pfn), pg(&dst, pfn),
					    MIG_PAGE_SIZE);
	/* Runs, not pages: far fewer calls than pages, and only when asked. */
	assert_true(via_write ? dst.writes > 0 && dst.writes < NR_PFNS / 2
			      : dst.writes == 0);
	fake_fini(&src);
	fake_fini(&dst);
}

static void round_trip(enum mig_compress comp, int (*kind_of)(uint64_t),
		       struct mig_pages_info *sum)
{
	round_trip_via(comp, kind_of, sum, false);
}

static int all_zero(uint64_t pfn)
{
	(void)pfn;
	return 0;
}

static int mixed(uint64_t pfn)
{
	return pfn % 3;
}

static int random_only(uint64_t pfn)
{
	(void)pfn;
	return 1;
}

static void test_zero_pages(void **state)
{
	struct mig_pages_info sum;

	(void)state;
	round_trip(MIG_COMPRESS_LZ4, all_zero, &sum);
	assert_int_equal(sum.nr_pages, NR_PFNS - (HOLE_END - HOLE_START));
	assert_int_equal(sum.nr_zero, sum.nr_pages);
	assert_int_equal(sum.data_bytes, 0);
	assert_int_equal(sum.encoding, 1u << MIG_COMPRESS_NONE);
}

static void test_raw(void **state)
{
	struct mig_pages_info sum;

	(void)state;
	round_trip(MIG_COMPRESS_NONE, mixed, &sum);
	assert_int_equal(sum.nr_zero, 367);
	assert_int_equal(sum.data_bytes, sum.wire_bytes);
	assert_int_equal(sum.encoding, 1u << MIG_COMPRESS_NONE);
}

static void test_raw_via_write(void **state)
{
	struct mig_pages_info sum;

	(void)state;
	round_trip_via(MIG_COMPRESS_NONE, mixed, &sum, true);
	assert_int_equal(sum.nr_zero, 367);
}

static void test_lz4_via_write(void **state)
{
	struct mig_pages_info sum;

	(void)state;
	round_trip_via(MIG_COMPRESS_LZ4, mixed, &sum, true);
	assert_int_equal(sum.encoding, 1u << MIG_COMPRESS_LZ4);
}

static void test_lz4(void **state)
{
	struct mig_pages_info sum;

	(void)state;
	round_trip(MIG_COMPRESS_LZ4, mixed, &sum);
	assert_int_equal(sum.encoding, 1u << MIG_COMPRESS_LZ4);
	assert_true(sum.wire_bytes < sum.data_bytes);
}

/* lz4 asked for but it does not shrink random pages: sent raw. */
static void test_lz4_falls_back(void **state)
{
	struct mig_pages_info sum;

	(void)state;
	round_trip(MIG_COMPRESS_LZ4, random_only, &sum);
	assert_int_equal(sum.encoding, 1u << MIG_COMPRESS_NONE);
	assert_int_equal(sum.nr_zero, 0);
}

static void test_zero_bitmap(void **state)
{
	struct fake_mem src, dst;
	/* Bits past nr must be ignored (and not sent). */
	uint64_t bm[1] = {~0ULL};
	struct mig_pages_info info, sum;
	struct mig_record rec;
	struct rt rt;

	(void)state;
	fake_init(&src);
	fake_init(&dst);
	for (uint64_t pfn = 600; pfn < 900; pfn++)
		if (pfn < HOLE_START || pfn >= HOLE_END)
			fill_page(pg(&dst, pfn), pfn, 2);
	rt_start(&rt);
	assert_int_equal(mig_zero_bitmap_write(rt.w, 650, 50, bm), 0);
	assert_int_equal(mig_zero_bitmap_write(rt.w, 800, 30, bm), 0);
	rt_turn(&rt);
	assert_int_equal(mig_read_record(rt.r, &rec), 0);
	assert_int_equal(mig_pages_describe(&rec, &info), 0);
	assert_int_equal(info.nr_zero, 50);
	assert_int_equal(info.first_pfn, 650);
	assert_int_equal(info.last_pfn, 699);
	assert_int_equal(mig_pages_apply(&rec, &dst.mem), 0);
	assert_int_equal(rt_apply_all(&rt, &dst, &sum), 1);
	assert_int_equal(sum.nr_zero, 30);
	rt_end(&rt);
	for (uint64_t pfn = 600; pfn < 900; pfn++) {
		int zero =
		    (pfn >= 650 && pfn < 700) || (pfn >= 800 && pfn < 830);
		uint8_t want[MIG_PAGE_SIZE];

		if (pfn >= HOLE_START && pfn < HOLE_END)
			continue;
		fill_page(want, pfn, zero ? 0 : 2);
		assert_memory_equal(pg(&dst, pfn), want, MIG_PAGE_SIZE);
	}
	fake_fini(&src);
	fake_fini(&dst);
}

/* ---- malformed batches -------------------------------------------------- */

/* A valid PAGES body in memory: 4 pages (2 zero), raw or lz4. */
struct body {
	uint8_t *buf;
	size_t len;
};

static void make_batch(struct body *b, enum mig_compress comp)
{
	uint64_t pfns[4] = {10, 11, 12, 13};
	struct fake_mem src;
	struct mig_record rec;
	struct rt rt;

	fake_init(&src);
	fill_page(pg(&src, 10), 10, 2);
	fill_page(pg(&src, 12), 12, 2);
	rt_start(&rt);
	assert_int_equal(mig_pages_write(rt.w, &src.mem, pfns, 4, comp), 0);
	rt_turn(&rt);
	assert_int_equal(mig_read_record(rt.r, &rec), 0);
	b->len = rec.len;
	b->buf = calloc(1, rec.len + MIG_PAGE_SIZE);
	memcpy(b->buf, rec.body, rec.len);
	rt_end(&rt);
	fake_fini(&src);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Applies @len bytes of @buf (an exact-size copy, for ASan) and expects
 * @err with a log line naming @needle, and the destination untouched. */
static void expect_reject(uint32_t type, const uint8_t *buf, size_t len,
			  int err, const char *needle)
{
	struct mig_record rec = {.type = type, .len = len, .offset = 4096};
	struct fake_mem dst;
	uint8_t *copy = malloc(len ? len : 1);

	memcpy(copy, buf, len);
	rec.body = copy;
	fake_init(&dst);
	log_reset();
	assert_int_equal(mig_pages_apply(&rec, &dst.mem), err);
	assert_logged_once(needle);
	for (size_t i = 0; i < (size_t)NR_PFNS * MIG_PAGE_SIZE; i++)
		if (dst.pages[i])
			fail_msg("byte %zu written by a rejected batch", i);
	fake_fini(&dst);
	free(copy);
}

static void test_bad_batches(void **state)
{
	struct body b;

	(void)state;
	make_batch(&b, MIG_COMPRESS_NONE);
	assert_int_equal(b.len, 16 + 4 * 8 + 2 * MIG_PAGE_SIZE);
	expect_reject(MIG_REC_PAGES, b.buf, 15, -EBADMSG, "shorter");
	put32(b.buf, MIG_BATCH_MAX_PAGES + 1);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG, "page count 513");
	put32(b.buf, 0);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG, "page count 0");
	put32(b.buf, 4);
	put32(b.buf + 4, 7);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG, "encoding 7");
	put32(b.buf + 4, 0);
	put32(b.buf + 12, 1);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG, "reserved");
	put32(b.buf + 12, 0);
	/* Data short and long, with data_len agreeing with the body. */
	put32(b.buf + 8, 2 * MIG_PAGE_SIZE - 1);
	expect_reject(MIG_REC_PAGES, b.buf, b.len - 1, -EBADMSG,
		      "8191 data bytes for 2 non-zero pages");
	put32(b.buf + 8, 2 * MIG_PAGE_SIZE + 8);
	expect_reject(MIG_REC_PAGES, b.buf, b.len + 8, -EBADMSG,
		      "8200 data bytes");
	/* data_len disagreeing with the body. */
	put32(b.buf + 8, 2 * MIG_PAGE_SIZE);
	expect_reject(MIG_REC_PAGES, b.buf, b.len - 1, -EBADMSG, "header says");
	/* One more zero bit: 1 non-zero page but 2 pages of data. */
	put64(b.buf + 16, 10 | MIG_PFN_ZERO);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG,
		      "8192 data bytes for 1 non-zero pages");
	put64(b.buf + 16, 10 | (1ULL << 55));
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG, "reserved bits");
	/* pfns outside RAM: in the hole, past max_pfn, past 2^52. */
	put64(b.buf + 16, HOLE_START + 5);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EFAULT, "pfn 0x2c1 is not");
	put64(b.buf + 16, NR_PFNS);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EFAULT, "not guest RAM");
	put64(b.buf + 40, MIG_PFN_MASK | MIG_PFN_ZERO);
	put64(b.buf + 16, 10);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EFAULT, "not guest RAM");
	expect_reject(MIG_REC_VCPU, b.buf, b.len, -EBADMSG, "not a page");
	free(b.buf);
}

static void test_bad_lz4(void **state)
{
	struct body b;
	uint32_t dlen;

	(void)state;
	make_batch(&b, MIG_COMPRESS_LZ4);
	memcpy(&dlen, b.buf + 8, 4);
	assert_true(dlen < 2 * MIG_PAGE_SIZE);
	/* Truncated block (body and data_len both one shorter). */
	put32(b.buf + 8, dlen - 1);
	expect_reject(MIG_REC_PAGES, b.buf, b.len - 1, -EBADMSG,
		      "does not decompress");
	put32(b.buf + 8, dlen);
	/* Garbage in the block. */
	for (size_t i = 48; i < b.len; i += 3)
		b.buf[i] ^= 0x5a;
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG,
		      "does not decompress");
	/* A valid block for the wrong number of pages. */
	free(b.buf);
	make_batch(&b, MIG_COMPRESS_LZ4);
	put64(b.buf + 16, 10 | MIG_PFN_ZERO);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG,
		      "does not decompress to 1 pages");
	/* All zero but encoded. */
	put64(b.buf + 32, 12 | MIG_PFN_ZERO);
	expect_reject(MIG_REC_PAGES, b.buf, b.len, -EBADMSG, "all pages");
	free(b.buf);
}

static void zbm(uint8_t *z, uint64_t first, uint64_t nr, uint64_t w0,
		uint64_t w1)
{
	put64(z, first);
	put64(z + 8, nr);
	put64(z + 16, w0);
	put64(z + 24, w1);
}

static void test_bad_bitmaps(void **state)
{
	uint8_t z[32], want[MIG_PAGE_SIZE];
	struct fake_mem dst;
	struct mig_record rec = {
	    .type = MIG_REC_ZERO_BITMAP, .body = z, .len = 32};

	(void)state;
	zbm(z, 100, 65, 1, 1);
	expect_reject(MIG_REC_ZERO_BITMAP, z, 15, -EBADMSG, "shorter");
	zbm(z, 100, 0, 0, 0);
	expect_reject(MIG_REC_ZERO_BITMAP, z, 16, -EBADMSG, "range of 0");
	zbm(z, MIG_PFN_MASK, 2, 1, 0);
	expect_reject(MIG_REC_ZERO_BITMAP, z, 24, -EBADMSG, "range of 2");
	zbm(z, 100, 65, 1, 1);
	expect_reject(MIG_REC_ZERO_BITMAP, z, 24, -EBADMSG, "need 32");
	zbm(z, 100, 65, 1, 2);
	expect_reject(MIG_REC_ZERO_BITMAP, z, 32, -EBADMSG, "beyond");
	zbm(z, NR_PFNS - 1, 2, 2, 0);
	expect_reject(MIG_REC_ZERO_BITMAP, z, 24, -EFAULT, "0x4b0 is not");

	/* A hole pfn after a valid one: nothing is cleared. */
	fake_init(&dst);
	fill_page(pg(&dst, 690), 690, 2);
	zbm(z, 690, 20, 1 | 1ULL << 15, 0);
	rec.len = 24;
	log_reset();
	assert_int_equal(mig_pages_apply(&rec, &dst.mem), -EFAULT);
	assert_logged_once("pfn 0x2c1 is not guest RAM");
	fill_page(want, 690, 2);
	assert_memory_equal(pg(&dst, 690), want, MIG_PAGE_SIZE);
	fake_fini(&dst);
}

static void test_write_errors(void **state)
{
	struct fake_mem src;
	struct rt rt;
	uint64_t pfns[2] = {1, HOLE_START};
	uint64_t bm = 1;

	(void)state;
	fake_init(&src);
	rt_start(&rt);
	log_reset();
	assert_int_equal(
	    mig_pages_write(rt.w, &src.mem, pfns, 0, MIG_COMPRESS_NONE),
	    -EINVAL);
	assert_logged_once("0 pages");
	log_reset();
	assert_int_equal(mig_pages_write(rt.w, &src.mem, pfns,
					 MIG_BATCH_MAX_PAGES + 1,
					 MIG_COMPRESS_NONE),
			 -EINVAL);
	assert_logged_once("513 pages");
	log_reset();
	assert_int_equal(
	    mig_pages_write(rt.w, &src.mem, pfns, 2, MIG_COMPRESS_NONE),
	    -EFAULT);
	assert_logged_once("pfn 0x2bc is not guest RAM");
	log_reset();
	assert_int_equal(mig_zero_bitmap_write(rt.w, 0, 0, &bm), -EINVAL);
	assert_logged_once("does not fit");
	log_reset();
	assert_int_equal(mig_zero_bitmap_write(rt.w, MIG_PFN_MASK, 2, &bm),
			 -EINVAL);
	assert_logged_once("does not fit");
	rt_turn(&rt);
	rt_end(&rt);
	fake_fini(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zero_pages),
	    cmocka_unit_test(test_raw),
	    cmocka_unit_test(test_raw_via_write),
	    cmocka_unit_test(test_lz4_via_write),
	    cmocka_unit_test(test_lz4),
	    cmocka_unit_test(test_lz4_falls_back),
	    cmocka_unit_test(test_zero_bitmap),
	    cmocka_unit_test(test_bad_batches),
	    cmocka_unit_test(test_bad_lz4),
	    cmocka_unit_test(test_bad_bitmaps),
	    cmocka_unit_test(test_write_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
