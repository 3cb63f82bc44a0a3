#!/usr/bin/env bash
# Live migration on loopback: verify (1 and 2 vCPUs) and dirty guests move
# and keep running with their own checks passing; A -> B -> A; the recorded
# stream passes the verifier; the source exits 0 only after confirmation.
source "$(dirname "$0")/lib.sh"
need_kvm


# migrate NAME FROM_CTL TO_CTL [migrate options]: starts a destination,
# migrates FROM_CTL's guest to it, checks the report and both processes.
# Leaves the destination's PID in DST_PID.
migrate() {
	local name=$1 from=$2 to=$3; shift 3
	local p=$(port) src_pid
	src_pid=$($HV status --control "$from" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	start_bg $name $HV run --incoming tcp:127.0.0.1:$p --control "$to" \
		--serial file:"$T/$name.serial"
	DST_PID=$BG_PID
	wait_for "$T/$name.out" "waiting for a migration" 10 || fail "$name: destination not listening"
	timeout 120 $HV migrate --control "$from" --to tcp:127.0.0.1:$p --json \
		"$@" >"$T/$name.json" || fail "$name: migrate failed: $(cat "$T/$name.json")"
	python3 - "$T/$name.json" <<'PY' || fail "$name: bad report: $(cat "$T/$name.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["phase"] == "completed" and r["converged"] and r["error"] == 0, r
assert r["downtime_ns"] > 0 and r["total_ns"] >= r["downtime_ns"], r
assert r["bytes"] > 0 and r["rounds"] >= 1 and len(r["round_pages"]) == r["rounds"], r
PY
	# The source ends by itself, with 0, once the destination confirmed.
	for i in $(seq 100); do kill -0 $src_pid 2>/dev/null || break; sleep 0.05; done
	kill -0 $src_pid 2>/dev/null && fail "$name: source still runs after the migration"
	wait_ctl "$to" 10 || fail "$name: destination has no control socket"
	$HV status --control "$to" | grep -q "state: *running" || fail "$name: destination not running"
	echo "ok: $name: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("total %.1f ms, downtime %.1f ms, %d rounds %s, %.1f MiB" % (r["total_ns"]/1e6, r["downtime_ns"]/1e6, r["rounds"], r["round_pages"], r["bytes"]/2**20))' "$T/$name.json")"
}

# check_verifying SERIAL: the guest keeps heartbeating with no errors.
check_verifying() {
	local f=$1 a
	a=$(grep -c "^probe: hb" "$f")
	wait_for "$f" "^probe: hb" 5 || fail "$f: no heartbeat"
	sleep 0.6
	[ "$(grep -c "^probe: hb" "$f")" -gt "$a" ] || fail "$f: heartbeat stopped"
	grep -q "ERROR\|FATAL" "$f" && fail "$f: $(grep -m1 "ERROR\|FATAL" "$f")"
	grep "^probe: hb" "$f" | tail -n1 | grep -qE "errors=0|wps=" || fail "$f: bad heartbeat"
}

for cpus in 1 2; do
	start_bg v$cpus $HV run --kernel "$PROBE" --cpus $cpus --mem 512M \
		--control "$T/v$cpus.a" --serial file:"$T/v$cpus.src" \
		--cmdline "mode=verify wss=128 rate=100 hb=100"
	wait_ctl "$T/v$cpus.a" 10 && wait_pass "$T/v$cpus.src" 0 10 || fail "v$cpus: no start"
	migrate v$cpus.ab "$T/v$cpus.a" "$T/v$cpus.b"
	check_verifying "$T/v$cpus.ab.serial"
done

# A -> B -> A, with a guest dirtying 400 MiB/s on 2 vCPUs. Auto-converge
# keeps it bounded when the machine is busy (CI runs on 2 cores).
start_bg d $HV run --kernel "$PROBE" --cpus 2 --mem 512M --control "$T/d.a" \
	--serial file:"$T/d.src" --cmdline "mode=dirty wss=64 rate=400 hb=100"
wait_ctl "$T/d.a" 10 || fail "dirty: no start"
migrate d.ab "$T/d.a" "$T/d.b" --auto-converge
migrate d.ba "$T/d.b" "$T/d.a2" --auto-converge
wait_for "$T/d.ba.serial" "^probe: hb" 5 || fail "dirty: no heartbeat after A->B->A"
echo "ok: dirty guest A -> B -> A still running"

# The verify guest from above goes back too, and still verifies; then it
# must finish clean when told to quit.
migrate v2.ba "$T/v2.b" "$T/v2.c"
check_verifying "$T/v2.ba.serial"
$HV quit --control "$T/v2.c" >/dev/null
echo "ok: verify guest A -> B -> A keeps verifying"

# A guest dirtying faster than the target allows: without auto-converge the
# migration gives up within its bounds and the guest runs on; with it, the
# vCPUs are throttled until it converges.
start_bg nc $HV run --kernel "$PROBE" --cpus 1 --mem 128M --control "$T/nc.a" \
	--serial file:"$T/nc.src" --cmdline "mode=dirty wss=8 rate=0 hb=100"
wait_ctl "$T/nc.a" 10 && wait_for "$T/nc.src" "^probe: hb" 10 || fail "nc: no start"
p=$(port)
start_bg nc.dst $HV run --incoming tcp:127.0.0.1:$p --serial file:"$T/nc.dst.serial"
NCDST=$BG_PID
wait_for "$T/nc.dst.out" "waiting for a migration" 10 || fail "nc: destination not listening"
# 1 ms at 100 MiB/s is 25 pages; the guest rewrites its 2048 pages in a few
# ms, so only a guest starved for a whole 80 ms round could converge.
timeout 120 $HV migrate --control "$T/nc.a" --to tcp:127.0.0.1:$p --downtime-ms 1 \
	--max-bandwidth 100 --streams 1 --json >"$T/nc.json" && fail "a non-converging migration succeeded: $(cat "$T/nc.json")"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["phase"]=="failed" and not r["converged"] and "converge" in r["message"] and r["throttle_pct"]==0, r' "$T/nc.json" ||
	fail "non-converging report: $(cat "$T/nc.json")"
$HV status --control "$T/nc.a" | grep -q "state: *running" || fail "nc: guest not running after the abort"
a=$(grep -c "^probe: hb" "$T/nc.src"); sleep 0.4
[ "$(grep -c "^probe: hb" "$T/nc.src")" -gt "$a" ] || fail "nc: guest stopped after the abort"
wait_exit $NCDST 15 || fail "nc: destination did not give up"
[ ! -s "$T/nc.dst.serial" ] || fail "nc: destination ran the guest"
echo "ok: did not converge -> failed cleanly ($(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["rounds"], "rounds:", r["message"])' "$T/nc.json")); guest runs on the source"
migrate nc.ab "$T/nc.a" "$T/nc.b" --downtime-ms 1 --auto-converge
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["throttle_pct"] > 0, r' "$T/nc.ab.json" ||
	fail "auto-converge applied no throttle: $(cat "$T/nc.ab.json")"
wait_for "$T/nc.ab.serial" "^probe: hb" 5 || fail "nc: no heartbeat after auto-converge"
echo "ok: auto-converge throttled to $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["throttle_pct"])' "$T/nc.ab.json")% and converged"
