/*
 * migrate/pages.c: guest pages in a stream (migrate/STREAM.md, PAGES and
 * ZERO_BITMAP): building batches (zero detection, lz4 per batch), checking
 * and applying them to guest memory, describing them for the verifier.
 * Reaches guest memory only through struct mig_mem; frames records only
 * through migrate/stream.h. Scratch buffers are allocated per call.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#include "hv/log.h"
#include "migrate/pages.h"

#define PAGES_HDR_SIZE 16u
#define ZBM_HDR_SIZE 16u
#define PFN_RSVD_MASK (~(MIG_PFN_ZERO | MIG_PFN_MASK))
#define PFN_LIMIT (MIG_PFN_MASK + 1) /* 2^52 */

typedef uint64_t __attribute__((may_alias)) u64_alias;

/* A PAGES body, parsed and checked for structure. */
struct batch {
	uint32_t count;
	uint32_t encoding;
	uint32_t data_len;
	uint32_t nr_data;    /* entries without the zero bit */
	const uint8_t *pfns; /* count little-endian u64 */
	const uint8_t *data;
};

/* A ZERO_BITMAP body, parsed and checked for structure. */
struct zbm {
	uint64_t first_pfn;
	uint64_t nr;
	const uint8_t *words;
};

static uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static void st32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void st64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static bool page_is_zero(const uint8_t *page)
{
	const u64_alias *q = (const u64_alias *)page;

	for (unsigned int i = 0; i < MIG_PAGE_SIZE / 8; i += 8)
		if (q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] |
		    q[i + 5] | q[i + 6] | q[i + 7])
			return false;
	return true;
}

static int bad(const struct mig_record *rec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs "record TYPE at offset N: why" once; returns -EBADMSG. */
static int bad(const struct mig_record *rec, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_err("record %s at offset %llu: %s", mig_rec_type_name(rec->type),
		(unsigned long long)rec->offset, why);
	return -EBADMSG;
}

/* Host pointer of a RAM pfn, or NULL. */
static uint8_t *ram_page(const struct mig_mem *mem, uint64_t pfn)
{
	if (pfn >= mem->max_pfn)
		return NULL;
	return mem->page(mem->opaque, pfn);
}

/* ---- writing ------------------------------------------------------------ */

/* Copies the non-zero pages of @pfns into @raw and fills @ents. Returns
 * the number of data pages or -EFAULT. */
static int batch_gather(const struct mig_mem *mem, const uint64_t *pfns,
			unsigned int n, uint8_t *ents, uint8_t *raw)
{
	int nr_data = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p =
		    pfns[i] < PFN_LIMIT ? ram_page(mem, pfns[i]) : NULL;
		uint64_t ent = pfns[i];

		if (!p) {
			log_err("page batch: pfn 0x%llx is not guest RAM",
				(unsigned long long)pfns[i]);
			return -EFAULT;
		}
		if (page_is_zero(p)) {
			ent |= MIG_PFN_ZERO;
		} else {
			memcpy(raw + (size_t)nr_data * MIG_PAGE_SIZE, p,
			       MIG_PAGE_SIZE);
			nr_data++;
		}
		st64(ents + (size_t)i * 8, ent);
	}
	return nr_data;
}

int mig_pages_write(struct mig_writer *w, const struct mig_mem *mem,
		    const uint64_t *pfns, unsigned int n,
		    enum mig_compress comp)
{
	uint8_t hdr[PAGES_HDR_SIZE], ents[MIG_BATCH_MAX_PAGES * 8];
	uint32_t enc = MIG_COMPRESS_NONE, data_len;
	uint8_t *raw, *data;
	int nr_data, rc;

	if (n == 0 || n > MIG_BATCH_MAX_PAGES) {
		log_err("page batch of %u pages (1..%u allowed)", n,
			MIG_BATCH_MAX_PAGES);
		return -EINVAL;
	}
	/* Raw pages, then room for lz4 output that must be smaller. */
	raw = malloc((size_t)n * MIG_PAGE_SIZE * 2);
	if (!raw) {
		log_err("page batch: out of memory");
		return -ENOMEM;
	}
	nr_data = batch_gather(mem, pfns, n, ents, raw);
	if (nr_data < 0) {
		rc = nr_data;
		goto free_raw;
	}
	data = raw;
	data_len = (uint32_t)nr_data * MIG_PAGE_SIZE;
	if (comp == MIG_COMPRESS_LZ4 && data_len) {
		uint8_t *out = raw + (size_t)n * MIG_PAGE_SIZE;
		int clen =
		    LZ4_compress_default((const char *)raw, (char *)out,
					 (int)data_len, (int)data_len - 1);

		if (clen > 0) {
			enc = MIG_COMPRESS_LZ4;
			data = out;
			data_len = (uint32_t)clen;
		}
	}
	st32(hdr, n);
	st32(hdr + 4, enc);
	st32(hdr + 8, data_len);
	st32(hdr + 12, 0);
	struct iovec iov[3] = {
	    {.iov_base = hdr, .iov_len = sizeof(hdr)},
	    {.iov_base = ents, .iov_len = (size_t)n * 8},
	    {.iov_base = data, .iov_len = data_len},
	};
	rc = mig_write_recordv(w, MIG_REC_PAGES, iov, 3);
free_raw:
	free(raw);
	return rc;
}

int mig_zero_bitmap_write(struct mig_writer *w, uint64_t first_pfn, uint64_t nr,
			  const uint64_t *bitmap)
{
	uint64_t words = (nr + 63) / 64;
	uint8_t hdr[ZBM_HDR_SIZE];
	uint8_t *body;
	int rc;

	if (nr == 0 || words > (MIG_REC_MAX_BODY - ZBM_HDR_SIZE) / 8 ||
	    first_pfn >= PFN_LIMIT || nr > PFN_LIMIT - first_pfn) {
		log_err("zero bitmap of %llu pages from pfn 0x%llx does not "
			"fit one record",
			(unsigned long long)nr, (unsigned long long)first_pfn);
		return -EINVAL;
	}
	body = malloc(words * 8);
	if (!body) {
		log_err("zero bitmap: out of memory");
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < words; i++) {
		uint64_t v = bitmap[i];

		if (i == words - 1 && nr % 64)
			v &= (1ULL << (nr % 64)) - 1;
		st64(body + i * 8, v);
	}
	st64(hdr, first_pfn);
	st64(hdr + 8, nr);
	struct iovec iov[2] = {
	    {.iov_base = hdr, .iov_len = sizeof(hdr)},
	    {.iov_base = body, .iov_len = words * 8},
	};
	rc = mig_write_recordv(w, MIG_REC_ZERO_BITMAP, iov, 2);
	free(body);
	return rc;
}

/* ---- parsing ------------------------------------------------------------ */

static int batch_parse_hdr(const struct mig_record *rec, struct batch *b)
{
	const uint8_t *p = rec->body;

	if (rec->len < PAGES_HDR_SIZE)
		return bad(rec, "body of %u bytes is shorter than the header",
			   rec->len);
	b->count = ld32(p);
	b->encoding = ld32(p + 4);
	b->data_len = ld32(p + 8);
	if (ld32(p + 12))
		return bad(rec, "reserved field is 0x%x, not 0", ld32(p + 12));
	if (b->count == 0 || b->count > MIG_BATCH_MAX_PAGES)
		return bad(rec, "page count %u (1..%u allowed)", b->count,
			   MIG_BATCH_MAX_PAGES);
	if (b->encoding != MIG_COMPRESS_NONE && b->encoding != MIG_COMPRESS_LZ4)
		return bad(rec, "unknown encoding %u", b->encoding);
	if ((uint64_t)PAGES_HDR_SIZE + (uint64_t)b->count * 8 + b->data_len !=
	    rec->len)
		return bad(rec, "body is %u bytes, header says %llu", rec->len,
			   (unsigned long long)PAGES_HDR_SIZE +
			       (uint64_t)b->count * 8 + b->data_len);
	b->pfns = p + PAGES_HDR_SIZE;
	b->data = b->pfns + (size_t)b->count * 8;
	return 0;
}

/* Structure of a PAGES body: header, pfn entries, data length. */
static int batch_parse(const struct mig_record *rec, struct batch *b)
{
	uint64_t raw_len;
	int rc = batch_parse_hdr(rec, b);

	if (rc)
		return rc;
	b->nr_data = 0;
	for (uint32_t i = 0; i < b->count; i++) {
		uint64_t ent = ld64(b->pfns + (size_t)i * 8);

		if (ent & PFN_RSVD_MASK)
			return bad(rec,
				   "entry %u (0x%llx) has reserved bits "
				   "set",
				   i, (unsigned long long)ent);
		if (!(ent & MIG_PFN_ZERO))
			b->nr_data++;
	}
	raw_len = (uint64_t)b->nr_data * MIG_PAGE_SIZE;
	if (b->nr_data == 0 && (b->encoding || b->data_len))
		return bad(rec,
			   "all pages are zero but data is encoded "
			   "(encoding %u, %u bytes)",
			   b->encoding, b->data_len);
	if (b->encoding == MIG_COMPRESS_NONE && b->data_len != raw_len)
		return bad(rec, "%u data bytes for %u non-zero pages",
			   b->data_len, b->nr_data);
	return 0;
}

static int zbm_parse(const struct mig_record *rec, struct zbm *z)
{
	uint64_t words;

	if (rec->len < ZBM_HDR_SIZE)
		return bad(rec, "body of %u bytes is shorter than the header",
			   rec->len);
	z->first_pfn = ld64(rec->body);
	z->nr = ld64(rec->body + 8);
	z->words = rec->body + ZBM_HDR_SIZE;
	if (z->nr == 0 || z->first_pfn >= PFN_LIMIT ||
	    z->nr > PFN_LIMIT - z->first_pfn)
		return bad(rec, "range of %llu pages from pfn 0x%llx",
			   (unsigned long long)z->nr,
			   (unsigned long long)z->first_pfn);
	words = (z->nr + 63) / 64;
	if (ZBM_HDR_SIZE + words * 8 != rec->len)
		return bad(rec, "body is %u bytes, %llu pages need %llu",
			   rec->len, (unsigned long long)z->nr,
			   (unsigned long long)(ZBM_HDR_SIZE + words * 8));
	if (z->nr % 64 && ld64(z->words + (words - 1) * 8) >> (z->nr % 64))
		return bad(rec, "bits set beyond the %llu pages",
			   (unsigned long long)z->nr);
	return 0;
}

/* ---- applying ----------------------------------------------------------- */

static int not_ram(const struct mig_record *rec, uint64_t pfn)
{
	log_err("record %s at offset %llu: pfn 0x%llx is not guest RAM",
		mig_rec_type_name(rec->type), (unsigned long long)rec->offset,
		(unsigned long long)pfn);
	return -EFAULT;
}

/* Maps every entry of @b to a host page, checking each pfn. */
static int batch_map(const struct mig_record *rec, const struct mig_mem *mem,
		     const struct batch *b, uint8_t **pages)
{
	for (uint32_t i = 0; i < b->count; i++) {
		uint64_t pfn = ld64(b->pfns + (size_t)i * 8) & MIG_PFN_MASK;

		pages[i] = ram_page(mem, pfn);
		if (!pages[i])
			return not_ram(rec, pfn);
	}
	return 0;
}

/* Decompresses the lz4 data of @b into a new buffer (*out, caller frees). */
static int batch_inflate(const struct mig_record *rec, const struct batch *b,
			 uint8_t **out)
{
	int raw_len = (int)(b->nr_data * MIG_PAGE_SIZE), n;
	uint8_t *buf = malloc(raw_len);

	if (!buf) {
		log_err("page batch: out of memory");
		return -ENOMEM;
	}
	n = LZ4_decompress_safe((const char *)b->data, (char *)buf,
				(int)b->data_len, raw_len);
	if (n != raw_len) {
		free(buf);
		return bad(rec,
			   "lz4 data (%u bytes) does not decompress to "
			   "%u pages (%d)",
			   b->data_len, b->nr_data, n);
	}
	*out = buf;
	return 0;
}

static void batch_store_each(const struct batch *b, uint8_t **pages,
			     const uint8_t *src)
{
	for (uint32_t i = 0; i < b->count; i++) {
		if (ld64(b->pfns + (size_t)i * 8) & MIG_PFN_ZERO) {
			if (!page_is_zero(pages[i]))
				memset(pages[i], 0, MIG_PAGE_SIZE);
			continue;
		}
		memcpy(pages[i], src, MIG_PAGE_SIZE);
		src += MIG_PAGE_SIZE;
	}
}

/* Through mem->write/zero, one call per run of consecutive pfns of the
 * same kind (a sender's batches are mostly such runs). */
static int batch_store_runs(const struct mig_mem *mem, const struct batch *b,
			    const uint8_t *src)
{
	int rc = 0;

	for (uint32_t i = 0, j; !rc && i < b->count; i = j) {
		uint64_t e = ld64(b->pfns + (size_t)i * 8);
		uint64_t pfn = e & MIG_PFN_MASK;
		bool zero = e & MIG_PFN_ZERO;

		for (j = i + 1; j < b->count; j++) {
			uint64_t f = ld64(b->pfns + (size_t)j * 8);

			if ((f & MIG_PFN_MASK) != pfn + (j - i) ||
			    !(f & MIG_PFN_ZERO) != !zero)
				break;
		}
		if (zero) {
			rc = mem->zero ? mem->zero(mem->opaque, pfn, j - i) : -EINVAL;
		} else {
			rc = mem->write(mem->opaque, pfn, src, j - i);
			src += (size_t)(j - i) * MIG_PAGE_SIZE;
		}
	}
	return rc;
}

static int batch_apply(const struct mig_record *rec, const struct mig_mem *mem)
{
	uint8_t *pages[MIG_BATCH_MAX_PAGES], *scratch = NULL;
	const uint8_t *src;
	struct batch b;
	int rc = batch_parse(rec, &b);

	if (!rc)
		rc = batch_map(rec, mem, &b, pages);
	if (!rc && b.encoding == MIG_COMPRESS_LZ4)
		rc = batch_inflate(rec, &b, &scratch);
	if (rc)
		return rc;
	src = scratch ? scratch : b.data;
	if (mem->write)
		rc = batch_store_runs(mem, &b, src);
	else
		batch_store_each(&b, pages, src);
	free(scratch);
	return rc;
}

/* Calls @fn for every set bit of @z until it returns non-zero. */
static int zbm_each(const struct zbm *z, const struct mig_record *rec,
		    const struct mig_mem *mem,
		    int (*fn)(const struct mig_record *rec,
			      const struct mig_mem *mem, uint64_t pfn))
{
	uint64_t words = (z->nr + 63) / 64;

	for (uint64_t j = 0; j < words; j++) {
		uint64_t v = ld64(z->words + j * 8);

		while (v) {
			int bit = __builtin_ctzll(v), rc;

			v &= v - 1;
			rc = fn(rec, mem, z->first_pfn + j * 64 + bit);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int zbm_check_one(const struct mig_record *rec,
			 const struct mig_mem *mem, uint64_t pfn)
{
	return ram_page(mem, pfn) ? 0 : not_ram(rec, pfn);
}

static int zbm_clear_one(const struct mig_record *rec,
			 const struct mig_mem *mem, uint64_t pfn)
{
	uint8_t *p = ram_page(mem, pfn);

	(void)rec;
	if (p && mem->zero)
		return mem->zero(mem->opaque, pfn, 1);
	if (p && !page_is_zero(p))
		memset(p, 0, MIG_PAGE_SIZE);
	return 0;
}

int mig_pages_apply(const struct mig_record *rec, const struct mig_mem *mem)
{
	struct zbm z;
	int rc;

	if (rec->type == MIG_REC_PAGES)
		return batch_apply(rec, mem);
	if (rec->type != MIG_REC_ZERO_BITMAP)
		return bad(rec, "not a page record");
	rc = zbm_parse(rec, &z);
	if (!rc)
		rc = zbm_each(&z, rec, mem, zbm_check_one);
	if (!rc)
		rc = zbm_each(&z, rec, mem, zbm_clear_one);
	return rc;
}

/* ---- describing --------------------------------------------------------- */

static int zbm_count_one(const struct mig_record *rec,
			 const struct mig_mem *mem, uint64_t pfn)
{
	struct mig_pages_info *info = (void *)mem->opaque;

	(void)rec;
	if (!info->nr_pages++)
		info->first_pfn = pfn;
	info->last_pfn = pfn;
	return 0;
}

static int batch_describe(const struct mig_record *rec,
			  struct mig_pages_info *info)
{
	struct batch b;
	int rc = batch_parse(rec, &b);

	if (rc)
		return rc;
	info->nr_pages = b.count;
	info->nr_zero = b.count - b.nr_data;
	info->encoding = b.encoding;
	info->data_bytes = (uint64_t)b.nr_data * MIG_PAGE_SIZE;
	info->wire_bytes = b.data_len;
	info->first_pfn = UINT64_MAX;
	for (uint32_t i = 0; i < b.count; i++) {
		uint64_t pfn = ld64(b.pfns + (size_t)i * 8) & MIG_PFN_MASK;

		if (pfn < info->first_pfn)
			info->first_pfn = pfn;
		if (pfn > info->last_pfn)
			info->last_pfn = pfn;
	}
	return 0;
}

int mig_pages_describe(const struct mig_record *rec,
		       struct mig_pages_info *info)
{
	struct mig_mem counter = {.opaque = info};
	struct zbm z;
	int rc;

	memset(info, 0, sizeof(*info));
	if (rec->type == MIG_REC_PAGES)
		return batch_describe(rec, info);
	if (rec->type != MIG_REC_ZERO_BITMAP)
		return bad(rec, "not a page record");
	rc = zbm_parse(rec, &z);
	if (!rc)
		rc = zbm_each(&z, rec, &counter, zbm_count_one);
	info->nr_zero = info->nr_pages;
	return rc;
}
