/*
 * hv/memmap.c (with hv/guest_mem.c): the map both boot protocols hand the
 * guest, for guests from 2 MiB to 5 GiB. RAM must be exactly what the
 * memfd backs, the PC holes below 1 MiB and the PCI hole [3 GiB, 4 GiB)
 * must never be RAM, and entries must be sorted and disjoint.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/guest_mem.h"
#include "hv/memmap.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
/* RAM below 1 MiB is only [0, EBDA): the rest of the first MiB is the
 * legacy window, backed by the memfd but never offered as RAM. */
#define LOW_HOLE (MEMMAP_HIGH_MEM - MEMMAP_EBDA_START)

static int build(uint64_t size, struct guest_mem *gm, struct memmap_entry *mm)
{
	int n;

	assert_int_equal(guest_mem_init(gm, size), 0);
	memset(mm, 0xa5, sizeof(*mm) * MEMMAP_MAX);
	n = memmap_build(gm, mm);
	assert_true(n > 0);
	assert_true(n <= MEMMAP_MAX);
	return n;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static void check_map(uint64_t size)
{
	struct memmap_entry mm[MEMMAP_MAX];
	struct guest_mem gm;
	uint64_t ram = 0, low = size < 3 * GiB ? size : 3 * GiB;
	int n = build(size, &gm, mm);

	for (int i = 0; i < n; i++) {
		assert_true(mm[i].size > 0);
		assert_true(mm[i].type == MEMMAP_RAM ||
			    mm[i].type == MEMMAP_RESERVED);
		assert_true(mm[i].addr + mm[i].size > mm[i].addr);
		if (i)
			assert_true(mm[i].addr >=
				    mm[i - 1].addr + mm[i - 1].size);
		if (mm[i].type != MEMMAP_RAM)
			continue;
		ram += mm[i].size;
		/* Backed by guest memory, and clear of every hole. */
		assert_non_null(guest_mem_ptr(&gm, mm[i].addr, mm[i].size));
		assert_false(overlaps(mm[i].addr, mm[i].size, MEMMAP_EBDA_START,
				      LOW_HOLE));
		assert_false(overlaps(mm[i].addr, mm[i].size, 3 * GiB, GiB));
	}
	assert_int_equal(ram + LOW_HOLE, size);
	/* Low RAM: [0, EBDA) and [1 MiB, min(size, 3 GiB)). */
	assert_int_equal(mm[0].addr, 0);
	assert_int_equal(mm[0].size, MEMMAP_EBDA_START);
	assert_int_equal(mm[0].type, MEMMAP_RAM);
	for (int i = 0; i < n; i++) {
		if (mm[i].addr == MEMMAP_HIGH_MEM) {
			assert_int_equal(mm[i].size, low - MEMMAP_HIGH_MEM);
			assert_int_equal(mm[i].type, MEMMAP_RAM);
		}
	}
	/* High RAM exactly when the guest outgrows 3 GiB. */
	if (size > 3 * GiB) {
		assert_int_equal(mm[n - 1].addr, 4 * GiB);
		assert_int_equal(mm[n - 1].size, size - 3 * GiB);
		assert_int_equal(mm[n - 1].type, MEMMAP_RAM);
	} else {
		assert_true(mm[n - 1].addr + mm[n - 1].size <= 3 * GiB);
	}
	assert_int_equal(guest_mem_low_end(&gm), low);
	guest_mem_fini(&gm);
}

static void test_2m(void **state)
{
	(void)state;
	check_map(2 * MiB);
}
static void test_16m(void **state)
{
	(void)state;
	check_map(16 * MiB);
}
static void test_1g(void **state)
{
	(void)state;
	check_map(GiB);
}
static void test_3g(void **state)
{
	(void)state;
	check_map(3 * GiB);
}
static void test_3g_plus_page(void **state)
{
	(void)state;
	check_map(3 * GiB + 4096);
}
static void test_4g(void **state)
{
	(void)state;
	check_map(4 * GiB);
}
static void test_5g(void **state)
{
	(void)state;
	check_map(5 * GiB);
}

/* Reserved ranges Linux expects: EBDA to 640 KiB, BIOS to 1 MiB. */
static void test_reserved(void **state)
{
	struct memmap_entry mm[MEMMAP_MAX];
	struct guest_mem gm;
	int n = build(16 * MiB, &gm, mm), seen = 0;

	(void)state;
	for (int i = 0; i < n; i++) {
		if (mm[i].type != MEMMAP_RESERVED)
			continue;
		if (mm[i].addr == MEMMAP_EBDA_START)
			assert_int_equal(mm[i].size,
					 0xa0000 - MEMMAP_EBDA_START);
		else if (mm[i].addr == MEMMAP_BIOS_START)
			assert_int_equal(mm[i].size,
					 MEMMAP_HIGH_MEM - MEMMAP_BIOS_START);
		else
			fail_msg("unexpected reserved range 0x%llx",
				 (unsigned long long)mm[i].addr);
		seen++;
	}
	assert_int_equal(seen, 2);
	guest_mem_fini(&gm);
}

/* guest_mem itself: sizes it refuses, and pointers it must not give. */
static void test_guest_mem_bounds(void **state)
{
	struct guest_mem gm;

	(void)state;
	log_reset();
	assert_int_equal(guest_mem_init(&gm, MiB), -EINVAL);
	assert_logged_once("size");
	assert_int_equal(guest_mem_init(&gm, 16 * MiB + 1), -EINVAL);
	assert_int_equal(guest_mem_init(&gm, 0), -EINVAL);

	assert_int_equal(guest_mem_init(&gm, 5 * GiB), 0);
	assert_non_null(guest_mem_ptr(&gm, 0, 4096));
	assert_non_null(guest_mem_ptr(&gm, 3 * GiB - 4096, 4096));
	assert_null(guest_mem_ptr(&gm, 3 * GiB - 4096, 4097));
	assert_null(guest_mem_ptr(&gm, 3 * GiB, 1));
	assert_null(guest_mem_ptr(&gm, 4 * GiB - 1, 1));
	assert_non_null(guest_mem_ptr(&gm, 4 * GiB, 2 * GiB));
	assert_null(guest_mem_ptr(&gm, 4 * GiB, 2 * GiB + 1));
	assert_null(guest_mem_ptr(&gm, 6 * GiB, 1));
	assert_null(guest_mem_ptr(&gm, UINT64_MAX, 2));
	assert_null(guest_mem_ptr(&gm, 4096, UINT64_MAX));
	/* Same memfd offset through both regions' pointers. */
	assert_ptr_equal((uint8_t *)guest_mem_ptr(&gm, 4 * GiB, 1),
			 (uint8_t *)guest_mem_ptr(&gm, 0, 1) + 3 * GiB);
	guest_mem_fini(&gm);
	guest_mem_fini(&gm); /* idempotent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_2m),
	    cmocka_unit_test(test_16m),
	    cmocka_unit_test(test_1g),
	    cmocka_unit_test(test_3g),
	    cmocka_unit_test(test_3g_plus_page),
	    cmocka_unit_test(test_4g),
	    cmocka_unit_test(test_5g),
	    cmocka_unit_test(test_reserved),
	    cmocka_unit_test(test_guest_mem_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
