# hv: the VMM. Everything but main.c goes into libhv.a so unit tests can link
# single pieces of it.
HV_SRCS := $(filter-out hv/main.c,$(wildcard hv/*.c))
HV_OBJS := $(HV_SRCS:%.c=$(BUILD)/obj/%.o)
HV_ASAN_OBJS := $(HV_SRCS:%.c=$(BUILD)/asan/%.o)

$(BUILD)/libhv.a: $(HV_OBJS)
	@mkdir -p $(@D)
	$(Q)ar rcs $@ $^

$(BUILD)/asan/libhv.a: $(HV_ASAN_OBJS)
	@mkdir -p $(@D)
	$(Q)ar rcs $@ $^

$(BUILD)/hv: $(BUILD)/obj/hv/main.o $(BUILD)/libhv.a $(MIGRATE_OBJS) \
	     $(STORAGE_OBJS) $(BUILD)/libproto.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

ALL_TARGETS += $(BUILD)/hv
