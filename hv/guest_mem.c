/*
 * Guest RAM as one memfd mapped once. Low RAM sits below the PCI hole at
 * 3 GiB; anything beyond continues at 4 GiB. The memfd lets snapshot
 * restore and migration map or splice pages without copying.
 */
#include <errno.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "hv/guest_mem.h"
#include "hv/log.h"

static void guest_mem_layout(struct guest_mem *gm, uint64_t size)
{
	uint64_t low = size < GUEST_PCI_HOLE_START ? size : GUEST_PCI_HOLE_START;

	gm->region[0] = (struct guest_region){ 0, low, 0 };
	gm->nr_regions = 1;
	if (size > low) {
		gm->region[1] = (struct guest_region){ GUEST_HIGH_START,
						       size - low, low };
		gm->nr_regions = 2;
	}
}

/* The mapping is sparse, so an oversized guest would only fail later when
 * the host runs out; refuse it up front instead. */
static int guest_mem_check_host(uint64_t size)
{
	struct sysinfo si;
	uint64_t host;

	if (sysinfo(&si) < 0)
		return 0;
	host = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
	if (size > host) {
		log_err("guest memory of %llu MiB is more than this host has "
			"(%llu MiB)", (unsigned long long)(size >> 20),
			(unsigned long long)(host >> 20));
		return -ENOMEM;
	}
	return 0;
}

int guest_mem_init(struct guest_mem *gm, uint64_t size)
{
	int ret;

	gm->fd = -1;
	gm->host = NULL;
	gm->size = 0;
	if (size < GUEST_MEM_MIN || size % GUEST_PAGE_SIZE) {
		log_err("guest memory size %llu is not a multiple of 4 KiB of "
			"at least 2 MiB", (unsigned long long)size);
		return -EINVAL;
	}
	ret = guest_mem_check_host(size);
	if (ret)
		return ret;
	gm->fd = memfd_create("ferry-guest-ram", MFD_CLOEXEC);
	if (gm->fd < 0) {
		ret = -errno;
		log_err("memfd_create: %m");
		return ret;
	}
	if (ftruncate(gm->fd, (off_t)size) < 0) {
		ret = -errno;
		log_err("cannot size guest memory to %llu bytes: %m",
			(unsigned long long)size);
		goto err_close;
	}
	/* MAP_NORESERVE: untouched guest pages cost the host nothing. */
	gm->host = mmap(NULL, size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_NORESERVE, gm->fd, 0);
	if (gm->host == MAP_FAILED) {
		ret = -ENOMEM;
		gm->host = NULL;
		log_err("cannot map %llu bytes of guest memory: %m",
			(unsigned long long)size);
		goto err_close;
	}
	/* Huge pages where the host allows them for shmem (shmem_enabled =
	 * advise): a fault per 2 MiB instead of per 4 KiB makes touching and
	 * restoring large guests much cheaper. Harmless where disabled. */
	madvise(gm->host, size, MADV_HUGEPAGE);
	gm->size = size;
	guest_mem_layout(gm, size);
	return 0;

err_close:
	close(gm->fd);
	gm->fd = -1;
	return ret;
}

void guest_mem_fini(struct guest_mem *gm)
{
	if (gm->host)
		munmap(gm->host, gm->size);
	if (gm->fd >= 0)
		close(gm->fd);
	gm->host = NULL;
	gm->fd = -1;
}

void *guest_mem_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < gm->nr_regions; i++) {
		const struct guest_region *r = &gm->region[i];

		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return gm->host + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_mem_low_end(const struct guest_mem *gm)
{
	return gm->region[0].size;
}
