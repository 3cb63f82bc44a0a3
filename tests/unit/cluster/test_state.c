/*
 * The replicated cluster state machine (cluster/state.c) and its sync step
 * (cluster/sync.c): placement, the VM lifecycle table, failover, drain,
 * quorum, determinism, and adoption of the freshest state at a
 * configuration change.
 */
#include "tests/unit/unit.h"

#include <errno.h>

#include "cluster/state.h"
#include "cluster/state_pb.h"
#include "cluster/sync.h"

static struct cl_state st;
static char why[256];

/* Nodes 1..n up, each with @cap MiB. */
static void setup_nodes(int n, uint64_t cap)
{
	uint32_t ids[CL_MAX_NODES];

	cl_state_init(&st);
	for (int i = 0; i < n; i++) {
		struct cl_node nd = { .id = (uint32_t)i + 1, .capacity_mib = cap,
				      .expected_votes = (uint32_t)n };

		snprintf(nd.name, sizeof(nd.name), "node%d", i + 1);
		assert_int_equal(cl_state_node_update(&st, &nd), 0);
		ids[i] = (uint32_t)i + 1;
	}
	cl_state_set_members(&st, ids, (size_t)n);
}

static int vm_add(const char *name, uint64_t mem)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__VmSpec sp = FERRY__CLUSTER__VM_SPEC__INIT;

	sp.name = (char *)name;
	sp.kernel = "/probe.elf";
	sp.mem_mib = mem;
	sp.vcpus = 1;
	m.body_case = FERRY__CLUSTER__MSG__BODY_VM_ADD;
	m.vm_add = &sp;
	return cl_state_apply(&st, &m, why, sizeof(why));
}

static int vm_op(Ferry__Cluster__Msg__BodyCase c, const char *name)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__VmName vn = FERRY__CLUSTER__VM_NAME__INIT;

	vn.name = (char *)name;
	m.body_case = c;
	m.vm_start = &vn; /* the oneof shares storage */
	return cl_state_apply(&st, &m, why, sizeof(why));
}

static int node_op(Ferry__Cluster__Msg__BodyCase c, uint32_t node)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__NodeRef r = FERRY__CLUSTER__NODE_REF__INIT;

	r.node = node;
	m.body_case = c;
	m.node_drain = &r;
	return cl_state_apply(&st, &m, why, sizeof(why));
}

static int mig_result(const char *name, bool ok)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__MigResult r = FERRY__CLUSTER__MIG_RESULT__INIT;

	r.name = (char *)name;
	r.ok = ok;
	r.reason = "test";
	m.body_case = FERRY__CLUSTER__MSG__BODY_MIG_RESULT;
	m.mig_result = &r;
	return cl_state_apply(&st, &m, why, sizeof(why));
}

static void test_place_least_loaded(void **s)
{
	(void)s;
	setup_nodes(3, 1024);
	assert_int_equal(vm_add("a", 512), 0);
	assert_int_equal(vm_add("b", 256), 0);
	assert_int_equal(vm_add("c", 256), 0);
	assert_int_equal(cl_state_vm_find(&st, "a")->node, 1);
	assert_int_equal(cl_state_vm_find(&st, "b")->node, 2);
	assert_int_equal(cl_state_vm_find(&st, "c")->node, 3);
	/* 2 and 3 tie at 256 MiB: the lowest id wins. */
	assert_int_equal(vm_add("d", 100), 0);
	assert_int_equal(cl_state_vm_find(&st, "d")->node, 2);
	assert_int_equal(cl_state_vm_find(&st, "d")->phase, CL_VM_PLACED);
}

static void test_add_errors(void **s)
{
	uint64_t v;

	(void)s;
	setup_nodes(3, 1024);
	assert_int_equal(vm_add("a", 64), 0);
	v = st.version;
	assert_int_equal(vm_add("a", 64), -EEXIST);
	assert_non_null(strstr(why, "in use"));
	assert_int_equal(vm_add("big", 2048), -ENOSPC);
	assert_non_null(strstr(why, "fits on no"));
	assert_int_equal(vm_add("bad name", 64), -EINVAL);
	assert_int_equal(vm_add("", 64), -EINVAL);
	assert_int_equal(vm_op(FERRY__CLUSTER__MSG__BODY_VM_STOP, "nosuch"),
			 -ENOENT);
	assert_int_equal(st.nvms, 1);
	assert_int_equal(st.version, v);
}

static void test_fsm_table(void **s)
{
	struct cl_vm *vm;

	(void)s;
	setup_nodes(3, 1024);
	assert_int_equal(vm_add("a", 64), 0);
	vm = cl_state_vm_find(&st, "a");
	assert_int_equal(vm->incarnation, 1);
	assert_int_equal(vm_op(FERRY__CLUSTER__MSG__BODY_VM_STOP, "a"), 0);
	assert_int_equal(vm->phase, CL_VM_STOPPED);
	assert_int_equal(vm->node, 0);
	/* Not in the table: migrating a stopped VM. */
	{
		Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
		Ferry__Cluster__VmMigrate mg = FERRY__CLUSTER__VM_MIGRATE__INIT;

		mg.name = "a";
		mg.to = 2;
		m.body_case = FERRY__CLUSTER__MSG__BODY_VM_MIGRATE;
		m.vm_migrate = &mg;
		assert_int_equal(cl_state_apply(&st, &m, why, sizeof(why)),
				 -EBUSY);
		assert_non_null(strstr(why, "stopped"));
	}
	assert_int_equal(vm_op(FERRY__CLUSTER__MSG__BODY_VM_START, "a"), 0);
	assert_int_equal(vm->incarnation, 2);
	assert_false(vm->restore);
	assert_int_equal(vm_op(FERRY__CLUSTER__MSG__BODY_VM_REMOVE, "a"), 0);
	assert_int_equal(st.nvms, 0);
}

static void test_failover(void **s)
{
	uint32_t two[] = { 2, 3 }, one[] = { 3 };
	struct cl_vm *vm;

	(void)s;
	setup_nodes(3, 1024);
	assert_int_equal(vm_add("a", 64), 0);
	vm = cl_state_vm_find(&st, "a");
	assert_int_equal(vm->node, 1);
	assert_true(cl_state_set_members(&st, two, 2));
	assert_int_equal(vm->node, 2);
	assert_true(vm->restore);
	assert_non_null(strstr(vm->reason, "lost node 1"));
	/* A minority changes nothing and refuses operations. */
	cl_state_set_members(&st, one, 1);
	assert_false(cl_state_quorate(&st));
	assert_int_equal(vm->node, 2);
	assert_int_equal(vm_add("b", 64), -EPERM);
}

static void test_failover_pending(void **s)
{
	uint32_t two[] = { 1, 2 }, all[] = { 1, 2, 3 };
	struct cl_vm *vm;

	(void)s;
	setup_nodes(3, 100);
	assert_int_equal(vm_add("a", 100), 0);
	assert_int_equal(vm_add("b", 100), 0);
	assert_int_equal(vm_add("c", 100), 0);
	vm = cl_state_vm_find(&st, "c");
	assert_int_equal(vm->node, 3);
	cl_state_set_members(&st, two, 2);
	assert_int_equal(vm->phase, CL_VM_PENDING);
	cl_state_set_members(&st, all, 3);
	assert_int_equal(vm->phase, CL_VM_PLACED);
	assert_int_equal(vm->node, 3);
}

static void test_drain(void **s)
{
	struct cl_vm *vm;

	(void)s;
	setup_nodes(3, 1024);
	assert_int_equal(vm_add("a", 64), 0);
	assert_int_equal(node_op(FERRY__CLUSTER__MSG__BODY_NODE_DRAIN, 1), 0);
	vm = cl_state_vm_find(&st, "a");
	assert_int_equal(vm->phase, CL_VM_MIGRATING);
	assert_int_equal(vm->target, 2);
	/* Nothing new lands on a drained node. */
	assert_int_equal(vm_add("b", 64), 0);
	assert_int_not_equal(cl_state_vm_find(&st, "b")->node, 1);
	assert_int_equal(mig_result("a", false), 0);
	assert_int_equal(vm->phase, CL_VM_PLACED);
	assert_int_equal(vm->node, 1);
	assert_int_equal(node_op(FERRY__CLUSTER__MSG__BODY_NODE_DRAIN, 1), 0);
	assert_int_equal(mig_result("a", true), 0);
	assert_int_equal(vm->node, 2);
	assert_int_equal(vm->phase, CL_VM_PLACED);
	assert_int_equal(node_op(FERRY__CLUSTER__MSG__BODY_NODE_DRAIN, 9),
			 -ENOENT);
}

static void test_guest_exit(void **s)
{
	Ferry__Cluster__Msg m = FERRY__CLUSTER__MSG__INIT;
	Ferry__Cluster__Observe o = FERRY__CLUSTER__OBSERVE__INIT;
	struct cl_vm *vm;

	(void)s;
	setup_nodes(3, 1024);
	assert_int_equal(vm_add("a", 64), 0);
	vm = cl_state_vm_find(&st, "a");
	o.name = "a";
	o.node = 2; /* stale: not where it runs */
	o.incarnation = 1;
	o.observed = FERRY__CLUSTER__OBSERVED__OBSERVED_STOPPED;
	m.body_case = FERRY__CLUSTER__MSG__BODY_OBSERVE;
	m.observe = &o;
	assert_int_equal(cl_state_apply(&st, &m, why, sizeof(why)), 0);
	assert_int_equal(vm->phase, CL_VM_PLACED);
	o.node = 1;
	assert_int_equal(cl_state_apply(&st, &m, why, sizeof(why)), 0);
	assert_int_equal(vm->phase, CL_VM_STOPPED);
}

/* Two replicas fed the same sequence end identical. */
static void test_deterministic(void **s)
{
	static struct cl_state a;
	uint32_t two[] = { 1, 3 };

	(void)s;
	for (int round = 0; round < 2; round++) {
		setup_nodes(3, 1024);
		vm_add("a", 64);
		vm_add("b", 128);
		node_op(FERRY__CLUSTER__MSG__BODY_NODE_DRAIN, 2);
		cl_state_set_members(&st, two, 2);
		vm_op(FERRY__CLUSTER__MSG__BODY_VM_STOP, "a");
		if (round == 0)
			a = st;
	}
	assert_memory_equal(&a, &st, sizeof(st));
}

static void offer(struct cl_sync *y, uint32_t from, const struct cl_state *s,
		  const uint32_t *members, size_t n, int want)
{
	Ferry__Cluster__Sync sy = FERRY__CLUSTER__SYNC__INIT;
	Ferry__Cluster__Node self = FERRY__CLUSTER__NODE__INIT;
	char name[16];

	snprintf(name, sizeof(name), "node%u", from);
	self.id = from;
	self.name = name;
	self.addr = "";
	self.capacity_mib = 1024;
	self.expected_votes = 3;
	sy.self = &self;
	sy.members = (uint32_t *)members;
	sy.n_members = n;
	sy.state = cl_state_pb_new(s);
	assert_int_equal(cl_sync_offer(y, from, &sy), want);
	cl_state_pb_free(sy.state);
}

static void test_sync_adopts_freshest(void **s)
{
	static struct cl_state fresh, stale, mine;
	uint32_t members[] = { 3, 1, 2 }, other[] = { 1, 2 };
	struct cl_sync y = { 0 };

	(void)s;
	setup_nodes(3, 1024);
	stale = st;
	vm_add("a", 64);
	fresh = st;
	cl_state_init(&mine);
	assert_int_equal(cl_sync_begin(&y, members, 3), 0);
	offer(&y, 1, &stale, members, 3, 0);
	offer(&y, 2, &stale, other, 2, 0); /* another configuration: ignored */
	offer(&y, 2, &fresh, members, 3, 0);
	offer(&y, 2, &fresh, members, 3, 0); /* duplicate: ignored */
	offer(&y, 3, &stale, members, 3, 1);
	assert_true(cl_sync_finish(&y, &mine));
	assert_non_null(cl_state_vm_find(&mine, "a"));
	assert_int_equal(mine.nnodes, 3);
	assert_true(cl_state_quorate(&mine));
	cl_sync_fini(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_least_loaded),
		cmocka_unit_test(test_add_errors),
		cmocka_unit_test(test_fsm_table),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_failover_pending),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_guest_exit),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_sync_adopts_freshest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
