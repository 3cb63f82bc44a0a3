# Ferry: one non-recursive Makefile. Each directory adds its sources in its
# module.mk; outputs go to build/. `make V=1` shows full commands.

BUILD    := build
CC       ?= gcc
V        ?= 0
Q        := $(if $(filter 1,$(V)),,@)

WARN     := -Wall -Wextra -Werror -Wmissing-prototypes -Wformat=2 -Wshadow
CFLAGS   := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -I. -I$(BUILD) -MMD -MP
LDLIBS   := -lqb -lprotobuf-c -llz4 -lpthread

# Sanitizer build of the unit tests (make asan): same sources, own tree.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=all

all:

# Libraries before the programs that link them: prerequisites expand here.
include proto/module.mk
include migrate/module.mk
include storage/module.mk
include hv/module.mk
include cluster/module.mk
include hactl/module.mk
include tests/guest/module.mk
include tests/unit/module.mk
include tests/integration/module.mk
include tests/fuzz/module.mk

all: $(ALL_TARGETS)

# Every C object may include generated protobuf-c headers.
$(BUILD)/obj/%.o: %.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC-ASAN $<")
	$(Q)$(CC) $(CFLAGS) $(ASAN_FLAGS) -c $< -o $@

deps:
	$(Q)deploy/install-deps.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all unit-tests
	$(Q)tests/run-tests.sh $(BUILD)

asan: deps
	$(Q)$(MAKE) --no-print-directory asan-tests
	$(Q)tests/unit/run-unit.sh $(BUILD)/asan/tests

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)deploy/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

.PHONY: all deps check asan demo clean format unit-tests asan-tests
.DELETE_ON_ERROR:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
