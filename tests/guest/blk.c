/*
 * mode=blk: a polled virtio-blk driver on the boot vCPU (the others park).
 * io=verify writes every block of the disk region with (magic, block,
 * generation, checksum, words derived from block and generation), then
 * reads each back and checks it against the ledger, pass after pass: a
 * block lost, stale or written twice across a snapshot, restore or
 * migration is caught as `verify` catches pages. The ledger, the request
 * slots and the rings all live in guest memory, so a snapshot carries the
 * driver's whole state. io=randw|seqw|randr|seqr are benchmarks;
 * io=bad (blk_bad.c) feeds the device malformed chains.
 */
#include "probe.h"
#include "virtio.h"
#include "blk.h"

#define BLK_MAGIC 0x4b4c425952524546ULL /* "FERRYBLK" */
#define GOLDEN 0x9e3779b97f4a7c15ULL
#define BLK_SPIN_NS (1000 * 1000UL)
#define BLK_IDLE_NS (50 * 1000UL)

struct blk_state blk_state;

static uint8_t *slot_buf(struct blk_state *s, unsigned int i)
{
	return s->bufs + (uint64_t)i * s->bs;
}

/* Word @k of block @b at generation @g (k = 3 is the checksum of the
 * words from 4 on, filled in by the caller). */
static uint64_t blk_word(uint64_t b, uint64_t g, uint64_t seed, uint64_t k)
{
	if (k == 0)
		return BLK_MAGIC;
	if (k == 1)
		return b;
	if (k == 2)
		return g;
	return seed + k * GOLDEN;
}

static void blk_fill(struct blk_state *s, uint64_t *w, uint64_t b,
		     uint64_t g)
{
	uint64_t seed = mix64(b * GOLDEN ^ mix64(g + 1)), sum = 0, k;

	for (k = 0; k < s->bs / 8; k++) {
		w[k] = blk_word(b, g, seed, k);
		if (k > 3)
			sum = mix64(sum ^ w[k]);
	}
	w[3] = sum;
}

static void blk_check(struct probe *p, struct blk_state *s,
		      const uint64_t *w, uint64_t b)
{
	uint64_t g = s->ledger[b], seed = mix64(b * GOLDEN ^ mix64(g + 1));
	uint64_t sum = 0, k, want;

	for (k = 0; k < s->bs / 8; k++) {
		want = k == 3 ? sum : blk_word(b, g, seed, k);
		if (k > 3)
			sum = mix64(sum ^ w[k]);
		if (k == 3 || w[k] == want)
			continue;
		probe_die(p, EXIT_VERIFY,
			  "probe: ERROR blk block=%lu word=%lu expected=0x%lx "
			  "found=0x%lx gen=%lu found_gen=%lu pass=%lu", b, k,
			  want, w[k], g, w[2], s->pass);
	}
	if (w[3] != sum)
		probe_die(p, EXIT_VERIFY, "probe: ERROR blk block=%lu checksum "
			  "0x%lx, content says 0x%lx", b, w[3], sum);
	s->verified++;
}

/* Queues one request in slot @i. */
void blk_submit(struct blk_state *s, unsigned int i, uint32_t type,
		uint64_t block)
{
	struct vq_desc *d = &s->rings.desc[3 * i];
	int rd = type == BLK_T_IN;

	s->hdr[i].type = type;
	s->hdr[i].reserved = 0;
	s->hdr[i].sector = block * (s->bs / 512);
	s->status[i] = 0xff;
	d[0] = (struct vq_desc){ (uint64_t)&s->hdr[i], 16, VQ_DESC_F_NEXT,
				 (uint16_t)(3 * i + 1) };
	d[1] = (struct vq_desc){ (uint64_t)slot_buf(s, i), (uint32_t)s->bs,
				 VQ_DESC_F_NEXT | (rd ? VQ_DESC_F_WRITE : 0),
				 (uint16_t)(3 * i + 2) };
	d[2] = (struct vq_desc){ (uint64_t)&s->status[i], 1, VQ_DESC_F_WRITE,
				 0 };
	s->slot[i] = (struct blk_slot){ 1, type, block, s->pass };
	s->free_mask &= ~(1ULL << i);
	s->inflight++;
	vq_add(&s->q, (uint16_t)(3 * i));
}

/* The block the next request of this phase goes to; -1 when the phase
 * has issued all its requests. */
static int64_t blk_next(struct probe *p, struct blk_state *s)
{
	if (s->cursor >= s->blocks)
		return -1;
	s->cursor++;
	if (p->opts.io == IO_RANDW || p->opts.io == IO_RANDR) {
		s->rng ^= s->rng << 13;
		s->rng ^= s->rng >> 7;
		s->rng ^= s->rng << 17;
		return (int64_t)(s->rng % s->blocks);
	}
	return (int64_t)(s->cursor - 1);
}

static uint32_t blk_phase_type(struct probe *p, struct blk_state *s)
{
	switch (p->opts.io) {
	case IO_VERIFY: return s->phase ? BLK_T_IN : BLK_T_OUT;
	case IO_RANDR: case IO_SEQR: return BLK_T_IN;
	default: return BLK_T_OUT;
	}
}

/* Issues requests up to the queue depth; returns how many. */
static unsigned int blk_issue(struct probe *p, struct blk_state *s)
{
	uint32_t type = blk_phase_type(p, s);
	unsigned int n = 0;
	int64_t b;

	while (s->inflight < p->opts.qd && (b = blk_next(p, s)) >= 0) {
		unsigned int i = (unsigned int)__builtin_ctzll(s->free_mask);

		if (p->opts.io == IO_VERIFY && type == BLK_T_OUT)
			blk_fill(s, (uint64_t *)slot_buf(s, i), (uint64_t)b,
				 s->pass);
		blk_submit(s, i, type, (uint64_t)b);
		n++;
	}
	return n;
}

static const char *blk_type_name(uint32_t t)
{
	return t == BLK_T_IN ? "read" : t == BLK_T_OUT ? "write" : "other";
}

/* Takes completed requests off the used ring; returns how many. */
static unsigned int blk_complete(struct probe *p, struct blk_state *s)
{
	struct vq_used_elem e;
	unsigned int n = 0;

	while (vq_get_used(&s->q, &e)) {
		unsigned int i = e.id / 3;
		struct blk_slot *sl = &s->slot[i];

		if (e.id % 3 || i >= BLK_MAX_QD || !sl->busy)
			probe_die(p, EXIT_VERIFY, "probe: ERROR blk used id=%u "
				  "names no request in flight", e.id);
		if (s->status[i] != 0)
			probe_die(p, EXIT_VERIFY, "probe: ERROR blk status=%u "
				  "op=%s block=%lu%s", s->status[i],
				  blk_type_name(sl->type), sl->block,
				  (s->dev.features & VIRTIO_BLK_F_RO) ?
				  " (disk is read-only)" : "");
		if (p->opts.io == IO_VERIFY && sl->type == BLK_T_OUT)
			s->ledger[sl->block] = (uint32_t)sl->gen;
		else if (p->opts.io == IO_VERIFY)
			blk_check(p, s, (const uint64_t *)slot_buf(s, i),
				  sl->block);
		sl->busy = 0;
		s->free_mask |= 1ULL << i;
		s->inflight--;
		s->ios++;
		n++;
	}
	return n;
}

static void blk_finish(struct probe *p, struct blk_state *s, uint64_t now)
{
	uint64_t ms = (now - p->start_ns) / NS_PER_MS;

	if (!ms)
		ms = 1;
	con_printf(p, "probe: done mode=blk io=%s passes=%lu blocks=%lu "
		   "ios=%lu verified=%lu errors=0 ms=%lu iops=%lu mibps=%lu",
		   cmdline_io_name(p->opts.io), s->passes_done, s->blocks,
		   s->ios, s->verified, ms, s->ios * 1000 / ms,
		   s->ios * s->bs / 1024 * 1000 / 1024 / ms);
	svc_exit(EXIT_OK);
}

/* Ends a phase once all its requests completed. */
static void blk_advance(struct probe *p, struct blk_state *s, uint64_t now)
{
	if (s->cursor < s->blocks || s->inflight)
		return;
	s->cursor = 0;
	if (p->opts.io == IO_VERIFY && s->phase == 0) {
		s->phase = 1;
		return;
	}
	s->phase = 0;
	s->passes_done = s->pass++;
	if (p->opts.passes && s->passes_done >= p->opts.passes)
		blk_finish(p, s, now);
}

static void blk_heartbeat(struct probe *p, struct blk_state *s, uint64_t now)
{
	uint64_t dt = now - p->last_hb_ns;

	if ((int64_t)(now - p->next_hb_ns) < 0)
		return;
	con_printf(p, "probe: hb pass=%lu iops=%lu verified=%lu errors=0",
		   s->passes_done,
		   (int64_t)dt > 0 ? (s->ios - s->last_hb_ios) * NS_PER_S / dt
				   : 0, s->verified);
	if (vdev_status(&s->dev) & VIRTIO_STATUS_NEEDS_RESET)
		probe_die(p, EXIT_INTERNAL, "probe: error virtio-blk needs "
			  "reset");
	s->last_hb_ios = s->ios;
	p->last_hb_ns = now;
	p->next_hb_ns = now + p->opts.hb_ms * NS_PER_MS;
}

static void blk_setup(struct probe *p, struct blk_state *s)
{
	uint64_t cap, max;

	if (blk_dev_init(p, s) < 0)
		probe_die(p, EXIT_INTERNAL, "probe: error no usable virtio-blk "
			  "device (virtio_mmio.device= on the command line)");
	s->bs = p->opts.bs_kib * 1024;
	s->ledger = (uint32_t *)WSS_BASE;
	s->bufs = (uint8_t *)(WSS_BASE + BLK_LEDGER_BYTES);
	cap = (uint64_t)vdev_config32(&s->dev, 0) |
	      (uint64_t)vdev_config32(&s->dev, 4) << 32;
	s->blocks = cap * 512 / s->bs;
	max = p->opts.dsize_mib ? (p->opts.dsize_mib << 20) / s->bs : ~0ULL;
	if (s->blocks > max)
		s->blocks = max;
	if (s->blocks > BLK_MAX_BLOCKS)
		s->blocks = BLK_MAX_BLOCKS;
	if (!s->blocks)
		probe_die(p, EXIT_CMDLINE, "probe: error disk of %lu sectors "
			  "holds no %lu KiB block", cap, p->opts.bs_kib);
	s->free_mask = p->opts.qd >= 64 ? ~0ULL : (1ULL << p->opts.qd) - 1;
	s->pass = 1;
	s->rng = 0x9e3779b97f4a7c15ULL;
	if (p->opts.io != IO_VERIFY)
		for (uint64_t i = 0; i < p->opts.qd; i++)
			blk_fill(s, (uint64_t *)slot_buf(s, (unsigned)i), i, 1);
	con_printf(p, "probe: blk disk=%luMiB blocks=%lu bs=%luKiB qd=%lu "
		   "io=%s features=0x%lx", cap >> 11, s->blocks,
		   p->opts.bs_kib, p->opts.qd, cmdline_io_name(p->opts.io),
		   s->dev.features);
}

void blk_run(struct probe *p, struct probe_cpu *c)
{
	struct blk_state *s = &blk_state;
	uint64_t now;

	if (c->index_cpu != p->bsp_index)
		for (;;)
			svc_idle_ns(NS_PER_S);
	blk_setup(p, s);
	if (p->opts.io == IO_BAD)
		blk_bad(p, s);
	for (;;) {
		unsigned int n, m;

		/* Poll while requests are in flight, up to BLK_SPIN_NS without
		 * progress, then idle: an idle costs a trip through CPL0,
		 * which PVM emulates slowly, and a disk's completions come
		 * hundreds of microseconds apart. */
		now = clock_ns(c);
		blk_heartbeat(p, s, now);
		n = blk_issue(p, s);
		if (n)
			vq_kick(&s->dev, &s->q);
		m = blk_complete(p, s);
		blk_advance(p, s, now);
		if (n || m)
			s->last_progress_ns = now;
		else if (now - s->last_progress_ns < BLK_SPIN_NS)
			asm volatile("pause");
		else
			svc_idle_ns(BLK_IDLE_NS);
	}
}
