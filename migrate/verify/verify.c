/*
 * ferry-stream-verify FILE|- [--quiet] [--digest]: checks that a Ferry
 * stream (snapshot file or recorded migration stream) is whole, per
 * migrate/STREAM.md: header, every CRC, the snapshot record order, every
 * protobuf record unpacks, every page record well-formed with pfns inside
 * the SPEC's RAM. Prints one line per record and a summary; exit 0 only
 * for a whole stream, else one error line and exit 1. Page records are
 * checked by applying them (migrate/pages.c) to a scratch page, or, with
 * --digest, to a sparse image whose CRC32C it prints: the CRC32C of all
 * guest RAM in ascending gpa order (low RAM, then RAM from 4 GiB).
 * Owns nothing but this tool; reads streams only through migrate/.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/log.h"
#include "migrate/pages.h"
#include "migrate/stream.h"
#include "proto/vmstate.pb-c.h"

#define PCI_HOLE_PFN 0xC0000ULL /* 3 GiB */
#define HIGH_PFN 0x100000ULL	/* 4 GiB */

/* Where a snapshot stream is in its record order (STREAM.md). */
enum phase { PH_START, PH_PAGES, PH_PLATFORM, PH_VCPUS, PH_DEVICES };

struct verify {
	bool quiet, digest;
	struct mig_reader *r;
	Ferry__Vmstate__VmSpec *spec;
	enum phase phase;
	uint64_t low_pfns, high_pfns;
	uint8_t *image;	  /* --digest: low RAM then high RAM */
	uint8_t *scratch; /* otherwise: every page lands here */
	uint8_t *vcpu_seen;
	uint32_t nr_vcpus_seen;
	size_t nr_devices_seen;
	uint64_t records, pages, zero_pages, data_bytes, wire_bytes;
	bool live;	      /* began with STREAM_INFO */
	struct mig_stream_info info;
	uint32_t rounds;
};

static uint8_t *v_page(void *opaque, uint64_t pfn)
{
	struct verify *v = opaque;
	uint64_t idx;

	if (pfn < v->low_pfns)
		idx = pfn;
	else if (pfn >= HIGH_PFN && pfn - HIGH_PFN < v->high_pfns)
		idx = v->low_pfns + (pfn - HIGH_PFN);
	else
		return NULL;
	return v->image ? v->image + idx * MIG_PAGE_SIZE : v->scratch;
}

static int v_fail(const struct mig_record *rec, const char *why)
{
	log_err("record %s at offset %" PRIu64 ": %s",
		mig_rec_type_name(rec->type), rec->offset, why);
	return -EBADMSG;
}

static void v_line(const struct verify *v, const struct mig_record *rec,
		   const char *summary)
{
	if (!v->quiet)
		printf("%12" PRIu64 "  %-11s %9u  %s\n", rec->offset,
		       mig_rec_type_name(rec->type), rec->len, summary);
}

/* ---- SPEC --------------------------------------------------------------- */

static int v_layout(struct verify *v, const struct mig_record *rec)
{
	uint64_t mem = v->spec->mem_size, pfns = mem / MIG_PAGE_SIZE;
	size_t len;

	if (!mem || mem % MIG_PAGE_SIZE || pfns > MIG_PFN_MASK - HIGH_PFN)
		return v_fail(rec, "mem_size is not a usable RAM size");
	if (!v->spec->nr_vcpus || v->spec->nr_vcpus > 4096)
		return v_fail(rec, "nr_vcpus is not 1..4096");
	v->low_pfns = pfns < PCI_HOLE_PFN ? pfns : PCI_HOLE_PFN;
	v->high_pfns = pfns - v->low_pfns;
	v->vcpu_seen = calloc(v->spec->nr_vcpus, 1);
	if (!v->vcpu_seen) {
		log_err("out of memory");
		return -ENOMEM;
	}
	if (!v->digest)
		return 0;
	len = (v->low_pfns + v->high_pfns) * MIG_PAGE_SIZE;
	v->image = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v->image == MAP_FAILED) {
		v->image = NULL;
		log_err("cannot map %zu bytes for --digest", len);
		return -ENOMEM;
	}
	return 0;
}

static int v_spec(struct verify *v, const struct mig_record *rec)
{
	char line[512];
	int rc;

	if (v->phase != PH_START)
		return v_fail(rec, "SPEC appears twice");
	v->spec = ferry__vmstate__vm_spec__unpack(NULL, rec->len, rec->body);
	if (!v->spec)
		return v_fail(rec, "body is not a ferry.vmstate.VmSpec");
	rc = v_layout(v, rec);
	if (rc)
		return rc;
	snprintf(line, sizeof(line),
		 "name=%s mem=%" PRIu64 " KiB vcpus=%u cpuid=%zu devices=%zu",
		 v->spec->name, v->spec->mem_size >> 10, v->spec->nr_vcpus,
		 v->spec->n_cpuid, v->spec->n_devices);
	v_line(v, rec, line);
	v->phase = PH_PAGES;
	return 0;
}

/* ---- pages -------------------------------------------------------------- */

static int v_pages(struct verify *v, const struct mig_record *rec)
{
	struct mig_mem mem = {.opaque = v, .page = v_page};
	struct mig_pages_info info;
	char line[256];
	int rc;

	if (v->phase != PH_PAGES)
		return v_fail(rec, "page record outside the page phase "
				   "(after PLATFORM)");
	mem.max_pfn = v->high_pfns ? HIGH_PFN + v->high_pfns : v->low_pfns;
	rc = mig_pages_describe(rec, &info);
	/* A secondary live stream has no SPEC: check its form, not its pfns. */
	if (!rc && v->spec)
		rc = mig_pages_apply(rec, &mem);
	if (rc)
		return rc;
	v->pages += info.nr_pages;
	v->zero_pages += info.nr_zero;
	v->data_bytes += info.data_bytes;
	v->wire_bytes += info.wire_bytes;
	snprintf(line, sizeof(line),
		 "pages=%u zero=%u pfn=0x%" PRIx64 "..0x%" PRIx64 " %s",
		 info.nr_pages, info.nr_zero, info.first_pfn, info.last_pfn,
		 rec->type == MIG_REC_ZERO_BITMAP    ? "bitmap"
		 : info.encoding == MIG_COMPRESS_LZ4 ? "lz4"
						     : "raw");
	if (info.encoding == MIG_COMPRESS_LZ4)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " %" PRIu64 "->%" PRIu64, info.data_bytes,
			 info.wire_bytes);
	v_line(v, rec, line);
	return 0;
}

/* ---- PLATFORM, VCPU, DEVICE --------------------------------------------- */

static int v_platform(struct verify *v, const struct mig_record *rec)
{
	Ferry__Vmstate__PlatformState *p;
	char line[128];

	if (v->phase != PH_PAGES)
		return v_fail(rec, v->phase == PH_START
				       ? "PLATFORM before SPEC"
				       : "PLATFORM appears twice or too late");
	p = ferry__vmstate__platform_state__unpack(NULL, rec->len, rec->body);
	if (!p)
		return v_fail(rec, "body is not a ferry.vmstate.PlatformState");
	snprintf(line, sizeof(line), "clock_ns=%" PRIu64, p->clock_ns);
	ferry__vmstate__platform_state__free_unpacked(p, NULL);
	v_line(v, rec, line);
	v->phase = PH_PLATFORM;
	return 0;
}

static int v_vcpu(struct verify *v, const struct mig_record *rec)
{
	Ferry__Vmstate__VcpuState *s;
	char line[128];
	uint32_t id;

	if (v->phase != PH_PLATFORM && v->phase != PH_VCPUS)
		return v_fail(rec, "VCPU out of order (it follows PLATFORM "
				   "and precedes DEVICE)");
	s = ferry__vmstate__vcpu_state__unpack(NULL, rec->len, rec->body);
	if (!s)
		return v_fail(rec, "body is not a ferry.vmstate.VcpuState");
	id = s->id;
	snprintf(line, sizeof(line), "id=%u rip=0x%" PRIx64, id,
		 s->regs ? s->regs->rip : 0);
	ferry__vmstate__vcpu_state__free_unpacked(s, NULL);
	if (id >= v->spec->nr_vcpus)
		return v_fail(rec, "vCPU id is not below SPEC's nr_vcpus");
	if (v->vcpu_seen[id])
		return v_fail(rec, "vCPU id appears twice");
	v->vcpu_seen[id] = 1;
	v->nr_vcpus_seen++;
	v_line(v, rec, line);
	v->phase = PH_VCPUS;
	return 0;
}

static int v_device(struct verify *v, const struct mig_record *rec)
{
	Ferry__Vmstate__DeviceState *d;
	char line[160];
	size_t k = v->nr_devices_seen;
	bool match;

	if (v->phase < PH_VCPUS || v->nr_vcpus_seen != v->spec->nr_vcpus)
		return v_fail(rec, "DEVICE before every VCPU record");
	if (k >= v->spec->n_devices)
		return v_fail(rec, "more DEVICE records than SPEC devices");
	d = ferry__vmstate__device_state__unpack(NULL, rec->len, rec->body);
	if (!d)
		return v_fail(rec, "body is not a ferry.vmstate.DeviceState");
	match = !strcmp(d->name, v->spec->devices[k]);
	snprintf(line, sizeof(line), "name=%.100s", d->name);
	ferry__vmstate__device_state__free_unpacked(d, NULL);
	if (!match)
		return v_fail(rec, "device name differs from SPEC's devices "
				   "list at this position");
	v->nr_devices_seen++;
	v_line(v, rec, line);
	v->phase = PH_DEVICES;
	return 0;
}

/* STREAM_INFO: first record of a live migration stream; stream 0 then
 * carries SPEC and the state, the others only pages. */
static int v_stream_info(struct verify *v, const struct mig_record *rec)
{
	char line[128];

	if (v->phase != PH_START || v->live || rec->len != 16)
		return v_fail(rec, "STREAM_INFO is not the first record or is "
				   "malformed");
	memcpy(&v->info.session, rec->body, 8);
	memcpy(&v->info.index, rec->body + 8, 4);
	memcpy(&v->info.count, rec->body + 12, 4);
	if (v->info.count == 0 || v->info.index >= v->info.count)
		return v_fail(rec, "STREAM_INFO index out of range");
	v->live = true;
	if (v->info.index != 0)
		v->phase = PH_PAGES;
	snprintf(line, sizeof(line), "session=%016" PRIx64 " stream %u of %u",
		 v->info.session, v->info.index, v->info.count);
	v_line(v, rec, line);
	return 0;
}

static int v_round_end(struct verify *v, const struct mig_record *rec)
{
	if (!v->live || v->phase != PH_PAGES)
		return v_fail(rec, "ROUND_END outside a live stream's pages");
	v->rounds++;
	v_line(v, rec, "");
	return 0;
}

static int v_end(struct verify *v, const struct mig_record *rec)
{
	if (v->live && v->info.index != 0 && v->phase == PH_PAGES) {
		v_line(v, rec, "");
		return 0;
	}
	if (v->phase < PH_VCPUS || v->nr_vcpus_seen != v->spec->nr_vcpus)
		return v_fail(rec, "END before PLATFORM and every VCPU");
	if (v->nr_devices_seen != v->spec->n_devices)
		return v_fail(rec, "END before every DEVICE of SPEC");
	v_line(v, rec, "");
	return 0;
}

/* A dispatch switch only calls handlers. */
static int v_record(struct verify *v, const struct mig_record *rec)
{
	v->records++;
	if (v->phase == PH_START && rec->type != MIG_REC_SPEC &&
	    rec->type != MIG_REC_STREAM_INFO)
		return v_fail(rec, "the first record is not SPEC");
	switch (rec->type) {
	case MIG_REC_STREAM_INFO:
		return v_stream_info(v, rec);
	case MIG_REC_ROUND_END:
		return v_round_end(v, rec);
	case MIG_REC_SPEC:
		return v_spec(v, rec);
	case MIG_REC_PAGES:
	case MIG_REC_ZERO_BITMAP:
		return v_pages(v, rec);
	case MIG_REC_PLATFORM:
		return v_platform(v, rec);
	case MIG_REC_VCPU:
		return v_vcpu(v, rec);
	case MIG_REC_DEVICE:
		return v_device(v, rec);
	case MIG_REC_END:
		return v_end(v, rec);
	}
	return v_fail(rec, "record type this verifier does not know");
}

/* ---- main --------------------------------------------------------------- */

static int v_run(struct verify *v)
{
	struct mig_record rec;
	int rc;

	do {
		rc = mig_read_record(v->r, &rec);
		if (!rc)
			rc = v_record(v, &rec);
	} while (!rc && rec.type != MIG_REC_END);
	if (rc)
		return rc;
	/* A recorded live stream 0 carries the source's GO after END. */
	if (v->live && v->info.index == 0 && mig_reader_at_eof(v->r) == 0) {
		rc = mig_read_record(v->r, &rec);
		if (!rc && (rec.type != MIG_REC_GO || rec.len))
			return v_fail(&rec, "only GO may follow END on stream 0");
		if (rc)
			return rc;
		v_line(v, &rec, "");
	}
	rc = mig_reader_at_eof(v->r);
	if (rc == 0) {
		log_err("data follows the END record (at offset %" PRIu64 ")",
			mig_reader_offset(v->r));
		return -EBADMSG;
	}
	return rc < 0 ? rc : 0;
}

static void v_summary(const struct verify *v)
{
	printf(
	    "OK: %" PRIu64 " records, %" PRIu64 " pages (%" PRIu64
	    " zero), %" PRIu64 " data bytes, %" PRIu64 " on the wire, %" PRIu64
	    " stream bytes, %u optional records skipped\n",
	    v->records, v->pages, v->zero_pages, v->data_bytes, v->wire_bytes,
	    mig_reader_offset(v->r), mig_reader_skipped(v->r));
	if (v->image)
		printf("memory crc32c 0x%08x (%" PRIu64 " bytes)\n",
		       mig_crc32c(0, v->image,
				  (v->low_pfns + v->high_pfns) * MIG_PAGE_SIZE),
		       (v->low_pfns + v->high_pfns) * MIG_PAGE_SIZE);
}

static void v_fini(struct verify *v)
{
	if (v->image)
		munmap(v->image, (v->low_pfns + v->high_pfns) * MIG_PAGE_SIZE);
	free(v->scratch);
	free(v->vcpu_seen);
	if (v->spec)
		ferry__vmstate__vm_spec__free_unpacked(v->spec, NULL);
	mig_reader_destroy(v->r);
}

static int usage(void)
{
	fprintf(stderr, "usage: ferry-stream-verify FILE|- [--quiet] "
			"[--digest]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct verify v = {0};
	const char *path = NULL;
	int fd, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet"))
			v.quiet = true;
		else if (!strcmp(argv[i], "--digest"))
			v.digest = true;
		else if (path)
			return usage();
		else
			path = argv[i];
	}
	if (!path)
		return usage();
	fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		log_err("%s: %s", path, strerror(errno));
		return 1;
	}
	v.scratch = malloc(MIG_PAGE_SIZE);
	if (!v.scratch) {
		log_err("out of memory");
		rc = -ENOMEM;
	} else {
		rc = mig_reader_create(fd, &v.r);
	}
	if (!rc)
		rc = v_run(&v);
	if (!rc)
		v_summary(&v);
	v_fini(&v);
	if (fd)
		close(fd);
	return rc ? 1 : 0;
}
