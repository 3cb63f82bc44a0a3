#!/usr/bin/env bash
# make demo: boots the probe guest (verify, 2 vCPUs, 1 GiB) in hv, shows its
# heartbeat and status over the control socket, pauses and resumes it, and
# lets it finish its passes.
set -eu
BUILD=${1:-build}
T=$(mktemp -d /tmp/ferry-demo.XXXXXX)
trap 'kill $HVPID 2>/dev/null || true; rm -rf "$T"' EXIT
CTL=$T/ctl

echo "== booting the probe guest: verify, 2 vCPUs, 1 GiB"
"$BUILD/hv" run --kernel "$BUILD/probe.elf" --cpus 2 --mem 1G \
	--cmdline "mode=verify wss=256 rate=256 passes=4 hb=500" --control "$CTL" \
	--name demo &
HVPID=$!
for i in $(seq 50); do "$BUILD/hv" status --control "$CTL" >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
echo "== hv status"
"$BUILD/hv" status --control "$CTL"
echo "== pause for 1 s (the heartbeat stops), then resume"
"$BUILD/hv" pause --control "$CTL"
sleep 1
"$BUILD/hv" resume --control "$CTL"
set +e
wait $HVPID
rc=$?
HVPID=
echo "== guest finished its passes: hv exit status $rc (0 = verified, no errors)"
exit $rc
