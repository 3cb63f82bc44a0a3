# hactl: the cluster CLI; one file per subcommand. Links libcluster.a for
# the hacd framing and state names, hv/log.c for stderr logging, hv/json.c
# for JSON strings.
HACTL_SRCS := $(wildcard hactl/*.c)
HACTL_OBJS := $(HACTL_SRCS:%.c=$(BUILD)/obj/%.o)

$(BUILD)/hactl: $(HACTL_OBJS) $(BUILD)/libcluster.a $(BUILD)/obj/hv/log.o \
		$(BUILD)/obj/hv/json.o \
		$(BUILD)/libproto.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS) -lm

ALL_TARGETS += $(BUILD)/hactl
