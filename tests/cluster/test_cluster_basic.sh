#!/usr/bin/env bash
# 3-node cluster in namespaces: a VM added runs and verifies; stop/start;
# every bad hactl input gets one clear line and a nonzero exit; a partition
# without quorum refuses operations; a whole-cluster stop and start keeps
# the VM definitions (and the VM continues from its checkpoint).
TEST_ID=11
. "$(dirname "$0")/lib.sh"
need_cluster
cluster_up 3
H() { cl_hactl 1 "$@"; }

H --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["quorate"] and len(d["nodes"]) == 3, d
assert all(n["up"] for n in d["nodes"]), d' || cfail "status --json"
echo "ok: 3 nodes up and quorate"

# Corosync's own tools keep working beside hacd, and agree with it.
q=$(cl_exec 2 corosync-quorumtool -s 2>&1) || cfail "corosync-quorumtool: $q"
echo "$q" | grep -qE "Quorate: +Yes" && echo "$q" | grep -qE "Total votes: +3" ||
	cfail "corosync-quorumtool disagrees: $q"
l=$(cl_exec 3 corosync-cfgtool -s 2>&1) || cfail "corosync-cfgtool: $l"
echo "ok: corosync-quorumtool (quorate, 3 votes) and corosync-cfgtool work beside hacd"

H vm add vm1 --kernel "$PROBE" --mem 64M --cpus 1 --cmdline "$VM_CMDLINE" \
	--checkpoint-interval 1 >/dev/null || cfail "vm add"
node=$(vm_field vm1 node)
wait_hb "$node" vm1 10 || cfail "vm1 never ran on node $node"
check_verifying "$node" vm1 1

# Bad input: one line, nonzero exit.
expect_fail "name vm1 is in use" "$BUILD/hactl" --node 2 vm add vm1 \
	--kernel "$PROBE" --mem 64M
expect_fail "unknown vm nosuch" "$BUILD/hactl" --node 2 vm stop nosuch
expect_fail "unknown vm nosuch" "$BUILD/hactl" --node 2 vm remove nosuch
expect_fail "unknown node nosuch" "$BUILD/hactl" --node 2 node drain nosuch
expect_fail "unknown node 9" "$BUILD/hactl" --node 2 vm migrate vm1 --to 9
expect_fail "fits on no" "$BUILD/hactl" --node 2 vm add big --kernel "$PROBE" \
	--mem 1T
expect_fail "cannot read kernel" "$BUILD/hactl" --node 2 vm add k \
	--kernel /nonexistent --mem 64M
expect_fail "--kernel FILE and --mem SIZE are required" "$BUILD/hactl" \
	--node 2 vm add k
expect_fail "no hacd running" env HACTL_IPC=ferry-nosuch "$BUILD/hactl" \
	--node 2 status
expect_fail "unknown command" "$BUILD/hactl" --node 2 vm frobnicate
expect_fail "no network namespace" "$BUILD/hactl" --node 7 status

# Stop and start: a new incarnation, cold boot.
H vm stop vm1 >/dev/null || cfail "vm stop"
for ((i = 0; i < 100; i++)); do [ -z "$(hv_nodes vm1)" ] && break; sleep 0.05; done
[ -z "$(hv_nodes vm1)" ] || { ps -eo pid,ppid,stat,wchan:20,cmd | grep "ferry/"; cfail "vm1 still runs after stop"; }
H vm start vm1 >/dev/null || cfail "vm start"
node=$(vm_field vm1 node)
wait_hb "$node" vm1 10 || cfail "vm1 did not start again"
[ "$(vm_field vm1 incarnation)" = 2 ] || cfail "start did not begin incarnation 2"
echo "ok: stop and start"
for ((i = 0; i < 60; i++)); do
	[ -f "$CL_DIR/shared/checkpoints/vm1.2.snap" ] && break; sleep 0.05
done
sleep 1.2  # one more checkpoint, so it holds some heartbeats

# Whole-cluster stop and start: definitions survive, the guest continues
# from its checkpoint (its pass/verified counters do not restart at 0).
for k in 1 2 3; do cl_node_stop "$k"; done
[ -z "$(hv_nodes vm1)" ] || cfail "an hv survived the cluster stop"
for k in 1 2 3; do cl_node_start "$k"; done
for k in 1 2 3; do cl_wait_quorate "$k" 30 || cfail "node $k not quorate after restart"; done
[ "$(vm_field vm1 phase)" = placed ] || cfail "vm1 definition lost: $(H status)"
node=$(vm_field vm1 node)
wait_hb "$node" vm1 10 || cfail "vm1 did not run after the cluster restart"
grep -q "restore from the latest checkpoint" "$CL_DIR/n$node/hacd.log" ||
	cfail "vm1 was not restored from its checkpoint"
check_verifying "$node" vm1 1
echo "ok: whole-cluster restart kept vm1 and restored it"

# A node without quorum refuses operations and runs no guest.
others=$(printf '%s\n' 1 2 3 | grep -vx "$node" | tr '\n' ' ')
for k in $others; do cl_node_stop "$k"; done
for ((i = 0; i < 100; i++)); do [ -z "$(hv_nodes vm1)" ] && break; sleep 0.05; done
[ -z "$(hv_nodes vm1)" ] || cfail "vm1 still runs on a node without quorum"
expect_fail "no quorum" "$BUILD/hactl" --node "$node" vm stop vm1
echo "ok: node $node alone fenced vm1 and refuses operations"
for k in $others; do cl_node_start "$k"; done
cl_wait_quorate "$node" 30 || cfail "quorum did not come back"
wait_for "$(serial_of "$(vm_field vm1 node)" vm1)" "probe: hb" 10 || cfail "vm1 not back"
H vm remove vm1 >/dev/null || cfail "vm remove"
for ((i = 0; i < 100; i++)); do [ -z "$(hv_nodes vm1)" ] && break; sleep 0.05; done
[ -z "$(hv_nodes vm1)" ] || cfail "vm1 runs after remove"
expect_fail "unknown vm vm1" "$BUILD/hactl" --node 1 vm start vm1
echo "ok: removed"
