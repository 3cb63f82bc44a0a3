/*
 * Whole-VM state as stream records: the spec, guest memory, platform,
 * vCPUs and devices out; and a VM rebuilt from them. Used by snapshots now
 * and by migration and replication later. Owns no KVM objects itself: it
 * reaches them through struct vm and the per-part *_state.c files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "hv/cpuid.h"
#include "hv/log.h"
#include "hv/platform_state.h"
#include "hv/vm_internal.h"
#include "migrate/pages.h"
#include "migrate/stream.h"
#include "proto/vmstate.pb-c.h"

static uint8_t *vm_mem_page(void *opaque, uint64_t pfn)
{
	struct vm *vm = opaque;

	return guest_mem_ptr(&vm->mem, pfn * MIG_PAGE_SIZE, MIG_PAGE_SIZE);
}

/* memfd offset of @n pages at @pfn, which the stream layer has checked
 * are RAM in one region. */
static off_t vm_mem_offset(struct vm *vm, uint64_t pfn)
{
	uint8_t *p = guest_mem_ptr(&vm->mem, pfn * MIG_PAGE_SIZE, MIG_PAGE_SIZE);

	return p ? (off_t)(p - vm->mem.host) : -1;
}

static int vm_mem_write(void *opaque, uint64_t pfn, const uint8_t *src,
			uint32_t n)
{
	struct vm *vm = opaque;
	size_t len = (size_t)n * MIG_PAGE_SIZE, done = 0;
	off_t off = vm_mem_offset(vm, pfn);

	while (off >= 0 && done < len) {
		ssize_t k = pwrite(vm->mem.fd, src + done, len - done,
				   off + (off_t)done);

		if (k <= 0) {
			int ret = k < 0 ? -errno : -EIO;

			log_err("cannot store guest pages at pfn 0x%llx: %s",
				(unsigned long long)pfn, strerror(-ret));
			return ret;
		}
		done += (size_t)k;
	}
	return off < 0 ? -EFAULT : 0;
}

/* Dropping the pages makes them read as zero and frees them. */
static int vm_mem_zero(void *opaque, uint64_t pfn, uint32_t n)
{
	struct vm *vm = opaque;
	off_t off = vm_mem_offset(vm, pfn);

	if (off < 0)
		return -EFAULT;
	if (fallocate(vm->mem.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, (off_t)n * MIG_PAGE_SIZE) < 0) {
		int ret = -errno;

		log_err("cannot zero guest pages at pfn 0x%llx: %m",
			(unsigned long long)pfn);
		return ret;
	}
	return 0;
}

void vm_get_mig_mem(struct vm *vm, struct mig_mem *out)
{
	const struct guest_region *last = &vm->mem.region[vm->mem.nr_regions - 1];

	*out = (struct mig_mem){ vm, vm_mem_page,
				 (last->gpa + last->size) / MIG_PAGE_SIZE,
				 vm_mem_write, vm_mem_zero };
}

int vm_save_spec(struct vm *vm, struct mig_writer *w)
{
	Ferry__Vmstate__VmSpec sp = FERRY__VMSTATE__VM_SPEC__INIT;
	Ferry__Vmstate__CpuidEntry ent[CPUID_MAX_ENTRIES], *entp[CPUID_MAX_ENTRIES];
	char *devs[VM_MAX_DEVICES];
	uint8_t *buf;
	size_t len;
	int ret;

	sp.mem_size = vm->mem.size;
	sp.nr_vcpus = vm->nr_vcpus;
	sp.name = vm->name;
	sp.cmdline = vm->cmdline;
	sp.kernel = vm->kernel_path;
	for (uint32_t i = 0; i < vm->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vm->cpuid->entries[i];

		ferry__vmstate__cpuid_entry__init(&ent[i]);
		ent[i].function = e->function; ent[i].index = e->index;
		ent[i].flags = e->flags; ent[i].eax = e->eax;
		ent[i].ebx = e->ebx; ent[i].ecx = e->ecx; ent[i].edx = e->edx;
		entp[i] = &ent[i];
	}
	sp.n_cpuid = vm->cpuid->nent;
	sp.cpuid = entp;
	for (unsigned int i = 0; i < vm->nr_devices; i++)
		devs[i] = (char *)vm->devices[i].name;
	sp.n_devices = vm->nr_devices;
	sp.devices = devs;
	len = ferry__vmstate__vm_spec__get_packed_size(&sp);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	ferry__vmstate__vm_spec__pack(&sp, buf);
	ret = mig_write_record(w, MIG_REC_SPEC, buf, len);
	free(buf);
	return ret;
}

/* Walks the memfd's data extents (SEEK_DATA/SEEK_HOLE): never-touched guest
 * memory is a hole, reads as zero and costs nothing to skip. */
int vm_for_each_populated(struct vm *vm,
			  int (*fn)(void *arg, uint64_t first_pfn, uint64_t n),
			  void *arg)
{
	int ret = 0;

	for (unsigned int i = 0; !ret && i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.region[i];
		off_t off = (off_t)r->offset, end = (off_t)(r->offset + r->size);

		while (!ret && off < end) {
			off_t data = lseek(vm->mem.fd, off, SEEK_DATA), hole;

			if (data < 0 || data >= end)
				break;
			hole = lseek(vm->mem.fd, data, SEEK_HOLE);
			if (hole < 0 || hole > end)
				hole = end;
			data &= ~(off_t)(MIG_PAGE_SIZE - 1);
			ret = fn(arg, (r->gpa + (uint64_t)(data - (off_t)r->offset)) /
					      MIG_PAGE_SIZE,
				 (uint64_t)(hole - data + MIG_PAGE_SIZE - 1) /
					 MIG_PAGE_SIZE);
			off = hole;
		}
	}
	return ret;
}

struct vm_save_mem {
	struct mig_writer *w;
	struct mig_mem mem;
	struct vm_save_stats *st;
};

/* One populated stretch, in batches. */
static int vm_save_stretch(void *arg, uint64_t first, uint64_t n)
{
	struct vm_save_mem *sm = arg;
	uint64_t pfns[MIG_BATCH_MAX_PAGES];
	int ret = 0;

	while (!ret && n) {
		unsigned int k = n < MIG_BATCH_MAX_PAGES ? (unsigned int)n
							  : MIG_BATCH_MAX_PAGES;

		for (unsigned int i = 0; i < k; i++)
			pfns[i] = first + i;
		ret = mig_pages_write(sm->w, &sm->mem, pfns, k,
				      MIG_COMPRESS_NONE);
		first += k;
		n -= k;
		sm->st->pages += k;
	}
	return ret;
}

int vm_save_memory(struct vm *vm, struct mig_writer *w,
		   struct vm_save_stats *st)
{
	struct vm_save_mem sm = { .w = w, .st = st };
	int ret;

	memset(st, 0, sizeof(*st));
	vm_get_mig_mem(vm, &sm.mem);
	ret = vm_for_each_populated(vm, vm_save_stretch, &sm);
	st->bytes = mig_writer_bytes(w);
	return ret;
}

typedef int (*vm_save_fn)(void *opaque, uint8_t **buf, size_t *len);

static int vm_save_one(struct mig_writer *w, uint32_t type, vm_save_fn fn,
		       void *opaque)
{
	uint8_t *buf;
	size_t len;
	int ret = fn(opaque, &buf, &len);

	if (ret)
		return ret;
	ret = mig_write_record(w, type, buf, len);
	free(buf);
	return ret;
}

static int vm_platform_save(void *opaque, uint8_t **buf, size_t *len)
{
	return platform_state_save(((struct vm *)opaque)->vm_fd, buf, len);
}

static int vm_vcpu_save(void *opaque, uint8_t **buf, size_t *len)
{
	struct vm_vcpu *v = opaque;
	struct vm *vm = v->vm;

	return vcpu_state_save(v->fd, v->id, vm->msrs, (unsigned int)vm->nr_msrs,
			       buf, len);
}

static int vm_device_save(void *opaque, uint8_t **buf, size_t *len)
{
	Ferry__Vmstate__DeviceState ds = FERRY__VMSTATE__DEVICE_STATE__INIT;
	struct vm_device *d = opaque;
	uint8_t *body;
	size_t blen;
	int ret = d->save(d->opaque, &body, &blen);

	if (ret)
		return ret;
	ds.name = (char *)d->name;
	ds.state = (ProtobufCBinaryData){ blen, body };
	*len = ferry__vmstate__device_state__get_packed_size(&ds);
	*buf = malloc(*len ? *len : 1);
	if (*buf)
		ferry__vmstate__device_state__pack(&ds, *buf);
	free(body);
	return *buf ? 0 : -ENOMEM;
}

int vm_save_state(struct vm *vm, struct mig_writer *w)
{
	int ret = 0;

	if (vm->nr_msrs == 0)
		vm->nr_msrs = vcpu_state_msr_list(vm->kvm_fd, vm->vcpus[0].fd,
						  vm->msrs);
	if (vm->nr_msrs < 0)
		return vm->nr_msrs;
	ret = vm_save_one(w, MIG_REC_PLATFORM, vm_platform_save, vm);
	for (unsigned int i = 0; !ret && i < vm->nr_vcpus; i++)
		ret = vm_save_one(w, MIG_REC_VCPU, vm_vcpu_save, &vm->vcpus[i]);
	for (unsigned int i = 0; !ret && i < vm->nr_devices; i++)
		ret = vm_save_one(w, MIG_REC_DEVICE, vm_device_save,
				  &vm->devices[i]);
	return ret;
}

/* What a stream has delivered so far; END is accepted only when whole. */
struct vm_loader {
	struct vm *vm;
	struct mig_mem mem;
	uint8_t *platform; /* kept for the clock, which goes in last */
	size_t platform_len;
	unsigned int vcpus_loaded;
	bool vcpu_seen[256];
	bool dev_seen[VM_MAX_DEVICES];
	int keep_host_tsc;
};

static int vm_spec_check(const Ferry__Vmstate__VmSpec *sp,
			 const struct vm_config *cfg)
{
	if (sp->mem_size == 0 || sp->nr_vcpus == 0 || sp->nr_vcpus > 255 ||
	    sp->n_cpuid == 0 || sp->n_cpuid > CPUID_MAX_ENTRIES) {
		log_err("stream spec is malformed (memory %llu, %u vCPUs, "
			"%zu CPUID entries)", (unsigned long long)sp->mem_size,
			sp->nr_vcpus, sp->n_cpuid);
		return -EBADMSG;
	}
	if (cfg->mem_size && cfg->mem_size != sp->mem_size) {
		log_err("spec mismatch: the stream holds a %llu MiB guest, "
			"--mem asks for %llu MiB",
			(unsigned long long)(sp->mem_size >> 20),
			(unsigned long long)(cfg->mem_size >> 20));
		return -EINVAL;
	}
	if (cfg->nr_vcpus && cfg->nr_vcpus != sp->nr_vcpus) {
		log_err("spec mismatch: the stream holds %u vCPUs, --cpus asks "
			"for %u", sp->nr_vcpus, cfg->nr_vcpus);
		return -EINVAL;
	}
	return 0;
}

static struct kvm_cpuid2 *vm_spec_cpuid(const Ferry__Vmstate__VmSpec *sp)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + sp->n_cpuid *
					       sizeof(c->entries[0]));

	if (!c)
		return NULL;
	c->nent = (uint32_t)sp->n_cpuid;
	for (size_t i = 0; i < sp->n_cpuid; i++) {
		const Ferry__Vmstate__CpuidEntry *e = sp->cpuid[i];

		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e->function, .index = e->index,
			.flags = e->flags, .eax = e->eax, .ebx = e->ebx,
			.ecx = e->ecx, .edx = e->edx };
	}
	return c;
}

int vm_create_from_spec(const struct vm_config *cfg,
			const struct mig_record *rec, struct vm **out)
{
	Ferry__Vmstate__VmSpec *sp;
	struct kvm_cpuid2 *cpuid = NULL;
	struct vm_config c = *cfg;
	int ret;

	sp = ferry__vmstate__vm_spec__unpack(NULL, rec->len, rec->body);
	if (!sp) {
		log_err("stream spec record does not unpack");
		return -EBADMSG;
	}
	ret = vm_spec_check(sp, cfg);
	if (!ret && !(cpuid = vm_spec_cpuid(sp)))
		ret = -ENOMEM;
	if (!ret) {
		c.kernel = NULL;
		c.initrd = NULL;
		c.mem_size = sp->mem_size;
		c.nr_vcpus = sp->nr_vcpus;
		c.cmdline = sp->cmdline;
		c.name = cfg->name ? cfg->name : sp->name;
		ret = vm_build(&c, cpuid, out);
	}
	free(cpuid);
	ferry__vmstate__vm_spec__free_unpacked(sp, NULL);
	return ret;
}

static int vm_load_vcpu(struct vm_loader *ld, const struct mig_record *rec)
{
	struct vcpu_kvm_state *k = malloc(sizeof(*k));
	int ret = k ? vcpu_state_unpack(rec->body, rec->len, k) : -ENOMEM;

	if (!ret && (k->id >= ld->vm->nr_vcpus ||
		     ld->vcpu_seen[k->id])) {
		log_err("vcpu record for vcpu %u is unexpected", k->id);
		ret = -EBADMSG;
	}
	if (!ret) {
		ld->vcpu_seen[k->id] = true;
		ld->vcpus_loaded++;
		ret = vcpu_state_put(ld->vm->vcpus[k->id].fd, k,
				     ld->keep_host_tsc);
	}
	free(k);
	return ret;
}

static int vm_load_device(struct vm_loader *ld, const struct mig_record *rec)
{
	Ferry__Vmstate__DeviceState *ds;
	int ret = -EBADMSG;

	ds = ferry__vmstate__device_state__unpack(NULL, rec->len, rec->body);
	if (!ds) {
		log_err("device record at offset %llu does not unpack",
			(unsigned long long)rec->offset);
		return -EBADMSG;
	}
	for (unsigned int i = 0; i < ld->vm->nr_devices; i++) {
		struct vm_device *d = &ld->vm->devices[i];

		if (!strcmp(d->name, ds->name) && !ld->dev_seen[i]) {
			ret = d->restore(d->opaque, ds->state.data,
					 ds->state.len);
			ld->dev_seen[i] = !ret;
		}
	}
	if (ret == -EBADMSG)
		log_err("device record for '%s': no such device here (give "
			"the same --disk/--net options as the source), a second "
			"record for it, or a malformed one", ds->name);
	ferry__vmstate__device_state__free_unpacked(ds, NULL);
	return ret;
}

static int vm_load_platform(struct vm_loader *ld, const struct mig_record *rec)
{
	if (ld->platform) {
		log_err("second platform record at offset %llu",
			(unsigned long long)rec->offset);
		return -EBADMSG;
	}
	ld->platform = malloc(rec->len ? rec->len : 1);
	if (!ld->platform)
		return -ENOMEM;
	memcpy(ld->platform, rec->body, rec->len);
	ld->platform_len = rec->len;
	return platform_state_load(ld->vm->vm_fd, rec->body, rec->len);
}

static int vm_load_end(struct vm_loader *ld)
{
	for (unsigned int i = 0; i < ld->vm->nr_devices; i++) {
		if (!ld->dev_seen[i]) {
			log_err("stream ended without the state of device %s",
				ld->vm->devices[i].name);
			return -EBADMSG;
		}
	}
	if (!ld->platform || ld->vcpus_loaded != ld->vm->nr_vcpus) {
		log_err("stream ended without the whole VM state (platform %s, "
			"%u of %u vCPUs)", ld->platform ? "present" : "missing",
			ld->vcpus_loaded, ld->vm->nr_vcpus);
		return -EBADMSG;
	}
	return platform_clock_load(ld->vm->vm_fd, ld->platform,
				   ld->platform_len);
}

int vm_loader_record(struct vm_loader *ld, const struct mig_record *rec)
{
	switch (rec->type) {
	case MIG_REC_PAGES:
	case MIG_REC_ZERO_BITMAP:
		return mig_pages_apply(rec, &ld->mem);
	case MIG_REC_VCPU:
		return vm_load_vcpu(ld, rec);
	case MIG_REC_PLATFORM:
		return vm_load_platform(ld, rec);
	case MIG_REC_DEVICE:
		return vm_load_device(ld, rec);
	case MIG_REC_END:
		return vm_load_end(ld) ?: 1;
	default:
		if (rec->type & MIG_REC_OPTIONAL)
			return 0;
		log_err("unknown mandatory record type %u (%s) at offset %llu",
			rec->type, mig_rec_type_name(rec->type),
			(unsigned long long)rec->offset);
		return -EPROTO;
	}
}

int vm_loader_create(struct vm *vm, struct vm_loader **out)
{
	struct vm_loader *ld = calloc(1, sizeof(*ld));

	if (!ld)
		return -ENOMEM;
	ld->vm = vm;
	vm_get_mig_mem(vm, &ld->mem);
	ld->keep_host_tsc = vcpu_state_host_tsc_native();
	*out = ld;
	return 0;
}

void vm_loader_destroy(struct vm_loader *ld)
{
	if (!ld)
		return;
	free(ld->platform);
	free(ld);
}

static int vm_load_records(struct vm *vm, struct mig_reader *r)
{
	struct vm_loader *ld;
	struct mig_record rec;
	int ret = vm_loader_create(vm, &ld);

	while (ret == 0) {
		ret = mig_read_record(r, &rec);
		if (ret == -ENODATA) {
			log_err("stream ended without an END record");
			ret = -EPIPE;
		}
		if (!ret)
			ret = vm_loader_record(ld, &rec);
	}
	vm_loader_destroy(ld);
	return ret < 0 ? ret : 0;
}

int vm_create_from_stream(const struct vm_config *cfg, struct mig_reader *r,
			  struct vm **out)
{
	struct mig_record rec;
	struct vm *vm = NULL;
	int ret = mig_read_record(r, &rec);

	if (ret == -ENODATA)
		ret = -EPIPE;
	if (!ret && rec.type != MIG_REC_SPEC) {
		log_err("stream does not start with a spec record (found %s)",
			mig_rec_type_name(rec.type));
		ret = -EBADMSG;
	}
	if (!ret)
		ret = vm_create_from_spec(cfg, &rec, &vm);
	if (!ret)
		ret = vm_load_records(vm, r);
	if (ret) {
		vm_destroy(vm);
		return ret;
	}
	*out = vm;
	return 0;
}
