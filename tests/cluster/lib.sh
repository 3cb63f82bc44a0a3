# Shared by tests/cluster/test_*.sh (sourced after setting TEST_ID, a
# number 1..200 unique per script): a private 3-node cluster built by
# deploy/cluster-up.sh in namespaces "fc<TEST_ID>-*" on subnet
# 10.214.<TEST_ID>.0/24, torn down by deploy/cluster-down.sh on exit.
# Processes are stopped by PID only.
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
export FERRY_BUILD=$BUILD
export FERRY_CLUSTER=fc$TEST_ID FERRY_SUBNET=10.214.$TEST_ID
export CL_DIR=$T/cluster
VM_CMDLINE=${VM_CMDLINE:-"mode=verify wss=16 rate=8 hb=100"}
. "$(dirname "${BASH_SOURCE[0]}")/../../deploy/cluster-lib.sh"

cluster_cleanup() {
	FERRY_KEEP=1 "$CL_TOP/deploy/cluster-down.sh" "$CL_DIR" >/dev/null 2>&1
	if [ "${CLUSTER_FAILED:-0}" = 1 ]; then
		for f in "$CL_DIR"/n*/hacd.log; do
			echo "--- $f"; tail -n 25 "$f"
		done
	fi
	cleanup
}
trap cluster_cleanup EXIT
cfail() { CLUSTER_FAILED=1; fail "$@"; }

need_cluster() {
	need_kvm
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	command -v corosync >/dev/null || skip "corosync is not installed"
	ip netns add "fc$TEST_ID-probe" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "fc$TEST_ID-probe"
	for b in hacd hactl; do
		[ -x "$BUILD/$b" ] || fail "build $BUILD/$b first"
	done
	# A previous run killed hard may have left its namespaces behind.
	"$CL_TOP/deploy/cluster-down.sh" "$CL_DIR" >/dev/null 2>&1
}

# vm_field VM FIELD [NODE]: a field of VM from `hactl --json status`.
vm_field() {
	cl_hactl "${3:-$(live_node)}" --json status 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for v in d["vms"]:
    if v["name"] == sys.argv[1]:
        print(v.get(sys.argv[2], ""))' "$1" "$2"
}

# A node whose hacd runs (for status queries).
live_node() {
	local k
	for ((k = 1; k <= $(cl_nodes); k++)); do
		[ -n "$(cl_pid "$k" hacd)" ] && { echo "$k"; return; }
	done
	echo 1
}

# hv_nodes VM: the nodes on which an hv process of VM exists right now.
hv_nodes() {
	pgrep -a -x hv | sed -nE "s|.*--control ferry/([0-9]+)/$1( .*)?$|\1|p" | sort -u
}

serial_of() { echo "$CL_DIR/n$1/state/vms/$2.serial"; }

# wait_hb_elsewhere VM EXCLUDE TRIES: polls every 10 ms, at most TRIES
# times, until VM heartbeats on a node other than EXCLUDE; prints that node.
wait_hb_elsewhere() {
	local vm=$1 ex=$2 tries=$3 i k
	for ((i = 0; i < tries; i++)); do
		for k in 1 2 3; do
			[ "$k" = "$ex" ] && continue
			grep -q "probe: hb" "$(serial_of "$k" "$vm")" 2>/dev/null &&
				{ echo "$k"; return 0; }
		done
		sleep 0.01
	done
	return 1
}

# wait_hb NODE VM SECONDS: until NODE's serial log of VM shows a heartbeat.
wait_hb() {
	wait_for "$(serial_of "$1" "$2")" "probe: hb pass" "$3"
}

# check_verifying NODE VM SECONDS: heartbeats keep coming for SECONDS and
# the guest reports no error.
check_verifying() {
	local f n0 n1
	f=$(serial_of "$1" "$2")
	n0=$(grep -c "probe: hb" "$f")
	sleep "$3"
	n1=$(grep -c "probe: hb" "$f")
	grep -q "probe: ERROR" "$f" && cfail "vm $2 on node $1: $(grep -m1 'probe: ERROR' "$f")"
	grep "probe: hb" "$f" | grep -qv "errors=0" && cfail "vm $2 on node $1 reports errors"
	[ "$n1" -gt "$n0" ] || cfail "vm $2 on node $1: heartbeat stopped"
	echo "ok: vm $2 on node $1 keeps verifying ($((n1 - n0)) heartbeats in $3 s, errors=0)"
}

cluster_up() {
	"$CL_TOP/deploy/cluster-up.sh" "$1" "$CL_DIR" || cfail "cluster-up.sh $1 failed"
}
