# Every wire and file format, compiled by protoc-c into build/proto/.
PROTO_SRCS := $(wildcard proto/*.proto)
PROTO_GEN_C := $(PROTO_SRCS:%.proto=$(BUILD)/%.pb-c.c)
PROTO_HDRS := $(PROTO_SRCS:%.proto=$(BUILD)/%.pb-c.h)
PROTO_OBJS := $(PROTO_GEN_C:%.c=%.o)
PROTO_ASAN_OBJS := $(PROTO_GEN_C:$(BUILD)/%.c=$(BUILD)/asan/gen/%.o)

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)
	@$(if $(Q),echo "  PROTOC  $<")
	$(Q)protoc-c --c_out=$(BUILD) $<

# Generated code is not ours: no -Werror on warnings we cannot fix.
$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(PROTO_HDRS)
	$(Q)$(CC) -std=gnu11 -O2 -g -I$(BUILD) -c $< -o $@

$(BUILD)/asan/gen/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g -I$(BUILD) $(ASAN_FLAGS) -c $< -o $@

$(BUILD)/libproto.a: $(PROTO_OBJS)
	$(Q)ar rcs $@ $^

$(BUILD)/asan/libproto.a: $(PROTO_ASAN_OBJS)
	@mkdir -p $(@D)
	$(Q)ar rcs $@ $^
.SECONDARY: $(PROTO_GEN_C) $(PROTO_HDRS)
