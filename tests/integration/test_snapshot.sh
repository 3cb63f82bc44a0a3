#!/usr/bin/env bash
# Snapshot files: a verifying guest snapshotted mid-run and restored in a
# fresh hv keeps verifying and finishes its passes (1 and 2 vCPUs); two
# restores of one file start identically; --stop; and every damaged file
# is refused with one clear line, starting nothing.
source "$(dirname "$0")/lib.sh"
need_kvm
SNAPFILE="python3 $(dirname "$0")/snapfile.py"
VERIFY=$BUILD/ferry-stream-verify

# Runs a paced verify guest, snapshots it after pass 2, restores the file
# in a second hv and checks both finish all passes with zero errors.
continue_test() {
	local cpus=$1 n=c$1
	start_bg $n $HV run --kernel "$PROBE" --cpus $cpus --mem 128M \
		--control "$T/$n.ctl" --cmdline "mode=verify wss=16 rate=32 passes=8 hb=100"
	local pid=$BG_PID
	wait_pass "$T/$n.out" 2 20 || fail "$n: no pass 2"
	$HV snapshot --control "$T/$n.ctl" --to "$T/$n.snap" >"$T/$n.snapout" ||
		fail "$n: snapshot failed"
	local at=$(grep -c "^probe: hb" "$T/$n.out")
	$VERIFY --quiet "$T/$n.snap" >/dev/null || fail "$n: verifier rejects the snapshot"
	timeout 60 $HV run --restore "$T/$n.snap" --serial file:"$T/$n.r.out" ||
		fail "$n: restored guest exited $?: $(tail -n3 "$T/$n.r.out")"
	wait_exit $pid 60 || fail "$n: original did not finish"
	[ "$EXIT_CODE" -eq 0 ] || fail "$n: original exited $EXIT_CODE after the snapshot"
	grep -qE "^probe: done .*passes=8 .*errors=0" "$T/$n.r.out" ||
		fail "$n: restored guest did not finish cleanly"
	grep -q "^probe: start" "$T/$n.r.out" && fail "$n: restored guest rebooted"
	# The pass counter continues from where the snapshot was taken.
	local first=$(grep -m1 -oE "pass=[0-9]+" "$T/$n.r.out" | cut -d= -f2)
	[ "$first" -ge 2 ] || fail "$n: restored guest restarted its passes (pass=$first)"
	# Pacing continues: rate=32 MiB/s is 8192 pages/s. It must neither
	# stall nor burst to catch up the time the guest spent in the file;
	# the lower bound leaves room for a busy 2-core machine.
	local wps=$(grep "^probe: hb" "$T/$n.r.out" | sed -n 3p | grep -oE "wps=[0-9]+" | cut -d= -f2)
	[ "$wps" -gt 1000 ] && [ "$wps" -lt 10000 ] ||
		fail "$n: restored guest paces at wps=$wps, wanted about 8192"
	echo "ok: $cpus vCPU(s): snapshot after $at heartbeats ($(cat "$T/$n.snapout")); restored guest continues at pass $first, wps=$wps, done with 0 errors"
}
continue_test 1
continue_test 2

# Two restores of one file start identically: restored paused, then each
# written out again with --stop, before any guest instruction ran.
for i in 1 2; do
	start_bg same$i $HV run --restore "$T/c2.snap" --paused --control "$T/same$i.ctl" --serial none
	wait_ctl "$T/same$i.ctl" 10 || fail "restore $i: no control socket"
	$HV snapshot --control "$T/same$i.ctl" --to "$T/same$i.snap" --stop >/dev/null ||
		fail "snapshot of paused restore $i failed"
	wait_exit $BG_PID 20 || fail "--stop did not end hv"
	[ "$EXIT_CODE" -eq 0 ] || fail "hv exited $EXIT_CODE after snapshot --stop"
done
d0=$($VERIFY --quiet --digest "$T/c2.snap" | grep "memory crc32c")
d1=$($VERIFY --quiet --digest "$T/same1.snap" | grep "memory crc32c")
d2=$($VERIFY --quiet --digest "$T/same2.snap" | grep "memory crc32c")
# Against the source file only KVM's own writes may differ: restoring
# MSR_KVM_SYSTEM_TIME_NEW makes KVM refresh the guest's pvclock structure.
[ "$d1" = "$d2" ] || fail "two restores differ: $d1 / $d2"
r1=$($VERIFY "$T/same1.snap" | grep -oE "id=[0-9]+ rip=0x[0-9a-f]+")
r2=$($VERIFY "$T/same2.snap" | grep -oE "id=[0-9]+ rip=0x[0-9a-f]+")
r0=$($VERIFY "$T/c2.snap" | grep -oE "id=[0-9]+ rip=0x[0-9a-f]+")
[ "$r0" = "$r1" ] && [ "$r1" = "$r2" ] || fail "vCPU registers differ: $r0 / $r1 / $r2"
echo "ok: two restores start identically ($d1; source $d0; $(echo $r1))"

# A small snapshot for the corruption cases.
start_bg small $HV run --kernel "$PROBE" --mem 64M --cpus 2 --control "$T/small.ctl" \
	--cmdline "mode=verify wss=4 rate=8 hb=100"
wait_pass "$T/small.out" 1 20 || fail "small guest did not run"
$HV snapshot --control "$T/small.ctl" --to "$T/good.snap" --stop >/dev/null || fail "small snapshot"
wait_exit $BG_PID 10 || fail "small: --stop did not end hv"

# restore_fails FILE REGEX [hv options]: refused, with one line naming it,
# and no guest output at all.
restore_fails() {
	local file=$1 re=$2; shift 2
	local out rc
	out=$(timeout 20 $HV run --restore "$file" --serial file:"$T/bad.serial" "$@" 2>&1); rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "restore of $(basename "$file") did not fail ($rc)"
	echo "$out" | grep -qE -- "$re" || fail "restore of $(basename "$file"): wanted /$re/, got: $out"
	[ "$(echo "$out" | wc -l)" -le 2 ] || fail "restore of $(basename "$file"): too many lines: $out"
	[ ! -s "$T/bad.serial" ] || fail "restore of $(basename "$file") ran the guest"
}

restore_fails "$T/missing.snap" "cannot open snapshot .*missing.snap: No such file"
restore_fails "$T/good.snap" "spec mismatch: .* 64 MiB guest, --mem asks for 128 MiB" --mem 128M
restore_fails "$T/good.snap" "spec mismatch: .* 2 vCPUs, --cpus asks for 1" --cpus 1
printf 'NOTFERRY and more bytes here....' >"$T/magic.snap"
restore_fails "$T/magic.snap" "magic"
$SNAPFILE version "$T/good.snap" 7 "$T/future.snap"
restore_fails "$T/future.snap" "version 7"
$SNAPFILE unknown "$T/good.snap" 9 "$T/unknown.snap"
restore_fails "$T/unknown.snap" "unknown mandatory (record )?type (9|0x9)"
# An unknown optional record is skipped: that restore must work.
$SNAPFILE unknown "$T/good.snap" $((0x80000009)) "$T/optional.snap"
$VERIFY --quiet "$T/optional.snap" >/dev/null || fail "verifier rejects an optional record"

n=0
size=$(stat -c %s "$T/good.snap")
while read -r off typ len; do
	for cut in $off $((off + 5)) $((off + 16 + len / 2)); do
		[ $cut -lt $size ] || continue
		$SNAPFILE truncate "$T/good.snap" $cut "$T/trunc.snap"
		restore_fails "$T/trunc.snap" "truncated|ended at offset|without an END"
		n=$((n + 1))
	done
done < <($SNAPFILE offsets "$T/good.snap")
for cut in 0 7 23; do
	$SNAPFILE truncate "$T/good.snap" $cut "$T/trunc.snap"
	restore_fails "$T/trunc.snap" "truncated|too short|header"
	n=$((n + 1))
done
echo "ok: $n truncations refused (every record boundary, 5 bytes in, mid-body)"

n=0
bits=$((size * 8))
for bit in 3 70 170 $((24 * 8 + 5)) $((bits / 3)) $((bits / 2 + 1)) $((bits - 200)) $((bits - 30)); do
	$SNAPFILE flip "$T/good.snap" $bit "$T/flip.snap"
	restore_fails "$T/flip.snap" "checksum|CRC|crc|magic|padding|reserved|malformed|header|version|length"
	n=$((n + 1))
done
echo "ok: $n single-bit flips refused"
echo "ok: missing file, spec mismatch (--mem, --cpus), wrong magic, future version, unknown mandatory record refused"
