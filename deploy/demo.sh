#!/usr/bin/env bash
# make demo: boots the probe guest (verify, 2 vCPUs, 1 GiB) in one hv,
# live-migrates it to a second hv on loopback, prints the migration's
# numbers, and shows the guest still verifying on the destination.
set -eu
BUILD=${1:-build}
HV=$BUILD/hv
T=$(mktemp -d /tmp/ferry-demo.XXXXXX)
SRC_PID= DST_PID=
cleanup() {
	for p in $SRC_PID $DST_PID; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

wait_ctl() {
	for _ in $(seq 100); do
		"$HV" status --control "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "demo: no hv at $1" >&2
	return 1
}

echo "== source: probe guest, verify, 2 vCPUs, 1 GiB, writing 200 MiB/s"
"$HV" run --kernel "$BUILD/probe.elf" --cpus 2 --mem 1G --name demo \
	--cmdline "mode=verify wss=256 rate=200 hb=250" --control "$T/src" \
	--serial file:"$T/src.serial" &
SRC_PID=$!
wait_ctl "$T/src"
sleep 1.5
tail -n 3 "$T/src.serial"
"$HV" status --control "$T/src"

echo "== destination: hv run --incoming tcp:127.0.0.1:$PORT"
"$HV" run --incoming tcp:127.0.0.1:$PORT --control "$T/dst" \
	--serial file:"$T/dst.serial" &
DST_PID=$!
sleep 0.3

echo "== hv migrate --to tcp:127.0.0.1:$PORT"
"$HV" migrate --control "$T/src" --to tcp:127.0.0.1:$PORT
wait "$SRC_PID" && echo "(source hv exited 0 after the destination confirmed)"
SRC_PID=

echo "== the guest on the destination, still verifying"
wait_ctl "$T/dst"
sleep 1.5
tail -n 4 "$T/dst.serial"
"$HV" status --control "$T/dst"
if grep -q "ERROR" "$T/dst.serial"; then
	echo "demo: the guest found an error after migration" >&2
	exit 1
fi
"$HV" quit --control "$T/dst" >/dev/null
wait "$DST_PID" || true
DST_PID=
echo "== done: migrated with no page lost (the guest's own check says errors=0)"
