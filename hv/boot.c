/*
 * Kernel format detection and the pieces both loaders share: command line
 * and initrd placement. Formats themselves live in boot_pvh.c and
 * boot_bzimage.c.
 */
#include <errno.h>
#include <string.h>

#include "hv/boot.h"
#include "hv/log.h"

int boot_load(struct guest_mem *gm, const uint8_t *kernel, size_t klen,
	      const uint8_t *initrd, size_t ilen, const char *cmdline,
	      struct boot_setup *out)
{
	static const uint8_t elf_magic[4] = { 0x7f, 'E', 'L', 'F' };

	memset(out, 0, sizeof(*out));
	if (klen >= 4 && !memcmp(kernel, elf_magic, 4))
		return boot_pvh_load(gm, kernel, klen, initrd, ilen, cmdline,
				     out);
	if (boot_is_bzimage(kernel, klen))
		return boot_bzimage_load(gm, kernel, klen, initrd, ilen,
					 cmdline, out);
	log_err("kernel is neither a PVH ELF nor a bzImage");
	return -ENOEXEC;
}

int boot_put_cmdline(struct guest_mem *gm, const char *cmdline, size_t max)
{
	size_t len = cmdline ? strlen(cmdline) + 1 : 1;
	char *dst;

	if (max > BOOT_CMDLINE_MAX)
		max = BOOT_CMDLINE_MAX;
	if (len > max) {
		log_err("kernel command line is %zu bytes, the limit is %zu",
			len - 1, max - 1);
		return -EINVAL;
	}
	dst = guest_mem_ptr(gm, BOOT_CMDLINE_GPA, len);
	if (!dst) {
		log_err("guest memory too small for the command line");
		return -E2BIG;
	}
	memcpy(dst, cmdline ? cmdline : "", len);
	return 0;
}

int boot_put_initrd(struct guest_mem *gm, const uint8_t *initrd, size_t ilen,
		    uint64_t lowest, uint64_t limit, uint64_t *gpa)
{
	uint64_t top = guest_mem_low_end(gm);
	uint64_t addr;
	void *dst;

	if (limit < top)
		top = limit;
	if (ilen > top || ((top - ilen) & ~(GUEST_PAGE_SIZE - 1)) < lowest) {
		log_err("initrd of %zu bytes does not fit in guest memory",
			ilen);
		return -E2BIG;
	}
	addr = (top - ilen) & ~(GUEST_PAGE_SIZE - 1);
	dst = guest_mem_ptr(gm, addr, ilen);
	if (!dst) {
		log_err("initrd of %zu bytes does not fit in guest memory",
			ilen);
		return -E2BIG;
	}
	memcpy(dst, initrd, ilen);
	*gpa = addr;
	return 0;
}
