#!/bin/bash
# Boots the probe guest under QEMU (microvm, PVH entry) as a peer of hv on
# the same binary: a heartbeat must appear, a short verify run must end
# with `probe: done`, and a bad command line must exit 2. QEMU's
# isa-debug-exit turns the guest's status v into exit code (v << 1) | 1.
# Usage: test_qemu_boot.sh [build-dir]; 0 pass, 77 skipped, else fail.
set -u

BUILD=${1:-build}
ELF=$BUILD/probe.elf
QEMU=${QEMU:-qemu-system-x86_64}

skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -n "${LOG:-}" ] && sed 's/^/  | /' "$LOG"; exit 1; }

[ -e /dev/kvm ] || skip "no /dev/kvm"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm not accessible"
command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not installed"
[ -f "$ELF" ] || fail "$ELF missing (make $ELF)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run_probe <name> <timeout-s> <cmdline>: sets LOG and RC.
run_probe() {
	LOG=$TMP/$1.log
	timeout "$2" "$QEMU" -machine microvm -enable-kvm \
		-cpu host,-arch-capabilities -m 512M -smp 1 \
		-nographic -no-reboot -nodefaults -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$ELF" -append "$3" >"$LOG" 2>&1 </dev/null
	RC=$?
}

# 1. Idle guest: banner, heartbeats at hb=100 ms, clean exit after 3.
run_probe idle 30 "mode=idle hb=100 passes=3"
grep -q '^probe: start mode=idle cpus=1 ' "$LOG" || fail "idle: no banner"
grep -Eq '^probe: hb pass=[0-9]+ wps=[0-9]+' "$LOG" || fail "idle: no heartbeat"
grep -q '^probe: done mode=idle' "$LOG" || fail "idle: no done line"
[ "$RC" -eq 1 ] || fail "idle: qemu exit $RC, want 1 (guest status 0)"

# 2. Verify: two passes over 16 MiB with the final full check.
run_probe verify 60 "mode=verify wss=16 passes=2 hb=100"
grep -q '^probe: ERROR' "$LOG" && fail "verify: guest reported an error"
grep -Eq '^probe: done mode=verify passes=2 pages=4096 .*errors=0' "$LOG" ||
	fail "verify: no done line"
[ "$RC" -eq 1 ] || fail "verify: qemu exit $RC, want 1 (guest status 0)"

# 3. Unknown key: an error line and guest status 2.
run_probe badopt 30 "mode=idle colour=blue"
grep -q "^probe: error bad option 'colour=blue'" "$LOG" ||
	fail "badopt: no error line"
[ "$RC" -eq 5 ] || fail "badopt: qemu exit $RC, want 5 (guest status 2)"

echo "PASS: probe guest boots under QEMU (heartbeat, verify, bad option)"
exit 0
