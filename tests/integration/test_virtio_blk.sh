#!/usr/bin/env bash
# virtio-blk on file-backed disks: the probe's blk workload writes, reads
# back and verifies every block (cache=writeback on 2 vCPUs, cache=none,
# poll=0), the host sees exactly the blocks the guest wrote, malformed chains get
# the device marked NEEDS_RESET (and it works again after a reset), and a
# missing file, a read-only file, a read-only disk written by the guest, a
# full host file system and a bad --disk option each give one clear line.
source "$(dirname "$0")/lib.sh"
need_kvm

# verify LABEL DISK_SUFFIX CMDLINE BLOCKS PASSES [hv args...]: the blk
# verify workload runs to a clean done line.
verify() {
	local label=$1 disk=$2 cmd=$3 blocks=$4 passes=$5 out
	shift 5
	out=$(timeout 60 $HV run --kernel "$PROBE" --mem 64M "$@" --disk "$T/disk.img$disk" \
		--cmdline "mode=blk hb=200 passes=$passes $cmd" 2>&1) ||
		fail "blk verify ($label) exited $?: $out"
	echo "$out" | grep -qE "^probe: done mode=blk io=verify passes=$passes blocks=$blocks .*errors=0" ||
		fail "$label: no clean done line: $out"
	echo "ok: $label: $(echo "$out" | grep -oE 'ios=.*')"
}

truncate -s 64M "$T/disk.img"
verify writeback "" "qd=32" 16384 3 --cpus 2

# The host sees what the guest wrote: block b carries magic, b, generation 3.
python3 - "$T/disk.img" <<'PY' || fail "disk content check failed"
import struct, sys
f = open(sys.argv[1], 'rb')
for b in (0, 1, 777, 16383):
    f.seek(b * 4096)
    magic, lba, gen = struct.unpack('<3Q', f.read(24))
    assert magic == 0x4b4c425952524546 and lba == b and gen == 3, (b, hex(magic), lba, gen)
PY
echo "ok: host reads the guest's blocks (magic, lba, generation 3)"

verify cache=none ",cache=none" "dsize=16 qd=32" 4096 2
# poll=0: the I/O thread sleeps as soon as it runs out of work, so every
# request the guest adds after that must come through a notification.
verify "poll=0 (notifications only)" ",poll=0" "dsize=16 qd=4" 4096 2

# Malformed chains: refused with DEVICE_NEEDS_RESET and one line each; hv
# keeps running and the device serves requests again after a reset.
timeout 30 $HV run --kernel "$PROBE" --mem 64M --disk "$T/disk.img" \
	--cmdline "mode=blk io=bad" >"$T/bad.out" 2>"$T/bad.err" ||
	fail "io=bad exited $?: $(cat "$T/bad.out" "$T/bad.err")"
grep -q "^probe: done mode=blk io=bad cases=5 errors=0" "$T/bad.out" ||
	fail "io=bad: $(cat "$T/bad.out")"
for why in "longer than the device accepts" "outside guest RAM" \
	"next index out of range" "entries ahead of the device" "not a power of two"; do
	[ "$(grep -c "$why" "$T/bad.err")" -eq 1 ] || fail "io=bad: hv did not log '$why' once: $(cat "$T/bad.err")"
done
echo "ok: 5 malformed cases refused (loop, outside RAM, next index, avail index, queue size), device usable after reset"

expect_fail "cannot open disk .*/nope.img: No such file" \
	$HV run --kernel "$PROBE" --disk "$T/nope.img" --serial none
expect_fail "--disk .*unknown option 'cache=fast'" \
	$HV run --kernel "$PROBE" --disk "$T/disk.img,cache=fast" --serial none
expect_fail "--disk .*poll=1s is not a number of microseconds" \
	$HV run --kernel "$PROBE" --disk "$T/disk.img,poll=1s" --serial none

# A file hv cannot write: a read-only bind mount in a private mount
# namespace (root ignores file modes).
mkdir "$T/ro" && truncate -s 4M "$T/ro/ro.img"
if unshare -m true 2>/dev/null; then
	expect_fail "cannot open disk .*ro.img for writing: Read-only file system \(add ,readonly" \
		unshare -m sh -c "mount --bind '$T/ro' '$T/ro' && mount -o remount,bind,ro '$T/ro' && exec $HV run --kernel $PROBE --disk $T/ro/ro.img --serial none"
else
	echo "note: no mount namespaces; read-only file case not run"
fi

# ,readonly: reads work, a guest write gets VIRTIO_BLK_S_IOERR.
out=$(timeout 30 $HV run --kernel "$PROBE" --mem 64M --disk "$T/ro/ro.img,readonly" \
	--cmdline "mode=blk io=seqr passes=1" 2>&1) || fail "readonly reads failed: $out"
echo "$out" | grep -q "^probe: done mode=blk io=seqr" || fail "readonly reads: $out"
out=$(timeout 30 $HV run --kernel "$PROBE" --mem 64M --disk "$T/ro/ro.img,readonly" \
	--cmdline "mode=blk passes=1" 2>&1); rc=$?
[ $rc -eq 3 ] || fail "write to a readonly disk: exit $rc, wanted 3: $out"
echo "$out" | grep -q "^probe: ERROR blk status=1 op=write .*(disk is read-only)" ||
	fail "write to a readonly disk: $out"
echo "ok: readonly disk: reads served, the guest's write fails with IOERR"
[ "$(echo "$out" | grep -c "virtio-blk0: write of 4096 bytes at offset 0 failed: Read-only file system")" -eq 1 ] ||
	fail "write to a readonly disk: hv did not log the failure once: $out"

# A full host file system: the guest's write fails with IOERR, hv names the
# disk, the offset and ENOSPC once (not per failed request).
if unshare -m true 2>/dev/null; then
	mkdir "$T/full"
	out=$(timeout 30 unshare -m sh -c "mount -t tmpfs -o size=2M tmpfs '$T/full' &&
		truncate -s 64M '$T/full/d.img' &&
		exec $HV run --kernel $PROBE --mem 64M --disk $T/full/d.img --cmdline 'mode=blk passes=1 qd=32 dsize=16'" 2>&1); rc=$?
	[ $rc -eq 3 ] || fail "full disk: exit $rc, wanted 3: $out"
	echo "$out" | grep -q "^probe: ERROR blk status=1 op=write" || fail "full disk: no IOERR in the guest: $out"
	[ "$(echo "$out" | grep -c "virtio-blk0: write of 4096 bytes at offset .* failed: No space left on device (1 failed")" -eq 1 ] ||
		fail "full disk: hv did not log ENOSPC once: $out"
	echo "ok: full disk: the guest's write fails with IOERR, hv logs ENOSPC once"
else
	echo "note: no mount namespaces; full disk case not run"
fi
