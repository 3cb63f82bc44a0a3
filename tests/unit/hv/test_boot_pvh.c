/*
 * hv/boot_pvh.c: PVH ELF images built here (PT_NOTE with the Xen
 * PHYS32_ENTRY note, Ferry's AP note and an unrelated note, a PT_LOAD with
 * data and bss, a bss-only PT_LOAD). Checks the boot_setup and the
 * hvm_start_info a PVH entry sees; malformed images must fail with
 * -ENOEXEC / -E2BIG / -EINVAL and one log line. Images sit in buffers of
 * exactly their length so ASan catches any read past the end.
 */
#include <elf.h>
#include <errno.h>

#include "tests/unit/unit.h"

#include "hv/boot.h"
#include "hv/guest_mem.h"
#include "hv/memmap.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define HVM_MAGIC 0x336ec578
#define XEN_PHYS32_ENTRY 18

#define ENTRY 0x100040ULL
#define AP_ENTRY 0xffffffff81000123ULL
#define AP_CR3 0x5000ULL
#define SEG_GPA MiB
#define SEG_FILESZ 512
#define SEG_MEMSZ 8192
#define BSS_GPA (2 * MiB)
#define BSS_MEMSZ 4096
#define NR_PHDRS 3

/* hvm_start_info and friends, as the PVH ABI (xen/arch-x86/hvm/start_info.h)
 * lays them out; declared again here so the test checks the ABI, not the
 * loader's own copy of it. */
struct t_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
_Static_assert(sizeof(struct t_start_info) == 56, "start info");

struct t_mod {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct t_memmap {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct image {
	uint8_t *buf;
	size_t len;
	size_t note_off, note_len; /* the PT_NOTE contents */
	size_t xen_note;	   /* offset of the Xen note header */
	size_t data_off;	   /* PT_LOAD file data */
};

static size_t put_note(uint8_t *p, const char *name, uint32_t namesz,
		       uint32_t type, const void *desc, uint32_t descsz)
{
	Elf64_Nhdr nh = {namesz, descsz, type};
	size_t off = sizeof(nh);

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memcpy(p + off, desc, descsz);
	off += (descsz + 3) & ~3u;
	return off;
}

static Elf64_Ehdr *ehdr(struct image *im)
{
	return (Elf64_Ehdr *)im->buf;
}

static Elf64_Phdr *phdr(struct image *im, int i)
{
	return (Elf64_Phdr *)(im->buf + ehdr(im)->e_phoff) + i;
}

/* Ehdr, 3 phdrs, notes, then the segment data last, so any truncation of
 * the file cuts something the loader needs. */
static struct image build(void)
{
	const uint32_t entry = (uint32_t)ENTRY;
	const uint64_t ap[2] = {AP_ENTRY, AP_CR3};
	const uint8_t build_id[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct image im = {0};
	size_t off = sizeof(Elf64_Ehdr) + NR_PHDRS * sizeof(Elf64_Phdr);
	Elf64_Ehdr *eh;

	im.buf = calloc(1, 4096);
	assert_non_null(im.buf);
	im.note_off = off;
	off += put_note(im.buf + off, "GNU", 4, NT_GNU_BUILD_ID, build_id, 8);
	im.xen_note = off;
	off += put_note(im.buf + off, "Xen", 4, XEN_PHYS32_ENTRY, &entry, 4);
	off += put_note(im.buf + off, FERRY_NOTE_NAME, sizeof(FERRY_NOTE_NAME),
			FERRY_NOTE_AP_START, ap, 16);
	im.note_len = off - im.note_off;
	im.data_off = (off + 15) & ~15ul;
	for (size_t i = 0; i < SEG_FILESZ; i++)
		im.buf[im.data_off + i] = (uint8_t)(i * 31 + 7);
	im.len = im.data_off + SEG_FILESZ;

	eh = ehdr(&im);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0xffffffff81000000ULL;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = NR_PHDRS;
	*phdr(&im, 0) = (Elf64_Phdr){.p_type = PT_NOTE,
				     .p_offset = im.note_off,
				     .p_filesz = im.note_len,
				     .p_align = 4};
	*phdr(&im, 1) = (Elf64_Phdr){.p_type = PT_LOAD,
				     .p_flags = PF_R | PF_X,
				     .p_offset = im.data_off,
				     .p_vaddr = 0xffffffff81000000ULL,
				     .p_paddr = SEG_GPA,
				     .p_filesz = SEG_FILESZ,
				     .p_memsz = SEG_MEMSZ,
				     .p_align = 16};
	*phdr(&im, 2) = (Elf64_Phdr){.p_type = PT_LOAD,
				     .p_flags = PF_R | PF_W,
				     .p_paddr = BSS_GPA,
				     .p_memsz = BSS_MEMSZ};
	return im;
}

/* An exact-size copy of the first @len bytes, so overreads trip ASan. */
static uint8_t *dup_prefix(const uint8_t *buf, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, buf, len);
	return p;
}

static int load_pvh(struct guest_mem *gm, const struct image *im, size_t len,
		    const uint8_t *initrd, size_t ilen, const char *cmdline,
		    struct boot_setup *bs)
{
	uint8_t *copy = dup_prefix(im->buf, len);
	int ret;

	log_reset();
	ret = boot_pvh_load(gm, copy, len, initrd, ilen, cmdline, bs);
	free(copy);
	return ret;
}

/* Fresh RAM of @ram bytes, loads, expects @want and one log naming
 * @needle on failure. */
static void expect(uint64_t ram, const struct image *im, const char *cmdline,
		   int want, const char *needle)
{
	struct guest_mem gm;
	struct boot_setup bs;

	assert_int_equal(guest_mem_init(&gm, ram), 0);
	assert_int_equal(load_pvh(&gm, im, im->len, NULL, 0, cmdline, &bs),
			 want);
	if (want)
		assert_logged_once(needle);
	guest_mem_fini(&gm);
}

static void *gpa(const struct guest_mem *gm, uint64_t addr, uint64_t len)
{
	void *p = guest_mem_ptr(gm, addr, len);

	assert_non_null(p);
	return p;
}

static void check_memmap(const struct guest_mem *gm,
			 const struct t_start_info *si)
{
	struct memmap_entry mm[MEMMAP_MAX];
	const struct t_memmap *te;
	int n = memmap_build(gm, mm);

	assert_int_equal(si->memmap_paddr, BOOT_MEMMAP_GPA);
	assert_int_equal(si->memmap_entries, n);
	te = gpa(gm, si->memmap_paddr, n * sizeof(*te));
	for (int i = 0; i < n; i++) {
		assert_int_equal(te[i].addr, mm[i].addr);
		assert_int_equal(te[i].size, mm[i].size);
		assert_int_equal(te[i].type, mm[i].type);
		assert_int_equal(te[i].reserved, 0);
	}
}

static void check_initrd(const struct guest_mem *gm,
			 const struct t_start_info *si,
			 const struct boot_setup *bs, const uint8_t *initrd,
			 size_t ilen)
{
	const struct t_mod *mod;
	uint64_t top = guest_mem_low_end(gm);

	if (!ilen) {
		assert_int_equal(si->nr_modules, 0);
		return;
	}
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->modlist_paddr, BOOT_MODLIST_GPA);
	mod = gpa(gm, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->size, ilen);
	assert_int_equal(mod->paddr % 4096, 0);
	assert_true(mod->paddr >= bs->kernel_end);
	assert_true(mod->paddr + ilen <= top);
	assert_true(mod->paddr + ilen + 4096 > top);
	assert_memory_equal(gpa(gm, mod->paddr, ilen), initrd, ilen);
}

static void check_loaded(const struct guest_mem *gm, const struct image *im,
			 const uint8_t *initrd, size_t ilen,
			 const char *cmdline, const struct boot_setup *bs)
{
	const struct t_start_info *si = gpa(gm, BOOT_INFO_GPA, sizeof(*si));
	const uint8_t *seg = gpa(gm, SEG_GPA, SEG_MEMSZ);
	const uint8_t *bss = gpa(gm, BSS_GPA, BSS_MEMSZ);

	assert_int_equal(bs->mode, BOOT_PVH32);
	assert_int_equal(bs->entry, ENTRY);
	assert_int_equal(bs->arg, BOOT_INFO_GPA);
	assert_int_equal(bs->kernel_end, BSS_GPA + BSS_MEMSZ);
	assert_memory_equal(seg, im->buf + im->data_off, SEG_FILESZ);
	for (size_t i = SEG_FILESZ; i < SEG_MEMSZ; i++)
		assert_int_equal(seg[i], 0);
	for (size_t i = 0; i < BSS_MEMSZ; i++)
		assert_int_equal(bss[i], 0);
	assert_int_equal(si->magic, HVM_MAGIC);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->cmdline_paddr, BOOT_CMDLINE_GPA);
	assert_string_equal(gpa(gm, si->cmdline_paddr, 1),
			    cmdline ? cmdline : "");
	check_memmap(gm, si);
	check_initrd(gm, si, bs, initrd, ilen);
}

/* Guest memory that is not zero, so the loader must clear bss itself. */
static void dirty(struct guest_mem *gm)
{
	memset(gpa(gm, SEG_GPA, 2 * MiB), 0xee, 2 * MiB);
}

static uint8_t *pattern(size_t len)
{
	uint8_t *p = malloc(len);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + 1 + (i >> 12));
	return p;
}

static void test_loads(void **state)
{
	struct image im = build();
	size_t ilen = 100 * 1024 + 7;
	uint8_t *initrd = pattern(ilen);
	const char *cmdline = "console=ttyS0 probe=idle";
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	dirty(&gm);
	assert_int_equal(load_pvh(&gm, &im, im.len, initrd, ilen, cmdline, &bs),
			 0);
	assert_int_equal(log_errors(), 0);
	check_loaded(&gm, &im, initrd, ilen, cmdline, &bs);
	assert_int_equal(bs.ap_entry, AP_ENTRY);
	assert_int_equal(bs.ap_cr3, AP_CR3);
	guest_mem_fini(&gm);
	free(initrd);
	free(im.buf);
}

static void test_loads_plain(void **state)
{
	struct image im = build();
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	/* Ferry's note renamed: not ours, so no AP entry. */
	memcpy(im.buf + im.xen_note + 20 + sizeof(Elf64_Nhdr), "Fxrry", 5);
	assert_int_equal(guest_mem_init(&gm, 5 * GiB), 0);
	dirty(&gm);
	/* Through boot_load()'s format detection, no initrd, no cmdline. */
	log_reset();
	assert_int_equal(boot_load(&gm, im.buf, im.len, NULL, 0, NULL, &bs), 0);
	check_loaded(&gm, &im, NULL, 0, NULL, &bs);
	assert_int_equal(bs.ap_entry, 0);
	assert_int_equal(bs.ap_cr3, 0);
	guest_mem_fini(&gm);
	free(im.buf);
}

static void test_initrd_in_big_guest(void **state)
{
	struct image im = build();
	size_t ilen = 3 * MiB;
	uint8_t *initrd = pattern(ilen);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	/* Low RAM ends at 3 GiB: the initrd goes just below the PCI hole. */
	assert_int_equal(guest_mem_init(&gm, 4 * GiB), 0);
	assert_int_equal(load_pvh(&gm, &im, im.len, initrd, ilen, "x", &bs), 0);
	check_loaded(&gm, &im, initrd, ilen, "x", &bs);
	guest_mem_fini(&gm);
	free(initrd);
	free(im.buf);
}

static void test_bad_magic(void **state)
{
	struct image im = build();
	struct guest_mem gm;
	struct boot_setup bs;
	int ret;

	(void)state;
	im.buf[1] = 'X';
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	log_reset();
	assert_int_equal(boot_load(&gm, im.buf, im.len, NULL, 0, NULL, &bs),
			 -ENOEXEC);
	assert_int_equal(log_errors(), 1);
	guest_mem_fini(&gm);
	/* boot_pvh_load() is public too: it must not trust a caller's
	 * detection. */
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	ret = load_pvh(&gm, &im, im.len, NULL, 0, NULL, &bs);
	guest_mem_fini(&gm);
	free(im.buf);
	if (ret != -ENOEXEC)
		fail_msg("boot_pvh_load() accepted a file without the ELF "
			 "magic (returned %d)",
			 ret);
	assert_int_equal(log_errors(), 1);
}

static void test_wrong_class(void **state)
{
	struct image im = build();

	(void)state;
	im.buf[EI_CLASS] = ELFCLASS32;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "ELF64");
	im.buf[EI_CLASS] = ELFCLASS64;
	im.buf[EI_DATA] = ELFDATA2MSB;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "ELF64");
	im.buf[EI_DATA] = ELFDATA2LSB;
	ehdr(&im)->e_machine = EM_386;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "x86-64");
	free(im.buf);
}

static void test_no_pvh_note(void **state)
{
	struct image im = build();
	Elf64_Nhdr *xen = (Elf64_Nhdr *)(im.buf + im.xen_note);

	(void)state;
	xen->n_type = XEN_PHYS32_ENTRY + 1;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "PVH");
	xen->n_type = XEN_PHYS32_ENTRY;
	memcpy(im.buf + im.xen_note + sizeof(*xen), "Xyz", 4);
	expect(64 * MiB, &im, NULL, -ENOEXEC, "PVH");
	memcpy(im.buf + im.xen_note + sizeof(*xen), "Xen", 4);
	/* No PT_NOTE at all. */
	phdr(&im, 0)->p_type = PT_NULL;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "PVH");
	free(im.buf);
}

static void test_truncated_every_length(void **state)
{
	struct image im = build();
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	for (size_t len = 0; len < im.len; len++) {
		int ret = load_pvh(&gm, &im, len, NULL, 0, NULL, &bs);

		if (ret != -ENOEXEC || log_errors() != 1)
			fail_msg("truncated at %zu of %zu: returned %d, %d "
				 "errors logged",
				 len, im.len, ret, log_errors());
	}
	assert_int_equal(load_pvh(&gm, &im, im.len, NULL, 0, NULL, &bs), 0);
	guest_mem_fini(&gm);
	free(im.buf);
}

static void test_segment_outside_ram(void **state)
{
	struct image im = build();
	Elf64_Phdr *ph = phdr(&im, 1);

	(void)state;
	ph->p_paddr = 64 * MiB - 4096; /* data fits, bss runs past the end */
	expect(64 * MiB, &im, NULL, -E2BIG, "too small");
	ph->p_paddr = 64 * MiB;
	expect(64 * MiB, &im, NULL, -E2BIG, "too small");
	ph->p_paddr = 3 * GiB + 4096; /* inside the PCI hole */
	expect(5 * GiB, &im, NULL, -E2BIG, "too small");
	ph->p_paddr = UINT64_MAX - 4096; /* wraps past 2^64 */
	expect(64 * MiB, &im, NULL, -E2BIG, "too small");
	ph->p_paddr = SEG_GPA;
	ph->p_memsz = UINT64_MAX;
	expect(64 * MiB, &im, NULL, -E2BIG, "too small");
	free(im.buf);
}

static void test_segment_on_boot_area(void **state)
{
	struct image im = build();

	(void)state;
	phdr(&im, 1)->p_paddr = BOOT_INFO_GPA;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "boot area");
	phdr(&im, 1)->p_paddr = BOOT_CMDLINE_GPA + BOOT_CMDLINE_MAX - 1;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "boot area");
	phdr(&im, 1)->p_paddr = BOOT_GDT_GPA - 1;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "boot area");
	free(im.buf);
}

static void test_phdrs_out_of_file(void **state)
{
	struct image im = build();
	Elf64_Ehdr *eh = ehdr(&im);

	(void)state;
	eh->e_phnum = (uint16_t)(im.len / sizeof(Elf64_Phdr) + 1);
	expect(64 * MiB, &im, NULL, -ENOEXEC, "program headers");
	eh->e_phnum = 0;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "program headers");
	eh->e_phnum = NR_PHDRS;
	eh->e_phoff = im.len - sizeof(Elf64_Phdr) + 8;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "program headers");
	eh->e_phoff = UINT64_MAX - 8;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "program headers");
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr) - 8;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "program headers");
	free(im.buf);
}

static void test_bad_segment(void **state)
{
	struct image im = build();
	Elf64_Phdr *ph = phdr(&im, 1);

	(void)state;
	ph->p_filesz = SEG_MEMSZ + 1;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "segment");
	ph->p_filesz = SEG_FILESZ + 1; /* one byte past the file */
	expect(64 * MiB, &im, NULL, -ENOEXEC, "segment");
	ph->p_filesz = SEG_FILESZ;
	ph->p_offset = im.len + 1;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "segment");
	ph->p_offset = 16;
	ph->p_filesz = UINT64_MAX - 8; /* offset + size wraps */
	ph->p_memsz = UINT64_MAX;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "segment");
	free(im.buf);
}

static void test_bad_notes(void **state)
{
	struct image im = build();
	Elf64_Nhdr *xen = (Elf64_Nhdr *)(im.buf + im.xen_note);
	Elf64_Phdr *ph = phdr(&im, 0);

	(void)state;
	xen->n_descsz = 0x1000; /* runs past the note segment */
	expect(64 * MiB, &im, NULL, -ENOEXEC, "note");
	xen->n_descsz = UINT32_MAX; /* padding must not wrap */
	expect(64 * MiB, &im, NULL, -ENOEXEC, "note");
	xen->n_descsz = 4;
	xen->n_namesz = UINT32_MAX;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "note");
	xen->n_namesz = 4;
	ph->p_filesz = im.len; /* note segment past the end of the file */
	expect(64 * MiB, &im, NULL, -ENOEXEC, "note");
	ph->p_filesz = im.note_len;
	ph->p_offset = UINT64_MAX;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "note");
	/* A short descriptor is not an entry point. */
	ph->p_offset = im.note_off;
	xen->n_descsz = 2;
	expect(64 * MiB, &im, NULL, -ENOEXEC, "PVH");
	free(im.buf);
}

static void test_cmdline_and_initrd_limits(void **state)
{
	struct image im = build();
	char *line = malloc(BOOT_CMDLINE_MAX + 1);
	size_t ilen = 64 * MiB - (BSS_GPA + BSS_MEMSZ);
	uint8_t *initrd = pattern(ilen + 1);
	struct guest_mem gm;
	struct boot_setup bs;

	(void)state;
	assert_non_null(line);
	memset(line, 'p', BOOT_CMDLINE_MAX);
	line[BOOT_CMDLINE_MAX] = '\0';
	expect(64 * MiB, &im, line, -EINVAL, "command line");
	line[BOOT_CMDLINE_MAX - 1] = '\0';
	expect(64 * MiB, &im, line, 0, NULL);

	/* The initrd may fill RAM from the kernel's end exactly... */
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	assert_int_equal(load_pvh(&gm, &im, im.len, initrd, ilen, NULL, &bs),
			 0);
	check_loaded(&gm, &im, initrd, ilen, NULL, &bs);
	/* ...and not one byte more. */
	assert_int_equal(
	    load_pvh(&gm, &im, im.len, initrd, ilen + 1, NULL, &bs), -E2BIG);
	assert_logged_once("initrd");
	guest_mem_fini(&gm);
	free(initrd);
	free(line);
	free(im.buf);
}

/* The project's real probe guest (FERRY_PROBE_ELF, set by run-unit.sh
 * when build/probe.elf exists): both notes found, start info built. */
static void test_probe_elf(void **state)
{
	const char *path = getenv("FERRY_PROBE_ELF");
	FILE *f = path ? fopen(path, "rb") : NULL;
	struct image im = {0};
	struct guest_mem gm;
	struct boot_setup bs;
	const struct t_start_info *si;
	long n;

	(void)state;
	if (!f) {
		printf(
		    "SKIPPED: no probe.elf (make all, set FERRY_PROBE_ELF)\n");
		skip();
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	im.len = (size_t)n;
	im.buf = malloc(im.len);
	assert_non_null(im.buf);
	assert_int_equal(fread(im.buf, 1, im.len, f), im.len);
	fclose(f);
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	assert_int_equal(load_pvh(&gm, &im, im.len, NULL, 0, "idle", &bs), 0);
	assert_int_equal(bs.mode, BOOT_PVH32);
	assert_true(bs.entry >= MiB && bs.entry < bs.kernel_end);
	assert_true(bs.ap_entry != 0);
	assert_true(bs.ap_cr3 != 0 && bs.ap_cr3 < bs.kernel_end);
	si = gpa(&gm, BOOT_INFO_GPA, sizeof(*si));
	assert_int_equal(si->magic, HVM_MAGIC);
	assert_string_equal(gpa(&gm, si->cmdline_paddr, 1), "idle");
	guest_mem_fini(&gm);
	free(im.buf);
}

/* Nothing in ELF forces e_phoff or a note's offset to be aligned; a file
 * that moves them must load (or be refused) without undefined behaviour
 * such as misaligned loads, which UBSan reports in `make asan`. */
static void test_unaligned_headers(void **state)
{
	struct image im = build();
	uint8_t *moved = calloc(1, 4096);
	Elf64_Ehdr *eh;
	Elf64_Phdr ph[NR_PHDRS];
	size_t shift = 1, phoff = 4096 - 512 + 1;
	struct guest_mem gm;
	struct boot_setup bs;
	int ret;

	(void)state;
	assert_non_null(moved);
	/* Everything after the ELF header moves by one byte; the phdrs go
	 * to an odd offset near the end. */
	memcpy(moved, im.buf, sizeof(Elf64_Ehdr));
	memcpy(moved + sizeof(Elf64_Ehdr) + shift, im.buf + sizeof(Elf64_Ehdr),
	       im.len - sizeof(Elf64_Ehdr));
	memcpy(ph, im.buf + sizeof(Elf64_Ehdr), sizeof(ph));
	ph[0].p_offset += shift;
	ph[1].p_offset += shift;
	memcpy(moved + phoff, ph, sizeof(ph));
	eh = (Elf64_Ehdr *)moved;
	eh->e_phoff = phoff;
	free(im.buf);
	im.buf = moved;
	im.len = phoff + sizeof(ph);
	assert_int_equal(guest_mem_init(&gm, 64 * MiB), 0);
	ret = load_pvh(&gm, &im, im.len, NULL, 0, NULL, &bs);
	assert_true(ret == 0 || ret == -ENOEXEC);
	if (!ret)
		assert_int_equal(bs.entry, ENTRY);
	guest_mem_fini(&gm);
	free(im.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_loads),
	    cmocka_unit_test(test_loads_plain),
	    cmocka_unit_test(test_initrd_in_big_guest),
	    cmocka_unit_test(test_bad_magic),
	    cmocka_unit_test(test_wrong_class),
	    cmocka_unit_test(test_no_pvh_note),
	    cmocka_unit_test(test_truncated_every_length),
	    cmocka_unit_test(test_segment_outside_ram),
	    cmocka_unit_test(test_segment_on_boot_area),
	    cmocka_unit_test(test_phdrs_out_of_file),
	    cmocka_unit_test(test_bad_segment),
	    cmocka_unit_test(test_bad_notes),
	    cmocka_unit_test(test_cmdline_and_initrd_limits),
	    cmocka_unit_test(test_probe_elf),
	    /* Last: under UBSan a misaligned load aborts the binary. */
	    cmocka_unit_test(test_unaligned_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
