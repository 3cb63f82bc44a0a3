/*
 * The probe guest's internal interface: shared state of all vCPUs (one
 * `struct probe`, defined in main.c), CPL3 service wrappers, console,
 * kvmclock, command line and workloads. Everything runs at CPL3 except
 * probe_fatal() and the handlers in isr.S.
 */
#ifndef PROBE_H
#define PROBE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define PAGE_SIZE 4096UL
#define NS_PER_MS 1000000UL
#define NS_PER_S 1000000000UL

/* Exit codes through the debug-exit port. */
#define EXIT_OK 0
#define EXIT_CMDLINE 2
#define EXIT_VERIFY 3
#define EXIT_INTERNAL 4

enum probe_mode { MODE_IDLE, MODE_DIRTY, MODE_VERIFY, MODE_BLK, MODE_NET };

/* mode=blk io=...: verify writes then re-reads every block of each pass;
 * the others are benchmarks; bad feeds the device malformed chains. */
enum blk_io { IO_VERIFY, IO_RANDW, IO_SEQW, IO_RANDR, IO_SEQR, IO_BAD };

#define PROBE_MAX_VDEVS 8

/* One virtio_mmio.device=<size>@<base>:<irq> from the command line. */
struct probe_vdev {
	uint64_t base, size;
	uint32_t irq;
};

struct probe_opts {
	enum probe_mode mode;
	uint64_t wss_mib;
	uint64_t rate_mib; /* 0: as fast as possible */
	uint64_t passes;   /* 0: forever */
	uint64_t hb_ms;
	/* blk */
	enum blk_io io;
	uint64_t bs_kib;
	uint64_t qd;
	uint64_t dsize_mib; /* 0: the whole disk (up to the ledger's limit) */
	/* net */
	uint32_t ip; /* host order; 0: none given */
	uint32_t nr_vdevs;
	struct probe_vdev vdev[PROBE_MAX_VDEVS];
};

/* KVM's struct pvclock_vcpu_time_info. */
struct pvclock {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t mul;
	int8_t shift;
	uint8_t flags;
	uint8_t pad[2];
};

/* Per-vCPU ledger: the only record of what the pages of its slice must
 * hold. It lives in guest memory, so a snapshot captures it together with
 * the pages. Written only by its vCPU; others read the counters. */
struct probe_cpu {
	struct pvclock clock __attribute__((aligned(64)));
	uint64_t first;	 /* first global page of the slice */
	uint64_t count;	 /* pages in the slice */
	uint64_t pass;	 /* pass being written, from 1 */
	uint64_t index;	 /* next slice page to write in this pass */
	uint64_t passes_done;
	uint64_t sweep;	 /* next slice page the sweep re-checks */
	uint64_t sweep_next_ns; /* when an idle vCPU sweeps again */
	uint32_t sweep_active;
	uint64_t written;  /* pages written, all passes */
	uint64_t verified; /* page checks that passed */
	uint64_t tokens;   /* rate pacing, in page-ns (see work.c) */
	uint64_t last_ns;
	uint32_t done;	   /* finished opts.passes; release-stored */
	uint32_t index_cpu;
} __attribute__((aligned(64)));

struct probe {
	struct probe_opts opts;
	uint32_t nr_cpus;    /* vCPUs running the workload */
	uint32_t bsp_index;  /* prints the heartbeat, ends the run */
	uint64_t cpu_mask;   /* which vCPU indexes run it */
	uint64_t checkin_mask;
	uint32_t go;
	uint32_t failed;
	uint32_t con_lock;
	uint64_t total_pages;
	uint64_t start_ns;
	/* heartbeat state, vCPU 0 only */
	uint64_t next_hb_ns;
	uint64_t last_hb_ns;
	uint64_t last_hb_written;
	uint64_t idle_periods;
	struct probe_cpu cpu[PROBE_MAX_CPUS];
};

/* svc.c: CPL3 side of the services and the console. */
void svc_write(const char *buf, size_t len);
void svc_idle_ns(uint64_t ns);
__attribute__((noreturn)) void svc_exit(uint32_t status);
void svc_kvmclock(uint64_t gpa);
void cpu_id(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c,
	    uint32_t *d);
void con_printf(struct probe *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
__attribute__((noreturn)) void probe_die(struct probe *p, int status,
					 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fmt.c: freestanding formatting (%s %c %d %u %x with l/ll, %%). */
size_t fmt_vsn(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_sn(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

/* clock.c */
int clock_start(struct probe_cpu *c);
uint64_t clock_ns(const struct probe_cpu *c);
void clock_sleep_until(const struct probe_cpu *c, uint64_t deadline);

/* cmdline.c: parse and check against the memory map; exits 2 on error. */
void cmdline_parse(struct probe *p, uint32_t start_info);
const char *cmdline_mode_name(enum probe_mode m);

/* work.c */
__attribute__((noreturn)) void work_run(struct probe *p, struct probe_cpu *c);

/* blk.c, net.c: the boot vCPU drives the device, the others park. */
__attribute__((noreturn)) void blk_run(struct probe *p, struct probe_cpu *c);
__attribute__((noreturn)) void net_run(struct probe *p, struct probe_cpu *c);
const char *cmdline_io_name(enum blk_io io);

/* Layout of mode=blk memory from WSS_BASE: the ledger (one u32
 * generation per block), then qd buffers of bs KiB. */
#define BLK_LEDGER_BYTES (1UL << 20)
#define BLK_MAX_BLOCKS (BLK_LEDGER_BYTES / 4)
#define BLK_MAX_QD 64

/* main.c */
__attribute__((noreturn)) void probe_cpu_main(uint32_t index, uint32_t bsp);

/* fatal.c, CPL0 */
__attribute__((noreturn)) void probe_fatal(uint64_t vec, uint64_t err,
					   uint64_t rip, uint64_t cs,
					   uint64_t cr2);

/* splitmix64's finaliser: the pattern generator behind every page and
 * block the probe writes and checks. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

#endif
