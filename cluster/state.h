/*
 * The replicated cluster state: VM definitions, the node table, placement
 * and each VM's desired and observed state. A deterministic state machine:
 * every hacd applies the same CPG messages in the same order to its own
 * copy, so the copies stay equal. Pure logic on memory: no Corosync, no
 * IPC, no processes, no clock; callable from any single thread. Decisions
 * (placement, failover) are logged with their reason through hv/log.h.
 */
#ifndef CLUSTER_STATE_H
#define CLUSTER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/cluster.pb-c.h"

#define CL_MAX_NODES 32
#define CL_MAX_VMS 128
#define CL_NAME_MAX 64
#define CL_PATH_MAX 256
#define CL_CMDLINE_MAX 512
#define CL_ADDR_MAX 64
#define CL_REASON_MAX 160
/* Bounds on what an operator may ask for. */
#define CL_MEM_MAX_MIB (1024ULL * 1024)
#define CL_VCPUS_MAX 255

enum cl_vm_phase {
	CL_VM_STOPPED = FERRY__CLUSTER__VM_PHASE__VM_PHASE_STOPPED,
	CL_VM_PENDING = FERRY__CLUSTER__VM_PHASE__VM_PHASE_PENDING,
	CL_VM_PLACED = FERRY__CLUSTER__VM_PHASE__VM_PHASE_PLACED,
	CL_VM_MIGRATING = FERRY__CLUSTER__VM_PHASE__VM_PHASE_MIGRATING,
	CL_VM_NPHASES
};

enum cl_obs {
	CL_OBS_NONE = FERRY__CLUSTER__OBSERVED__OBSERVED_NONE,
	CL_OBS_STARTING = FERRY__CLUSTER__OBSERVED__OBSERVED_STARTING,
	CL_OBS_RUNNING = FERRY__CLUSTER__OBSERVED__OBSERVED_RUNNING,
	CL_OBS_STOPPED = FERRY__CLUSTER__OBSERVED__OBSERVED_STOPPED,
	CL_OBS_FAILED = FERRY__CLUSTER__OBSERVED__OBSERVED_FAILED,
};

struct cl_vm_spec {
	char name[CL_NAME_MAX];
	char kernel[CL_PATH_MAX];
	char cmdline[CL_CMDLINE_MAX];
	uint64_t mem_mib;
	uint32_t vcpus;
	uint32_t checkpoint_ms;
};

struct cl_vm {
	struct cl_vm_spec spec;
	enum cl_vm_phase phase;
	uint32_t node;        /* where it runs (PLACED, MIGRATING) */
	uint32_t target;      /* MIGRATING: where it goes */
	uint32_t incarnation; /* bumped by each cold boot */
	enum cl_obs observed;
	uint32_t mig_port;
	bool restore;         /* start from the latest checkpoint */
	char reason[CL_REASON_MAX];
};

struct cl_node {
	uint32_t id;
	char name[CL_NAME_MAX];
	char addr[CL_ADDR_MAX];
	uint64_t capacity_mib;
	uint32_t expected_votes;
	bool drained;
	bool up;
};

struct cl_state {
	uint64_t version;
	uint32_t nnodes;
	struct cl_node nodes[CL_MAX_NODES];
	uint32_t nvms;
	struct cl_vm vms[CL_MAX_VMS];
};

/* Empties @s. */
void cl_state_init(struct cl_state *s);

/* Applies one ordered operation (any Msg body except sync). Returns 0 when
 * applied (the version is bumped if anything changed) or a negative errno
 * with a one-line reason in @why (@why_len bytes): -ENOENT unknown VM or
 * node, -EEXIST name in use, -ENOSPC fits nowhere, -EPERM no quorum,
 * -EBUSY not allowed in the VM's phase, -EINVAL bad values. A rejected
 * operation changes nothing. */
int cl_state_apply(struct cl_state *s, const Ferry__Cluster__Msg *m,
		   char *why, size_t why_len);

/* Installs a new configuration: the nodes in @ids (@n of them) are up, the
 * others down. If the result is quorate, the VMs of nodes that are down are
 * failed over and PENDING VMs are placed. Returns true if anything changed
 * (the version is bumped). */
bool cl_state_set_members(struct cl_state *s, const uint32_t *ids, size_t n);

/* Adds or refreshes a node's own record (name, address, capacity,
 * expected votes); keeps drained/up. Returns -ENOSPC when the table is full. */
int cl_state_node_update(struct cl_state *s, const struct cl_node *info);

/* Majority of max(expected votes, known nodes) is up. */
bool cl_state_quorate(const struct cl_state *s);

/* Deterministic placement: among up, undrained nodes other than @exclude
 * with room for @mem_mib, the least loaded (MiB placed), lowest id on ties.
 * Returns the node id, or 0 when none fits. */
uint32_t cl_state_place(const struct cl_state *s, uint64_t mem_mib,
			uint32_t exclude);

/* MiB of VMs placed on (or migrating to) @node. */
uint64_t cl_state_node_used(const struct cl_state *s, uint32_t node);

struct cl_vm *cl_state_vm_find(struct cl_state *s, const char *name);
struct cl_node *cl_state_node_find(struct cl_state *s, uint32_t id);
/* By id ("2") or by name ("node2"). */
struct cl_node *cl_state_node_lookup(struct cl_state *s, const char *ref);

const char *cl_vm_phase_name(enum cl_vm_phase p);
const char *cl_obs_name(enum cl_obs o);

#endif
