#!/usr/bin/env bash
# Never lose the guest: a connection cut mid-pre-copy, a destination killed
# mid-pre-copy and one killed after switchover before confirming all leave
# the guest running on the source (and a retry succeeds); a destination fed
# a malformed, truncated, version-mismatched or spec-mismatched stream
# exits with a clear error and starts nothing; a recorded stream passes
# ferry-stream-verify.
source "$(dirname "$0")/lib.sh"
need_kvm
RELAY="python3 $(dirname "$0")/relay.py"
SNAPFILE="python3 $(dirname "$0")/snapfile.py"

start_bg src $HV run --kernel "$PROBE" --cpus 2 --mem 512M --control "$T/src" \
	--serial file:"$T/src.serial" --cmdline "mode=verify wss=128 rate=100 hb=100"
SRC=$BG_PID
wait_ctl "$T/src" 10 && wait_for "$T/src.serial" "^probe: hb" 10 || fail "source did not start"

# still_verifying: the source guest runs on with a clean check.
still_verifying() {
	$HV status --control "$T/src" | grep -q "state: *running" || fail "$1: source VM not running"
	local a=$(grep -c "^probe: hb" "$T/src.serial")
	sleep 0.5
	[ "$(grep -c "^probe: hb" "$T/src.serial")" -gt "$a" ] || fail "$1: source guest stopped"
	grep -q "ERROR\|FATAL" "$T/src.serial" && fail "$1: $(grep -m1 "ERROR\|FATAL" "$T/src.serial")"
	echo "ok: $1: guest still running and verifying on the source"
}

# 1. Connection cut mid-pre-copy (relay closes after 32 MiB).
p=$(port); r=$(port)
start_bg dst1 $HV run --incoming tcp:127.0.0.1:$p --serial file:"$T/dst1.serial"
DST1=$BG_PID
wait_for "$T/dst1.out" "waiting for a migration" 10 || fail "dst1 not listening"
start_bg relay1 $RELAY $r $p "$T/cut.rec" --cut-after $((32 << 20))
wait_for "$T/relay1.out" listening 10 || fail "relay not listening"
expect_fail "migration to tcp:127.0.0.1:$r failed" \
	$HV migrate --control "$T/src" --to tcp:127.0.0.1:$r --streams 1 --max-bandwidth 200
wait_exit $DST1 10 || fail "destination did not give up after the cut"
[ "$EXIT_CODE" -ne 0 ] || fail "destination exited 0 after a cut stream"
[ ! -s "$T/dst1.serial" ] || fail "destination ran the guest after a cut"
still_verifying "cut mid-pre-copy"

# 2. Destination SIGKILLed mid-pre-copy (a slow, capped migration).
p=$(port)
start_bg dst2 $HV run --incoming tcp:127.0.0.1:$p --serial file:"$T/dst2.serial"
DST2=$BG_PID
wait_for "$T/dst2.out" "waiting for a migration" 10 || fail "dst2 not listening"
$HV migrate --control "$T/src" --to tcp:127.0.0.1:$p --max-bandwidth 50 \
	>"$T/m2.out" 2>&1 &
MIG2=$!
# While it runs the migration alone may pause or resume the guest.
for i in $(seq 50); do
	$HV status --control "$T/src" | grep -q "pre-copy" && break; sleep 0.02
done
expect_fail "cannot pause: a migration to tcp:127.0.0.1:$p is running" $HV pause --control "$T/src"
expect_fail "cannot resume: a migration" $HV resume --control "$T/src"
expect_fail "cannot snapshot: a migration" $HV snapshot --control "$T/src" --to "$T/mid.snap"
expect_fail "a migration is already running" $HV migrate --control "$T/src" --to tcp:127.0.0.1:$p
kill -9 $DST2
wait $MIG2 && fail "migration to a killed destination succeeded"
grep -q "migration to tcp:127.0.0.1:$p failed" "$T/m2.out" || fail "unclear failure: $(cat "$T/m2.out")"
still_verifying "destination killed mid-pre-copy"

# A paused guest is not migrated (its owner paused it; the migration would
# have to resume it somewhere).
$HV pause --control "$T/src" >/dev/null
expect_fail "cannot migrate: VM is paused" $HV migrate --control "$T/src" --to tcp:127.0.0.1:$p
$HV resume --control "$T/src" >/dev/null

# 3. Destination killed after switchover, before confirming RUNNING.
p=$(port)
FERRY_TEST_DIE_AFTER_GO=1 start_bg dst3 $HV run --incoming tcp:127.0.0.1:$p \
	--test-hooks --serial file:"$T/dst3.serial"
wait_for "$T/dst3.out" "waiting for a migration" 10 || fail "dst3 not listening"
expect_fail "migration to tcp:127.0.0.1:$p failed" \
	$HV migrate --control "$T/src" --to tcp:127.0.0.1:$p
grep -q "killing this destination after GO" "$T/dst3.out" || fail "hook did not fire: $(cat "$T/dst3.out")"
[ ! -s "$T/dst3.serial" ] || fail "killed destination ran the guest"
still_verifying "destination killed after switchover"

# 4. Spec mismatch: the destination asks for other memory; refused before
#    anything runs, the source keeps its guest.
p=$(port)
start_bg dst4 $HV run --incoming tcp:127.0.0.1:$p --mem 1G --serial file:"$T/dst4.serial"
DST4=$BG_PID
wait_for "$T/dst4.out" "waiting for a migration" 10 || fail "dst4 not listening"
expect_fail "destination refused" $HV migrate --control "$T/src" --to tcp:127.0.0.1:$p
wait_exit $DST4 10 || fail "dst4 did not exit"
[ "$EXIT_CODE" -ne 0 ] || fail "dst4 exited 0"
grep -q "spec mismatch: the stream holds a 512 MiB guest, --mem asks for 1024 MiB" "$T/dst4.out" ||
	fail "dst4 error unclear: $(cat "$T/dst4.out")"
still_verifying "spec mismatch refused"

# 5. A retry succeeds, through a recording relay; the recording verifies.
p=$(port); r=$(port)
start_bg dst5 $HV run --incoming tcp:127.0.0.1:$p --control "$T/dst5" --serial file:"$T/dst5.serial"
wait_for "$T/dst5.out" "waiting for a migration" 10 || fail "dst5 not listening"
start_bg relay5 $RELAY $r $p "$T/good.rec"
wait_for "$T/relay5.out" listening 10 || fail "relay not listening"
$HV migrate --control "$T/src" --to tcp:127.0.0.1:$r --streams 1 >"$T/m5.out" ||
	fail "retry failed: $(cat "$T/m5.out")"
wait_exit $SRC 10 || fail "source did not exit after the migration"
[ "$EXIT_CODE" -eq 0 ] || fail "source exited $EXIT_CODE"
wait_for "$T/dst5.serial" "^probe: hb" 5 || fail "guest not running on dst5"
grep -q "ERROR" "$T/dst5.serial" && fail "dst5: $(grep ERROR "$T/dst5.serial")"
sleep 0.3
$BUILD/ferry-stream-verify --quiet "$T/good.rec" >"$T/verify.out" ||
	fail "recorded stream rejected: $(cat "$T/verify.out")"
echo "ok: retry migrated ($(grep downtime "$T/m5.out" | xargs)); recorded stream: $(tail -n1 "$T/verify.out")"

# 6. Malformed streams straight at a destination: each refused, nothing runs.
feed() { python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(open(sys.argv[2],"rb").read()); s.shutdown(socket.SHUT_WR); s.recv(65536)' "$@" 2>/dev/null; }
bad_stream() {
	local name=$1 file=$2 re=$3 p=$(port)
	start_bg $name $HV run --incoming tcp:127.0.0.1:$p --serial file:"$T/$name.serial"
	local pid=$BG_PID
	wait_for "$T/$name.out" "waiting for a migration" 10 || fail "$name not listening"
	feed $p "$file"
	wait_exit $pid 15 || fail "$name: destination did not give up"
	[ "$EXIT_CODE" -ne 0 ] || fail "$name: destination exited 0"
	[ ! -s "$T/$name.serial" ] || fail "$name: destination ran a guest"
	grep -qE -- "$re" "$T/$name.out" || fail "$name: unclear error: $(cat "$T/$name.out")"
	echo "ok: $name refused: $(grep -m1 error "$T/$name.out")"
}
printf 'GARBAGE!GARBAGE!GARBAGE!GARBAGE!' >"$T/garbage.bin"
bad_stream garbage "$T/garbage.bin" "magic"
$SNAPFILE version "$T/good.rec" 9 "$T/future.rec"
bad_stream future "$T/future.rec" "version 9"
size=$(stat -c %s "$T/good.rec")
$SNAPFILE truncate "$T/good.rec" $((size / 2)) "$T/half.rec"
bad_stream truncated "$T/half.rec" "truncated|ended at offset"
$SNAPFILE flip "$T/good.rec" $((size * 4 + 3)) "$T/flip.rec"
bad_stream bitflip "$T/flip.rec" "CRC32C|checksum|malformed|padding"
