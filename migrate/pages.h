/*
 * Guest pages in a stream: MIG_REC_PAGES batches (page frame numbers, a bit
 * per zero page, other pages raw or lz4-compressed per batch) and
 * MIG_REC_ZERO_BITMAP records. Reaches guest memory only through struct
 * mig_mem; knows nothing of KVM.
 */
#ifndef MIGRATE_PAGES_H
#define MIGRATE_PAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "migrate/stream.h"

#define MIG_PAGE_SIZE 4096u
#define MIG_BATCH_MAX_PAGES 512u
#define MIG_PFN_ZERO (1ULL << 63)	/* pfn[] entry: page is all zero */
#define MIG_PFN_MASK ((1ULL << 52) - 1) /* pfn[] entry: the pfn */

/* Guest memory as the stream sees it: a page frame number maps to a host
 * pointer, or NULL when it is not guest RAM. */
struct mig_mem {
	void *opaque;
	uint8_t *(*page)(void *opaque, uint64_t pfn);
	uint64_t max_pfn; /* one past the highest RAM pfn */
	/* Optional, for the receiving side: store @n pages at @pfn.. (all
	 * RAM, one region) without touching them through page(), and make
	 * pages zero. Where page faults are dear (nested hosts), writing
	 * through the backing file is twice as fast as copying into a fresh
	 * mapping, and zeroing by dropping the page frees it. */
	int (*write)(void *opaque, uint64_t pfn, const uint8_t *src,
		     uint32_t n);
	int (*zero)(void *opaque, uint64_t pfn, uint32_t n);
};

/* Also the wire values of the PAGES encoding field. */
enum mig_compress { MIG_COMPRESS_NONE = 0, MIG_COMPRESS_LZ4 = 1 };

/* Writes @n pages (1 <= n <= MIG_BATCH_MAX_PAGES) as one MIG_REC_PAGES
 * record; all-zero pages go as a bit only. With MIG_COMPRESS_LZ4 the batch
 * is compressed when that shrinks it, else sent raw. Page contents are
 * copied once (into a per-call scratch buffer) before the CRC is taken, so
 * a running guest may keep writing them. Returns 0, -EINVAL (bad n),
 * -EFAULT (a pfn that is not guest RAM), -ENOMEM or the writer's -errno. */
int mig_pages_write(struct mig_writer *w, const struct mig_mem *mem,
		    const uint64_t *pfns, unsigned int n,
		    enum mig_compress comp);

/* Writes a MIG_REC_ZERO_BITMAP for [first_pfn, first_pfn + nr) from a
 * bitmap (bit set = page is zero; bit i of word j is first_pfn + 64j + i;
 * bits at and beyond nr are ignored and sent as zero). Returns 0, -EINVAL
 * (nr == 0, too large for one record, or past 2^52) or the writer's
 * -errno. */
int mig_zero_bitmap_write(struct mig_writer *w, uint64_t first_pfn, uint64_t nr,
			  const uint64_t *bitmap);

/* Applies a MIG_REC_PAGES or MIG_REC_ZERO_BITMAP record to guest memory.
 * Every pfn and length is checked, and the lz4 data decompressed, before
 * any page is written, so a rejected record changes nothing: -EBADMSG for
 * a malformed body, -EFAULT for a pfn outside guest RAM, -ENOMEM (each
 * logged once). Zero pages are cleared only when not already zero, so a
 * sparse memfd stays sparse. */
int mig_pages_apply(const struct mig_record *rec, const struct mig_mem *mem);

/* Describes a page record without applying it (for the verifier): checks
 * its structure (not the pfns against memory, nor the lz4 data) and fills
 * @info. Returns 0 or -EBADMSG (logged). For ZERO_BITMAP, nr_pages and
 * nr_zero count the set bits, first/last_pfn span them (both 0 when none). */
struct mig_pages_info {
	uint32_t nr_pages;
	uint32_t nr_zero;
	uint32_t encoding;   /* enum mig_compress */
	uint64_t data_bytes; /* non-zero pages * MIG_PAGE_SIZE */
	uint64_t first_pfn;  /* lowest pfn named */
	uint64_t last_pfn;   /* highest pfn named */
	uint64_t wire_bytes; /* data section as sent (compressed size) */
};
int mig_pages_describe(const struct mig_record *rec,
		       struct mig_pages_info *info);

#endif
