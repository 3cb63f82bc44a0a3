#!/usr/bin/env bash
# 3-node cluster: `hactl node drain` live-migrates the VM off its node
# (hv migrate) and the guest keeps verifying on the destination; nothing is
# placed on a drained node; the drained node restarts and rejoins still
# drained; undrain; `hactl vm migrate --to` moves it explicitly.
TEST_ID=13
. "$(dirname "$0")/lib.sh"
need_cluster
"$HV" migrate 2>&1 | grep -q "unknown command" &&
	skip "hv migrate is not there yet (live migration issue)"
cluster_up 3

cl_hactl 1 vm add vm1 --kernel "$PROBE" --mem 64M --cpus 1 \
	--cmdline "$VM_CMDLINE" --checkpoint-interval 1 >/dev/null || cfail "vm add"
a=$(vm_field vm1 node)
wait_hb "$a" vm1 10 || cfail "vm1 never ran"
sleep 0.5

t0=$(date +%s%N)
out=$(cl_hactl 2 node drain "$a") || cfail "drain failed: $out"
ms=$((($(date +%s%N) - t0) / 1000000))
b=$(vm_field vm1 node)
[ "$b" != "$a" ] || cfail "vm1 still on the drained node $a"
grep -q "live-migrated from node $a" "$CL_DIR/n$b/hacd.log" ||
	cfail "vm1 did not move by live migration"
for ((i = 0; i < 100; i++)); do [ "$(hv_nodes vm1)" = "$b" ] && break; sleep 0.05; done
[ "$(hv_nodes vm1)" = "$b" ] || cfail "vm1 runs on: $(hv_nodes vm1)"
echo "ok: drain of node $a moved vm1 to node $b by live migration in $ms ms"
wait_hb "$b" vm1 5 || cfail "no heartbeat on node $b"
check_verifying "$b" vm1 2
[ "$(cl_hactl 1 --json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
print([n for n in d["nodes"] if n["id"] == int(sys.argv[1])][0]["drained"])' "$a")" = True ] ||
	cfail "node $a not marked drained"

# Nothing new lands on a drained node.
cl_hactl 1 vm add vm2 --kernel "$PROBE" --mem 64M --cmdline "mode=idle" \
	--checkpoint-interval 0 >/dev/null || cfail "vm2 add"
[ "$(vm_field vm2 node)" != "$a" ] || cfail "vm2 placed on drained node $a"
echo "ok: vm2 placed on node $(vm_field vm2 node), not on drained node $a"

# The drained node restarts (maintenance done) and rejoins, still drained.
cl_node_stop "$a"
cl_node_start "$a"
cl_wait_quorate "$a" 30 || cfail "node $a did not rejoin"
cl_hactl "$a" status | grep -qE "^$a +node$a +up +yes" || cfail "node $a: $(cl_hactl "$a" status)"
echo "ok: node $a rejoined, still drained"
cl_hactl 1 node undrain "$a" >/dev/null || cfail "undrain"
cl_hactl 1 status | grep -qE "^$a +node$a +up +no" || cfail "undrain did not clear"

out=$(cl_hactl 3 vm migrate vm1 --to "node$a") || cfail "vm migrate: $out"
[ "$(vm_field vm1 node)" = "$a" ] || cfail "vm1 not on node $a after migrate"
wait_hb "$a" vm1 5 || cfail "no heartbeat on node $a after migrate"
check_verifying "$a" vm1 1
echo "ok: undrained node $a; vm migrate --to node$a works"
