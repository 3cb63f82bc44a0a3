#!/usr/bin/env bash
# tests/bench/failover/run.sh [BUILD] [RUNS]: failover time and overlap on a
# 3-node cluster in namespaces (deploy/cluster-up.sh, corosync.conf.in's
# totem settings: token 300, token_coefficient 0, knet ping 100/1000).
#  - node kill: SIGKILL of the node running the VM (corosync, hacd, hv) ->
#    time until the guest's first heartbeat on a survivor (hb=50 ms, serial
#    polled every ~5 ms), split into "survivor's CPG saw the node leave" and
#    the rest (sync, placement, fence delay, restore, first heartbeat);
#  - partition: the VM's node cut off (veth down) -> the isolated node's
#    self-fence (guest SIGKILLed) against the majority's start of the new
#    hv, both from hacd logs on the same clock: overlap = max(0, start
#    earlier than fence); also the process tables sampled throughout.
# Prints medians of RUNS (default 5). Needs root, corosync and /dev/kvm.
set -u
BUILD=${1:-build}
RUNS=${2:-5}
export FERRY_BUILD=$BUILD FERRY_CLUSTER=fbench FERRY_SUBNET=10.215.0
T=$(mktemp -d /tmp/ferry-bench-failover.XXXXXX)
export CL_DIR=$T/cluster
. "$(dirname "$0")/../../../deploy/cluster-lib.sh"
trap '"$CL_TOP/deploy/cluster-down.sh" "$CL_DIR" >/dev/null 2>&1; rm -rf "$T"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
log_ms() { # FILE REGEX: time of the last matching line, ms
	local l; l=$(grep -E "$2" "$1" | tail -n 1 | cut -c1-19)
	[ -n "$l" ] && echo $(($(date -d "$l" +%s%N) / 1000000))
}
median() { sort -n | awk '{a[NR] = $1} END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
vm_node() {
	cl_hactl "$(live)" --json status | python3 -c '
import json, sys
print([v for v in json.load(sys.stdin)["vms"] if v["name"] == "vm1"][0]["node"])'
}
live() { local k; for k in 1 2 3; do [ -n "$(cl_pid $k hacd)" ] && { echo $k; return; }; done; }
hv_nodes() { pgrep -a -x hv | sed -nE 's|.*--control ferry/([0-9]+)/vm1( .*)?$|\1|p' | sort -u; }
serial() { echo "$CL_DIR/n$1/state/vms/vm1.serial"; }

"$CL_TOP/deploy/cluster-down.sh" "$CL_DIR" >/dev/null 2>&1
"$CL_TOP/deploy/cluster-up.sh" 3 "$CL_DIR" >/dev/null || exit 1
cl_hactl 1 vm add vm1 --kernel "$CL_BUILD/probe.elf" --mem 64M --cpus 1 \
	--cmdline "mode=verify wss=16 rate=8 hb=50" --checkpoint-interval 1 >/dev/null || exit 1
sleep 2

echo "node kill -> first heartbeat on a survivor (ms): total  detect  rest"
for ((r = 1; r <= RUNS; r++)); do
	a=$(vm_node)
	for k in 1 2 3; do [ "$k" != "$a" ] && : >"$(serial "$k")" 2>/dev/null; done
	sleep 1.2
	t0=$(now_ms)
	cl_node_kill "$a"
	b=""
	while [ -z "$b" ] && [ $(($(now_ms) - t0)) -lt 10000 ]; do
		for k in 1 2 3; do
			[ "$k" != "$a" ] && grep -q "probe: hb" "$(serial "$k")" 2>/dev/null && b=$k
		done
		sleep 0.003
	done
	t1=$(now_ms)
	[ -n "$b" ] || { echo "run $r: vm1 did not come back"; continue; }
	det=$(($(log_ms "$CL_DIR/n$b/hacd.log" "node $a left") - t0))
	grep -q "probe: ERROR" "$(serial "$b")" && echo "run $r: GUEST ERROR"
	echo "run $r: $((t1 - t0))  $det  $((t1 - t0 - det))" | tee -a "$T/kill"
	cl_shm_clean
	cl_node_start "$a"
	cl_wait_quorate "$a" 30 >/dev/null
done

echo "partition of the VM's node: fence (isolated) vs start (majority), ms"
for ((r = 1; r <= RUNS; r++)); do
	b=$(vm_node)
	sleep 1.2
	( while :; do echo "$(now_ms) $(hv_nodes | tr '\n' ' ')"; sleep 0.002; done ) >"$T/mon" &
	mon=$!
	t0=$(now_ms)
	ip -n "$CL-br" link set "veth$b" down
	c=""
	while [ -z "$c" ] && [ $(($(now_ms) - t0)) -lt 10000 ]; do
		c=$(hv_nodes | grep -vx "$b" | head -n 1); sleep 0.01
	done
	sleep 0.5
	kill "$mon"; wait "$mon" 2>/dev/null
	fence=$(log_ms "$CL_DIR/n$b/hacd.log" "self-fence")
	start=$(log_ms "$CL_DIR/n$c/hacd.log" "vm1: started hv")
	both=$(awk 'NF > 2' "$T/mon" | wc -l)
	margin=$((start - fence))
	echo "run $r: fence +$((fence - t0))  start +$((start - t0))  margin $margin  overlap $((margin < 0 ? -margin : 0))  samples on two nodes $both/$(wc -l <"$T/mon")" |
		tee -a "$T/part"
	ip -n "$CL-br" link set "veth$b" up
	cl_wait_quorate "$b" 30 >/dev/null
	sleep 1
done

echo "median of $RUNS: kill -> heartbeat $(awk '{print $3}' "$T/kill" | median) ms" \
	"(detection $(awk '{print $4}' "$T/kill" | median) ms);" \
	"partition fence-to-start margin $(awk '{print $8}' "$T/part" | median) ms;" \
	"longest overlap $(awk '{print $10}' "$T/part" | sort -n | tail -n 1) ms"
