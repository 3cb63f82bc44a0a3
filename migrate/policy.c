/*
 * The pre-copy policy: one pure function from a round's statistics to
 * CONTINUE / STOP_AND_COPY / ABORT and the auto-converge throttle. No
 * state, no clock, no I/O, no logging: the engine (migrate/source.c) logs
 * the decision with out->reason and feeds out->throttle_pct back in next
 * round. All byte arithmetic is 128-bit, so no input overflows.
 */
#include <stdint.h>

#include "migrate/migrate.h"

#define POLICY_PAGE_SIZE 4096u
/* With the bandwidth still unknown, this few pages stop at once anyway:
 * 256 KiB takes well under a millisecond on any link worth migrating over. */
#define POLICY_TINY_PAGES 64u
#define POLICY_THROTTLE_FIRST 20u
#define POLICY_THROTTLE_STEP 10u
#define POLICY_THROTTLE_CAP 99u
/* Past this many rounds without converging, throttle regardless of rate. */
#define POLICY_THROTTLE_ROUND 5u
#define POLICY_ABORT_ROUND 30u
#define POLICY_ABORT_NS (60ull * 1000 * 1000 * 1000)

typedef unsigned __int128 u128;

/* Would the rest go out within the downtime at @in->bandwidth? Compares
 * bytes * 1000 <= bandwidth * ms, so there is no division and no
 * rounding; equality counts as fitting. */
static int policy_fits(const struct mig_policy_in *in)
{
	uint32_t ms =
	    in->downtime_ms ? in->downtime_ms : MIG_DEFAULT_DOWNTIME_MS;
	u128 bytes = (u128)in->dirty_pages * POLICY_PAGE_SIZE + in->state_bytes;

	return bytes * 1000 <= (u128)in->bandwidth * ms;
}

/* The guest dirties more than half of what the link carries. */
static int policy_dirty_pressure(const struct mig_policy_in *in)
{
	if (!in->bandwidth) /* unknown, not zero */
		return 0;
	return (u128)in->dirty_rate * POLICY_PAGE_SIZE * 2 > in->bandwidth;
}

static uint32_t policy_throttle_step(uint32_t pct)
{
	if (pct < POLICY_THROTTLE_FIRST)
		return POLICY_THROTTLE_FIRST;
	if (pct >= POLICY_THROTTLE_CAP - POLICY_THROTTLE_STEP)
		return POLICY_THROTTLE_CAP;
	return pct + POLICY_THROTTLE_STEP;
}

/* Past the round or time limit. With auto-converge the last resort is the
 * throttle, so give up only once the round just measured ran at the cap.
 * The function keeps no state, so "at the cap for a few rounds" rests on
 * the schedule: from round 6 every round steps the throttle, so it is at
 * the cap by round 14, long before the round limit. The time limit alone
 * gives at least one capped round; MIG_MAX_ROUNDS stops it regardless. */
static const char *policy_give_up(const struct mig_policy_in *in)
{
	int over_rounds = in->round >= POLICY_ABORT_ROUND;
	int over_time = in->elapsed_ns > POLICY_ABORT_NS;

	if (in->round >= MIG_MAX_ROUNDS)
		return "not converging: round limit";
	if (!over_rounds && !over_time)
		return NULL;
	if (in->auto_converge && in->throttle_pct < POLICY_THROTTLE_CAP)
		return NULL;
	if (in->auto_converge)
		return over_rounds
			   ? "not converging at full throttle: round limit"
			   : "not converging at full throttle: time limit";
	return over_rounds ? "not converging: round limit"
			   : "not converging: time limit";
}

void mig_policy_decide(const struct mig_policy_in *in,
		       struct mig_policy_out *out)
{
	const char *abort_reason;
	int pressure;

	/* Without auto-converge the guest is never throttled. */
	out->throttle_pct = in->auto_converge ? in->throttle_pct : 0;
	if (!in->dirty_pages) {
		out->decision = MIG_STOP_AND_COPY;
		out->reason = "nothing dirty";
		return;
	}
	if (!in->bandwidth && in->dirty_pages <= POLICY_TINY_PAGES) {
		out->decision = MIG_STOP_AND_COPY;
		out->reason = "few pages left, bandwidth unknown";
		return;
	}
	if (in->bandwidth && policy_fits(in)) {
		out->decision = MIG_STOP_AND_COPY;
		out->reason = "remaining pages fit in the downtime";
		return;
	}

	abort_reason = policy_give_up(in);
	if (abort_reason) {
		out->decision = MIG_ABORT;
		out->reason = abort_reason;
		return;
	}

	out->decision = MIG_CONTINUE;
	pressure = policy_dirty_pressure(in);
	if (in->auto_converge &&
	    (pressure || in->round > POLICY_THROTTLE_ROUND)) {
		out->throttle_pct = policy_throttle_step(in->throttle_pct);
		out->reason = pressure ? "dirty rate over half the bandwidth"
				       : "not converging after 5 rounds";
		return;
	}
	if (!in->bandwidth)
		out->reason = "bandwidth unknown";
	else
		out->reason = pressure ? "dirty rate over half the bandwidth"
				       : "converging";
}
