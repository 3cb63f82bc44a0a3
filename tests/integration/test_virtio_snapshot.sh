#!/usr/bin/env bash
# virtio-blk state across snapshot/restore with requests in flight: a
# verifying blk guest (queue depth 32, both cache modes) is snapshotted
# mid-run with --stop, restored on the same disk file, and must finish
# every pass with no block lost, stale or written twice, continuing where
# it stopped. A restore without the disk, or with a disk of another size,
# is refused with a clear line.
source "$(dirname "$0")/lib.sh"
need_kvm

blk_continue() {
	local cache=$1 n=snap-$1
	truncate -s 32M "$T/$n.img"
	start_bg $n $HV run --kernel "$PROBE" --cpus 2 --mem 64M --control "$T/$n.ctl" \
		--disk "$T/$n.img,cache=$cache" --cmdline "mode=blk passes=1000 hb=100 qd=32"
	wait_for "$T/$n.out" "^probe: hb pass=[3-9]" 30 || fail "$n: no pass 3: $(tail -n3 "$T/$n.out")"
	$HV snapshot --control "$T/$n.ctl" --to "$T/$n.snap" --stop >/dev/null ||
		fail "$n: snapshot failed"
	wait_exit $BG_PID 20 || fail "$n: --stop did not end hv"
	local at=$(grep -oE "pass=[0-9]+" "$T/$n.out" | tail -n1 | cut -d= -f2)
	$BUILD/ferry-stream-verify "$T/$n.snap" | grep -q "name=virtio-blk0" ||
		fail "$n: the snapshot has no virtio-blk0 record"
	# Same guest, same disk: it must keep verifying for another 3 passes.
	local want=$((at + 4))
	timeout 60 $HV run --restore "$T/$n.snap" --disk "$T/$n.img,cache=$cache" \
		--control "$T/$n.r.ctl" --serial file:"$T/$n.r.out" &
	local rpid=$!
	STARTED_PIDS+=("$rpid")
	wait_pass "$T/$n.r.out" $want 60 ||
		fail "$n: restored guest did not reach pass $want: $(tail -n3 "$T/$n.r.out")"
	$HV quit --control "$T/$n.r.ctl" >/dev/null 2>&1 || kill "$rpid"
	wait "$rpid" 2>/dev/null
	grep -q "ERROR" "$T/$n.r.out" && fail "$n: $(grep ERROR "$T/$n.r.out")"
	grep -q "^probe: start" "$T/$n.r.out" && fail "$n: restored guest rebooted"
	local first=$(grep -m1 -oE "pass=[0-9]+" "$T/$n.r.out" | cut -d= -f2)
	[ "$first" -ge "$at" ] || fail "$n: restored guest restarted at pass $first (snapshot at $at)"
	echo "ok: cache=$cache: snapshot at pass $at with up to 32 requests in flight; restored guest verified passes $first..$want and on"
}
blk_continue writeback
blk_continue none

truncate -s 16M "$T/small.img"
expect_fail "device record for 'virtio-blk0': no such device here \(give the same --disk" \
	$HV run --restore "$T/snap-writeback.snap" --serial none
expect_fail "virtio-blk0: the snapshot's disk had 65536 sectors, this one has 32768" \
	$HV run --restore "$T/snap-writeback.snap" --disk "$T/small.img" --serial none
