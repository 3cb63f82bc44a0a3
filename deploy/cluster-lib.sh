# Shared by deploy/cluster-up.sh, deploy/cluster-down.sh and the cluster
# tests (sourced). A local Ferry cluster: node K runs in network namespace
# $FERRY_CLUSTER-nK, its veth "eth0" plugged into bridge br0 of namespace
# $FERRY_CLUSTER-br, address $FERRY_SUBNET.K/24, no default route. Each node
# has its own corosync.conf, /run, /var/lib/corosync and /var/log/corosync
# (bind mounts inside `ip netns exec`, which gives a private mount
# namespace), hacd state and logs under $CL_DIR/nK; checkpoints are shared in
# $CL_DIR/shared/checkpoints. Processes are tracked by PID files only.
CL=${FERRY_CLUSTER:-ferry}
CL_SUBNET=${FERRY_SUBNET:-10.213.0}
CL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CL_BUILD=${FERRY_BUILD:-build}
case $CL_BUILD in /*) ;; *) CL_BUILD=$CL_TOP/$CL_BUILD ;; esac
CL_DIR=${CL_DIR:-/tmp/ferry-cluster-$CL}
CL_MEM=${FERRY_NODE_MEM:-4096}
CL_HACD_ARGS=${FERRY_HACD_ARGS:-}

cl_ns() { echo "$CL-n$1"; }

cl_nodes() { cat "$CL_DIR/nodes" 2>/dev/null || echo 0; }

cl_net_up() {
	local n=$1 k
	ip netns add "$CL-br"
	ip -n "$CL-br" link add br0 type bridge
	ip -n "$CL-br" link set br0 up
	for ((k = 1; k <= n; k++)); do
		ip netns add "$(cl_ns "$k")"
		ip -n "$CL-br" link add "veth$k" type veth peer name eth0 \
			netns "$(cl_ns "$k")"
		ip -n "$CL-br" link set "veth$k" master br0 up
		ip -n "$(cl_ns "$k")" addr add "$CL_SUBNET.$k/24" dev eth0
		ip -n "$(cl_ns "$k")" link set eth0 up
		ip -n "$(cl_ns "$k")" link set lo up
	done
}

cl_write_conf() {
	local n=$1 k=$2 d=$CL_DIR/n$2 nodes="" i
	for ((i = 1; i <= n; i++)); do
		nodes+="	node {\n		name: node$i\n		nodeid: $i\n"
		nodes+="		ring0_addr: $CL_SUBNET.$i\n	}\n"
	done
	sed -e "s|@CLUSTER@|$CL|" -e "s|@LOGFILE@|/var/log/corosync/corosync.log|" \
	    -e "s|@STATEDIR@|/var/lib/corosync|" \
	    -e "s|@NODELIST@|$nodes|" "$CL_TOP/deploy/corosync.conf.in" >"$d/corosync.conf"
}

# cl_exec K CMD...: runs CMD in node K's namespace with node K's /run etc.
cl_exec() {
	local k=$1 d=$CL_DIR/n$1; shift
	ip netns exec "$(cl_ns "$k")" /bin/sh -c '
		mount --bind "$0/run" /run && mount --bind "$0/lib" /var/lib/corosync &&
		mount --bind "$0/log" /var/log/corosync && exec "$@"' "$d" "$@"
}

# cl_spawn K LOG PIDFILE CMD...: cl_exec in the background; PIDFILE gets
# the PID of CMD itself (ip, sh and CMD exec each other).
cl_spawn() {
	local k=$1 log=$2 pidfile=$3; shift 3
	(
		d=$CL_DIR/n$k
		exec ip netns exec "$(cl_ns "$k")" /bin/sh -c '
			mount --bind "$0/run" /run && mount --bind "$0/lib" /var/lib/corosync &&
			mount --bind "$0/log" /var/log/corosync && exec "$@"' "$d" "$@"
	) >>"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	disown $! # no "Killed" job notices when a test kills it
}

# cl_node_start K: starts corosync and hacd of node K (fresh /run).
cl_node_start() {
	local k=$1 d=$CL_DIR/n$1
	rm -rf "$d/run"
	mkdir -p "$d/run" "$d/lib" "$d/log" "$d/state" "$CL_DIR/shared/checkpoints"
	cl_spawn "$k" "$d/corosync.out" "$d/corosync.pid" \
		corosync -f -c "$d/corosync.conf"
	# hacd needs corosync's IPC: wait until corosync answers.
	for _ in $(seq 100); do
		cl_exec "$k" corosync-cfgtool -s >/dev/null 2>&1 && break
		sleep 0.05
	done
	# shellcheck disable=SC2086
	cl_spawn "$k" "$d/hacd.log" "$d/hacd.pid" "$CL_BUILD/hacd" \
		--state-dir "$d/state" --checkpoint-dir "$CL_DIR/shared/checkpoints" \
		--hv "$CL_BUILD/hv" --capacity "$CL_MEM" $CL_HACD_ARGS
}

# Alive and not a zombie (a killed child of the caller's shell stays a
# zombie until the shell reaps it).
cl_alive() {
	local st
	st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

cl_pid() { cat "$CL_DIR/n$1/$2.pid" 2>/dev/null; }

# PIDs of node K's hv processes (children of its hacd).
cl_hv_pids() {
	local h; h=$(cl_pid "$1" hacd)
	[ -n "$h" ] && pgrep -P "$h" -x hv
}

# cl_node_kill K: SIGKILL of node K's corosync, hacd and hv processes, and a
# wiped /run, as a crash and reboot would leave it.
cl_node_kill() {
	local k=$1 p pids
	pids="$(cl_pid "$k" corosync) $(cl_pid "$k" hacd) $(cl_hv_pids "$k")"
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	for p in $pids; do
		while cl_alive "$p"; do sleep 0.01; done
	done
	rm -f "$CL_DIR/n$k/corosync.pid" "$CL_DIR/n$k/hacd.pid"
	rm -rf "$CL_DIR/n$k/run"
}

# cl_node_stop K: clean stop (SIGTERM, then SIGKILL after 5 s).
cl_node_stop() {
	local k=$1 p i
	for p in $(cl_pid "$k" hacd) $(cl_pid "$k" corosync); do
		kill "$p" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			cl_alive "$p" || break
			sleep 0.05
		done
		kill -9 "$p" 2>/dev/null
	done
	rm -f "$CL_DIR/n$k/corosync.pid" "$CL_DIR/n$k/hacd.pid"
}

# libqb leaves /dev/shm/qb-<pid>-<pid>-... behind when a peer is SIGKILLed.
cl_shm_clean() {
	local f a b rest
	for f in /dev/shm/qb-*; do
		[ -e "$f" ] || continue
		IFS=- read -r _ a b rest <<<"${f#/dev/shm/}"
		case $a$b in *[!0-9]*|"") continue ;; esac
		if ! kill -0 "$a" 2>/dev/null || ! kill -0 "$b" 2>/dev/null; then
			rm -rf "$f"
		fi
	done
}

# cl_hactl K ARGS...: hactl against node K.
cl_hactl() {
	local k=$1; shift
	FERRY_CLUSTER=$CL "$CL_BUILD/hactl" --node "$k" "$@"
}

# cl_wait_quorate K SECONDS
cl_wait_quorate() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		cl_hactl "$1" status 2>/dev/null | grep -q '^cluster: quorate' && return 0
		sleep 0.1
	done
	return 1
}
