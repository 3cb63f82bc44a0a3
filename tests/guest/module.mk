# tests/guest: the probe guest, a freestanding x86-64 PVH ELF loaded at
# 1 MiB (build/probe.elf). Own flags and object tree: nothing here links
# with the host code.
GUEST_SRCS := $(wildcard tests/guest/*.c) $(wildcard tests/guest/*.S)
GUEST_OBJS := $(patsubst tests/guest/%,$(BUILD)/guest/%.o,$(GUEST_SRCS))
GUEST_CFLAGS := -std=gnu11 -O2 -g $(WARN) -ffreestanding -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
	-Itests/guest -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,tests/guest/probe.ld \
	-Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,--no-warn-rwx-segments

$(BUILD)/guest/%.c.o: tests/guest/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.S.o: tests/guest/%.S
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/probe.elf: $(GUEST_OBJS) tests/guest/probe.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS)

ALL_TARGETS += $(BUILD)/probe.elf
