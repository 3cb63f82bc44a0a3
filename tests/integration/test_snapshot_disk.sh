#!/usr/bin/env bash
# A snapshot that cannot be written (full disk, missing directory) fails
# with one clear line, leaves the previous snapshot file byte-for-byte
# intact and no temporary file behind, and the guest keeps running.
source "$(dirname "$0")/lib.sh"
need_kvm
command -v unshare >/dev/null || skip "no unshare"

if [ "${2:-}" != "--inner" ]; then
	# Re-run inside a private mount namespace so the tmpfs is ours alone.
	rm -rf "$T"
	trap - EXIT
	exec unshare --mount --propagation private "$0" "$BUILD" --inner
fi
mkdir -p "$T/disk"
mount -t tmpfs -o size=24m ferry-test "$T/disk" || skip "cannot mount tmpfs"

start_bg vm $HV run --kernel "$PROBE" --mem 64M --control "$T/ctl" \
	--cmdline "mode=verify wss=8 rate=16 hb=100"
pid=$BG_PID
wait_pass "$T/vm.out" 1 20 || fail "guest did not run"

$HV snapshot --control "$T/ctl" --to "$T/disk/vm.snap" >/dev/null || fail "first snapshot"
cp "$T/disk/vm.snap" "$T/copy.snap"
size=$(stat -c %s "$T/copy.snap")
# Leave less room than a second snapshot needs.
avail=$(df --output=avail -B1 "$T/disk" | tail -n1)
fallocate -l $((avail - size / 2)) "$T/disk/filler" || fail "cannot fill the disk"

expect_fail "snapshot to $T/disk/vm.snap failed: No space left on device" \
	$HV snapshot --control "$T/ctl" --to "$T/disk/vm.snap"
cmp -s "$T/disk/vm.snap" "$T/copy.snap" || fail "old snapshot was changed"
ls "$T/disk" | grep -q tmp && fail "temporary file left behind: $(ls "$T/disk")"
expect_fail "snapshot to $T/nodir/vm.snap failed: No such file" \
	$HV snapshot --control "$T/ctl" --to "$T/nodir/vm.snap"

before=$(grep -c "^probe: hb" "$T/vm.out")
sleep 0.5
after=$(grep -c "^probe: hb" "$T/vm.out")
[ "$after" -gt "$before" ] || fail "guest stopped after the failed snapshot"
$HV status --control "$T/ctl" | grep -q "state:   running" || fail "VM not running"
$HV quit --control "$T/ctl" >/dev/null
wait_exit $pid 10 || fail "hv did not quit"
grep -q "errors=0" "$T/vm.out" && ! grep -q ERROR "$T/vm.out" || fail "guest saw errors"
umount "$T/disk"
echo "ok: full disk and missing directory refused; old file intact; guest kept running"
