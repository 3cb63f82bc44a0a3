/*
 * Linux bzImage loader, 64-bit boot protocol (boot.rst "64-bit BOOT
 * PROTOCOL"): checks the setup header, copies the protected-mode kernel to
 * 1 MiB, and builds what a 64-bit entry expects: boot_params (zero page)
 * with the e820 map, an identity page table over the low 4 GiB and a GDT
 * with flat __BOOT_CS (0x10) / __BOOT_DS (0x18). The real-mode setup code
 * is never run. Every value read from the image is checked before use.
 * Does not touch vCPU state: the caller applies struct boot_setup.
 */
#include <errno.h>
#include <string.h>

#include "hv/boot.h"
#include "hv/bootparam.h"
#include "hv/log.h"
#include "hv/memmap.h"

/* Where the protected-mode kernel goes: code32_start's default. A
 * relocatable kernel decompresses itself to its runtime address. */
#define BZ_LOAD_GPA 0x100000ULL

#define BZ_PT_PRESENT 0x1ULL
#define BZ_PT_WRITE 0x2ULL
#define BZ_PT_HUGE 0x80ULL
#define BZ_PT_ENTRIES 512
#define BZ_PT_NR_PD 4 /* 4 x 1 GiB */
#define BZ_PT_PAGES (2 + BZ_PT_NR_PD)
#define BZ_HUGE_PAGE (2ULL << 20)

/* Flat 4 GiB descriptors: 64-bit code (L=1, DPL0, exec/read) and data. */
#define BZ_GDT_CODE64 0x00af9b000000ffffULL
#define BZ_GDT_DATA 0x00cf93000000ffffULL
#define BZ_GDT_ENTRIES 4

/* What the header tells about one image, after checking. */
struct bz_image {
	struct bz_setup_header hdr; /* as read; fields past hdr_len are 0 */
	size_t hdr_len;		    /* bytes of header present in the image */
	size_t setup_size;	    /* boot sector + real-mode setup */
	const uint8_t *kernel;	    /* protected-mode part */
	size_t kernel_len;
};

int boot_is_bzimage(const uint8_t *img, size_t len)
{
	return img && len >= BZ_MAGIC_OFFSET + 4 &&
	       !memcmp(img + BZ_MAGIC_OFFSET, BZ_MAGIC, 4);
}

/* Copies the setup header out of the image (it is unaligned there). */
static int bz_read_header(const uint8_t *img, size_t len, struct bz_image *bz)
{
	size_t end;

	if (!boot_is_bzimage(img, len)) {
		log_err("bzImage has no \"HdrS\" setup header magic at 0x%x",
			BZ_MAGIC_OFFSET);
		return -ENOEXEC;
	}
	/* The jump at 0x200 is a short jmp: its byte gives the header end. */
	end = BZ_MAGIC_OFFSET + (size_t)img[BZ_MAGIC_OFFSET - 1];
	if (end < BZ_HDR_END_MIN) {
		log_err("bzImage setup header ends at 0x%zx, before the 2.12 "
			"fields",
			end);
		return -ENOEXEC;
	}
	if (len < end) {
		log_err("bzImage is truncated inside its setup header "
			"(%zu bytes)",
			len);
		return -ENOEXEC;
	}
	memset(&bz->hdr, 0, sizeof(bz->hdr));
	bz->hdr_len = end - BZ_HDR_OFFSET;
	if (bz->hdr_len > sizeof(bz->hdr))
		bz->hdr_len = sizeof(bz->hdr);
	memcpy(&bz->hdr, img + BZ_HDR_OFFSET, bz->hdr_len);
	return 0;
}

static int bz_check_header(const struct bz_setup_header *h)
{
	if (h->version < BZ_PROTO_MIN) {
		log_err("bzImage boot protocol %u.%02u is older than 2.12, "
			"which a 64-bit entry needs",
			h->version >> 8, h->version & 0xff);
		return -ENOEXEC;
	}
	if (!(h->loadflags & BZ_LOADED_HIGH)) {
		log_err("kernel is a zImage (loadflags 0x%x lacks LOADED_HIGH)",
			h->loadflags);
		return -ENOEXEC;
	}
	if (!(h->xloadflags & BZ_XLF_KERNEL_64)) {
		log_err("bzImage has no 64-bit entry (xloadflags 0x%x)",
			h->xloadflags);
		return -ENOEXEC;
	}
	if (h->relocatable_kernel &&
	    (!h->kernel_alignment ||
	     (h->kernel_alignment & (h->kernel_alignment - 1)))) {
		log_err("bzImage kernel_alignment 0x%x is not a power of two",
			h->kernel_alignment);
		return -ENOEXEC;
	}
	return 0;
}

static int bz_parse(const uint8_t *img, size_t len, struct bz_image *bz)
{
	unsigned int sects;
	uint64_t sys;
	int ret;

	ret = bz_read_header(img, len, bz);
	if (!ret)
		ret = bz_check_header(&bz->hdr);
	if (ret)
		return ret;
	sects =
	    bz->hdr.setup_sects ? bz->hdr.setup_sects : BZ_DEFAULT_SETUP_SECTS;
	bz->setup_size = (size_t)(sects + 1) * BZ_SECTOR;
	sys = (uint64_t)bz->hdr.syssize * BZ_SYSSIZE_UNIT;
	if (!sys) {
		log_err("bzImage syssize is 0");
		return -ENOEXEC;
	}
	if (len < bz->setup_size || len - bz->setup_size < sys) {
		log_err("bzImage is truncated: %zu bytes, header says %llu",
			len, (unsigned long long)(bz->setup_size + sys));
		return -ENOEXEC;
	}
	/* Everything after setup (a signed image appends its signature). */
	bz->kernel = img + bz->setup_size;
	bz->kernel_len = len - bz->setup_size;
	return 0;
}

/* Where the kernel runs after decompressing itself (boot.rst, init_size):
 * a relocatable kernel moves up to pref_address and to its alignment. */
static uint64_t bz_runtime_start(const struct bz_setup_header *h)
{
	uint64_t start = BZ_LOAD_GPA;
	uint64_t align = h->kernel_alignment;

	if (!h->relocatable_kernel)
		return h->pref_address ? h->pref_address : start;
	if (start < h->pref_address)
		start = h->pref_address;
	if (start > UINT64_MAX - align)
		return UINT64_MAX;
	return (start + align - 1) & ~(align - 1);
}

/* Copies the kernel to BZ_LOAD_GPA; @end gets the end of everything the
 * kernel uses until it has set up its own memory management. */
static int bz_load_kernel(struct guest_mem *gm, const struct bz_image *bz,
			  uint64_t *end)
{
	uint64_t low_end = guest_mem_low_end(gm);
	uint64_t start = bz_runtime_start(&bz->hdr);
	uint8_t *dst;

	if (start > low_end || bz->hdr.init_size > low_end - start ||
	    bz->kernel_len > low_end - BZ_LOAD_GPA) {
		log_err("guest memory too small for the kernel: it needs "
			"0x%llx bytes from 0x%llx, low RAM ends at 0x%llx",
			(unsigned long long)bz->hdr.init_size,
			(unsigned long long)start, (unsigned long long)low_end);
		return -E2BIG;
	}
	dst = guest_mem_ptr(gm, BZ_LOAD_GPA, bz->kernel_len);
	if (!dst) {
		log_err("guest memory too small for a %zu-byte kernel",
			bz->kernel_len);
		return -E2BIG;
	}
	memcpy(dst, bz->kernel, bz->kernel_len);
	*end = start + bz->hdr.init_size;
	if (*end < BZ_LOAD_GPA + bz->kernel_len)
		*end = BZ_LOAD_GPA + bz->kernel_len;
	return 0;
}

static int bz_boot_params(struct guest_mem *gm, const struct bz_image *bz,
			  uint64_t initrd_gpa, size_t ilen)
{
	struct memmap_entry mm[MEMMAP_MAX];
	struct bz_boot_params *bp;
	int n = memmap_build(gm, mm);

	bp = guest_mem_ptr(gm, BOOT_INFO_GPA, sizeof(*bp));
	if (!bp) {
		log_err("guest memory too small for boot_params");
		return -E2BIG;
	}
	memset(bp, 0, sizeof(*bp));
	memcpy(&bp->hdr, &bz->hdr, bz->hdr_len);
	bp->hdr.type_of_loader = BZ_LOADER_UNDEFINED;
	bp->hdr.code32_start = (uint32_t)BZ_LOAD_GPA;
	bp->hdr.cmd_line_ptr = (uint32_t)BOOT_CMDLINE_GPA;
	bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)ilen;
	bp->ext_ramdisk_image = (uint32_t)(initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)((uint64_t)ilen >> 32);
	for (int i = 0; i < n && i < BZ_E820_MAX; i++) {
		bp->e820_table[i].addr = mm[i].addr;
		bp->e820_table[i].size = mm[i].size;
		bp->e820_table[i].type = mm[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	return 0;
}

/* PML4 -> PDPT -> 4 PDs of 2 MiB pages: identity map of [0, 4 GiB). */
static int bz_page_tables(struct guest_mem *gm)
{
	uint64_t *pt =
	    guest_mem_ptr(gm, BOOT_PGTABLE_GPA, BZ_PT_PAGES * GUEST_PAGE_SIZE);
	uint64_t *pml4, *pdpt, *pd;
	uint64_t pdpt_gpa = BOOT_PGTABLE_GPA + GUEST_PAGE_SIZE;
	uint64_t pd_gpa = pdpt_gpa + GUEST_PAGE_SIZE;

	if (!pt) {
		log_err("guest memory too small for the boot page tables");
		return -E2BIG;
	}
	memset(pt, 0, BZ_PT_PAGES * GUEST_PAGE_SIZE);
	pml4 = pt;
	pdpt = pt + BZ_PT_ENTRIES;
	pd = pt + 2 * BZ_PT_ENTRIES;
	pml4[0] = pdpt_gpa | BZ_PT_PRESENT | BZ_PT_WRITE;
	for (int i = 0; i < BZ_PT_NR_PD; i++)
		pdpt[i] = (pd_gpa + i * GUEST_PAGE_SIZE) | BZ_PT_PRESENT |
			  BZ_PT_WRITE;
	for (uint64_t i = 0; i < BZ_PT_NR_PD * BZ_PT_ENTRIES; i++)
		pd[i] = (i * BZ_HUGE_PAGE) | BZ_PT_PRESENT | BZ_PT_WRITE |
			BZ_PT_HUGE;
	return 0;
}

static int bz_gdt(struct guest_mem *gm)
{
	static const uint64_t gdt[BZ_GDT_ENTRIES] = {0, 0, BZ_GDT_CODE64,
						     BZ_GDT_DATA};
	void *dst = guest_mem_ptr(gm, BOOT_GDT_GPA, sizeof(gdt));

	if (!dst) {
		log_err("guest memory too small for the boot GDT");
		return -E2BIG;
	}
	memcpy(dst, gdt, sizeof(gdt));
	return 0;
}

int boot_bzimage_load(struct guest_mem *gm, const uint8_t *img, size_t len,
		      const uint8_t *initrd, size_t ilen, const char *cmdline,
		      struct boot_setup *out)
{
	struct bz_image bz;
	uint64_t kernel_end = 0, initrd_gpa = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = bz_parse(img, len, &bz);
	if (!ret)
		ret = bz_load_kernel(gm, &bz, &kernel_end);
	/* cmdline_size excludes the NUL. */
	if (!ret)
		ret = boot_put_cmdline(gm, cmdline,
				       (size_t)bz.hdr.cmdline_size + 1);
	if (!ret && ilen)
		ret = boot_put_initrd(gm, initrd, ilen, kernel_end,
				      (uint64_t)bz.hdr.initrd_addr_max + 1,
				      &initrd_gpa);
	if (!ret)
		ret = bz_boot_params(gm, &bz, initrd_gpa, ilen);
	if (!ret)
		ret = bz_page_tables(gm);
	if (!ret)
		ret = bz_gdt(gm);
	if (ret)
		return ret;
	out->mode = BOOT_LINUX64;
	out->entry = BZ_LOAD_GPA + BZ_ENTRY64_OFFSET;
	out->arg = BOOT_INFO_GPA;
	out->cr3 = BOOT_PGTABLE_GPA;
	out->kernel_end = kernel_end;
	return 0;
}
