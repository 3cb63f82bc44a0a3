/*
 * The probe's command line (from PVH hvm_start_info) and the check that
 * the working set fits in RAM according to the PVH memory map. Keys:
 * mode=idle|dirty|verify|blk|net wss=<MiB> rate=<MiB/s> passes=<n>
 * hb=<ms>, for blk io=<kind> bs=<KiB> qd=<n> dsize=<MiB>, for net
 * ip=A.B.C.D, and the VMM's virtio_mmio.device=<size>@<base>:<irq>.
 * Anything else ends the guest with EXIT_CMDLINE.
 */
#include "probe.h"

#define HVM_START_MAGIC 0x336ec578
#define MEMMAP_RAM 1
#define CMDLINE_MAX 4096

/* Xen public/arch-x86/hvm/start_info.h */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct opt_num {
	const char *key;
	size_t off;
	uint64_t min, max;
};

static const struct opt_num num_opts[] = {
	{ "wss", offsetof(struct probe_opts, wss_mib), 1,
	  (MAP_GIB << 10) - (WSS_BASE >> 20) },
	{ "rate", offsetof(struct probe_opts, rate_mib), 0, 1000000 },
	{ "passes", offsetof(struct probe_opts, passes), 0, 1ULL << 40 },
	{ "hb", offsetof(struct probe_opts, hb_ms), 1, 3600000 },
	{ "bs", offsetof(struct probe_opts, bs_kib), 1, 1024 },
	{ "qd", offsetof(struct probe_opts, qd), 1, BLK_MAX_QD },
	{ "dsize", offsetof(struct probe_opts, dsize_mib), 0, 1ULL << 30 },
};

static const char *const mode_names[] = { "idle", "dirty", "verify", "blk",
					  "net" };
static const char *const io_names[] = { "verify", "randw", "seqw", "randr",
					"seqr", "bad" };

const char *cmdline_mode_name(enum probe_mode m)
{
	return mode_names[m];
}

const char *cmdline_io_name(enum blk_io io)
{
	return io_names[io];
}

static int str_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] != a[i])
			return 0;
	return b[alen] == '\0';
}

/* Strict decimal; returns -1 on junk, overflow or out of [min, max]. */
static int parse_u64(const char *s, size_t len, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Index of @v in @names, or -1. */
static int parse_name(const char *v, size_t vlen, const char *const *names,
		      unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (str_eq(v, vlen, names[i]))
			return (int)i;
	return -1;
}

/* Decimal, or hex with 0x; advances *s. Returns -1 without digits. */
static int parse_num(const char **s, const char *end, uint64_t *out)
{
	uint64_t v = 0, base = 10, d;
	const char *p = *s;

	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (*s = p; p < end; p++) {
		if (*p >= '0' && *p <= '9')
			d = (uint64_t)(*p - '0');
		else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			d = (uint64_t)((*p | 0x20) - 'a' + 10);
		else
			break;
		v = v * base + d;
	}
	if (p == *s)
		return -1;
	*s = p;
	*out = v;
	return 0;
}

/* <size>[K]@<base>:<irq>, as Linux's virtio_mmio.device= */
static int parse_vdev(const char *v, size_t len, struct probe_opts *o)
{
	const char *end = v + len;
	struct probe_vdev d;
	uint64_t irq;

	if (o->nr_vdevs == PROBE_MAX_VDEVS || parse_num(&v, end, &d.size))
		return -1;
	if (v < end && (*v == 'K' || *v == 'k')) {
		d.size <<= 10;
		v++;
	}
	if (v == end || *v++ != '@' || parse_num(&v, end, &d.base) ||
	    v == end || *v++ != ':' || parse_num(&v, end, &irq) || v != end)
		return -1;
	d.irq = (uint32_t)irq;
	o->vdev[o->nr_vdevs++] = d;
	return 0;
}

static int parse_ip(const char *v, size_t len, struct probe_opts *o)
{
	const char *end = v + len;
	uint64_t b;
	uint32_t ip = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if ((i && (v == end || *v++ != '.')) ||
		    parse_num(&v, end, &b) || b > 255)
			return -1;
		ip = ip << 8 | (uint32_t)b;
	}
	if (v != end || !ip)
		return -1;
	o->ip = ip;
	return 0;
}

/* Keys whose values are words, not numbers. */
static int parse_word(const char *t, size_t k, const char *v, size_t vlen,
		      struct probe_opts *o)
{
	int i;

	if (str_eq(t, k, "mode")) {
		i = parse_name(v, vlen, mode_names, 5);
		o->mode = (enum probe_mode)i;
		return i < 0 ? -1 : 0;
	}
	if (str_eq(t, k, "io")) {
		i = parse_name(v, vlen, io_names, 6);
		o->io = (enum blk_io)i;
		return i < 0 ? -1 : 0;
	}
	if (str_eq(t, k, "ip"))
		return parse_ip(v, vlen, o);
	if (str_eq(t, k, "virtio_mmio.device"))
		return parse_vdev(v, vlen, o);
	return 1;
}

/* Applies one key=value token; returns -1 if unknown or invalid. */
static int parse_token(const char *t, size_t len, struct probe_opts *o)
{
	size_t k, i;
	int w;

	for (k = 0; k < len && t[k] != '='; k++)
		;
	if (k == len)
		return -1;
	w = parse_word(t, k, t + k + 1, len - k - 1, o);
	if (w != 1)
		return w;
	for (i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++) {
		const struct opt_num *n = &num_opts[i];

		if (str_eq(t, k, n->key))
			return parse_u64(t + k + 1, len - k - 1, n->min,
					 n->max,
					 (uint64_t *)((char *)o + n->off));
	}
	return -1;
}

static void die_bad_token(struct probe *p, const char *t, size_t len)
{
	char tok[64];

	if (len > sizeof(tok) - 1)
		len = sizeof(tok) - 1;
	memcpy(tok, t, len);
	tok[len] = '\0';
	probe_die(p, EXIT_CMDLINE,
		  "probe: error bad option '%s' (keys: mode=idle|dirty|verify"
		  "|blk|net wss=<MiB> rate=<MiB/s> passes=<n> hb=<ms> io= bs= "
		  "qd= dsize= ip=)",
		  tok);
}

static void parse_line(struct probe *p, const char *s)
{
	size_t i = 0, start;

	while (i < CMDLINE_MAX && s[i]) {
		while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')
			i++;
		start = i;
		while (i < CMDLINE_MAX && s[i] && s[i] != ' ' &&
		       s[i] != '\t' && s[i] != '\n')
			i++;
		if (i > start &&
		    parse_token(s + start, i - start, &p->opts) < 0)
			die_bad_token(p, s + start, i - start);
	}
}

/* With a memory map, [WSS_BASE, +wss) must lie inside one RAM range. */
static void check_memmap(struct probe *p, const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *e;
	uint64_t lo = WSS_BASE, hi = WSS_BASE + (p->opts.wss_mib << 20);
	uint32_t i;

	if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
		return;
	e = (const struct hvm_memmap_entry *)si->memmap_paddr;
	for (i = 0; i < si->memmap_entries && i < 128; i++)
		if (e[i].type == MEMMAP_RAM && e[i].addr <= lo &&
		    e[i].addr + e[i].size >= hi)
			return;
	probe_die(p, EXIT_CMDLINE,
		  "probe: error wss=%luMiB does not fit in RAM at "
		  "base=0x%x (need up to 0x%lx)",
		  p->opts.wss_mib, WSS_BASE, hi);
}

void cmdline_parse(struct probe *p, uint32_t start_info)
{
	const struct hvm_start_info *si =
		(const struct hvm_start_info *)(uint64_t)start_info;

	p->opts.mode = MODE_IDLE;
	p->opts.wss_mib = 64;
	p->opts.rate_mib = 0;
	p->opts.passes = 0;
	p->opts.hb_ms = 1000;
	p->opts.io = IO_VERIFY;
	p->opts.bs_kib = 4;
	p->opts.qd = 16;
	if (!si || si->magic != HVM_START_MAGIC)
		probe_die(p, EXIT_INTERNAL,
			  "probe: error no hvm_start_info at 0x%x",
			  start_info);
	if (si->cmdline_paddr)
		parse_line(p, (const char *)si->cmdline_paddr);
	/* blk and net keep their rings and buffers from WSS_BASE. */
	if (p->opts.mode == MODE_BLK)
		p->opts.wss_mib = (BLK_LEDGER_BYTES + p->opts.qd *
				   p->opts.bs_kib * 1024 + (1 << 20) - 1) >> 20;
	if (p->opts.mode == MODE_NET)
		p->opts.wss_mib = 1;
	check_memmap(p, si);
}
