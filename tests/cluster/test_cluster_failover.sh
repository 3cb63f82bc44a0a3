#!/usr/bin/env bash
# 3-node cluster: SIGKILL of the node running a VM (its corosync, hacd and
# hv) -> the VM runs on a survivor from its checkpoint and keeps verifying;
# the killed node rejoins. Then the node running the VM is partitioned
# (its veth down): it kills its guest, the majority restarts it, and the
# process tables of all nodes never show the VM on two nodes at once.
TEST_ID=12
. "$(dirname "$0")/lib.sh"
need_cluster
cluster_up 3

cl_hactl 1 vm add vm1 --kernel "$PROBE" --mem 64M --cpus 1 \
	--cmdline "$VM_CMDLINE" --checkpoint-interval 1 >/dev/null || cfail "vm add"
a=$(vm_field vm1 node)
wait_hb "$a" vm1 10 || cfail "vm1 never ran"
wait_for "$CL_DIR/n$a/hacd.log" "vm1" 1
for ((i = 0; i < 60; i++)); do
	[ -f "$CL_DIR/shared/checkpoints/vm1.1.snap" ] && break; sleep 0.05
done
sleep 1.2

# --- node crash ------------------------------------------------------------
for k in 1 2 3; do [ "$k" = "$a" ] || rm -f "$(serial_of "$k" vm1)"; done
t0=$(date +%s%N)
cl_node_kill "$a"
cl_shm_clean
b=$(wait_hb_elsewhere vm1 "$a" 500) || cfail "vm1 did not come back on a survivor"
echo "ok: node $a killed; vm1 heartbeat on node $b after $((($(date +%s%N) - t0) / 1000000)) ms"
grep -q "restore from the latest checkpoint" "$CL_DIR/n$b/hacd.log" ||
	cfail "vm1 was not restored from its checkpoint"
check_verifying "$b" vm1 2
[ "$(hv_nodes vm1)" = "$b" ] || cfail "vm1 runs on: $(hv_nodes vm1)"

cl_node_start "$a"
cl_wait_quorate "$a" 30 || cfail "node $a did not rejoin"
cl_hactl "$a" --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert all(n["up"] for n in d["nodes"]), d' || cfail "node $a not up after rejoining"
[ "$(hv_nodes vm1)" = "$b" ] || cfail "vm1 moved on rejoin: $(hv_nodes vm1)"
grep -q "vm1: started hv" <(sed -n '/loaded cluster state/,$p' "$CL_DIR/n$a/hacd.log") &&
	cfail "node $a started vm1 from its stale state on rejoining"
echo "ok: node $a rejoined; vm1 stays on node $b"
sleep 1.2  # a fresh checkpoint from node $b

# --- partition ---------------------------------------------------------------
# Sample every node's processes while node $b is cut off.
mon=$T/monitor
(
	while :; do
		echo "$(date +%s%N) $(hv_nodes vm1 | tr '\n' ' ')"
		sleep 0.005
	done
) >"$mon" &
STARTED_PIDS+=($!)
monpid=$!
sleep 0.2
for k in 1 2 3; do [ "$k" = "$b" ] || rm -f "$(serial_of "$k" vm1)"; done
ip -n "$CL-br" link set "veth$b" down
c=$(wait_hb_elsewhere vm1 "$b" 800) || cfail "the majority did not restart vm1"
sleep 0.5
kill "$monpid"
wait "$monpid" 2>/dev/null
grep -q "self-fence" "$CL_DIR/n$b/hacd.log" || cfail "node $b did not fence itself"
overlap=$(awk 'NF > 2 { if (!s) s = $1 } NF <= 2 { if (s) { t += $1 - s; s = 0 } }
	END { printf "%d", t / 1000000 }' "$mon")
samples=$(wc -l <"$mon")
[ "$overlap" = 0 ] || cfail "vm1 ran on two nodes for $overlap ms: $(awk 'NF > 2' "$mon" | head -3)"
echo "ok: partition: node $b fenced vm1, node $c restarted it; never on two nodes ($samples samples)"
check_verifying "$c" vm1 1

ip -n "$CL-br" link set "veth$b" up
cl_wait_quorate "$b" 30 || cfail "node $b did not rejoin after the partition"
sleep 0.5
[ "$(hv_nodes vm1)" = "$c" ] || cfail "after healing vm1 runs on: $(hv_nodes vm1)"
echo "ok: partition healed; vm1 only on node $c"
