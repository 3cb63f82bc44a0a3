/*
 * Kernel loading: puts a PVH ELF or a Linux bzImage into guest memory with
 * its boot structures and says how the boot vCPU must start. Pure memory
 * work: no KVM here, so loaders are unit-tested on plain guest_mem.
 *
 * Guest-physical layout below 1 MiB used by the loaders:
 *   BOOT_GDT_GPA        GDT for a 64-bit Linux entry
 *   BOOT_INFO_GPA       hvm_start_info (PVH) or boot_params (Linux)
 *   BOOT_MEMMAP_GPA     PVH memory map table
 *   BOOT_PGTABLE_GPA    identity page tables for a 64-bit Linux entry
 *   BOOT_CMDLINE_GPA    kernel command line (BOOT_CMDLINE_MAX bytes)
 */
#ifndef HV_BOOT_H
#define HV_BOOT_H

#include <stdint.h>
#include <stddef.h>

#include "hv/guest_mem.h"

#define BOOT_GDT_GPA 0x1000ULL
#define BOOT_INFO_GPA 0x6000ULL
#define BOOT_MEMMAP_GPA 0x6800ULL
#define BOOT_MODLIST_GPA 0x6c00ULL
#define BOOT_PGTABLE_GPA 0x9000ULL /* PML4, PDPT, 4 PDs: to 0xefff */
#define BOOT_CMDLINE_GPA 0x20000ULL
#define BOOT_CMDLINE_MAX 0x10000ULL

enum boot_mode {
	BOOT_PVH32,  /* 32-bit protected mode, paging off, ebx = start info */
	BOOT_LINUX64 /* long mode, rsi = boot_params, hv-built tables/GDT */
};

/* Ferry's own ELF note (name "Ferry"): tells hv where to start the
 * secondary vCPUs directly in long mode, since INIT/SIPI through the
 * in-kernel LAPIC does not start APs on PVM hosts. Descriptor: two
 * little-endian u64, the 64-bit AP entry and the CR3 to run it with. */
#define FERRY_NOTE_NAME "Ferry"
#define FERRY_NOTE_AP_START 1

struct boot_setup {
	enum boot_mode mode;
	uint64_t entry;	   /* boot vCPU rip */
	uint64_t arg;	   /* PVH: rbx; Linux: rsi */
	uint64_t cr3;	   /* BOOT_LINUX64 only */
	uint64_t ap_entry; /* 0: APs wait for INIT/SIPI */
	uint64_t ap_cr3;
	uint64_t kernel_end; /* highest gpa the kernel image occupies */
};

/* Detects the kernel format and loads it. Returns 0, -ENOEXEC for a file
 * that is neither PVH ELF nor bzImage (or is malformed/truncated), -E2BIG
 * when kernel, initrd or boot data do not fit in guest RAM, -EINVAL for a
 * command line too long. Logs the reason once. @initrd may be NULL. */
int boot_load(struct guest_mem *gm, const uint8_t *kernel, size_t klen,
	      const uint8_t *initrd, size_t ilen, const char *cmdline,
	      struct boot_setup *out);

int boot_pvh_load(struct guest_mem *gm, const uint8_t *elf, size_t len,
		  const uint8_t *initrd, size_t ilen, const char *cmdline,
		  struct boot_setup *out);
int boot_bzimage_load(struct guest_mem *gm, const uint8_t *img, size_t len,
		      const uint8_t *initrd, size_t ilen, const char *cmdline,
		      struct boot_setup *out);

/* Shared by the loaders (hv/boot.c). */

/* Copies @cmdline (NULL = empty) to BOOT_CMDLINE_GPA. Returns 0 or -EINVAL
 * when it is longer than @max bytes including the NUL. */
int boot_put_cmdline(struct guest_mem *gm, const char *cmdline, size_t max);
/* Copies the initrd page-aligned as high as possible in low RAM, at or
 * above @lowest and ending at or below @limit. Stores its gpa in @gpa.
 * Returns 0 or -E2BIG. */
int boot_put_initrd(struct guest_mem *gm, const uint8_t *initrd, size_t ilen,
		    uint64_t lowest, uint64_t limit, uint64_t *gpa);

/* True when @img looks like a bzImage ("HdrS" at 0x202). */
int boot_is_bzimage(const uint8_t *img, size_t len);

#endif
