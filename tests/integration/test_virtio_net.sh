#!/usr/bin/env bash
# virtio-net on a real tap inside a network namespace this test creates
# (addresses only inside it): hv opens the tap, the probe's net mode
# answers ARP and ping, `ping -c 20` loses nothing; the NIC survives a
# snapshot/restore (same MAC, pings answered again); a tap hv cannot
# create is refused with one clear line. Control sockets are abstract
# (per network namespace), so hv commands run inside it too.
source "$(dirname "$0")/lib.sh"
need_kvm
command -v ip >/dev/null && command -v ping >/dev/null || skip "no ip or ping"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
NS=ferry-net-$$
ip netns add $NS 2>/dev/null || skip "cannot create a network namespace (not root?)"
trap 'cleanup; ip netns del $NS 2>/dev/null' EXIT
# Foreground only: start_bg must get ip itself (it execs hv, same PID).
nsx() { ip netns exec $NS "$@"; }
nsx ip link set lo up
nsx ip tuntap add mode tap name tap0 || fail "cannot create tap0 in $NS"
nsx ip addr add 10.77.0.1/24 dev tap0
nsx ip link set tap0 up

start_bg net ip netns exec $NS $HV run --kernel "$PROBE" --cpus 2 --mem 64M --net tap=tap0,mac=52:54:00:aa:bb:01 \
	--control "$T/net.ctl" --cmdline "mode=net ip=10.77.0.2 hb=500"
wait_for "$T/net.out" "^probe: net mac=52:54:0:aa:bb:1 ip=10.77.0.2" 10 ||
	fail "net guest did not come up: $(cat "$T/net.out")"
out=$(nsx ping -c 20 -i 0.05 -W 2 10.77.0.2) || fail "ping failed: $out"
echo "$out" | grep -q " 0% packet loss" || fail "ping lost packets: $out"
echo "ok: ping -c 20: $(echo "$out" | grep -oE '[0-9]+ received, 0% packet loss'); $(echo "$out" | tail -n1)"
nsx ip neigh show 10.77.0.2 | grep -q "52:54:00:aa:bb:01" || fail "ARP did not learn the guest's MAC"

nsx $HV snapshot --control "$T/net.ctl" --to "$T/net.snap" --stop >/dev/null || fail "snapshot failed"
wait_exit $BG_PID 20 || fail "--stop did not end hv"
start_bg netr ip netns exec $NS $HV run --restore "$T/net.snap" --net tap=tap0,mac=52:54:00:aa:bb:01
wait_for "$T/netr.out" "^probe: hb" 10 || fail "restored net guest silent: $(cat "$T/netr.out")"
out=$(nsx ping -c 10 -i 0.05 -W 2 10.77.0.2) || fail "ping after restore failed: $out"
echo "$out" | grep -q " 0% packet loss" || fail "ping after restore lost packets: $out"
grep -q "^probe: start" "$T/netr.out" && fail "restored net guest rebooted"
echo "ok: after snapshot/restore: $(echo "$out" | grep -oE '[0-9]+ received, 0% packet loss')"

expect_fail "cannot create or attach tap lo" \
	ip netns exec $NS $HV run --kernel "$PROBE" --net tap=lo --serial none
expect_fail "--net tap=thisnameiswaytoolong: expected tap=IFNAME" \
	$HV run --kernel "$PROBE" --net tap=thisnameiswaytoolong --serial none
