#!/usr/bin/env bash
# Installs everything Ferry needs to build, test and benchmark, from Debian
# packages only. Idempotent: does nothing (and touches no network) when every
# package is already present.
set -euo pipefail

PKGS=(
	gcc make clang pkg-config git
	corosync libcorosync-common-dev libcpg-dev libvotequorum-dev
	libcmap-dev libquorum-dev libcfg-dev
	libqb-dev protobuf-c-compiler libprotobuf-c-dev liblz4-dev
	librdmacm-dev libibverbs-dev drbd-utils libcmocka-dev liburing-dev
	qemu-system-x86 iproute2 iputils-ping procps psmisc util-linux
	fio socat python3 libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
