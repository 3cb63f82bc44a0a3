/*
 * Live migration engine: log-dirty pre-copy over one or more TCP streams,
 * the switchover handshake (migrate/STREAM.md, "Live migration"), and the
 * destination side that rebuilds the VM. The engine never calls KVM: the VM
 * is reached only through struct mig_source / struct mig_sink, which hv
 * implements (hv/migration.c).
 */
#ifndef MIGRATE_MIGRATE_H
#define MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include "migrate/pages.h"
#include "migrate/stream.h"

#define MIG_MAX_STREAMS 8
#define MIG_DEFAULT_DOWNTIME_MS 10

enum mig_compress_opt { MIG_OPT_COMPRESS_NONE, MIG_OPT_COMPRESS_LZ4 };

struct mig_options {
	uint32_t downtime_ms;	    /* target; 0 = MIG_DEFAULT_DOWNTIME_MS */
	uint64_t max_bandwidth;	    /* bytes/s; 0 = unlimited */
	unsigned int streams;	    /* 0 = chosen from the host's cores */
	enum mig_compress compress;
	bool auto_converge;
};

/* Phases, in order; a failed migration ends in MIG_PHASE_FAILED with the
 * guest running on the source. */
enum mig_phase {
	MIG_PHASE_NONE,
	MIG_PHASE_SETUP,
	MIG_PHASE_PRECOPY,
	MIG_PHASE_STOP_COPY,
	MIG_PHASE_HANDSHAKE,
	MIG_PHASE_COMPLETED,
	MIG_PHASE_FAILED,
};

#define MIG_MAX_ROUNDS 64

/* What a client sees while it runs and after: progress and the report. */
struct mig_status {
	enum mig_phase phase;
	int error; /* 0 or -errno once FAILED */
	char message[256];
	uint32_t round;
	uint64_t pages_remaining;
	uint64_t dirty_rate;   /* pages/s, last round */
	uint64_t bandwidth;    /* bytes/s, last round */
	uint32_t throttle_pct; /* vCPU throttle applied by auto-converge */
	/* Report. */
	uint64_t total_ns;
	uint64_t setup_ns;
	uint64_t downtime_ns; /* vCPUs stopped -> destination confirms running */
	uint64_t bytes;	      /* on the wire, all streams */
	uint64_t pages_sent;
	uint32_t rounds;
	uint64_t round_pages[MIG_MAX_ROUNDS];
	bool converged;
};

/* Pre-copy policy, one pure function. */
enum mig_decision { MIG_CONTINUE, MIG_STOP_AND_COPY, MIG_ABORT };

struct mig_policy_in {
	uint32_t round;		    /* rounds done so far (>= 1) */
	uint64_t dirty_pages;	    /* dirty now, to send next */
	uint64_t state_bytes;	    /* device state estimate */
	uint64_t bandwidth;	    /* bytes/s measured, last round */
	uint64_t dirty_rate;	    /* pages/s, last round */
	uint64_t elapsed_ns;	    /* since pre-copy began */
	uint32_t downtime_ms;
	bool auto_converge;
	uint32_t throttle_pct;	    /* current */
};

struct mig_policy_out {
	enum mig_decision decision;
	uint32_t throttle_pct; /* new throttle (auto-converge only) */
	const char *reason;    /* static string, for the log */
};

void mig_policy_decide(const struct mig_policy_in *in,
		       struct mig_policy_out *out);

/*
 * The source VM as the engine needs it. Every callback returns 0 or -errno
 * and is called on the migration thread unless noted.
 */
struct mig_source {
	void *opaque;
	struct mig_mem mem;
	/* Starts dirty logging; every page is clean afterwards. */
	int (*dirty_start)(void *opaque);
	void (*dirty_stop)(void *opaque);
	/* ORs pages dirtied since the last sync (KVM's log and hv's device
	 * writes) into @bitmap (one bit per pfn, mem.max_pfn bits) without
	 * re-protecting them. */
	int (*dirty_sync)(void *opaque, uint64_t *bitmap);
	/* Re-protects the pages of [first, first + n) set in @bitmap, just
	 * before they are sent (@first is a multiple of 64). */
	int (*dirty_clear)(void *opaque, const uint64_t *bitmap,
			   uint64_t first_pfn, uint64_t n);
	/* Calls @fn for every stretch of pages that may be non-zero. */
	int (*populated)(void *opaque,
			 int (*fn)(void *arg, uint64_t first_pfn, uint64_t n),
			 void *arg);
	int (*pause)(void *opaque);
	int (*resume)(void *opaque);
	int (*throttle)(void *opaque, uint32_t pct);
	/* SPEC record; then PLATFORM, VCPU and DEVICE records (VM paused). */
	int (*save_spec)(void *opaque, struct mig_writer *w);
	int (*save_state)(void *opaque, struct mig_writer *w);
};

/* Runs one outgoing migration to @uri ("tcp:HOST:PORT") on the calling
 * thread. @st is updated as it goes (under st_lock if non-NULL, so another
 * thread may read it). On success the guest runs on the destination and
 * the source VM stays paused for the caller to stop; on failure the guest
 * runs on the source again. Returns 0 or -errno (st->message says why). */
int mig_source_run(const struct mig_source *src, const char *uri,
		   const struct mig_options *opt, struct mig_status *st,
		   void (*lock)(void *), void (*unlock)(void *), void *lock_arg);

/*
 * The destination VM. build() receives the SPEC record and must create the
 * VM (checking it against the command line), then fill @mem; load_state()
 * receives PLATFORM/VCPU/DEVICE/END records in order; start() runs the
 * guest.
 */
struct mig_sink {
	void *opaque;
	int (*build)(void *opaque, const struct mig_record *spec,
		     struct mig_mem *mem);
	/* Returns 1 after END was accepted, 0 to go on, or -errno. */
	int (*load_state)(void *opaque, const struct mig_record *rec);
	int (*start)(void *opaque);
};

/* Listens on @uri, receives one migration, starts the guest after GO.
 * Returns 0 once the guest runs, or -errno with nothing started (logged). */
int mig_sink_run(const struct mig_sink *sink, const char *uri);

#endif
