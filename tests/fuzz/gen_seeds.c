/*
 * Writes valid Ferry streams for the fuzzer's seed corpus and for checking
 * ferry-stream-verify:
 *   gen_seeds SEED_DIR SAMPLE   a whole snapshot stream of the harness's
 *                               fake memory (every record type) to SAMPLE,
 *                               and fuzz seeds (harness.h modes) to SEED_DIR
 *   gen_seeds --pfn PFN OUT     a 5 GiB guest's stream naming one page
 *                               PFN (to probe the PCI hole rules)
 * Uses only migrate/ and proto/; not part of any product binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate/pages.h"
#include "migrate/stream.h"
#include "proto/vmstate.pb-c.h"
#include "tests/fuzz/harness.h"

static int put_msg(struct mig_writer *w, uint32_t type,
		   const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	rc = mig_write_record(w, type, buf, len);
	free(buf);
	return rc;
}

static int put_spec(struct mig_writer *w, uint64_t mem_size)
{
	Ferry__Vmstate__VmSpec spec = FERRY__VMSTATE__VM_SPEC__INIT;
	Ferry__Vmstate__CpuidEntry leaf = FERRY__VMSTATE__CPUID_ENTRY__INIT;
	Ferry__Vmstate__CpuidEntry *leaves[1] = {&leaf};
	char *devices[1] = {"serial0"};

	spec.mem_size = mem_size;
	spec.nr_vcpus = 2;
	spec.name = "seed";
	leaf.function = 1;
	leaf.eax = 0x806f8;
	spec.n_cpuid = 1;
	spec.cpuid = leaves;
	spec.n_devices = 1;
	spec.devices = devices;
	return put_msg(w, MIG_REC_SPEC, &spec.base);
}

static int put_state(struct mig_writer *w)
{
	Ferry__Vmstate__PlatformState plat =
	    FERRY__VMSTATE__PLATFORM_STATE__INIT;
	Ferry__Vmstate__VcpuState vcpu = FERRY__VMSTATE__VCPU_STATE__INIT;
	Ferry__Vmstate__Regs regs = FERRY__VMSTATE__REGS__INIT;
	Ferry__Vmstate__DeviceState dev = FERRY__VMSTATE__DEVICE_STATE__INIT;
	int rc;

	plat.clock_ns = 123456789;
	rc = put_msg(w, MIG_REC_PLATFORM, &plat.base);
	vcpu.regs = &regs;
	for (uint32_t id = 0; !rc && id < 2; id++) {
		vcpu.id = 1 - id;
		regs.rip = 0x100000 + id;
		rc = put_msg(w, MIG_REC_VCPU, &vcpu.base);
	}
	dev.name = "serial0";
	if (!rc)
		rc = put_msg(w, MIG_REC_DEVICE, &dev.base);
	return rc ? rc : mig_write_record(w, MIG_REC_END, NULL, 0);
}

/* Every kind of page record over the harness's fake memory. */
static int put_pages(struct mig_writer *w, const struct mig_mem *mem)
{
	uint64_t pfns[40], bm[2] = {0x5ULL, 0}, n = 0;
	uint8_t *ram = mem->opaque;
	int rc;

	for (uint64_t pfn = 0; pfn < 60; pfn++) {
		if (!fuzz_page(mem->opaque, pfn) || n == 40)
			continue;
		if (pfn % 4)
			for (unsigned int i = 0; i < MIG_PAGE_SIZE; i++)
				ram[pfn * MIG_PAGE_SIZE + i] =
				    pfn < 20 ? (uint8_t)(i * 7 + pfn)
					     : "lz4 likes text "[i % 15];
		pfns[n++] = pfn;
	}
	rc = mig_pages_write(w, mem, pfns, 15, MIG_COMPRESS_NONE);
	if (!rc)
		rc = mig_pages_write(w, mem, pfns + 15, n - 15,
				     MIG_COMPRESS_LZ4);
	if (!rc)
		rc = mig_pages_write(w, mem, pfns, 1, MIG_COMPRESS_LZ4);
	if (!rc)
		rc = mig_zero_bitmap_write(w, 70, 3, bm);
	if (!rc)
		rc = mig_write_record(w, 0x8000ffffu, "skip me", 7);
	return rc;
}

static int write_file(const char *path, uint8_t mode, const uint8_t *a,
		      size_t alen, const uint8_t *b, size_t blen)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(&mode, 1, 1, f) == 1 && fwrite(a, 1, alen, f) == alen &&
	     fwrite(b, 1, blen, f) == blen;
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

/* Seeds for modes 0 and 1 (the stream) and 2 (each page record). */
static int write_seeds(const char *dir, int fd, const uint8_t *s, size_t n)
{
	struct mig_reader *r;
	struct mig_record rec;
	char path[512];
	int rc, i = 0;

	snprintf(path, sizeof(path), "%s/stream", dir);
	rc = write_file(path, 0, s, n, NULL, 0);
	snprintf(path, sizeof(path), "%s/stream-fixcrc", dir);
	if (!rc)
		rc = write_file(path, 1, s, n, NULL, 0);
	if (rc || lseek(fd, 0, SEEK_SET) || mig_reader_create(fd, &r))
		return rc ? rc : -EIO;
	while (!rc && !mig_read_record(r, &rec) && rec.type != MIG_REC_END) {
		uint8_t t = rec.type == MIG_REC_ZERO_BITMAP;

		if (rec.type != MIG_REC_PAGES && !t)
			continue;
		snprintf(path, sizeof(path), "%s/record-%d", dir, i++);
		rc = write_file(path, 2, &t, 1, rec.body, rec.len);
	}
	mig_reader_destroy(r);
	return rc;
}

static int gen_sample(const char *seed_dir, const char *sample)
{
	int fd = open(sample, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct mig_writer *w;
	struct mig_mem mem;
	uint8_t *s;
	off_t n;
	int rc;

	if (fd < 0 || fuzz_mem_init(&mem) || mig_writer_create(fd, &w))
		return -EIO;
	rc = put_spec(w, FUZZ_MAX_PFN * MIG_PAGE_SIZE);
	if (!rc)
		rc = put_pages(w, &mem);
	if (!rc)
		rc = put_state(w);
	if (!rc)
		rc = mig_writer_flush(w);
	mig_writer_destroy(w);
	/* What ferry-stream-verify --digest must print for SAMPLE. */
	printf("memory crc32c 0x%08x\n",
	       mig_crc32c(0, mem.opaque, FUZZ_MAX_PFN * MIG_PAGE_SIZE));
	fuzz_mem_fini(&mem);
	n = lseek(fd, 0, SEEK_END);
	s = malloc(n);
	if (!rc && (!s || pread(fd, s, n, 0) != n))
		rc = -EIO;
	if (!rc)
		rc = write_seeds(seed_dir, fd, s, n);
	free(s);
	close(fd);
	return rc;
}

static uint8_t *one_page(void *opaque, uint64_t pfn)
{
	(void)pfn;
	return opaque;
}

static int gen_pfn(uint64_t pfn, const char *out)
{
	static uint8_t page[MIG_PAGE_SIZE] = {1, 2, 3};
	struct mig_mem mem = {
	    .opaque = page, .page = one_page, .max_pfn = UINT64_MAX};
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct mig_writer *w;
	int rc;

	if (fd < 0 || mig_writer_create(fd, &w))
		return -EIO;
	rc = put_spec(w, 5ULL << 30);
	if (!rc)
		rc = mig_pages_write(w, &mem, &pfn, 1, MIG_COMPRESS_NONE);
	if (!rc)
		rc = put_state(w);
	if (!rc)
		rc = mig_writer_flush(w);
	mig_writer_destroy(w);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc == 4 && !strcmp(argv[1], "--pfn"))
		rc = gen_pfn(strtoull(argv[2], NULL, 0), argv[3]);
	else if (argc == 3)
		rc = gen_sample(argv[1], argv[2]);
	else {
		fprintf(stderr, "usage: gen_seeds SEED_DIR SAMPLE | "
				"gen_seeds --pfn PFN OUT\n");
		return 2;
	}
	if (rc)
		fprintf(stderr, "gen_seeds: %s\n", strerror(-rc));
	return rc ? 1 : 0;
}
