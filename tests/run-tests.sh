#!/usr/bin/env bash
# Runs every test `make check` owns: unit tests (cmocka), then each
# tests/integration/test_*.sh and tests/cluster/test_*.sh. A script exits 0
# (pass), 77 after printing "SKIPPED: reason" (skip) or anything else (fail).
# Ends with one line "N passed, N failed, N skipped" counting test scripts
# and unit-test binaries; exits nonzero if anything failed.
set -u
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export FERRY_BUILD=$BUILD

pass=0 fail=0 skip=0
failed=()

tests/unit/fetch-vmlinuz.sh "$BUILD/cache" >/dev/null 2>&1 ||
	echo "note: could not fetch Debian's vmlinuz; bzImage tests will skip"
[ -f "$BUILD/cache/vmlinuz" ] && export FERRY_VMLINUZ=$top/$BUILD/cache/vmlinuz

echo "== unit tests"
unit_out=$(tests/unit/run-unit.sh "$BUILD/tests" 2>&1)
unit_rc=$?
echo "$unit_out"
# Count unit-test cases, not the binary that ran them.
read -r up uf us < <(echo "$unit_out" | tail -n1 |
	sed -nE 's/^([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped$/\1 \2 \3/p')
pass=$((pass + ${up:-0})) fail=$((fail + ${uf:-0})) skip=$((skip + ${us:-0}))
if [ $unit_rc -ne 0 ]; then
	[ "${uf:-0}" -gt 0 ] || fail=$((fail + 1))
	failed+=("unit tests")
fi

for t in tests/integration/test_*.sh tests/cluster/test_*.sh; do
	[ -x "$t" ] || continue
	name=${t#tests/}
	echo "== $name"
	start=$(date +%s%N)
	out=$(timeout 600 "$t" "$BUILD" 2>&1)
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	secs="$((ms / 1000)).$((ms % 1000 / 100))"
	case $rc in
	0) pass=$((pass + 1)); echo "$out" | tail -n 5; echo "-- PASS $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "$out" | grep -m1 SKIPPED; echo "-- SKIP $name" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "$out" | tail -n 40
	   echo "-- FAIL $name (exit $rc, ${secs}s)" ;;
	esac
done

[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
