#!/usr/bin/env bash
# Proves the checker can fail: with hv's test hook, flip one byte of one
# working-set page while the guest is paused; `verify` must exit 3 and name
# exactly that page. Repeated for a page on each of 2 vCPUs' slices.
source "$(dirname "$0")/lib.sh"
need_kvm

flip_test() {
	local name=$1 page=$2 offset=$3
	local ctl=$T/$name.ctl
	start_bg "$name" $HV run --kernel "$PROBE" --cpus 2 --mem 256M \
		--control "$ctl" --test-hooks \
		--cmdline "mode=verify wss=16 rate=16 hb=50"
	local pid=$BG_PID
	wait_pass "$T/$name.out" 1 20 || fail "$name: no heartbeat"
	base=$(grep -oE "base=0x[0-9a-f]+" "$T/$name.out" | head -n1 | cut -d= -f2)
	gpa=$(printf '0x%x' $((base + page * 4096 + offset)))
	$HV pause --control "$ctl" >/dev/null || fail "$name: pause"
	$HV debug-flip --control "$ctl" --gpa "$gpa" >/dev/null || fail "$name: flip"
	$HV resume --control "$ctl" >/dev/null || fail "$name: resume"
	wait_exit "$pid" 20 || fail "$name: guest did not notice the flipped byte"
	[ "$EXIT_CODE" -eq 3 ] || fail "$name: exit $EXIT_CODE, wanted 3: $(tail -n3 "$T/$name.out")"
	grep -qE "^probe: ERROR page=$page gpa=$(printf '0x%x' $((base + page * 4096)))" "$T/$name.out" ||
		fail "$name: error does not name page $page: $(grep ERROR "$T/$name.out")"
	echo "ok: $name: $(grep ERROR "$T/$name.out")"
}

flip_test first 0 0
flip_test mid 1234 2049
flip_test last 4095 4095

# Without --test-hooks the hook is refused.
start_bg nohooks $HV run --kernel "$PROBE" --mem 128M --control "$T/nh" \
	--cmdline "mode=idle hb=50"
wait_for "$T/nohooks.out" "^probe: start" 10 || fail "nohooks: no start"
$HV pause --control "$T/nh" >/dev/null
expect_fail "needs hv run --test-hooks" $HV debug-flip --control "$T/nh" --gpa 0x1000000
$HV quit --control "$T/nh" >/dev/null
