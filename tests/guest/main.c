/*
 * Where every vCPU lands at CPL3 (entry.S iretq's to probe_cpu_main): the
 * boot vCPU reads the command line, waits briefly for the APs that hv
 * started, splits the working set between the vCPUs that checked in and
 * prints the banner; then all of them run the workload. Owns the guest's
 * only globals: the shared state and the start-info pointer.
 */
#include "probe.h"

#define AP_WAIT_NS (100 * NS_PER_MS)
/* Waiting vCPUs sleep rather than spin: with more vCPUs than host cores a
 * spinning vCPU would starve the emulated boot of the others. */
#define CHECKIN_POLL_NS (200 * 1000UL)

struct probe probe_state;
/* gpa of hvm_start_info, stored by pvh_entry32 before paging is on. */
uint32_t probe_start_info;

/* vCPUs hv says exist: CPUID.1:EBX[23:16] when HTT is set. */
static uint32_t expected_cpus(void)
{
	uint32_t a, b, c, d, n = 1;

	cpu_id(1, &a, &b, &c, &d);
	if (d & (1u << 28))
		n = (b >> 16) & 0xff;
	if (n < 1)
		n = 1;
	return n > PROBE_MAX_CPUS ? PROBE_MAX_CPUS : n;
}

/* Waits up to AP_WAIT_NS for the APs (QEMU does not start them; hv does)
 * and fixes the set of vCPUs that run the workload. */
static uint32_t wait_for_aps(struct probe *p, struct probe_cpu *c,
			     uint32_t want)
{
	uint64_t deadline = clock_ns(c) + AP_WAIT_NS, mask;
	uint64_t want_mask = want >= 64 ? ~0ULL : (1ULL << want) - 1;
	uint32_t n;

	for (;;) {
		mask = __atomic_load_n(&p->checkin_mask, __ATOMIC_ACQUIRE);
		mask |= 1ULL << c->index_cpu;
		if ((mask & want_mask) == want_mask ||
		    (int64_t)(clock_ns(c) - deadline) >= 0)
			break;
		svc_idle_ns(CHECKIN_POLL_NS);
	}
	p->cpu_mask = mask;
	for (n = 0; mask; mask &= mask - 1)
		n++;
	return n;
}

/* Gives each participating vCPU a contiguous slice of the working set. */
static void split_work(struct probe *p)
{
	uint64_t total = p->total_pages, r = 0;
	unsigned int i;

	for (i = 0; i < PROBE_MAX_CPUS; i++) {
		struct probe_cpu *c = &p->cpu[i];

		if (!(p->cpu_mask >> i & 1))
			continue;
		c->first = r * total / p->nr_cpus;
		c->count = (r + 1) * total / p->nr_cpus - c->first;
		c->pass = 1;
		if (!c->count && p->opts.passes)
			c->done = 1;
		r++;
	}
}

static void bsp_start(struct probe *p, struct probe_cpu *c)
{
	uint32_t want;

	p->bsp_index = c->index_cpu;
	cmdline_parse(p, probe_start_info);
	want = expected_cpus();
	p->nr_cpus = wait_for_aps(p, c, want);
	p->total_pages = p->opts.wss_mib << 8;
	split_work(p);
	p->start_ns = clock_ns(c);
	p->last_hb_ns = p->start_ns;
	p->next_hb_ns = p->start_ns + p->opts.hb_ms * NS_PER_MS;
	__atomic_store_n(&p->go, 1, __ATOMIC_RELEASE);
	con_printf(p,
		   "probe: start mode=%s cpus=%u wss=%luMiB rate=%lu "
		   "passes=%lu hb=%lu base=0x%x",
		   cmdline_mode_name(p->opts.mode), p->nr_cpus,
		   p->opts.wss_mib, p->opts.rate_mib, p->opts.passes,
		   p->opts.hb_ms, WSS_BASE);
	if (p->nr_cpus < want)
		con_printf(p, "probe: note %u of %u vCPUs checked in",
			   p->nr_cpus, want);
}

/* Checks in, then waits for the boot vCPU's verdict. An AP that came too
 * late (or is not wanted) parks for good. */
static void ap_start(struct probe *p, struct probe_cpu *c)
{
	__atomic_fetch_or(&p->checkin_mask, 1ULL << c->index_cpu,
			  __ATOMIC_RELEASE);
	while (!__atomic_load_n(&p->go, __ATOMIC_ACQUIRE))
		svc_idle_ns(CHECKIN_POLL_NS);
	while (!(p->cpu_mask >> c->index_cpu & 1))
		svc_idle_ns(NS_PER_S);
}

void probe_cpu_main(uint32_t index, uint32_t bsp)
{
	struct probe *p = &probe_state;
	struct probe_cpu *c = &p->cpu[index];

	c->index_cpu = index;
	if (clock_start(c) < 0)
		probe_die(p, EXIT_INTERNAL,
			  "probe: error no kvmclock (CPUID 0x40000000 "
			  "KVMKVMKVM, 0x40000001 bit 3)");
	if (bsp)
		bsp_start(p, c);
	else
		ap_start(p, c);
	if (p->opts.mode == MODE_BLK)
		blk_run(p, c);
	if (p->opts.mode == MODE_NET)
		net_run(p, c);
	work_run(p, c);
}
