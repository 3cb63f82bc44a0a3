"""Helpers shared by the Python benchmarks: start hv or QEMU on the probe
guest, wait for serial lines, speak QMP, take medians. Benchmarks print
numbers; they assert nothing."""
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

QEMU_BASE = ["qemu-system-x86_64", "-machine", "microvm", "-enable-kvm",
             "-cpu", "host,-arch-capabilities", "-nodefaults",
             "-no-user-config", "-nographic", "-serial", "stdio"]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class Proc:
    """A child whose stdout lines are collected; time 0 is its start."""

    def __init__(self, argv, **kw):
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL, **kw)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.buf = b""

    def wait_line(self, prefix, timeout=30.0):
        """Seconds from start until a line starting with prefix, or None."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            chunk = self.p.stdout.read()
            if chunk:
                self.buf += chunk
                for line in self.buf.split(b"\n")[:-1]:
                    if line.startswith(prefix):
                        return time.monotonic() - self.t0
            elif self.p.poll() is not None:
                return None
            time.sleep(0.0005)
        return None

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


class Qmp:
    def __init__(self, path, timeout=30.0):
        end = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.01)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            msg = json.loads(self.f.readline())
            if "return" in msg or "error" in msg:
                return msg

    def close(self):
        self.s.close()


def tmpdir():
    return tempfile.mkdtemp(prefix="ferry-bench.")
