# Unit tests (cmocka): tests/unit/<mod>/test_<file>.c, one binary each.
#   make unit-tests  -> build/tests/unit/<mod>/test_<file>
#   make asan-tests  -> build/asan/tests/unit/<mod>/test_<file> (ASan+UBSan)
# Run them with tests/unit/run-unit.sh build/tests (or build/asan/tests).
# A test links the module archives, so it pulls in only the objects it
# uses and may define its own fakes (log_msg, say) in place of theirs.

UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(BUILD)/%)
UNIT_ASAN_BINS := $(UNIT_SRCS:%.c=$(BUILD)/asan/%)

# migrate/ and storage/ have no archive of their own: make one for tests.
UNIT_LIBS := $(if $(MIGRATE_OBJS),$(BUILD)/tests/unit/libmigrate.a) \
	     $(if $(STORAGE_OBJS),$(BUILD)/tests/unit/libstorage.a) \
	     $(BUILD)/libcluster.a $(BUILD)/libhv.a $(BUILD)/libproto.a
UNIT_ASAN_LIBS := \
	$(if $(MIGRATE_ASAN_OBJS),$(BUILD)/asan/tests/unit/libmigrate.a) \
	$(if $(STORAGE_ASAN_OBJS),$(BUILD)/asan/tests/unit/libstorage.a) \
	$(BUILD)/asan/libcluster.a $(BUILD)/asan/libhv.a \
	$(BUILD)/asan/libproto.a
UNIT_LDLIBS := $(LDLIBS) -lcmocka

$(BUILD)/tests/unit/libmigrate.a: $(MIGRATE_OBJS)
$(BUILD)/tests/unit/libstorage.a: $(STORAGE_OBJS)
$(BUILD)/asan/tests/unit/libmigrate.a: $(MIGRATE_ASAN_OBJS)
$(BUILD)/asan/tests/unit/libstorage.a: $(STORAGE_ASAN_OBJS)
$(BUILD)/tests/unit/libmigrate.a $(BUILD)/tests/unit/libstorage.a \
$(BUILD)/asan/tests/unit/libmigrate.a $(BUILD)/asan/tests/unit/libstorage.a:
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# Static pattern rules: they apply to the listed binaries only, never to
# the objects beside them.
$(UNIT_BINS): $(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $< -Wl,--start-group $(UNIT_LIBS) -Wl,--end-group \
		$(UNIT_LDLIBS)

$(UNIT_ASAN_BINS): $(BUILD)/asan/tests/unit/%: $(BUILD)/asan/tests/unit/%.o \
		   $(UNIT_ASAN_LIBS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD-ASAN $@")
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $< -Wl,--start-group $(UNIT_ASAN_LIBS) \
		-Wl,--end-group $(UNIT_LDLIBS)

unit-tests: $(UNIT_BINS)
asan-tests: $(UNIT_ASAN_BINS)
