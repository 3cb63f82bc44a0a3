#!/usr/bin/env bash
# The control socket: status (text and JSON), pause stops the heartbeat,
# resume continues it, refused transitions, a second hv on the same socket,
# nothing listening, a stopped hv (short connect timeout), the debug-flip
# test hook, unknown options, quit.
source "$(dirname "$0")/lib.sh"
need_kvm
CTL=$T/ctl

start_bg vm $HV run --kernel "$PROBE" --cpus 2 --mem 256M --name ctltest \
	--serial file:"$T/serial" --control "$CTL" --cmdline "mode=idle hb=100" \
	--test-hooks
pid=$BG_PID
wait_ctl "$CTL" 10 || fail "no control socket"
wait_for "$T/serial" "^probe: hb" 10 || fail "no heartbeat"

st=$($HV status --control "$CTL") || fail "status failed"
echo "$st" | grep -q "state: *running" || fail "status: $st"
echo "$st" | grep -q "vCPUs: *2" || fail "status vCPUs: $st"
echo "$st" | grep -q "memory: *256 MiB" || fail "status memory: $st"
echo "$st" | grep -q "name: *ctltest" || fail "status name: $st"
js=$($HV status --control "$CTL" --json) || fail "status --json failed"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["state"]=="running" and d["vcpus"]==2 and d["mem_bytes"]==256<<20 and d["name"]=="ctltest" and d["uptime_ns"]>0, d' "$js" ||
	fail "status --json: $js"
echo "ok: status and --json: $js"

$HV pause --control "$CTL" >/dev/null || fail "pause failed"
$HV status --control "$CTL" | grep -q "state: *paused" || fail "not paused"
a=$(grep -c "^probe: hb" "$T/serial"); sleep 1; b=$(grep -c "^probe: hb" "$T/serial")
[ "$a" -eq "$b" ] || fail "heartbeat continued while paused ($a -> $b)"
expect_fail "cannot pause: VM is paused" $HV pause --control "$CTL"
# Flip a byte the idle guest never reads, and flip it back.
for i in 1 2; do
	$HV debug-flip --control "$CTL" --gpa 0x8000000 | grep -q "flipped byte at gpa 0x8000000" ||
		fail "debug-flip while paused"
done
expect_fail "gpa 0x100000000 is not guest RAM" $HV debug-flip --control "$CTL" --gpa 0x100000000
$HV resume --control "$CTL" >/dev/null || fail "resume failed"
wait_for "$T/serial" "pass=$((b + 3)) " 5 || fail "heartbeat did not resume"
expect_fail "cannot resume: VM is running" $HV resume --control "$CTL"
expect_fail "debug-flip needs a paused VM" $HV debug-flip --control "$CTL" --gpa 0x8000000
echo "ok: pause stops the heartbeat for 1 s ($a lines before and after), resume continues it"

expect_fail "control socket $CTL is in use" \
	$HV run --kernel "$PROBE" --mem 64M --control "$CTL" --cmdline "mode=idle wss=1"
expect_fail "no hv at control socket $T/nothing" $HV status --control "$T/nothing"
expect_fail "no hv at control socket /nonexistent" $HV status --control /nonexistent
expect_fail "--control PATH is required" $HV status
expect_fail "unknown option --bogus" $HV pause --control "$CTL" --bogus
expect_fail "option --gpa is only for debug-flip" $HV status --control "$CTL" --gpa 1
expect_fail "--gpa ADDR is required" $HV debug-flip --control "$CTL"
expect_fail "--gpa zz is not an address" $HV debug-flip --control "$CTL" --gpa zz

# A stopped hv: the client gives up after its short connect timeout.
kill -STOP $pid
t0=$(date +%s%N)
expect_fail "did not answer within" $HV status --control "$CTL"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT $pid
[ $ms -lt 3000 ] || fail "connect timeout took $ms ms"
$HV status --control "$CTL" >/dev/null || fail "status after SIGCONT"
echo "ok: a stopped hv times out in $ms ms and answers again once continued"
expect_fail "--to FILE is required" $HV snapshot --control "$CTL"
kill -0 $pid || fail "the VM died"

# A PATH too long for libqb's socket names still works (hashed name), and
# does not collide with one that differs only at its end.
LONG=$T/$(printf 'd%.0s' {1..80})/a/b/c/d/e/f/g/h/vm-
start_bg long $HV run --kernel "$PROBE" --mem 256M --serial none \
	--control "${LONG}1" --cmdline "mode=idle hb=100"
lpid=$BG_PID
wait_ctl "${LONG}1" 10 || fail "no hv at a long control path: $(cat "$T/long.out")"
expect_fail "no hv at control socket ${LONG}2" $HV status --control "${LONG}2"
$HV quit --control "${LONG}1" >/dev/null || fail "quit on a long control path"
wait_exit $lpid 10 || fail "hv on a long control path did not exit"
echo "ok: a ${#LONG}-character control path"

$HV quit --control "$CTL" >/dev/null || fail "quit failed"
wait_exit $pid 10 || fail "hv did not exit after quit"
[ "$EXIT_CODE" -eq 0 ] || fail "hv exited $EXIT_CODE after quit"
echo "ok: quit exits 0"
