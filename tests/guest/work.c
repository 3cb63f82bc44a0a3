/*
 * The workloads every participating vCPU runs at CPL3 on its own slice of
 * the working set: idle, dirty (one word per page at a paced rate) and
 * verify (whole pages whose content follows from the vCPU's ledger, checked
 * before each overwrite and by a continuous sweep). The boot vCPU also
 * prints the heartbeat and ends the run. Pacing and deadlines come from
 * kvmclock; a time jump after a pause is capped, never caught up.
 */
#include "probe.h"

#define BATCH 32 /* pages between clock reads */
#define PAGE_WORDS (PAGE_SIZE / 8)
#define PAGE_MAGIC 0x4745505952524546ULL /* "FERRYPEG" */
#define GOLDEN 0x9e3779b97f4a7c15ULL
#define BACKLOG_NS (50 * NS_PER_MS)
#define REST_MAX_NS NS_PER_S
#define PACE_MIN_SLEEP_NS NS_PER_MS
#define DONE_POLL_NS (2 * NS_PER_MS)

struct mismatch {
	uint64_t off;
	uint64_t expected;
	uint64_t found;
};

static uint64_t *page_at(uint64_t g)
{
	return (uint64_t *)(WSS_BASE + g * PAGE_SIZE);
}

/* Words 0-2 are the header (magic, global page index, generation); the
 * rest follow from (index, gen), so any flipped byte is caught. */
static uint64_t page_word(uint64_t g, uint64_t gen, uint64_t seed,
			  uint64_t k)
{
	if (k == 0)
		return PAGE_MAGIC;
	if (k == 1)
		return g;
	if (k == 2)
		return gen;
	return seed + k * GOLDEN;
}

static uint64_t page_seed(uint64_t g, uint64_t gen)
{
	return mix64(g * GOLDEN ^ mix64(gen + 1));
}

static void page_fill(uint64_t g, uint64_t gen)
{
	uint64_t *w = page_at(g), seed = page_seed(g, gen), k;

	for (k = 0; k < PAGE_WORDS; k++)
		w[k] = page_word(g, gen, seed, k);
}

/* Returns 0 when page @g holds generation @gen, else fills @m. */
static int page_check(uint64_t g, uint64_t gen, struct mismatch *m)
{
	const uint64_t *w = page_at(g);
	uint64_t seed = page_seed(g, gen), k, want;

	asm volatile("" ::: "memory"); /* always read the page itself */
	for (k = 0; k < PAGE_WORDS; k++) {
		want = page_word(g, gen, seed, k);
		if (w[k] != want) {
			m->off = k * 8;
			m->expected = want;
			m->found = w[k];
			return -1;
		}
	}
	return 0;
}

/* Generation slice page @j must hold: written this pass or the last. */
static uint64_t expected_gen(const struct probe_cpu *c, uint64_t j)
{
	return j < c->index ? c->pass : c->pass - 1;
}

/* Checks page @g against @gen (0: never written, nothing to check) and
 * ends the guest with EXIT_VERIFY on the first difference. */
static void check_or_die(struct probe *p, struct probe_cpu *c, uint64_t g,
			 uint64_t gen, const char *who)
{
	struct mismatch m;

	if (!gen)
		return;
	if (page_check(g, gen, &m) < 0)
		probe_die(p, EXIT_VERIFY,
			  "probe: ERROR page=%lu gpa=0x%lx off=0x%lx "
			  "expected=0x%lx found=0x%lx gen=%lu found_gen=%lu "
			  "cpu=%u check=%s",
			  g, WSS_BASE + g * PAGE_SIZE, m.off, m.expected,
			  m.found, gen, page_at(g)[2], c->index_cpu, who);
	c->verified++;
}

static void advance(struct probe *p, struct probe_cpu *c)
{
	c->written++;
	if (++c->index < c->count)
		return;
	c->passes_done = c->pass;
	c->pass++;
	c->index = 0;
	if (p->opts.passes && c->passes_done >= p->opts.passes)
		__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
}

static void sweep_one(struct probe *p, struct probe_cpu *c, uint64_t now)
{
	uint64_t j = c->sweep;

	check_or_die(p, c, c->first + j, expected_gen(c, j), "sweep");
	if (++c->sweep < c->count)
		return;
	c->sweep = 0;
	c->sweep_active = 0;
	c->sweep_next_ns = now + p->opts.hb_ms * NS_PER_MS;
}

/* Writes one page: verify (previous generation first) or dirty. */
static void write_one(struct probe *p, struct probe_cpu *c, uint64_t now)
{
	uint64_t g = c->first + c->index;

	if (p->opts.mode == MODE_DIRTY) {
		*(volatile uint64_t *)page_at(g) = (c->pass << 32) | c->index;
		advance(p, c);
		return;
	}
	check_or_die(p, c, g, c->pass - 1, "writer");
	page_fill(g, c->pass);
	advance(p, c);
	sweep_one(p, c, now);
}

/* Token bucket in page-ns: time adds rate*256 (pages/s) per ns, a page
 * costs NS_PER_S * nr_cpus since the rate is shared by all vCPUs. The
 * bucket holds at most BACKLOG_NS of budget, so after a pause or a restore
 * the guest resumes its rate instead of bursting to catch up. */
static uint64_t pace_allow(struct probe *p, struct probe_cpu *c,
			   uint64_t now)
{
	uint64_t per_ns = p->opts.rate_mib * 256;
	uint64_t cost = NS_PER_S * p->nr_cpus, dt, cap, n;

	if (!per_ns)
		return BATCH;
	dt = now - c->last_ns;
	if ((int64_t)dt < 0)
		dt = 0;
	if (dt > NS_PER_S)
		dt = NS_PER_S;
	c->last_ns = now;
	c->tokens += dt * per_ns;
	cap = BACKLOG_NS * per_ns;
	if (cap < 2 * BATCH * cost)
		cap = 2 * BATCH * cost;
	if (c->tokens > cap)
		c->tokens = cap;
	n = c->tokens / cost;
	if (n > BATCH)
		n = BATCH;
	c->tokens -= n * cost;
	return n;
}

/* Nanoseconds until the bucket holds one page. */
static uint64_t pace_wait_ns(struct probe *p, const struct probe_cpu *c)
{
	uint64_t per_ns = p->opts.rate_mib * 256;
	uint64_t cost = NS_PER_S * p->nr_cpus;

	if (c->tokens >= cost)
		return 0;
	return (cost - c->tokens) / per_ns + 1;
}

/* Besides the page it checks per page written, a vCPU with time to spare
 * sweeps its whole slice once per heartbeat period: a cycle starts when
 * sweep_next_ns passes and runs until the cursor wraps. */
static int sweep_due(struct probe *p, struct probe_cpu *c, uint64_t now)
{
	if (p->opts.mode != MODE_VERIFY)
		return 0;
	if ((int64_t)(now - c->sweep_next_ns) >= 0)
		c->sweep_active = 1;
	return c->sweep_active;
}

/* One step of work; returns 0 when there was nothing to do right now. */
static int work_step(struct probe *p, struct probe_cpu *c, uint64_t now)
{
	uint64_t n, i;

	if (p->opts.mode == MODE_IDLE || !c->count)
		return 0;
	if (!c->done) {
		n = pace_allow(p, c, now);
		for (i = 0; i < n && !c->done; i++)
			write_one(p, c, now);
		if (n)
			return 1;
	}
	if (!sweep_due(p, c, now))
		return 0;
	for (i = 0; i < BATCH; i++)
		sweep_one(p, c, now);
	return 1;
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0 ? a : b;
}

/* Sleeps until the next thing this vCPU has to do. */
static void rest(struct probe *p, struct probe_cpu *c, uint64_t now,
		 int hb)
{
	uint64_t deadline = now + REST_MAX_NS, wait;

	if (hb)
		deadline = earlier(deadline, p->next_hb_ns);
	/* The boot vCPU ends the run: once its own passes are done it looks
	 * for the others' completion every DONE_POLL_NS. */
	if (hb && c->done)
		deadline = earlier(deadline, now + DONE_POLL_NS);
	if (p->opts.mode == MODE_VERIFY && c->count)
		deadline = earlier(deadline, c->sweep_next_ns);
	if (p->opts.mode != MODE_IDLE && c->count && !c->done &&
	    p->opts.rate_mib) {
		wait = pace_wait_ns(p, c);
		if (wait < PACE_MIN_SLEEP_NS)
			wait = PACE_MIN_SLEEP_NS;
		deadline = earlier(deadline, now + wait);
	}
	clock_sleep_until(c, deadline);
}

static int all_done(struct probe *p)
{
	unsigned int i;

	if (p->opts.mode == MODE_IDLE)
		return p->opts.passes && p->idle_periods >= p->opts.passes;
	if (!p->opts.passes)
		return 0;
	for (i = 0; i < PROBE_MAX_CPUS; i++)
		if ((p->cpu_mask >> i & 1) &&
		    !__atomic_load_n(&p->cpu[i].done, __ATOMIC_ACQUIRE))
			return 0;
	return 1;
}

struct totals {
	uint64_t passes, written, verified;
};

static void sum_cpus(struct probe *p, struct totals *t)
{
	unsigned int i;

	t->passes = ~0ULL;
	t->written = t->verified = 0;
	for (i = 0; i < PROBE_MAX_CPUS; i++) {
		const struct probe_cpu *o = &p->cpu[i];

		if (!(p->cpu_mask >> i & 1))
			continue;
		if (o->count && o->passes_done < t->passes)
			t->passes = o->passes_done;
		t->written += o->written;
		t->verified += o->verified;
	}
	if (t->passes == ~0ULL)
		t->passes = 0;
	if (p->opts.mode == MODE_IDLE)
		t->passes = p->idle_periods;
}

/* Re-checks every page of every slice after all writers stopped. */
static void final_verify(struct probe *p, struct probe_cpu *self)
{
	unsigned int i;
	uint64_t j;

	for (i = 0; i < PROBE_MAX_CPUS; i++) {
		struct probe_cpu *o = &p->cpu[i];

		if (!(p->cpu_mask >> i & 1))
			continue;
		for (j = 0; j < o->count; j++)
			check_or_die(p, self, o->first + j,
				     expected_gen(o, j), "final");
	}
}

static void finish(struct probe *p, struct probe_cpu *c, uint64_t now)
{
	struct totals t;

	if (p->opts.mode == MODE_VERIFY)
		final_verify(p, c);
	sum_cpus(p, &t);
	con_printf(p,
		   "probe: done mode=%s passes=%lu pages=%lu written=%lu "
		   "verified=%lu errors=0 ms=%lu",
		   cmdline_mode_name(p->opts.mode), t.passes, p->total_pages,
		   t.written, t.verified, (now - p->start_ns) / NS_PER_MS);
	svc_exit(EXIT_OK);
}

static void heartbeat(struct probe *p, uint64_t now)
{
	struct totals t;
	uint64_t dt = now - p->last_hb_ns, wps = 0;

	if ((int64_t)(now - p->next_hb_ns) < 0)
		return;
	if (p->opts.mode == MODE_IDLE)
		p->idle_periods++;
	sum_cpus(p, &t);
	if ((int64_t)dt > 0)
		wps = (t.written - p->last_hb_written) * NS_PER_S / dt;
	if (p->opts.mode == MODE_VERIFY)
		con_printf(p, "probe: hb pass=%lu wps=%lu verified=%lu errors=0",
			   t.passes, wps, t.verified);
	else
		con_printf(p, "probe: hb pass=%lu wps=%lu", t.passes, wps);
	p->last_hb_ns = now;
	p->last_hb_written = t.written;
	p->next_hb_ns += p->opts.hb_ms * NS_PER_MS;
	if ((int64_t)(p->next_hb_ns - now) <= 0)
		p->next_hb_ns = now + p->opts.hb_ms * NS_PER_MS;
}

void work_run(struct probe *p, struct probe_cpu *c)
{
	int hb = c->index_cpu == p->bsp_index;
	uint64_t now = clock_ns(c);

	c->last_ns = now;
	c->sweep_next_ns = now;
	for (;;) {
		now = clock_ns(c);
		if (hb) {
			heartbeat(p, now);
			if (all_done(p))
				finish(p, c, now);
		}
		if (!work_step(p, c, now))
			rest(p, c, now, hb);
	}
}
