# Shared helpers for integration tests (sourced). Each test gets a private
# temp dir and kills, by PID, only the processes it started.
set -u
BUILD=${1:-${FERRY_BUILD:-build}}
HV=$BUILD/hv
PROBE=$BUILD/probe.elf
T=$(mktemp -d /tmp/ferry-test.XXXXXX)
STARTED_PIDS=()

cleanup() {
	for p in "${STARTED_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${STARTED_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*"; exit 77; }
need_kvm() {
	[ -c /dev/kvm ] && [ -r /dev/kvm ] || skip "no usable /dev/kvm"
	[ -x "$HV" ] && [ -f "$PROBE" ] || fail "build $HV and $PROBE first"
}

# start_bg NAME CMD...: runs CMD in the background, output in $T/NAME.out,
# its PID in $T/NAME.pid and in BG_PID.
start_bg() {
	local name=$1; shift
	"$@" >"$T/$name.out" 2>&1 &
	BG_PID=$!
	STARTED_PIDS+=("$BG_PID")
	echo "$BG_PID" >"$T/$name.pid"
}

# wait_for FILE REGEX SECONDS: waits until FILE has a line matching REGEX.
wait_for() {
	local file=$1 re=$2 secs=$3 i
	for ((i = 0; i < secs * 20; i++)); do
		grep -qE -- "$re" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# wait_exit PID SECONDS: waits for PID to end, sets EXIT_CODE.
wait_exit() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"; EXIT_CODE=$?; return 0
		fi
		sleep 0.05
	done
	return 1
}

# expect_fail REGEX CMD...: CMD must exit nonzero and print REGEX on one
# line of stderr within 10 s.
expect_fail() {
	local re=$1; shift
	local out rc
	out=$(timeout 10 "$@" 2>&1 >/dev/null); rc=$?
	[ $rc -ne 0 ] || fail "expected failure from: $*"
	[ $rc -ne 124 ] || fail "timed out: $*"
	echo "$out" | grep -qE -- "$re" || fail "expected /$re/ from '$*', got: $out"
	echo "ok: $* -> $(echo "$out" | head -n1)"
}

# wait_ctl CTL SECONDS: waits until an hv answers on control socket CTL.
wait_ctl() {
	local ctl=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		$HV status --control "$ctl" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# wait_pass FILE N SECONDS: waits until FILE's last heartbeat shows
# pass >= N (passes may advance by more than one per heartbeat).
wait_pass() {
	local file=$1 n=$2 secs=$3 i p
	for ((i = 0; i < secs * 20; i++)); do
		p=$(grep "^probe: hb pass=" "$file" 2>/dev/null | tail -n1 | sed -E 's/^probe: hb pass=([0-9]+).*/\1/')
		[ -n "$p" ] && [ "$p" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# port: a free TCP port on loopback (for a destination to listen on).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
