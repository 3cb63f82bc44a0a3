#!/usr/bin/env bash
# Runs every unit-test binary under DIR (build/tests or build/asan/tests),
# shows cmocka's output, and ends with "N passed, N failed, N skipped"
# counted in test cases. A binary that dies before cmocka's summary
# (a sanitizer abort, a crash, a timeout) counts as one failed case.
# Exits nonzero when any case failed or no test binary was found.
#
# Sets FERRY_VMLINUZ to the cached Debian kernel (see fetch-vmlinuz.sh)
# and FERRY_PROBE_ELF to the built probe guest when they are there and the
# variables are not already set; tests that need them skip otherwise.
set -u

dir=${1:-build/tests}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${FERRY_CACHE:-$root/build/cache}
per_test_timeout=${FERRY_UNIT_TIMEOUT:-300}

if [ -z "${FERRY_VMLINUZ:-}" ] && [ -s "$cache/vmlinuz" ]; then
	export FERRY_VMLINUZ=$cache/vmlinuz
fi
probe=$root/${FERRY_BUILD:-build}/probe.elf
if [ -z "${FERRY_PROBE_ELF:-}" ] && [ -s "$probe" ]; then
	export FERRY_PROBE_ELF=$probe
fi
# Sanitizer reports must fail the run, and say where.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ ! -d "$dir" ]; then
	echo "run-unit: no directory $dir (run make unit-tests first)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

mapfile -t bins < <(find "$dir" -type f -perm -u+x -name 'test_*' \
	! -name '*.*' | sort)
if [ ${#bins[@]} -eq 0 ]; then
	echo "run-unit: no test binaries under $dir" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

passed=0 failed=0 skipped=0 bad_bins=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Reads cmocka's closing lines from $log; sets p f s and whether a
# summary was there at all.
parse_summary() {
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\) test(s)\..*/\1/p' "$log" |
		tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test(s).*/\1/p' "$log" |
		tail -n 1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]\+\) test(s).*/\1/p' "$log" |
		tail -n 1)
	summary=$([ -n "$p" ] && echo yes || echo no)
	p=${p:-0} f=${f:-0} s=${s:-0}
}

for bin in "${bins[@]}"; do
	echo "=== ${bin#"$dir"/}"
	timeout "$per_test_timeout" "$bin" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	parse_summary
	if [ "$summary" = no ]; then
		# Died mid-run: count the cases it finished, plus the one it
		# died in.
		echo "run-unit: ${bin#"$dir"/} exited $rc without a cmocka" \
			"summary" >&2
		p=$(grep -c '^\[       OK \] ' "$log")
		s=$(grep -c '^\[  SKIPPED \] [^0-9]' "$log")
		f=$(($(grep -c '^\[  FAILED  \] [^0-9]' "$log") + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Summary printed, then died (a leak report at exit, say).
		echo "run-unit: ${bin#"$dir"/} exited $rc" >&2
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	[ "$f" -eq 0 ] || bad_bins+=("${bin#"$dir"/}")
done

echo
if [ ${#bad_bins[@]} -gt 0 ]; then
	echo "failing: ${bad_bins[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
