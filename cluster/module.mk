# cluster: hacd (arrives with the HA issue).
CLUSTER_SRCS := $(wildcard cluster/*.c)
