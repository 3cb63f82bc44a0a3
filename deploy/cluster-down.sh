#!/usr/bin/env bash
# deploy/cluster-down.sh [DIR]: stops the cluster deploy/cluster-up.sh made
# (hacd, corosync and, with hacd, every hv), deletes its namespaces, stale
# /dev/shm/qb-* entries and DIR. Set FERRY_KEEP=1 to keep DIR (logs).
set -u
[ -n "${1:-}" ] && CL_DIR=$(cd "$1" 2>/dev/null && pwd)
. "$(dirname "$0")/cluster-lib.sh"

n=$(cl_nodes)
for ((k = 1; k <= n; k++)); do
	hv=$(cl_hv_pids "$k")
	cl_node_stop "$k"
	for p in $hv; do kill -9 "$p" 2>/dev/null; done
done
for ((k = 1; k <= n; k++)); do ip netns del "$(cl_ns "$k")" 2>/dev/null; done
ip netns del "$CL-br" 2>/dev/null
cl_shm_clean
[ "${FERRY_KEEP:-0}" = 1 ] || rm -rf "$CL_DIR"
exit 0
