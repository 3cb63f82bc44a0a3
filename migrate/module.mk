# migrate: objects linked into hv (and into the unit tests that need them).
MIGRATE_SRCS := $(wildcard migrate/*.c)
MIGRATE_OBJS := $(MIGRATE_SRCS:%.c=$(BUILD)/obj/%.o)
MIGRATE_ASAN_OBJS := $(MIGRATE_SRCS:%.c=$(BUILD)/asan/%.o)

# ferry-stream-verify: checks any Ferry stream (migrate/STREAM.md).
VERIFY_SRCS := $(wildcard migrate/verify/*.c)
VERIFY_OBJS := $(VERIFY_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/ferry-stream-verify: $(VERIFY_OBJS) $(MIGRATE_OBJS) \
			      $(BUILD)/libhv.a $(BUILD)/libproto.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

ALL_TARGETS += $(BUILD)/ferry-stream-verify
