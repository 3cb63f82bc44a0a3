#!/usr/bin/env bash
# deploy/cluster-up.sh N [DIR]: an N-node Ferry cluster on this machine, as
# root: one network namespace per node (veth to a bridge in namespace
# $FERRY_CLUSTER-br, addresses $FERRY_SUBNET.K, no route out), one corosync
# (knet, deploy/corosync.conf.in) and one hacd per node, each with its own
# config, /run, corosync state and log directories under DIR (default
# /tmp/ferry-cluster-$FERRY_CLUSTER). Talk to node K with
# `FERRY_CLUSTER=... build/hactl --node K status`. Tear down with
# deploy/cluster-down.sh [DIR].
#   FERRY_CLUSTER (ferry)  name prefix of namespaces and the corosync cluster
#   FERRY_SUBNET (10.213.0)  first three octets of the node addresses
#   FERRY_NODE_MEM (4096)  MiB of guest memory each node offers
#   FERRY_HACD_ARGS        more hacd options (--fence-delay MS, ...)
#   FERRY_BUILD (build)    where hv, hacd and hactl are
set -eu
N=${1:?usage: cluster-up.sh N [DIR]}
[ -n "${2:-}" ] && CL_DIR=$(mkdir -p "$2" && cd "$2" && pwd)
. "$(dirname "$0")/cluster-lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "cluster-up: run as root" >&2; exit 1; }
case $N in ''|*[!0-9]*) echo "cluster-up: N must be a number" >&2; exit 2 ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 16 ] || { echo "cluster-up: 1 <= N <= 16" >&2; exit 2; }
for b in hv hacd hactl; do
	[ -x "$CL_BUILD/$b" ] || { echo "cluster-up: build $CL_BUILD/$b first" >&2; exit 1; }
done
if ip netns list | grep -q "^$CL-br\b"; then
	echo "cluster-up: cluster $CL exists; deploy/cluster-down.sh first" >&2
	exit 1
fi
mkdir -p "$CL_DIR"
echo "$N" >"$CL_DIR/nodes"
cl_net_up "$N"
for ((k = 1; k <= N; k++)); do
	mkdir -p "$CL_DIR/n$k"
	cl_write_conf "$N" "$k"
	cl_node_start "$k"
done
for ((k = 1; k <= N; k++)); do
	if ! cl_wait_quorate "$k" 30; then
		echo "cluster-up: node $k not quorate after 30 s; see $CL_DIR/n$k/" >&2
		exit 1
	fi
done
echo "cluster $CL: $N nodes up in $CL_DIR"
