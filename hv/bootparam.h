/*
 * Private to hv/boot_bzimage.c and its unit test: the parts of Linux's
 * x86 boot ABI (Documentation/arch/x86/boot.rst, zero-page.rst) that the
 * bzImage loader reads and writes. Layouts are fixed by the kernel; the
 * _Static_asserts pin every offset we use. Nothing outside the loader
 * (and its test) may include this.
 */
#ifndef HV_BOOTPARAM_H
#define HV_BOOTPARAM_H

#include <stddef.h>
#include <stdint.h>

#define BZ_HDR_OFFSET 0x1f1   /* setup header within image and zero page */
#define BZ_MAGIC_OFFSET 0x202 /* "HdrS" */
#define BZ_MAGIC "HdrS"
#define BZ_PROTO_MIN 0x020c	 /* 2.12: xloadflags, 64-bit entry */
#define BZ_DEFAULT_SETUP_SECTS 4 /* setup_sects == 0 means 4 */
#define BZ_SECTOR 512
#define BZ_SYSSIZE_UNIT 16	 /* syssize counts 16-byte paragraphs */
#define BZ_ENTRY64_OFFSET 0x200	 /* startup_64 within the kernel */
#define BZ_LOADER_UNDEFINED 0xff /* type_of_loader: "none of the above" */

#define BZ_LOADED_HIGH 0x01   /* loadflags: protected mode at 1 MiB+ */
#define BZ_XLF_KERNEL_64 0x01 /* xloadflags: has the 64-bit entry */

#define BZ_E820_MAX 128

struct bz_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

/* Offsets are relative to the zero page, hence the + BZ_HDR_OFFSET. */
#define BZ_HDR_AT(field, off)                                                  \
	_Static_assert(                                                        \
	    offsetof(struct bz_setup_header, field) + BZ_HDR_OFFSET == (off),  \
	    #field " offset")
BZ_HDR_AT(syssize, 0x1f4);
BZ_HDR_AT(boot_flag, 0x1fe);
BZ_HDR_AT(header, 0x202);
BZ_HDR_AT(version, 0x206);
BZ_HDR_AT(type_of_loader, 0x210);
BZ_HDR_AT(loadflags, 0x211);
BZ_HDR_AT(code32_start, 0x214);
BZ_HDR_AT(ramdisk_image, 0x218);
BZ_HDR_AT(ramdisk_size, 0x21c);
BZ_HDR_AT(cmd_line_ptr, 0x228);
BZ_HDR_AT(initrd_addr_max, 0x22c);
BZ_HDR_AT(kernel_alignment, 0x230);
BZ_HDR_AT(relocatable_kernel, 0x234);
BZ_HDR_AT(xloadflags, 0x236);
BZ_HDR_AT(cmdline_size, 0x238);
BZ_HDR_AT(pref_address, 0x258);
BZ_HDR_AT(init_size, 0x260);
BZ_HDR_AT(kernel_info_offset, 0x268);
_Static_assert(sizeof(struct bz_setup_header) + BZ_HDR_OFFSET == 0x26c,
	       "setup header end");

/* The smallest header a 2.12 kernel has: up to handover_offset. */
#define BZ_HDR_END_MIN 0x268

struct bz_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct bz_e820_entry) == 20, "e820 entry ABI");

/* struct boot_params ("zero page"), only the fields hv fills named. */
struct bz_boot_params {
	uint8_t _pad0[0xc0];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t _pad1[0x1e8 - 0xcc];
	uint8_t e820_entries;
	uint8_t _pad2[BZ_HDR_OFFSET - 0x1e9];
	struct bz_setup_header hdr;
	uint8_t _pad3[0x2d0 - 0x26c];
	struct bz_e820_entry e820_table[BZ_E820_MAX];
	uint8_t _pad4[0x1000 - 0xcd0];
} __attribute__((packed));

_Static_assert(offsetof(struct bz_boot_params, ext_ramdisk_image) == 0xc0,
	       "ext_ramdisk_image offset");
_Static_assert(offsetof(struct bz_boot_params, ext_cmd_line_ptr) == 0xc8,
	       "ext_cmd_line_ptr offset");
_Static_assert(offsetof(struct bz_boot_params, e820_entries) == 0x1e8,
	       "e820_entries offset");
_Static_assert(offsetof(struct bz_boot_params, hdr) == BZ_HDR_OFFSET,
	       "hdr offset");
_Static_assert(offsetof(struct bz_boot_params, e820_table) == 0x2d0,
	       "e820_table offset");
_Static_assert(sizeof(struct bz_boot_params) == 0x1000, "zero page size");

#endif
