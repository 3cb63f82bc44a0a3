# migrate: objects linked into hv (and into the unit tests that need them).
MIGRATE_SRCS := $(wildcard migrate/*.c)
MIGRATE_OBJS := $(MIGRATE_SRCS:%.c=$(BUILD)/obj/%.o)
MIGRATE_ASAN_OBJS := $(MIGRATE_SRCS:%.c=$(BUILD)/asan/%.o)
