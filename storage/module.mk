# storage: objects linked into hv (and into the unit tests that need them).
STORAGE_SRCS := $(wildcard storage/*.c)
STORAGE_OBJS := $(STORAGE_SRCS:%.c=$(BUILD)/obj/%.o)
STORAGE_ASAN_OBJS := $(STORAGE_SRCS:%.c=$(BUILD)/asan/%.o)

# The file backend does its I/O through io_uring (storage/blk.h says why).
LDLIBS += -luring
