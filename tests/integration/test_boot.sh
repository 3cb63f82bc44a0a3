#!/usr/bin/env bash
# The probe guest boots in hv with 1 and 2 vCPUs, each workload runs on
# every vCPU, `verify passes=N` exits 0, and the issue's acceptance command
# works as written.
source "$(dirname "$0")/lib.sh"
need_kvm

for cpus in 1 2; do
	out=$(timeout 60 $HV run --kernel "$PROBE" --cpus $cpus --mem 256M \
		--cmdline "mode=verify wss=64 passes=3 hb=100") ||
		fail "verify on $cpus vCPU(s) exited $?: $out"
	echo "$out" | grep -q "^probe: start mode=verify cpus=$cpus " ||
		fail "banner does not show $cpus vCPUs: $out"
	echo "$out" | grep -qE "^probe: done .*passes=3 .*errors=0" ||
		fail "no clean done line: $out"
	echo "ok: verify passes=3 on $cpus vCPU(s)"
done

# The acceptance command from the issue, verbatim.
timeout 120 $HV run --kernel "$PROBE" --cpus 2 --mem 1G \
	--cmdline "mode=verify wss=256 passes=5" >"$T/accept.out" ||
	fail "acceptance command exited $?: $(cat "$T/accept.out")"
echo "ok: acceptance command exits 0 ($(tail -n1 "$T/accept.out"))"

# dirty and idle print heartbeats; dirty writes pages on both vCPUs.
start_bg dirty $HV run --kernel "$PROBE" --cpus 2 --mem 256M \
	--cmdline "mode=dirty wss=64 rate=50 hb=100"
wait_for "$T/dirty.out" "^probe: hb pass=[0-9]+ wps=[1-9]" 10 ||
	fail "dirty mode printed no heartbeat with writes: $(cat "$T/dirty.out")"
kill -TERM "$BG_PID"
wait_exit "$BG_PID" 10 || fail "hv did not stop on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || fail "SIGTERM exit status $EXIT_CODE, wanted 0"
wps=$(grep -oE "wps=[0-9]+" "$T/dirty.out" | tail -n1 | cut -d= -f2)
# rate=50 MiB/s is 12800 pages/s; allow wide scheduling slack.
[ "$wps" -gt 6000 ] && [ "$wps" -lt 20000 ] ||
	fail "dirty rate=50 reported wps=$wps, expected about 12800"
echo "ok: dirty rate=50 paces at wps=$wps; SIGTERM exits 0"

start_bg idle $HV run --kernel "$PROBE" --mem 64M --cmdline "mode=idle wss=4 hb=50"
wait_pass "$T/idle.out" 3 10 || fail "idle heartbeat missing"
kill -INT "$BG_PID"
wait_exit "$BG_PID" 10 || fail "hv did not stop on SIGINT"
[ "$EXIT_CODE" -eq 0 ] || fail "SIGINT exit status $EXIT_CODE, wanted 0"
echo "ok: idle heartbeats; SIGINT exits 0"

# A bad guest command line is the guest's error: exit 2.
timeout 10 $HV run --kernel "$PROBE" --mem 64M --cmdline "mode=bogus" >"$T/bad.out"
rc=$?
[ $rc -eq 2 ] || fail "mode=bogus: exit $rc, wanted 2"
echo "ok: bad guest command line exits 2"
