#!/usr/bin/env python3
"""Makes damaged copies of a Ferry stream for the corruption tests
(migrate/STREAM.md): record offsets, truncation, bit flips, a future
version, an unknown mandatory record inserted before END with a valid CRC.
Usage: snapfile.py offsets FILE | truncate FILE N OUT | flip FILE BIT OUT |
       version FILE V OUT | unknown FILE TYPE OUT"""
import struct
import sys

POLY = 0x82F63B78
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def records(buf):
    off = 24
    while off + 16 <= len(buf):
        typ, length, _, _ = struct.unpack_from("<IIII", buf, off)
        yield off, typ, length
        off += 16 + (length + 7) // 8 * 8


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    buf = bytearray(open(path, "rb").read())
    if cmd == "offsets":
        for off, typ, length in records(buf):
            print(off, typ, length)
        return
    out = sys.argv[4]
    arg = int(sys.argv[3], 0)
    if cmd == "truncate":
        buf = buf[:arg]
    elif cmd == "flip":
        buf[arg // 8] ^= 1 << (arg % 8)
    elif cmd == "version":
        struct.pack_into("<I", buf, 8, arg)
        struct.pack_into("<I", buf, 20, crc32c(buf[:20]))
    elif cmd == "unknown":
        end = [o for o, t, _ in records(buf) if t == 0][-1]
        body = b"future!\0"
        hdr = bytearray(struct.pack("<IIII", arg, len(body), 0, 0))
        struct.pack_into("<I", hdr, 8, crc32c(bytes(hdr) + body))
        buf = buf[:end] + hdr + body + buf[end:]
    open(out, "wb").write(buf)


main()
