/*
 * migrate/policy.c: mig_policy_decide() branch by branch, with the
 * boundary on each side of every threshold (downtime fit, tiny page count,
 * dirty pressure, throttle steps and cap, round and time limits), unknown
 * bandwidth (no division by zero) and inputs at UINT64_MAX (no overflow).
 */
#include "tests/unit/unit.h"

#include "migrate/migrate.h"

#define PAGE 4096ull
#define SEC 1000000000ull

/* A round that neither converges nor presses: 1 GB/s link, 100 ms worth
 * of pages dirty, a modest dirty rate. */
static struct mig_policy_in base(void)
{
	return (struct mig_policy_in){
	    .round = 2,
	    .dirty_pages = 25000, /* ~100 MB */
	    .state_bytes = 1 << 20,
	    .bandwidth = 1000000000,
	    .dirty_rate = 1000, /* 4 MB/s */
	    .elapsed_ns = 2 * SEC,
	    .downtime_ms = 10,
	};
}

static struct mig_policy_out decide(const struct mig_policy_in *in)
{
	struct mig_policy_out out = {.decision = 42, .throttle_pct = 777};

	mig_policy_decide(in, &out);
	assert_non_null(out.reason);
	assert_true(out.reason[0] != '\0');
	assert_true(out.throttle_pct <= 99);
	return out;
}

static void test_nothing_dirty(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.dirty_pages = 0;
	in.bandwidth = 0;
	in.state_bytes = UINT64_MAX; /* irrelevant: nothing left to race */
	out = decide(&in);
	assert_int_equal(out.decision, MIG_STOP_AND_COPY);
	assert_string_equal(out.reason, "nothing dirty");
}

static void test_continue(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 0);
	assert_string_equal(out.reason, "converging");
}

/* bytes * 1000 <= bandwidth * downtime_ms exactly at the edge. */
static void test_fit_boundary(void **state)
{
	struct mig_policy_in in = base();

	(void)state;
	/* 10 ms at 409,600,000 B/s is 4,096,000 B = 1000 pages. */
	in.bandwidth = 409600000;
	in.dirty_pages = 1000;
	in.state_bytes = 0;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	in.state_bytes = 1; /* one byte over */
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	in.state_bytes = 0;
	in.dirty_pages = 1001;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	/* State bytes count like pages: 999 pages + 4096 bytes fits. */
	in.dirty_pages = 999;
	in.state_bytes = PAGE;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	assert_string_equal(decide(&in).reason,
			    "remaining pages fit in the downtime");
}

/* downtime_ms 0 means MIG_DEFAULT_DOWNTIME_MS; a longer target fits more. */
static void test_downtime_target(void **state)
{
	struct mig_policy_in in = base();

	(void)state;
	in.bandwidth = 409600000; /* 100 pages per ms */
	in.state_bytes = 0;
	in.dirty_pages = 100 * MIG_DEFAULT_DOWNTIME_MS;
	in.downtime_ms = 0;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	in.dirty_pages++;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	in.downtime_ms = 300;
	in.dirty_pages = 30000;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	in.dirty_pages = 30001;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
}

/* Bandwidth 0 is "not measured yet": no division, stop only if tiny. */
static void test_bandwidth_unknown(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.bandwidth = 0;
	in.dirty_pages = 64;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_STOP_AND_COPY);
	assert_string_equal(out.reason, "few pages left, bandwidth unknown");
	in.dirty_pages = 65;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_string_equal(out.reason, "bandwidth unknown");
	/* Unknown bandwidth is no pressure, even with auto-converge. */
	in.auto_converge = true;
	in.dirty_rate = UINT64_MAX;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 0);
}

/* dirty_rate * 4096 > bandwidth / 2, on each side of the edge. */
static void test_pressure_boundary(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.auto_converge = true;
	in.bandwidth = 2 * 4096 * 1000; /* half is 1000 pages/s */
	in.dirty_pages = 1u << 20;
	in.dirty_rate = 1000;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 0);
	in.dirty_rate = 1001;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 20);
	assert_string_equal(out.reason, "dirty rate over half the bandwidth");
	/* An odd bandwidth: 8193 B/s, half is 4096.5; 1 page/s is under. */
	in.bandwidth = 8193;
	in.dirty_rate = 1;
	assert_int_equal(decide(&in).throttle_pct, 0);
	in.bandwidth = 8191;
	assert_int_equal(decide(&in).throttle_pct, 20);
}

/* Without auto-converge pressure is reported but nothing is throttled,
 * and a throttle passed in is dropped. */
static void test_no_auto_converge_never_throttles(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.dirty_rate = 1000000;
	in.throttle_pct = 50;
	for (in.round = 1; in.round < 30; in.round++) {
		out = decide(&in);
		assert_int_equal(out.decision, MIG_CONTINUE);
		assert_int_equal(out.throttle_pct, 0);
	}
	assert_string_equal(out.reason, "dirty rate over half the bandwidth");
}

/* 20, 30, ..., 90, 99, 99: the caller feeds the output back in. */
static void test_throttle_steps_and_cap(void **state)
{
	static const uint32_t want[] = {20, 30, 40, 50, 60, 70, 80, 90, 99, 99};
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.auto_converge = true;
	in.dirty_rate = 1000000;
	for (unsigned int i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		out = decide(&in);
		assert_int_equal(out.decision, MIG_CONTINUE);
		assert_int_equal(out.throttle_pct, want[i]);
		in.throttle_pct = out.throttle_pct;
	}
	/* Odd values from outside: below 20 jumps to 20, above caps. */
	in.throttle_pct = 5;
	assert_int_equal(decide(&in).throttle_pct, 20);
	in.throttle_pct = 89;
	assert_int_equal(decide(&in).throttle_pct, 99);
	in.throttle_pct = 88;
	assert_int_equal(decide(&in).throttle_pct, 98);
	in.throttle_pct = 1000;
	assert_int_equal(decide(&in).throttle_pct, 99);
}

/* No pressure, but round 6 and on without converging: throttle anyway. */
static void test_throttle_after_round_5(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.auto_converge = true;
	in.round = 5;
	out = decide(&in);
	assert_int_equal(out.throttle_pct, 0);
	assert_string_equal(out.reason, "converging");
	in.round = 6;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 20);
	assert_string_equal(out.reason, "not converging after 5 rounds");
	/* Also with bandwidth still unknown. */
	in.bandwidth = 0;
	assert_int_equal(decide(&in).throttle_pct, 20);
}

static void test_abort_limits(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.round = 29;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	in.round = 30;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_ABORT);
	assert_string_equal(out.reason, "not converging: round limit");

	in.round = 3;
	in.elapsed_ns = 60 * SEC;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	in.elapsed_ns = 60 * SEC + 1;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_ABORT);
	assert_string_equal(out.reason, "not converging: time limit");

	/* Converging still wins over the limits. */
	in.round = 1000;
	in.elapsed_ns = UINT64_MAX;
	in.dirty_pages = 1;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	/* Unknown bandwidth does not keep it going forever. */
	in.dirty_pages = 1000;
	in.bandwidth = 0;
	assert_int_equal(decide(&in).decision, MIG_ABORT);
}

/* With auto-converge the limits abort only once the throttle is capped. */
static void test_abort_waits_for_throttle_cap(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	in.auto_converge = true;
	in.round = 30;
	in.elapsed_ns = 61 * SEC;
	in.throttle_pct = 90;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 99);
	in.throttle_pct = 99;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_ABORT);
	assert_int_equal(out.throttle_pct, 99);
	assert_string_equal(out.reason,
			    "not converging at full throttle: round limit");
	in.round = 10;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_ABORT);
	assert_string_equal(out.reason,
			    "not converging at full throttle: time limit");
	/* Whatever the throttle, MIG_MAX_ROUNDS ends it. */
	in.throttle_pct = 0;
	in.bandwidth = 0;
	in.round = MIG_MAX_ROUNDS - 1;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	in.round = MIG_MAX_ROUNDS;
	assert_int_equal(decide(&in).decision, MIG_ABORT);
}

/* A whole auto-converged run from round 1: by the round limit the
 * throttle has sat at the cap for many rounds. */
static void test_schedule_reaches_cap_early(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out = {0};
	uint32_t first_cap = 0;

	(void)state;
	in.auto_converge = true;
	for (in.round = 1; in.round < 100; in.round++) {
		out = decide(&in);
		if (out.decision != MIG_CONTINUE)
			break;
		if (out.throttle_pct == 99 && !first_cap)
			first_cap = in.round;
		in.throttle_pct = out.throttle_pct;
	}
	assert_int_equal(out.decision, MIG_ABORT);
	assert_int_equal(in.round, 30);
	assert_int_equal(first_cap, 14);
}

static void test_huge_numbers(void **state)
{
	struct mig_policy_in in = base();
	struct mig_policy_out out;

	(void)state;
	/* UINT64_MAX pages * 4096 would wrap 64-bit math; 2^76 bytes do
	 * not go in 1 s at UINT64_MAX B/s. */
	in.dirty_pages = UINT64_MAX;
	in.state_bytes = UINT64_MAX;
	in.bandwidth = UINT64_MAX;
	in.downtime_ms = 1000;
	in.dirty_rate = UINT64_MAX;
	in.auto_converge = true;
	out = decide(&in);
	assert_int_equal(out.decision, MIG_CONTINUE);
	assert_int_equal(out.throttle_pct, 20);
	/* ... but they do in UINT32_MAX ms (2^96 bytes). */
	in.downtime_ms = UINT32_MAX;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	in.downtime_ms = 1000;
	/* 2^52 pages: * 4096 is exactly 2^64, wraps to 0 in 64 bits. */
	in.dirty_pages = 1ull << 52;
	in.state_bytes = 0;
	in.bandwidth = 1;
	in.downtime_ms = 1;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
	/* UINT64_MAX B/s for 1 s carries exactly UINT64_MAX bytes: pages
	 * plus state of exactly that fit, one byte more does not. */
	in.dirty_pages = UINT64_MAX / PAGE;
	in.state_bytes = UINT64_MAX % PAGE;
	in.bandwidth = UINT64_MAX;
	in.downtime_ms = 1000;
	assert_int_equal(decide(&in).decision, MIG_STOP_AND_COPY);
	in.state_bytes++;
	assert_int_equal(decide(&in).decision, MIG_CONTINUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nothing_dirty),
	    cmocka_unit_test(test_continue),
	    cmocka_unit_test(test_fit_boundary),
	    cmocka_unit_test(test_downtime_target),
	    cmocka_unit_test(test_bandwidth_unknown),
	    cmocka_unit_test(test_pressure_boundary),
	    cmocka_unit_test(test_no_auto_converge_never_throttles),
	    cmocka_unit_test(test_throttle_steps_and_cap),
	    cmocka_unit_test(test_throttle_after_round_5),
	    cmocka_unit_test(test_abort_limits),
	    cmocka_unit_test(test_abort_waits_for_throttle_cap),
	    cmocka_unit_test(test_schedule_reaches_cap_early),
	    cmocka_unit_test(test_huge_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
