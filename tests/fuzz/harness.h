/*
 * The stream fuzz harness, shared by the libFuzzer target (fuzz_stream.c),
 * the seed generator (gen_seeds.c) and the unit test that replays
 * tests/fuzz/corpus-regress/ (tests/unit/migrate/test_stream.c). Include
 * once per binary. Owns the fake guest memory and the input modes; must
 * not define log_msg (each binary brings its own).
 *
 * Input: one mode byte, then
 *   0: a whole stream, read record by record, page records applied;
 *   1: the same, but every record's CRC is fixed first, so mutations
 *      reach the record and page parsers instead of dying at the CRC;
 *   2: a type byte (bit 0: ZERO_BITMAP, else PAGES) and a page record
 *      body, described and applied directly.
 */
#ifndef TESTS_FUZZ_HARNESS_H
#define TESTS_FUZZ_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "migrate/pages.h"
#include "migrate/stream.h"

#define FUZZ_MAX_PFN 96u

/* Guest RAM of the harness: FUZZ_MAX_PFN pages, with a hole at every pfn
 * that is 3 mod 7, so the applier meets NULL pages inside max_pfn. */
static inline uint8_t *fuzz_page(void *opaque, uint64_t pfn)
{
	if (pfn >= FUZZ_MAX_PFN || pfn % 7 == 3)
		return NULL;
	return (uint8_t *)opaque + pfn * MIG_PAGE_SIZE;
}

static inline int fuzz_mem_init(struct mig_mem *mem)
{
	mem->opaque = calloc(FUZZ_MAX_PFN, MIG_PAGE_SIZE);
	mem->page = fuzz_page;
	mem->max_pfn = FUZZ_MAX_PFN;
	return mem->opaque ? 0 : -ENOMEM;
}

static inline void fuzz_mem_fini(struct mig_mem *mem)
{
	free(mem->opaque);
}

static inline void fuzz_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline uint32_t fuzz_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Recomputes the header CRC and every whole record's CRC in place. */
static inline void fuzz_fix_crcs(uint8_t *s, size_t n)
{
	size_t off = MIG_STREAM_HDR_SIZE;

	if (n < MIG_STREAM_HDR_SIZE)
		return;
	fuzz_put32(s + 20, mig_crc32c(0, s, 20));
	while (off + MIG_REC_HDR_SIZE <= n) {
		uint32_t len = fuzz_get32(s + off + 4);
		uint32_t crc;

		if (len > MIG_REC_MAX_BODY || off + MIG_REC_HDR_SIZE + len > n)
			return;
		fuzz_put32(s + off + 8, 0);
		crc = mig_crc32c(0, s + off, MIG_REC_HDR_SIZE);
		crc = mig_crc32c(crc, s + off + MIG_REC_HDR_SIZE, len);
		fuzz_put32(s + off + 8, crc);
		off += MIG_REC_HDR_SIZE + ((len + 7) & ~7u);
	}
}

static inline void fuzz_record(const struct mig_record *rec,
			       const struct mig_mem *mem)
{
	struct mig_pages_info info;

	if (rec->type != MIG_REC_PAGES && rec->type != MIG_REC_ZERO_BITMAP)
		return;
	/* Apply even what describe rejected: it must reject it too. */
	mig_pages_describe(rec, &info);
	mig_pages_apply(rec, mem);
}

/* Reads a stream from @fd to its end; returns the reader's last code. */
static inline int fuzz_read_stream(int fd, const struct mig_mem *mem)
{
	struct mig_reader *r;
	struct mig_record rec;
	int rc = mig_reader_create(fd, &r);

	if (rc)
		return rc;
	while ((rc = mig_read_record(r, &rec)) == 0)
		fuzz_record(&rec, mem);
	mig_reader_destroy(r);
	return rc;
}

static inline int fuzz_stream_input(const uint8_t *data, size_t size, int fix,
				    const struct mig_mem *mem)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC), rc = -EIO;
	uint8_t *copy = malloc(size ? size : 1);

	if (fd < 0 || !copy)
		goto out;
	memcpy(copy, data, size);
	if (fix)
		fuzz_fix_crcs(copy, size);
	if (write(fd, copy, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET))
		goto out;
	rc = fuzz_read_stream(fd, mem);
out:
	free(copy);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* One fuzz input (format above). Never crashes on any input: that is the
 * property under test. Returns what the last call returned. */
static inline int fuzz_one(const uint8_t *data, size_t size)
{
	struct mig_mem mem;
	struct mig_record rec = {0};
	int rc = 0;

	if (size < 1 || fuzz_mem_init(&mem))
		return 0;
	switch (data[0] % 3) {
	case 0:
	case 1:
		rc = fuzz_stream_input(data + 1, size - 1, data[0] % 3, &mem);
		break;
	case 2:
		if (size < 2)
			break;
		/* An exact-size heap copy, so ASan sees any overread. */
		rec.len = (uint32_t)(size - 2);
		rec.type = data[1] & 1 ? MIG_REC_ZERO_BITMAP : MIG_REC_PAGES;
		rec.body = malloc(rec.len ? rec.len : 1);
		if (!rec.body)
			break;
		memcpy((void *)rec.body, data + 2, rec.len);
		fuzz_record(&rec, &mem);
		free((void *)rec.body);
		break;
	}
	fuzz_mem_fini(&mem);
	return rc;
}

#endif
