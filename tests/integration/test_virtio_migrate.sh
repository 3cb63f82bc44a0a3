#!/usr/bin/env bash
# Live migration with virtio-blk requests in flight: a verifying blk guest
# (queue depth 32) moves to a destination that opens the same disk file
# and keeps verifying every block, A -> B -> A. Block reads land in guest
# memory through hv, not KVM, so this also proves the device side of the
# dirty log: an unmarked read buffer or used ring would reach the
# destination stale and the guest's check (or its request slots) would
# catch it.
source "$(dirname "$0")/lib.sh"
need_kvm


# hop NAME FROM_CTL TO_CTL CACHE: migrates FROM_CTL's guest to a new hv.
hop() {
	local name=$1 from=$2 to=$3 cache=$4 p=$(port)
	start_bg $name $HV run --incoming tcp:127.0.0.1:$p --control "$to" \
		--disk "$T/disk.img,cache=$cache" --serial file:"$T/$name.serial"
	wait_for "$T/$name.out" "waiting for a migration" 10 || fail "$name: destination not listening"
	timeout 120 $HV migrate --control "$from" --to tcp:127.0.0.1:$p --json \
		>"$T/$name.json" || fail "$name: migrate failed: $(cat "$T/$name.json" "$T/$name.out")"
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["phase"]=="completed", r' \
		"$T/$name.json" || fail "$name: bad report: $(cat "$T/$name.json")"
	wait_ctl "$to" 10 || fail "$name: destination has no control socket"
	# Three more passes (write every block, read and check every block).
	local at
	wait_for "$T/$name.serial" "^probe: hb" 10 || fail "$name: destination silent"
	at=$(grep -m1 -oE "pass=[0-9]+" "$T/$name.serial" | cut -d= -f2)
	wait_pass "$T/$name.serial" $((at + 3)) 60 ||
		fail "$name: no pass $((at + 3)) after the migration: $(tail -n3 "$T/$name.serial")"
	grep -qE "ERROR|FATAL|probe: error" "$T/$name.serial" && fail "$name: $(grep -m1 -E "ERROR|FATAL|probe: error" "$T/$name.serial")"
	echo "ok: $name (cache=$cache): $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("downtime %.1f ms, %d rounds" % (r["downtime_ns"]/1e6, r["rounds"]))' "$T/$name.json"); guest verified passes $at..$((at + 3))+ on the destination"
}

truncate -s 32M "$T/disk.img"
start_bg src $HV run --kernel "$PROBE" --cpus 2 --mem 256M --control "$T/a.ctl" \
	--disk "$T/disk.img" --serial file:"$T/src.serial" \
	--cmdline "mode=blk passes=0 hb=100 qd=32"
wait_ctl "$T/a.ctl" 10 && wait_pass "$T/src.serial" 1 20 ||
	fail "blk guest did not start: $(cat "$T/src.serial" "$T/src.out")"
hop ab "$T/a.ctl" "$T/b.ctl" writeback
hop ba "$T/b.ctl" "$T/c.ctl" none
$HV quit --control "$T/c.ctl" >/dev/null
