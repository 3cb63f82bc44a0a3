#!/usr/bin/env python3
"""A TCP relay for migration tests: accepts one connection on LISTEN_PORT,
connects to 127.0.0.1:DEST_PORT, copies both ways, and records what flows
from the source to the destination into RECORD. With --cut-after N it
closes both sides after forwarding N bytes (a cut connection).
Usage: relay.py LISTEN_PORT DEST_PORT RECORD [--cut-after N]"""
import socket
import sys
import threading

listen_port, dest_port, record = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cut = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--cut-after" else None

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen_port))
ls.listen(1)
print("listening", flush=True)
src, _ = ls.accept()
dst = socket.create_connection(("127.0.0.1", dest_port))
out = open(record, "wb")


def forward(a, b, rec):
    total = 0
    try:
        while True:
            data = a.recv(1 << 16)
            if not data:
                break
            if cut is not None and rec and total + len(data) > cut:
                data = data[:cut - total]
            b.sendall(data)
            if rec:
                out.write(data)
            total += len(data)
            if cut is not None and rec and total >= cut:
                break
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


t = threading.Thread(target=forward, args=(dst, src, False), daemon=True)
t.start()
forward(src, dst, True)
out.close()
t.join(2)
