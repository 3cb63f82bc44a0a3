/*
 * PVH ELF loader: copies PT_LOAD segments to their physical addresses, finds
 * the XEN_ELFNOTE_PHYS32_ENTRY note (and Ferry's AP-start note), and builds
 * hvm_start_info with the command line, memory map and initrd module.
 * Every offset and size read from the file is checked before use.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "hv/boot.h"
#include "hv/log.h"
#include "hv/memmap.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info ABI");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap ABI");

/* Boot structures hv owns below 1 MiB; a segment must not land on them. */
#define PVH_RESERVED_START BOOT_GDT_GPA
#define PVH_RESERVED_END (BOOT_CMDLINE_GPA + BOOT_CMDLINE_MAX)

/* Headers are copied out of the file: offsets in it need not be aligned. */
static int pvh_check_ehdr(const uint8_t *elf, size_t len, Elf64_Ehdr *eh)
{
	if (len < sizeof(*eh)) {
		log_err("kernel ELF is truncated (%zu bytes)", len);
		return -ENOEXEC;
	}
	memcpy(eh, elf, sizeof(*eh));
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG)) {
		log_err("kernel is not an ELF file (bad magic)");
		return -ENOEXEC;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64) {
		log_err("kernel ELF is not a little-endian x86-64 ELF64");
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phoff > len ||
	    (len - eh->e_phoff) / sizeof(Elf64_Phdr) < eh->e_phnum) {
		log_err("kernel ELF program headers are missing or truncated");
		return -ENOEXEC;
	}
	return 0;
}

static int pvh_load_segment(struct guest_mem *gm, const uint8_t *elf,
			    size_t len, const Elf64_Phdr *ph, uint64_t *end)
{
	uint8_t *dst;

	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset ||
	    ph->p_filesz > ph->p_memsz) {
		log_err("kernel ELF segment at 0x%llx is truncated or malformed",
			(unsigned long long)ph->p_paddr);
		return -ENOEXEC;
	}
	if (ph->p_paddr < PVH_RESERVED_END &&
	    ph->p_paddr + ph->p_memsz > PVH_RESERVED_START) {
		log_err("kernel ELF segment at 0x%llx overlaps hv's boot area",
			(unsigned long long)ph->p_paddr);
		return -ENOEXEC;
	}
	dst = guest_mem_ptr(gm, ph->p_paddr, ph->p_memsz);
	if (!dst || ph->p_paddr + ph->p_memsz < ph->p_paddr) {
		log_err("guest memory too small for the kernel (segment "
			"0x%llx+0x%llx)", (unsigned long long)ph->p_paddr,
			(unsigned long long)ph->p_memsz);
		return -E2BIG;
	}
	memcpy(dst, elf + ph->p_offset, ph->p_filesz);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	if (ph->p_paddr + ph->p_memsz > *end)
		*end = ph->p_paddr + ph->p_memsz;
	return 0;
}

static void pvh_note(const char *name, uint32_t namesz, uint32_t type,
		     const uint8_t *desc, uint32_t descsz,
		     struct boot_setup *out)
{
	uint32_t v32;
	uint64_t v64[2];

	if (namesz == 4 && !memcmp(name, "Xen", 4) &&
	    type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
		memcpy(&v32, desc, 4);
		out->entry = v32;
	} else if (namesz == sizeof(FERRY_NOTE_NAME) &&
		   !memcmp(name, FERRY_NOTE_NAME, namesz) &&
		   type == FERRY_NOTE_AP_START && descsz >= 16) {
		memcpy(v64, desc, 16);
		out->ap_entry = v64[0];
		out->ap_cr3 = v64[1];
	}
}

/* Walks one PT_NOTE segment; malformed notes end the walk (-ENOEXEC). */
static int pvh_scan_notes(const uint8_t *elf, size_t len, const Elf64_Phdr *ph,
			  struct boot_setup *out)
{
	uint64_t off, end;

	if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset) {
		log_err("kernel ELF note segment is truncated");
		return -ENOEXEC;
	}
	off = ph->p_offset;
	end = ph->p_offset + ph->p_filesz;
	while (end - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nhdr, *nh = &nhdr;
		uint64_t name_len, desc_len;

		memcpy(nh, elf + off, sizeof(*nh));
		name_len = (nh->n_namesz + 3ULL) & ~3ULL;
		desc_len = (nh->n_descsz + 3ULL) & ~3ULL;
		off += sizeof(*nh);
		if (name_len > end - off || desc_len > end - off - name_len) {
			log_err("kernel ELF note is truncated");
			return -ENOEXEC;
		}
		pvh_note((const char *)elf + off, nh->n_namesz, nh->n_type,
			 elf + off + name_len, nh->n_descsz, out);
		off += name_len + desc_len;
	}
	return 0;
}

static int pvh_start_info(struct guest_mem *gm, uint64_t initrd_gpa,
			  size_t ilen)
{
	struct memmap_entry mm[MEMMAP_MAX];
	struct hvm_start_info *si;
	struct hvm_memmap_table_entry *te;
	struct hvm_modlist_entry *mod;
	int n = memmap_build(gm, mm);

	si = guest_mem_ptr(gm, BOOT_INFO_GPA, sizeof(*si));
	te = guest_mem_ptr(gm, BOOT_MEMMAP_GPA, sizeof(*te) * MEMMAP_MAX);
	mod = guest_mem_ptr(gm, BOOT_MODLIST_GPA, sizeof(*mod));
	if (!si || !te || !mod) {
		log_err("guest memory too small for the PVH start info");
		return -E2BIG;
	}
	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = BOOT_CMDLINE_GPA;
	si->memmap_paddr = BOOT_MEMMAP_GPA;
	si->memmap_entries = (uint32_t)n;
	for (int i = 0; i < n; i++)
		te[i] = (struct hvm_memmap_table_entry){ mm[i].addr, mm[i].size,
							 mm[i].type, 0 };
	if (ilen) {
		*mod = (struct hvm_modlist_entry){ initrd_gpa, ilen, 0, 0 };
		si->nr_modules = 1;
		si->modlist_paddr = BOOT_MODLIST_GPA;
	}
	return 0;
}

int boot_pvh_load(struct guest_mem *gm, const uint8_t *elf, size_t len,
		  const uint8_t *initrd, size_t ilen, const char *cmdline,
		  struct boot_setup *out)
{
	Elf64_Ehdr eh;
	Elf64_Phdr phdr, *ph = &phdr;
	uint64_t initrd_gpa = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = pvh_check_ehdr(elf, len, &eh);
	for (unsigned int i = 0; !ret && i < eh.e_phnum; i++) {
		memcpy(ph, elf + eh.e_phoff + i * sizeof(*ph), sizeof(*ph));

		if (ph->p_type == PT_LOAD)
			ret = pvh_load_segment(gm, elf, len, ph,
					       &out->kernel_end);
		else if (ph->p_type == PT_NOTE)
			ret = pvh_scan_notes(elf, len, ph, out);
	}
	if (ret)
		return ret;
	if (!out->entry) {
		log_err("kernel ELF has no PVH entry note "
			"(XEN_ELFNOTE_PHYS32_ENTRY)");
		return -ENOEXEC;
	}
	ret = boot_put_cmdline(gm, cmdline, BOOT_CMDLINE_MAX);
	if (!ret && ilen)
		ret = boot_put_initrd(gm, initrd, ilen, out->kernel_end,
				      GUEST_PCI_HOLE_START, &initrd_gpa);
	if (!ret)
		ret = pvh_start_info(gm, initrd_gpa, ilen);
	out->mode = BOOT_PVH32;
	out->arg = BOOT_INFO_GPA;
	return ret;
}
