/*
 * hv/virtqueue.c: split rings in a real guest_mem (memfd, no KVM). A good
 * chain pops as segments and its used entry is published and marked dirty;
 * every malformed ring or chain a guest could write (loop, buffer outside
 * RAM, next or head out of range, avail index running ahead, readable
 * after writable, indirect, too many segments, bad queue size or ring
 * placement) is refused with -EINVAL and one log line naming it.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/guest_mem.h"
#include "hv/virtqueue.h"

#define MEM (64ULL << 20)
#define DESC 0x10000ULL
#define AVAIL 0x11000ULL
#define USED 0x12000ULL
#define BUF 0x20000ULL

struct fixture {
	struct guest_mem gm;
	struct vq q;
	uint64_t marked[64][2];
	unsigned int nr_marked;
};

static void mark(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fixture *f = ctx;

	if (f->nr_marked < 64) {
		f->marked[f->nr_marked][0] = gpa;
		f->marked[f->nr_marked++][1] = len;
	}
}

static struct vring_desc *desc(struct fixture *f, unsigned int i)
{
	return (struct vring_desc *)guest_mem_ptr(&f->gm, DESC + 16 * i, 16);
}

static uint16_t *avail(struct fixture *f)
{
	return guest_mem_ptr(&f->gm, AVAIL, 4);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_int_equal(guest_mem_init(&f->gm, MEM), 0);
	vq_init(&f->q, &f->gm, mark, f);
	f->q.num = 8;
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	assert_int_equal(vq_map(&f->q, 256, "t"), 0);
	f->q.ready = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	guest_mem_fini(&f->gm);
	free(f);
	return 0;
}

static void set_desc(struct fixture *f, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(f, i) = (struct vring_desc){ addr, len, flags, next };
}

/* Makes head @h available. */
static void offer(struct fixture *f, uint16_t h)
{
	uint16_t *a = avail(f);

	a[2 + (a[1] & 7)] = h;
	a[1]++;
}

static void test_good_chain(void **state)
{
	struct fixture *f = *state;
	struct vq_chain c;
	uint32_t *used = guest_mem_ptr(&f->gm, USED, 4 + 8 * 8);

	set_desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 3);
	set_desc(f, 3, BUF + 0x1000, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 5);
	set_desc(f, 5, BUF + 0x2000, 1, VRING_DESC_F_WRITE, 0);
	assert_int_equal(vq_pop(&f->q, &c, "t"), 0);
	offer(f, 0);
	assert_int_equal(vq_pending(&f->q), 1);
	log_reset();
	assert_int_equal(vq_pop(&f->q, &c, "t"), 1);
	assert_int_equal(log_errors(), 0);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.n_out, 1);
	assert_int_equal(c.in_bytes, 4097);
	assert_ptr_equal(c.seg[1].host, guest_mem_ptr(&f->gm, BUF + 0x1000, 1));
	assert_int_equal(vq_pop(&f->q, &c, "t"), 0);
	vq_push(&f->q, c.head, 4097);
	assert_int_equal(used[0] >> 16, 1);	/* used->idx */
	assert_int_equal(used[1], 0);		/* id */
	assert_int_equal(used[2], 4097);	/* len */
	assert_int_equal(f->nr_marked, 2);
	assert_int_equal(f->marked[0][0], USED + 4);
	assert_int_equal(f->marked[1][0], USED + 2);
	assert_true(vq_want_irq(&f->q));
	avail(f)[0] = VRING_AVAIL_F_NO_INTERRUPT;
	assert_false(vq_want_irq(&f->q));
}

static void test_chain_write(void **state)
{
	struct fixture *f = *state;
	struct vq_chain c;
	const char msg[] = "0123456789";
	uint8_t *a = guest_mem_ptr(&f->gm, BUF, 8), *b;

	set_desc(f, 1, BUF, 4, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(f, 2, BUF + 0x100, 8, VRING_DESC_F_WRITE, 0);
	offer(f, 1);
	assert_int_equal(vq_pop(&f->q, &c, "t"), 1);
	b = guest_mem_ptr(&f->gm, BUF + 0x100, 8);
	assert_int_equal(vq_chain_write(&f->q, &c, 2, msg, 10), 10);
	assert_memory_equal(a + 2, "01", 2);
	assert_memory_equal(b, "23456789", 8);
	assert_int_equal(vq_chain_write(&f->q, &c, 12, msg, 10), 0);
	assert_int_equal(f->nr_marked, 2);
	assert_int_equal(f->marked[1][0], BUF + 0x100);
	assert_int_equal(f->marked[1][1], 8);
}

/* Offers head @h and expects vq_pop to refuse it, naming @why. */
static void expect_bad(struct fixture *f, uint16_t h, const char *why)
{
	struct vq_chain c;

	offer(f, h);
	log_reset();
	assert_int_equal(vq_pop(&f->q, &c, "t"), -EINVAL);
	assert_logged_once(why);
}

static void test_loop(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF, 16, VRING_DESC_F_NEXT, 0);
	expect_bad(f, 0, "loop");
}

static void test_outside_ram(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, MEM - 8, 16, 0, 0);
	expect_bad(f, 0, "outside guest RAM");
	f->q.last_avail = avail(f)[1];
	set_desc(f, 0, ~0ULL - 4, 16, 0, 0); /* wraps */
	expect_bad(f, 0, "outside guest RAM");
}

static void test_indices(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, BUF, 16, VRING_DESC_F_NEXT, 8);
	expect_bad(f, 0, "next index out of range");
	vq_set_last_avail(&f->q, avail(f)[1]);
	expect_bad(f, 8, "head index out of range");
	vq_set_last_avail(&f->q, avail(f)[1]);
	avail(f)[1] += 9;
	log_reset();
	struct vq_chain c;
	assert_int_equal(vq_pop(&f->q, &c, "t"), -EINVAL);
	assert_logged_once("ahead");
}

/* A restored queue whose indices sit just below the 16-bit wrap: nothing
 * is pending, so nothing pops (an old ring slot would run twice); what the
 * guest adds after the restore pops once each, across the wrap. */
static void test_restored_indices(void **state)
{
	struct fixture *f = *state;
	struct vq_chain c;

	set_desc(f, 0, BUF, 16, 0, 0);
	set_desc(f, 1, BUF + 0x1000, 16, 0, 0);
	avail(f)[1] = 65535;
	vq_reset(&f->q);
	f->q.num = 8;
	f->q.desc_gpa = DESC;
	f->q.avail_gpa = AVAIL;
	f->q.used_gpa = USED;
	vq_set_last_avail(&f->q, 65535);
	assert_int_equal(vq_map(&f->q, 256, "t"), 0);
	f->q.ready = true;
	assert_int_equal(vq_pending(&f->q), 0);
	assert_int_equal(vq_pop(&f->q, &c, "t"), 0);
	offer(f, 1);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->q, &c, "t"), 1);
	assert_int_equal(c.head, 1);
	offer(f, 1);	/* added while the device works from its copy */
	assert_int_equal(vq_pop(&f->q, &c, "t"), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(vq_pop(&f->q, &c, "t"), 1);
	assert_int_equal(c.head, 1);
	assert_int_equal(vq_pop(&f->q, &c, "t"), 0);
	assert_int_equal(f->q.last_avail, 2);
}

static void test_order_and_indirect(void **state)
{
	struct fixture *f = *state;

	set_desc(f, 0, BUF, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF, 16, 0, 0);
	expect_bad(f, 0, "readable descriptor after a writable");
	f->q.last_avail = avail(f)[1];
	set_desc(f, 2, BUF, 16, VRING_DESC_F_INDIRECT, 0);
	expect_bad(f, 2, "indirect");
}

static void test_too_long(void **state)
{
	struct fixture *f = *state;

	f->q.num = 256;
	f->q.ready = false;
	assert_int_equal(vq_map(&f->q, 256, "t"), 0);
	f->q.ready = true;
	for (unsigned int i = 0; i < 200; i++)
		set_desc(f, i, BUF, 16, VRING_DESC_F_NEXT, (uint16_t)(i + 1));
	set_desc(f, 200, BUF, 16, 0, 0);
	avail(f)[2] = 0;
	avail(f)[1] = 1;
	log_reset();
	struct vq_chain c;
	assert_int_equal(vq_pop(&f->q, &c, "t"), -EINVAL);
	assert_logged_once("longer");
	f->q.last_avail = 1;
	set_desc(f, 0, BUF, 0x1e00000, VRING_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF, 0x1e00000, VRING_DESC_F_NEXT, 2);
	set_desc(f, 2, BUF, 0x1e00000, 0, 0);
	avail(f)[3] = 0;
	avail(f)[1] = 2;
	log_reset();
	assert_int_equal(vq_pop(&f->q, &c, "t"), -EINVAL);
	assert_logged_once("64 MiB");
}

static void test_map(void **state)
{
	struct fixture *f = *state;
	static const uint16_t bad_num[] = { 0, 3, 512 };

	for (unsigned int i = 0; i < 3; i++) {
		f->q.num = bad_num[i];
		log_reset();
		assert_int_equal(vq_map(&f->q, 256, "t"), -EINVAL);
		assert_logged_once("power of two");
	}
	f->q.num = 8;
	f->q.desc_gpa = DESC + 8; /* misaligned */
	log_reset();
	assert_int_equal(vq_map(&f->q, 256, "t"), -EINVAL);
	assert_logged_once("outside guest RAM");
	f->q.desc_gpa = DESC;
	f->q.used_gpa = MEM - 16; /* runs off the end */
	log_reset();
	assert_int_equal(vq_map(&f->q, 256, "t"), -EINVAL);
	assert_logged_once("outside guest RAM");
	assert_null(f->q.desc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outside_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restored_indices, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_order_and_indirect, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
