/*
 * hv/boot_bzimage.c: loads Debian's real kernel (FERRY_VMLINUZ, fetched by
 * tests/unit/fetch-vmlinuz.sh; skipped without it) and a synthetic bzImage
 * built here, then checks what a 64-bit entry sees: boot_params, e820,
 * command line, initrd, page tables and GDT. Malformed images must fail
 * with -ENOEXEC / -E2BIG / -EINVAL and one log line naming the problem.
 * Every image handed to the loader sits in a buffer of exactly its length,
 * so ASan catches any read past the end.
 */
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/boot.h"
#include "hv/bootparam.h"
#include "hv/guest_mem.h"
#include "hv/memmap.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define LOAD_GPA 0x100000ULL

/* Synthetic image layout. */
#define FAKE_SETUP_SECTS 4
#define FAKE_SETUP_SIZE ((FAKE_SETUP_SECTS + 1) * 512)
#define FAKE_KERNEL_LEN (64 * 1024)
#define FAKE_LEN (FAKE_SETUP_SIZE + FAKE_KERNEL_LEN)
#define FAKE_INIT_SIZE (4 * MiB)
#define FAKE_PREF (16 * MiB)
#define FAKE_CMDLINE_SIZE 255

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A minimal bzImage: valid 2.15 header, FAKE_KERNEL_LEN bytes of pattern
 * as the protected-mode part. Caller frees. */
static uint8_t *fake_bzimage(size_t *len)
{
	uint8_t *img = calloc(1, FAKE_LEN);

	assert_non_null(img);
	img[0x1f1] = FAKE_SETUP_SECTS;
	put32(img + 0x1f4, FAKE_KERNEL_LEN / 16);
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x26c - 0x202;
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = BZ_LOADED_HIGH;
	put32(img + 0x214, 0x100000);
	put32(img + 0x22c, 0x7fffffff);
	put32(img + 0x230, 2 * MiB);
	img[0x234] = 1;
	img[0x235] = 21;
	put16(img + 0x236, 0x3);
	put32(img + 0x238, FAKE_CMDLINE_SIZE);
	put64(img + 0x258, FAKE_PREF);
	put32(img + 0x260, FAKE_INIT_SIZE);
	for (size_t i = FAKE_SETUP_SIZE; i < FAKE_LEN; i++)
		img[i] = (uint8_t)(i * 7 + 3);
	*len = FAKE_LEN;
	return img;
}

/* An exact-size copy of the first @len bytes, so overreads trip ASan. */
static uint8_t *dup_prefix(const uint8_t *img, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, img, len);
	return p;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The real kernel, or NULL after skip(). */
static uint8_t *vmlinuz(size_t *len)
{
	const char *path = getenv("FERRY_VMLINUZ");
	FILE *f = path ? fopen(path, "rb") : NULL;

	if (!f) {
		printf("SKIPPED: no vmlinuz (run tests/unit/fetch-vmlinuz.sh "
		       "and set FERRY_VMLINUZ)\n");
		skip();
		return NULL;
	}
	fclose(f);
	return read_file(path, len);
}

static uint8_t *pattern(size_t len, uint8_t seed)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + seed + (i >> 12));
	return p;
}

static void *gpa(const struct guest_mem *gm, uint64_t addr, uint64_t len)
{
	void *p = guest_mem_ptr(gm, addr, len);

	assert_non_null(p);
	return p;
}

static struct bz_boot_params *boot_params(const struct guest_mem *gm)
{
	return gpa(gm, BOOT_INFO_GPA, sizeof(struct bz_boot_params));
}

static uint64_t setup_size_of(const uint8_t *img)
{
	return (uint64_t)((img[0x1f1] ? img[0x1f1] : 4) + 1) * 512;
}

/* Walks the 4-level tables from @cr3; returns the pa or UINT64_MAX. */
static uint64_t translate(const struct guest_mem *gm, uint64_t cr3, uint64_t va)
{
	const uint64_t *pml4 = gpa(gm, cr3, 4096);
	const uint64_t *pdpt, *pd;
	uint64_t e;

	e = pml4[(va >> 39) & 511];
	if (!(e & 1))
		return UINT64_MAX;
	pdpt = gpa(gm, e & ~0xfffULL, 4096);
	e = pdpt[(va >> 30) & 511];
	if (!(e & 1))
		return UINT64_MAX;
	assert_false(e & 0x80); /* no 1 GiB pages: PDs were asked for */
	pd = gpa(gm, e & ~0xfffULL, 4096);
	e = pd[(va >> 21) & 511];
	if (!(e & 1))
		return UINT64_MAX;
	assert_true(e & 0x80);
	assert_true(e & 0x2);
	return (e & ~0x1fffffULL) + (va & 0x1fffff);
}

static void check_page_tables(const struct guest_mem *gm, uint64_t cr3)
{
	static const uint64_t probe[] = {
	    0,
	    0x1000,
	    BOOT_INFO_GPA,
	    LOAD_GPA + 0x200,
	    16 * MiB + 5,
	    0x7fffffff,
	    0xbfe00000,
	    0xc0000000,
	    0xffffffff,
	};

	assert_int_equal(cr3, BOOT_PGTABLE_GPA);
	for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
		assert_int_equal(translate(gm, cr3, probe[i]), probe[i]);
	assert_int_equal(translate(gm, cr3, 4 * GiB), UINT64_MAX);
	assert_int_equal(translate(gm, cr3, 1ULL << 39), UINT64_MAX);
}

static void check_gdt(const struct guest_mem *gm)
{
	const uint64_t *gdt = gpa(gm, BOOT_GDT_GPA, 4 * 8);
	uint64_t cs = gdt[0x10 / 8], ds = gdt[0x18 / 8];

	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[1], 0);
	/* present, DPL 0, code, L=1, D=0 */
	assert_true(cs & (1ULL << 47));
	assert_int_equal((cs >> 45) & 3, 0);
	assert_true(cs & (1ULL << 43));
	assert_true(cs & (1ULL << 53));
	assert_false(cs & (1ULL << 54));
	/* present, data, writable, flat 4 GiB */
	assert_true(ds & (1ULL << 47));
	assert_false(ds & (1ULL << 43));
	assert_true(ds & (1ULL << 41));
	assert_true(ds & (1ULL << 55));
	assert_int_equal(ds & 0xffff, 0xffff);
	assert_int_equal((ds >> 48) & 0xf, 0xf);
}

static void check_e820(const struct guest_mem *gm,
		       const struct bz_boot_params *bp)
{
	struct memmap_entry mm[MEMMAP_MAX];
	int n = memmap_build(gm, mm);

	assert_true(n > 0);
	assert_int_equal(bp->e820_entries, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(bp->e820_table[i].addr, mm[i].addr);
		assert_int_equal(bp->e820_table[i].size, mm[i].size);
		assert_int_equal(bp->e820_table[i].type, mm[i].type);
	}
}

/* Where the initrd must be: page-aligned, clear of the kernel, under
 * min(initrd_addr_max + 1, low RAM end), and as high as that allows. */
static void check_initrd(const struct guest_mem *gm,
			 const struct bz_boot_params *bp,
			 const struct boot_setup *bs, const uint8_t *initrd,
			 size_t ilen)
{
	uint64_t top = guest_mem_low_end(gm);
	uint64_t at = bp->hdr.ramdisk_image;

	if (!ilen) {
		assert_int_equal(bp->hdr.ramdisk_image, 0);
		assert_int_equal(bp->hdr.ramdisk_size, 0);
		return;
	}
	if ((uint64_t)bp->hdr.initrd_addr_max + 1 < top)
		top = (uint64_t)bp->hdr.initrd_addr_max + 1;
	assert_int_equal(bp->hdr.ramdisk_size, ilen);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(at % 4096, 0);
	assert_true(at >= bs->kernel_end);
	assert_true(at + ilen <= top);
	assert_true(at + ilen + 4096 > top);
	assert_memory_equal(gpa(gm, at, ilen), initrd, ilen);
}

static void check_loaded(const struct guest_mem *gm, const uint8_t *img,
			 size_t len, const uint8_t *initrd, size_t ilen,
			 const char *cmdline, const struct boot_setup *bs)
{
	const struct bz_boot_params *bp = boot_params(gm);
	uint64_t setup = setup_size_of(img);
	uint32_t init_size;
	uint64_t pref;

	assert_int_equal(bs->mode, BOOT_LINUX64);
	assert_int_equal(bs->entry, LOAD_GPA + 0x200);
	assert_int_equal(bs->arg, BOOT_INFO_GPA);
	assert_int_equal(bs->cr3, BOOT_PGTABLE_GPA);
	assert_int_equal(bs->ap_entry, 0);
	memcpy(&init_size, img + 0x260, 4);
	memcpy(&pref, img + 0x258, 8);
	assert_true(bs->kernel_end >=
		    (pref > LOAD_GPA ? pref : LOAD_GPA) + init_size);
	assert_true(bs->kernel_end <= guest_mem_low_end(gm));
	/* The protected-mode kernel, byte for byte, at 1 MiB. */
	assert_memory_equal(gpa(gm, LOAD_GPA, len - setup), img + setup,
			    len - setup);
	/* Setup header copied; the loader's fields filled in. */
	assert_memory_equal(&bp->hdr.header, "HdrS", 4);
	assert_memory_equal(&bp->hdr.version, img + 0x206, 2);
	assert_memory_equal(&bp->hdr.syssize, img + 0x1f4, 4);
	assert_memory_equal(&bp->hdr.xloadflags, img + 0x236, 2);
	assert_memory_equal(&bp->hdr.cmdline_size, img + 0x238, 4);
	assert_memory_equal(&bp->hdr.init_size, img + 0x260, 4);
	assert_int_equal(bp->hdr.setup_sects, img[0x1f1]);
	assert_int_equal(bp->hdr.loadflags, img[0x211]);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, BOOT_CMDLINE_GPA);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_string_equal(gpa(gm, BOOT_CMDLINE_GPA, 1),
			    cmdline ? cmdline : "");
	check_e820(gm, bp);
	check_initrd(gm, bp, bs, initrd, ilen);
	check_page_tables(gm, bs->cr3);
	check_gdt(gm);
}

/* Loads @img into fresh RAM of @ram bytes; returns the loader's result. */
static int load(uint64_t ram, const uint8_t *img, size_t len,
		const uint8_t *initrd, size_t ilen, const char *cmdline,
		struct guest_mem *gm, struct boot_setup *bs)
{
	assert_int_equal(guest_mem_init(gm, ram), 0);
	log_reset();
	return boot_bzimage_load(gm, img, len, initrd, ilen, cmdline, bs);
}

static void load_expect(uint64_t ram, const uint8_t *img, size_t len,
			const char *cmdline, int want, const char *needle)
{
	struct guest_mem gm;
	struct boot_setup bs;
	uint8_t *copy = dup_prefix(img, len);

	assert_int_equal(load(ram, copy, len, NULL, 0, cmdline, &gm, &bs),
			 want);
	if (want)
		assert_logged_once(needle);
	guest_mem_fini(&gm);
	free(copy);
}

/* ---- the real kernel ---- */

static void test_vmlinuz_loads(void **state)
{
	const char *cmdline = "console=ttyS0 root=/dev/vda rw quiet";
	size_t len, ilen = 3 * MiB + 123;
	uint8_t *img = vmlinuz(&len), *initrd = pattern(ilen, 5);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	assert_true(boot_is_bzimage(img, len));
	assert_int_equal(
	    load(256 * MiB, img, len, initrd, ilen, cmdline, &gm, &bs), 0);
	assert_int_equal(log_errors(), 0);
	check_loaded(&gm, img, len, initrd, ilen, cmdline, &bs);
	guest_mem_fini(&gm);

	/* Through boot_load()'s format detection too. */
	assert_int_equal(guest_mem_init(&gm, 256 * MiB), 0);
	assert_int_equal(boot_load(&gm, img, len, NULL, 0, NULL, &bs), 0);
	check_loaded(&gm, img, len, NULL, 0, NULL, &bs);
	guest_mem_fini(&gm);
	free(initrd);
	free(img);
}

static void test_vmlinuz_big_guest(void **state)
{
	size_t len, ilen = 1 * MiB;
	uint8_t *img = vmlinuz(&len), *initrd = pattern(ilen, 9);
	struct guest_mem gm;
	struct boot_setup bs;
	const struct bz_boot_params *bp;

	(void)state;
	/* 5 GiB: RAM above 4 GiB in e820; initrd below initrd_addr_max. */
	assert_int_equal(load(5 * GiB, img, len, initrd, ilen, "x", &gm, &bs),
			 0);
	check_loaded(&gm, img, len, initrd, ilen, "x", &bs);
	bp = boot_params(&gm);
	assert_int_equal(bp->e820_table[bp->e820_entries - 1].addr, 4 * GiB);
	assert_true(bp->hdr.ramdisk_image + ilen <=
		    (uint64_t)bp->hdr.initrd_addr_max + 1);
	guest_mem_fini(&gm);
	free(initrd);
	free(img);
}

static void test_vmlinuz_too_small(void **state)
{
	size_t len;
	uint8_t *img = vmlinuz(&len);

	(void)state;
	/* pref_address 16 MiB + init_size ~64 MiB: 64 MiB is not enough. */
	load_expect(64 * MiB, img, len, NULL, -E2BIG, "too small");
	load_expect(2 * MiB, img, len, NULL, -E2BIG, "too small");
	free(img);
}

static void test_vmlinuz_truncated(void **state)
{
	size_t len;
	uint8_t *img = vmlinuz(&len);
	uint64_t setup = setup_size_of(img);
	uint32_t syssize;
	size_t cuts[] = {
	    0,	     0x1f1, 0x205, 0x250, (size_t)setup - 1, (size_t)setup,
	    len / 2, 0};

	(void)state;
	memcpy(&syssize, img + 0x1f4, 4);
	cuts[7] = (size_t)setup + (size_t)syssize * 16 - 1;
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		load_expect(256 * MiB, img, cuts[i], NULL, -ENOEXEC,
			    cuts[i] < 0x206 ? "HdrS" : "truncated");
	free(img);
}

static void test_vmlinuz_cmdline(void **state)
{
	size_t len, max;
	uint8_t *img = vmlinuz(&len);
	struct guest_mem gm;
	struct boot_setup bs;
	uint32_t cmdline_size;
	char *line;

	(void)state;
	memcpy(&cmdline_size, img + 0x238, 4);
	max = cmdline_size < BOOT_CMDLINE_MAX - 1 ? cmdline_size
						  : BOOT_CMDLINE_MAX - 1;
	line = malloc(max + 2);
	assert_non_null(line);
	memset(line, 'a', max + 1);
	line[max + 1] = '\0';
	load_expect(256 * MiB, img, len, line, -EINVAL, "command line");
	line[max] = '\0';
	assert_int_equal(load(256 * MiB, img, len, NULL, 0, line, &gm, &bs), 0);
	check_loaded(&gm, img, len, NULL, 0, line, &bs);
	guest_mem_fini(&gm);
	free(line);
	free(img);
}

/* ---- a synthetic image: runs everywhere ---- */

static void test_fake_loads(void **state)
{
	size_t len, ilen = 2 * MiB + 1;
	uint8_t *img = fake_bzimage(&len), *initrd = pattern(ilen, 1);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	assert_int_equal(
	    load(64 * MiB, img, len, initrd, ilen, "hello", &gm, &bs), 0);
	check_loaded(&gm, img, len, initrd, ilen, "hello", &bs);
	/* Relocatable: runs at pref_address, 16 MiB, for init_size. */
	assert_int_equal(bs.kernel_end, FAKE_PREF + FAKE_INIT_SIZE);
	guest_mem_fini(&gm);
	free(initrd);
	free(img);
}

static void test_fake_initrd_addr_max(void **state)
{
	size_t len, ilen = 1 * MiB + 4095;
	uint8_t *img = fake_bzimage(&len), *initrd = pattern(ilen, 2);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	put32(img + 0x22c, 64 * MiB - 1);
	assert_int_equal(
	    load(256 * MiB, img, len, initrd, ilen, NULL, &gm, &bs), 0);
	check_loaded(&gm, img, len, initrd, ilen, NULL, &bs);
	assert_int_equal(boot_params(&gm)->hdr.ramdisk_image,
			 (64 * MiB - ilen) & ~4095ULL);
	guest_mem_fini(&gm);

	/* A ceiling below the kernel's end leaves no room. */
	put32(img + 0x22c, 18 * MiB - 1);
	assert_int_equal(
	    load(256 * MiB, img, len, initrd, ilen, NULL, &gm, &bs), -E2BIG);
	assert_logged_once("initrd");
	guest_mem_fini(&gm);
	free(initrd);
	free(img);
}

static void test_fake_initrd_too_big(void **state)
{
	size_t len, ilen = 12 * MiB;
	uint8_t *img = fake_bzimage(&len), *initrd = pattern(ilen, 3);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	/* 32 MiB RAM, kernel to 20 MiB: 12 MiB exactly fits... */
	assert_int_equal(load(32 * MiB, img, len, initrd, ilen, NULL, &gm, &bs),
			 0);
	check_loaded(&gm, img, len, initrd, ilen, NULL, &bs);
	guest_mem_fini(&gm);
	/* ...one more byte does not. */
	free(initrd);
	initrd = pattern(ilen + 1, 3);
	assert_int_equal(
	    load(32 * MiB, img, len, initrd, ilen + 1, NULL, &gm, &bs), -E2BIG);
	assert_logged_once("initrd");
	guest_mem_fini(&gm);
	free(initrd);
	free(img);
}

static void test_fake_not_relocatable(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	img[0x234] = 0;
	put64(img + 0x258, 32 * MiB);
	assert_int_equal(load(64 * MiB, img, len, NULL, 0, NULL, &gm, &bs), 0);
	assert_int_equal(bs.kernel_end, 32 * MiB + FAKE_INIT_SIZE);
	check_loaded(&gm, img, len, NULL, 0, NULL, &bs);
	guest_mem_fini(&gm);
	free(img);
}

static void test_fake_setup_sects_zero(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	img[0x1f1] = 0; /* means 4, which the fake has */
	assert_int_equal(load(64 * MiB, img, len, NULL, 0, NULL, &gm, &bs), 0);
	check_loaded(&gm, img, len, NULL, 0, NULL, &bs);
	guest_mem_fini(&gm);
	free(img);
}

static void test_fake_no_hdrs(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	img[0x203] = 'x';
	assert_false(boot_is_bzimage(img, len));
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "HdrS");
	/* boot_load() finds no format at all. */
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	assert_int_equal(boot_load(&gm, img, len, NULL, 0, NULL, &bs),
			 -ENOEXEC);
	guest_mem_fini(&gm);
	assert_false(boot_is_bzimage(img, 0x205));
	assert_false(boot_is_bzimage(NULL, 0));
	free(img);
}

static void test_fake_old_protocol(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);

	(void)state;
	put16(img + 0x206, 0x020b);
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "2.11");
	put16(img + 0x206, 0x0204);
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "2.04");
	free(img);
}

static void test_fake_bad_flags(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);

	(void)state;
	put16(img + 0x236, 0x2); /* no XLF_KERNEL_64 */
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "64-bit");
	put16(img + 0x236, 0x3);
	img[0x211] = 0; /* zImage */
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "LOADED_HIGH");
	img[0x211] = BZ_LOADED_HIGH;
	put32(img + 0x230, 3 * MiB); /* alignment not a power of two */
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "kernel_alignment");
	put32(img + 0x230, 0);
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "kernel_alignment");
	put32(img + 0x230, 2 * MiB);
	img[0x201] = 0x10; /* header ends before the 2.12 fields */
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "header");
	free(img);
}

static void test_fake_truncated(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);
	struct guest_mem gm;

	(void)state;
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	/* Every length short of the whole image fails cleanly. */
	for (size_t cut = 0; cut < len; cut += (cut < 0x300 ? 1 : 97)) {
		uint8_t *copy = dup_prefix(img, cut);
		struct boot_setup bs;

		log_reset();
		assert_int_equal(
		    boot_bzimage_load(&gm, copy, cut, NULL, 0, NULL, &bs),
		    -ENOEXEC);
		assert_int_equal(log_errors(), 1);
		free(copy);
	}
	guest_mem_fini(&gm);
	load_expect(64 * MiB, img, len - 1, NULL, -ENOEXEC, "truncated");
	/* syssize far past the file, and at the u32 limit (no overflow). */
	put32(img + 0x1f4, FAKE_KERNEL_LEN / 16 + 1);
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "truncated");
	put32(img + 0x1f4, UINT32_MAX);
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "truncated");
	put32(img + 0x1f4, 0);
	load_expect(64 * MiB, img, len, NULL, -ENOEXEC, "syssize");
	free(img);
}

static void test_fake_too_small(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);

	(void)state;
	/* Runs at 16 MiB for 4 MiB: 20 MiB fits, 20 MiB - 4 KiB does not. */
	load_expect(20 * MiB - 4096, img, len, NULL, -E2BIG, "too small");
	load_expect(20 * MiB, img, len, NULL, 0, NULL);
	put64(img + 0x258, UINT64_MAX - 4096); /* no wrap-around */
	load_expect(64 * MiB, img, len, NULL, -E2BIG, "too small");
	put64(img + 0x258, FAKE_PREF);
	put32(img + 0x260, UINT32_MAX);
	load_expect(64 * MiB, img, len, NULL, -E2BIG, "too small");
	free(img);
}

static void test_fake_cmdline(void **state)
{
	size_t len;
	uint8_t *img = fake_bzimage(&len);
	char line[FAKE_CMDLINE_SIZE + 2];
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	memset(line, 'c', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0'; /* cmdline_size + 1 characters */
	load_expect(64 * MiB, img, len, line, -EINVAL, "command line");
	line[FAKE_CMDLINE_SIZE] = '\0'; /* exactly cmdline_size: fine */
	assert_int_equal(load(64 * MiB, img, len, NULL, 0, line, &gm, &bs), 0);
	check_loaded(&gm, img, len, NULL, 0, line, &bs);
	guest_mem_fini(&gm);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vmlinuz_loads),
	    cmocka_unit_test(test_vmlinuz_big_guest),
	    cmocka_unit_test(test_vmlinuz_too_small),
	    cmocka_unit_test(test_vmlinuz_truncated),
	    cmocka_unit_test(test_vmlinuz_cmdline),
	    cmocka_unit_test(test_fake_loads),
	    cmocka_unit_test(test_fake_initrd_addr_max),
	    cmocka_unit_test(test_fake_initrd_too_big),
	    cmocka_unit_test(test_fake_not_relocatable),
	    cmocka_unit_test(test_fake_setup_sects_zero),
	    cmocka_unit_test(test_fake_no_hdrs),
	    cmocka_unit_test(test_fake_old_protocol),
	    cmocka_unit_test(test_fake_bad_flags),
	    cmocka_unit_test(test_fake_truncated),
	    cmocka_unit_test(test_fake_too_small),
	    cmocka_unit_test(test_fake_cmdline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
