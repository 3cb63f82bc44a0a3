#!/usr/bin/env bash
# The control socket: status (text and JSON), pause stops the heartbeat,
# resume continues it, refused transitions, a second hv on the same socket,
# nothing listening, unknown options, quit.
source "$(dirname "$0")/lib.sh"
need_kvm
CTL=$T/ctl

start_bg vm $HV run --kernel "$PROBE" --cpus 2 --mem 256M --name ctltest \
	--serial file:"$T/serial" --control "$CTL" --cmdline "mode=idle hb=100"
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
$HV resume --control "$CTL" >/dev/null || fail "resume failed"
wait_for "$T/serial" "pass=$((b + 3)) " 5 || fail "heartbeat did not resume"
expect_fail "cannot resume: VM is running" $HV resume --control "$CTL"
echo "ok: pause stops the heartbeat for 1 s ($a lines before and after), resume continues it"

expect_fail "control socket $CTL is in use" \
	$HV run --kernel "$PROBE" --mem 64M --control "$CTL" --cmdline "mode=idle wss=1"
expect_fail "no hv at control socket $T/nothing" $HV status --control "$T/nothing"
expect_fail "--control PATH is required" $HV status
expect_fail "unknown option --bogus" $HV pause --control "$CTL" --bogus
expect_fail "--to FILE is required" $HV snapshot --control "$CTL"
kill -0 $pid || fail "the VM died"

$HV quit --control "$CTL" >/dev/null || fail "quit failed"
wait_exit $pid 10 || fail "hv did not exit after quit"
[ "$EXIT_CODE" -eq 0 ] || fail "hv exited $EXIT_CODE after quit"
echo "ok: quit exits 0"
