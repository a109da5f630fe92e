#!/usr/bin/env python3
"""The power-cut simulator itself (tools/powercut_fs.py): what a cut keeps
in each mode, on files and directories, so that a torture run that passes
means what it says. Skipped (exit 77) where FUSE or fusepy is missing.

usage: tests/powercut_fs.py
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP_SRC = os.environ.get("TOP_SRCDIR", ".")
sys.path.insert(0, os.path.join(TOP_SRC, "tools"))
import powercut  # noqa: E402

FS = os.path.join(TOP_SRC, "tools", "powercut_fs.py")
UMOUNT = ["umount"] if os.geteuid() == 0 else \
    [shutil.which("fusermount3") or "fusermount", "-u"]
failures = []


class Mount:
    """A simulator over a scratch tree; "before" makes its durable start."""

    def __init__(self, py, work, *opts):
        self.py, self.work, self.opts = py, work, list(opts)
        self.backing = os.path.join(work, "b")
        self.mnt = os.path.join(work, "m")
        self.sock = os.path.join(work, "ctl")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(os.path.join(self.backing, "root", "d"))
        os.makedirs(self.mnt)
        with open(os.path.join(self.backing, "root", "d", "old"), "w") as f:
            f.write("durable")

    def __enter__(self):
        self.log = open(os.path.join(self.work, "fs.log"), "w")
        self.proc = subprocess.Popen(
            [self.py, FS, "--ctl", self.sock] + self.opts +
            [self.backing, self.mnt], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("no mount: %s" % self.tail())
            try:
                if powercut_ctl(self.sock, "ping") == "ready":
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("no mount after 20 s")

    def path(self, name):
        return os.path.join(self.mnt, "d", name)

    def cut(self):
        """Cut, unmount, wait for the restore; the tree that is left."""
        assert powercut_ctl(self.sock, "cut") == "cut"
        subprocess.run(UMOUNT + [self.mnt], check=True)
        if self.proc.wait(60) != 0:
            raise RuntimeError("restore failed: %s" % self.tail())
        self.proc = None
        d = os.path.join(self.backing, "root", "d")
        out = {}
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
        return out

    def tail(self):
        self.log.flush()
        with open(os.path.join(self.work, "fs.log")) as f:
            return f.read()[-500:]

    def __exit__(self, *exc):
        if self.proc is not None:
            subprocess.run(UMOUNT + [self.mnt])
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def powercut_ctl(sock, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(sock)
        s.sendall(cmd.encode() + b"\n")
        return s.makefile().readline().strip()
    finally:
        s.close()


def expect(what, got, want):
    if got != want:
        failures.append("%s: got %r, want %r" % (what, got, want))
        print("FAIL %s" % what)
    else:
        print("ok   %s" % what)


def write(path, data, sync=False, flags=0):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | flags, 0o644)
    os.write(fd, data)
    if sync:
        os.fsync(fd)
    return fd


def sync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def strict(m):
    """Data durable at fsync, names at the directory's fsync."""
    fd = write(m.path("a"), b"A" * 10000, sync=True)
    sync_dir(os.path.dirname(m.path("a")))
    os.pwrite(fd, b"B" * 100, 5000)     # rewritten, never synced
    os.write(fd, b"C" * 5000)           # appended, never synced
    os.close(fd)
    os.close(write(m.path("b"), b"bb", sync=True))  # name never durable
    os.unlink(m.path("old"))                        # nor its removal
    fd = write(m.path("c"), b"c", flags=os.O_DSYNC)
    os.close(fd)
    t = m.cut()
    expect("strict: synced data kept, the rest undone", t.get("a"),
           b"A" * 10000)
    expect("strict: a synced file whose name is not durable is gone",
           "b" in t, False)
    expect("strict: an unlink not made durable is undone", t.get("old"),
           b"durable")
    expect("strict: an O_DSYNC file whose name is not durable is gone",
           "c" in t, False)


def strict_rename(m):
    """write new, fsync, rename over old, fsync dir: the new content."""
    os.close(write(m.path("x.new"), b"new", sync=True))
    os.rename(m.path("x.new"), m.path("old"))
    sync_dir(os.path.dirname(m.path("old")))
    os.close(write(m.path("y.new"), b"y", sync=True))
    os.rename(m.path("y.new"), m.path("y"))     # never made durable
    t = m.cut()
    expect("strict: a rename made durable keeps the new file",
           t.get("old"), b"new")
    expect("strict: a rename not made durable is undone",
           sorted(t), ["old"])


def eager(m):
    """--dirs eager: names durable at once, data still at fsync."""
    os.close(write(m.path("b"), b"bb", sync=True))
    os.close(write(m.path("n"), b"never synced"))
    os.close(write(m.path("s"), b"O_DSYNC", flags=os.O_DSYNC))
    os.unlink(m.path("old"))
    t = m.cut()
    expect("eager: a synced new file survives", t.get("b"), b"bb")
    expect("eager: an unsynced new file survives empty", t.get("n"), b"")
    expect("eager: an O_DSYNC write is durable at once", t.get("s"),
           b"O_DSYNC")
    expect("eager: an unlink is durable at once", "old" in t, False)


def partial(m):
    fd = write(m.path("a"), b"A" * 3 * 4096, sync=True)
    sync_dir(os.path.dirname(m.path("a")))
    os.pwrite(fd, b"B" * 4096, 4096)
    os.write(fd, b"C" * 4096)
    os.close(fd)
    return m.cut().get("a")


def lossy(m):
    """Lossy: what was synced just before the cut is undone too."""
    fd = write(m.path("a"), b"A" * 100, sync=True)
    sync_dir(os.path.dirname(m.path("a")))
    os.pwrite(fd, b"B" * 50, 0)
    os.fsync(fd)
    os.close(fd)
    t = m.cut()
    expect("lossy: a sync in the window is undone", t.get("a"), b"")


def main():
    class Args:
        fs_python = None
    try:
        py = powercut.fs_python(Args())
    except powercut.Unavailable as e:
        print("SKIP: %s" % e)
        return 77
    work = tempfile.mkdtemp(prefix="powercut_fs.")
    try:
        w = os.path.join(work, "t")
        with Mount(py, w) as m:
            strict(m)
        with Mount(py, w) as m:
            strict_rename(m)
        with Mount(py, w, "--dirs", "eager") as m:
            eager(m)
        whole = b"A" * 4096 + b"B" * 4096 + b"A" * 4096 + b"C" * 4096
        with Mount(py, w, "--dirs", "eager", "--mode", "partial",
                   "--p", "1") as m:
            expect("partial p=1: every unsynced page survives",
                   partial(m), whole)
        with Mount(py, w, "--dirs", "eager", "--mode", "partial",
                   "--p", "0") as m:
            expect("partial p=0: no unsynced page survives",
                   partial(m), b"A" * 3 * 4096)
        with Mount(py, w, "--dirs", "eager", "--mode", "lossy",
                   "--window", "60000") as m:
            lossy(m)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
