#!/usr/bin/env bash
# hv run: every bad input gets one clear line and a nonzero exit.
source "$(dirname "$0")/lib.sh"
need_kvm

# A PVH ELF linked far above the guest's RAM, and a truncated probe.
cat >"$T/high.S" <<'ASM'
	.code32
	.globl _start
_start:	hlt
	.section .note.Xen, "a"
	.long 4, 4, 18
	.asciz "Xen"
	.long _start
ASM
as --64 "$T/high.S" -o "$T/high.o" && ld -m elf_x86_64 -Ttext=0x8000000 \
	-o "$T/high.elf" "$T/high.o" || fail "cannot build test ELF"
head -c 100 "$PROBE" >"$T/trunc.elf"
head -c 3000 "$PROBE" >"$T/trunc2.elf"
head -c 8192 /dev/urandom >"$T/random.bin"
printf 'hello' >"$T/short"
cp "$PROBE" "$T/noread.elf"; chmod 000 "$T/noread.elf"

expect_fail "missing --kernel" $HV run
expect_fail "unknown option --bogus" $HV run --kernel "$PROBE" --bogus
expect_fail "cannot read kernel .*nonexistent" $HV run --kernel "$T/nonexistent"
expect_fail "not a regular" $HV run --kernel "$T"
expect_fail "neither a PVH ELF nor a bzImage" $HV run --kernel "$T/random.bin"
expect_fail "neither a PVH ELF nor a bzImage" $HV run --kernel "$T/short"
expect_fail "truncated" $HV run --kernel "$T/trunc.elf"
expect_fail "truncated" $HV run --kernel "$T/trunc2.elf"
expect_fail "too small for the kernel" $HV run --kernel "$T/high.elf" --mem 64M
expect_fail "more than this host has" $HV run --kernel "$PROBE" --mem 64T
expect_fail "--mem 12X" $HV run --kernel "$PROBE" --mem 12X
expect_fail "--cpus 0" $HV run --kernel "$PROBE" --cpus 0
expect_fail "--cpus 999" $HV run --kernel "$PROBE" --cpus 999
expect_fail "--serial" $HV run --kernel "$PROBE" --serial tty
expect_fail "unknown command" $HV frobnicate
# More vCPUs than KVM allows: ask KVM what it allows and exceed it.
max=$(python3 -c 'import fcntl,os;f=os.open("/dev/kvm",os.O_RDWR);print(fcntl.ioctl(f,0xAE03,66))')
if [ "$max" -lt 255 ]; then
	expect_fail "allows 1 to" $HV run --kernel "$PROBE" --cpus $((max + 1))
fi
if command -v setpriv >/dev/null; then
	chmod 755 "$T"; chmod 644 "$PROBE" 2>/dev/null
	expect_fail "cannot open /dev/kvm: Permission denied" \
		setpriv --reuid=65534 --regid=65534 --clear-groups $HV run --kernel "$PROBE"
	[ "$(id -u)" -eq 0 ] && expect_fail "cannot read kernel" \
		setpriv --reuid=65534 --regid=65534 --clear-groups $HV run --kernel "$T/noread.elf"
fi
expect_fail "cannot open /dev/kvm: No such file" \
	unshare --mount sh -c "mount -t tmpfs none /dev && exec $HV run --kernel $PROBE"
echo "all bad-input cases rejected"
