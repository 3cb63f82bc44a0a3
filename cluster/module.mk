# cluster: hacd, the cluster daemon. Pure logic (state machine, sync,
# persistence, placement, hactl framing) goes into libcluster.a, which
# hactl and the unit tests link; the Corosync/libqb glue only into hacd.
CLUSTER_LIB_SRCS := cluster/state.c cluster/state_pb.c cluster/sync.c \
		    cluster/persist.c cluster/ipc_msg.c
CLUSTER_SRCS := $(wildcard cluster/*.c)
CLUSTER_LIB_OBJS := $(CLUSTER_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLUSTER_ASAN_OBJS := $(CLUSTER_LIB_SRCS:%.c=$(BUILD)/asan/%.o)
HACD_OBJS := $(filter-out $(CLUSTER_LIB_OBJS), \
	     $(CLUSTER_SRCS:%.c=$(BUILD)/obj/%.o))
COROSYNC_LIBS := -lcpg -lvotequorum -lquorum -lcmap

$(BUILD)/libcluster.a: $(CLUSTER_LIB_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/libcluster.a: $(CLUSTER_ASAN_OBJS)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# hv/control_msg.o (pure framing helper) names hv's control sockets.
$(BUILD)/hacd: $(HACD_OBJS) $(BUILD)/libcluster.a \
	       $(BUILD)/obj/hv/control_msg.o $(BUILD)/libproto.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(COROSYNC_LIBS) $(LDLIBS)

ALL_TARGETS += $(BUILD)/hacd
