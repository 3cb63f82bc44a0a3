/*
 * In-kernel irqchip, PIT and kvmclock <-> ferry.vmstate.PlatformState. The
 * chips travel as the KVM structures (proto/vmstate.proto); the clock as
 * nanoseconds, so the guest's kvmclock neither jumps nor runs backwards
 * across a save/restore.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "hv/log.h"
#include "hv/platform_state.h"
#include "proto/vmstate.pb-c.h"

struct platform_snap {
	struct kvm_irqchip chip[3]; /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

static int plat_ioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0) {
		int ret = -errno;

		log_err("%s: %m", what);
		return ret;
	}
	return 0;
}

static ProtobufCBinaryData plat_blob(void *p, size_t len)
{
	return (ProtobufCBinaryData){ len, p };
}

int platform_state_save(int vm_fd, uint8_t **buf, size_t *len)
{
	Ferry__Vmstate__PlatformState st = FERRY__VMSTATE__PLATFORM_STATE__INIT;
	struct platform_snap s;
	int ret = 0;

	memset(&s, 0, sizeof(s));
	for (int i = 0; !ret && i < 3; i++) {
		s.chip[i].chip_id = (uint32_t)i;
		ret = plat_ioctl(vm_fd, KVM_GET_IRQCHIP, &s.chip[i],
				 "KVM_GET_IRQCHIP");
	}
	ret = ret ?: plat_ioctl(vm_fd, KVM_GET_PIT2, &s.pit, "KVM_GET_PIT2");
	ret = ret ?: plat_ioctl(vm_fd, KVM_GET_CLOCK, &s.clock, "KVM_GET_CLOCK");
	if (ret)
		return ret;
	st.pic_master = plat_blob(&s.chip[0].chip.pic, sizeof(s.chip[0].chip.pic));
	st.pic_slave = plat_blob(&s.chip[1].chip.pic, sizeof(s.chip[1].chip.pic));
	st.ioapic = plat_blob(&s.chip[2].chip.ioapic, sizeof(s.chip[2].chip.ioapic));
	st.pit = plat_blob(&s.pit, sizeof(s.pit));
	st.clock_ns = s.clock.clock;
	*len = ferry__vmstate__platform_state__get_packed_size(&st);
	*buf = malloc(*len ? *len : 1);
	if (!*buf)
		return -ENOMEM;
	ferry__vmstate__platform_state__pack(&st, *buf);
	return 0;
}

static int plat_unpack(const uint8_t *buf, size_t len,
		       Ferry__Vmstate__PlatformState **out)
{
	*out = ferry__vmstate__platform_state__unpack(NULL, len, buf);
	if (!*out) {
		log_err("platform state record does not unpack");
		return -EBADMSG;
	}
	return 0;
}

int platform_state_load(int vm_fd, const uint8_t *buf, size_t len)
{
	Ferry__Vmstate__PlatformState *st;
	struct platform_snap s;
	const ProtobufCBinaryData *b[3];
	int ret = plat_unpack(buf, len, &st);

	if (ret)
		return ret;
	memset(&s, 0, sizeof(s));
	b[0] = &st->pic_master;
	b[1] = &st->pic_slave;
	b[2] = &st->ioapic;
	if (b[0]->len != sizeof(s.chip[0].chip.pic) ||
	    b[1]->len != sizeof(s.chip[1].chip.pic) ||
	    b[2]->len != sizeof(s.chip[2].chip.ioapic) ||
	    st->pit.len != sizeof(s.pit)) {
		log_err("platform state record holds wrongly sized chips");
		ret = -EBADMSG;
	}
	for (int i = 0; !ret && i < 3; i++) {
		s.chip[i].chip_id = (uint32_t)i;
		memcpy(&s.chip[i].chip, b[i]->data, b[i]->len);
		ret = plat_ioctl(vm_fd, KVM_SET_IRQCHIP, &s.chip[i],
				 "KVM_SET_IRQCHIP");
	}
	if (!ret) {
		memcpy(&s.pit, st->pit.data, sizeof(s.pit));
		ret = plat_ioctl(vm_fd, KVM_SET_PIT2, &s.pit, "KVM_SET_PIT2");
	}
	ferry__vmstate__platform_state__free_unpacked(st, NULL);
	return ret;
}

int platform_clock_load(int vm_fd, const uint8_t *buf, size_t len)
{
	Ferry__Vmstate__PlatformState *st;
	struct kvm_clock_data clock;
	int ret = plat_unpack(buf, len, &st);

	if (ret)
		return ret;
	memset(&clock, 0, sizeof(clock));
	clock.clock = st->clock_ns;
	ret = plat_ioctl(vm_fd, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
	ferry__vmstate__platform_state__free_unpacked(st, NULL);
	return ret;
}
