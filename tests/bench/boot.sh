#!/usr/bin/env bash
# Boot benchmark: time from hv start to the probe guest's first "probe:"
# line (median of N runs, hv and QEMU microvm side by side), and the host CPU
# an idle guest costs. Prints numbers; asserts nothing.
#   tests/bench/boot.sh [BUILD] [RUNS]
set -u
BUILD=${1:-build}
RUNS=${2:-10}
HV=$BUILD/hv
PROBE=$BUILD/probe.elf
T=$(mktemp -d /tmp/ferry-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

# first_line_ms CMD...: ms from exec to the first line starting "probe:".
first_line_ms() {
	python3 - "$@" <<'PY'
import subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
ms = -1
for line in p.stdout:
    if line.startswith(b"probe:"):
        ms = (time.monotonic() - t0) * 1000
        break
p.kill(); p.wait()
print(f"{ms:.1f}")
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

hv_cmd=($HV run --kernel "$PROBE" --mem 1G --cpus 2 --cmdline "mode=idle hb=1000")
qemu_cmd=(qemu-system-x86_64 -machine microvm -enable-kvm
	-cpu host,-arch-capabilities -m 1G -smp 1 -nodefaults -no-user-config
	-nographic -serial stdio -kernel "$PROBE" -append "mode=idle hb=1000")

for i in $(seq "$RUNS"); do first_line_ms "${hv_cmd[@]}"; done >"$T/hv"
for i in $(seq "$RUNS"); do first_line_ms "${qemu_cmd[@]}"; done >"$T/qemu"
hv_ms=$(median <"$T/hv")
qemu_ms=$(median <"$T/qemu")
printf '%-34s %10s %10s %8s\n' "first probe: line (median of $RUNS)" hv qemu ratio
printf '%-34s %8s ms %7s ms %8s\n' "1 GiB, idle" "$hv_ms" "$qemu_ms" \
	"$(awk -v a="$hv_ms" -v b="$qemu_ms" 'BEGIN{printf "%.2f", a/b}')"

# Idle CPU: on-CPU time of all hv threads (schedstat, ns) over 5 s.
"$HV" run --kernel "$PROBE" --mem 1G --cpus 2 --serial none \
	--cmdline "mode=idle hb=1000" &
pid=$!
sleep 1
oncpu_ns() { cat /proc/$pid/task/*/schedstat | awk '{s += $1} END {print s}'; }
a=$(oncpu_ns); sleep 5; b=$(oncpu_ns)
kill "$pid"; wait "$pid" 2>/dev/null
printf 'idle guest (2 vCPUs, hb=1000): %s%% of one core over 5 s\n' \
	"$(awk -v d=$((b - a)) 'BEGIN{printf "%.3f", d / 5e9 * 100}')"
