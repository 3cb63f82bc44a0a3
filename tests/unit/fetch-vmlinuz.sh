#!/bin/sh
# Fetches Debian's stock x86-64 kernel (a real bzImage) for the bzImage
# loader's unit test: the package that linux-image-amd64 depends on is
# downloaded with apt-get, /boot/vmlinuz-* is extracted and left at
# $CACHE/vmlinuz. Idempotent: no network when the file is already there.
#
# Usage: fetch-vmlinuz.sh [cache-dir]   (default $FERRY_CACHE or build/cache)
# Prints the path on success; exits 77 with "SKIPPED: <reason>" when apt
# cannot provide the kernel, so callers can go on without it.
set -eu

cache=${1:-${FERRY_CACHE:-build/cache}}
out=$cache/vmlinuz

if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

skip() {
	echo "SKIPPED: $*" >&2
	exit 77
}

command -v apt-get >/dev/null 2>&1 || skip "no apt-get on this host"
command -v dpkg-deb >/dev/null 2>&1 || skip "no dpkg-deb on this host"

# The versioned image package the metapackage points at, e.g.
# linux-image-6.1.0-56-amd64.
resolve_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1
}

pkg=$(resolve_pkg || true)
if [ -z "$pkg" ]; then
	apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed"
	pkg=$(resolve_pkg || true)
fi
[ -n "$pkg" ] || skip "apt-cache cannot resolve linux-image-amd64"

mkdir -p "$cache"
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
# _apt must be able to write the download directory.
chmod 0777 "$work"

if ! (cd "$work" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
	# A stale package list can name a version the mirror no longer has.
	apt-get update -qq >/dev/null 2>&1 || skip "apt-get update failed"
	pkg=$(resolve_pkg || true)
	[ -n "$pkg" ] || skip "apt-cache cannot resolve linux-image-amd64"
	(cd "$work" && apt-get download -qq "$pkg" >/dev/null 2>&1) ||
		skip "apt-get download $pkg failed"
fi

deb=$(ls "$work"/*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || skip "apt-get download left no .deb"
dpkg-deb -x "$deb" "$work/root" || skip "dpkg-deb -x $deb failed"
img=$(ls "$work"/root/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$img" ] || skip "$pkg has no /boot/vmlinuz-*"

cp "$img" "$out.tmp"
mv "$out.tmp" "$out"
basename "$img" >"$cache/vmlinuz.version"
echo "$out"
