#!/usr/bin/env python3
"""A power-cut simulator: a FUSE passthrough file system that forgets, at a
cut, every change the disk was not told to keep.

usage: powercut_fs.py [--mode strict|partial|lossy] [--p P] [--window MS]
           [--dirs strict|eager] [--seed N] [--ctl SOCKET] BACKING MOUNT
       powercut_fs.py --ctl SOCKET ping|cut|stats

BACKING/root is the tree shown at MOUNT (BACKING/trash and BACKING/restore
are the simulator's own). It runs in the foreground until MOUNT is
unmounted; SIGTERM or SIGINT unmounts it. What survives a cut:

  - a file's data and size as of its last fsync or fdatasync. Writes to a
    file opened O_SYNC or O_DSYNC are durable at once (the kernel follows
    each with an fsync, which comes here as one).
  - with --dirs strict (the default), a directory's entries as of its last
    fsync: a create, rename, unlink, mkdir or rmdir is lost until then, so
    a new file's data survives only once the file was synced and its name
    made durable. --dirs eager: every change of a directory is durable at
    once (roughly what a journaling file system makes of it).

"ctl SOCKET cut" freezes the disk: the durable state is fixed, and every
later change fails with EIO. When MOUNT is then unmounted, the process
puts BACKING/root back to that state, and exits 0 once it is in place; a
plain unmount (no cut) leaves everything as written, as a clean shutdown.
Modes, for what else a cut keeps:

  strict    nothing that was not made durable.
  partial   each 4 KiB page written since its file's last sync survives
            with probability P, in any order (a disk that flushed part of
            its cache); a page past the durable size that did not survive
            reads as zeros, and the size reaches the last page that did. A
            directory's unsynced entries survive, as a whole, with P too.
  lossy     as strict, and every file sync of the last MS milliseconds is
            undone as well (a disk that acknowledged flushes it never
            did). It exists to prove that a torture test can fail.

Design: the durable state is kept as an undo log in memory, not as a
shadow copy. Before a write or a truncation changes a page of a file that
lies within the file's durable size and was not saved since the file's
last sync, the page's durable bytes are read and kept; a sync drops the
file's saved pages and takes its size as the durable one. At the cut the
saved pages are written back and the file cut to its durable size. Data
is thus written once (a shadow copy writes everything again at each sync,
tens of MB a second under a broker), a page costs one extra read the
first time it is rewritten between two syncs, a sync costs nothing, and
the memory held is what is rewritten between two syncs: for LMDB, the
pages reused between two checkpoints. Appended data needs no saving.

Directories: the entries of each directory, as at mount or at its last
fsync, are kept as {name: inode}. An unlinked file or directory, or one
replaced by a rename, goes to BACKING/trash instead of away, so that a
durable name can bring it back. At the restore the durable tree is built
anew in BACKING/restore, from the root's durable entries down, each file
moved in by its inode number and its data put back; whatever no durable
entry names is dropped. Hard links are not supported; flock and fcntl
locks are the kernel's own (no lock operation is offered).

Files are never opened with direct_io, so the kernel's page cache serves
read-only shared mmap (LMDB's data file) and shared writable mmap (LMDB's
lock file), both coherent with writes made through the mount.
"""
import argparse
import errno
import json
import os
import random
import shutil
import signal
import socket
import stat
import sys
import threading
import time
from collections import deque

PAGE = 4096


def load_fuse():
    """The fusepy module: Debian's python3-fusepy, else PyPI's fusepy."""
    try:
        import fusepy
        return fusepy
    except ImportError:
        import fuse
        return fuse


class FileState:
    """What a cut would leave of one file (by inode), and what it may."""
    __slots__ = ("dsize", "undo")

    def __init__(self, dsize):
        self.dsize = dsize      # durable size, bytes
        self.undo = {}          # page index -> its durable bytes (PAGE)


class Handle:
    __slots__ = ("fd", "ino", "sync")

    def __init__(self, fd, ino, sync):
        self.fd = fd            # owned: the backing file
        self.ino = ino          # backing inode: the file's identity
        self.sync = sync        # opened O_SYNC or O_DSYNC


def make_ops(fuse):
    """The Operations class, on the fusepy module found at run time."""

    class CutFS(fuse.Operations):
        use_ns = True
        flag_nullpath_ok = 1    # ops on unlinked open files get no path

        def __init__(self, backing, mode, p, window_ms, dirs, seed):
            self.root = os.path.join(backing, "root")
            self.trash = os.path.join(backing, "trash")
            self.restore_dir = os.path.join(backing, "restore")
            self.mode = mode
            self.p = p
            self.window = window_ms / 1000.0
            self.dirs = dirs
            self.rng = random.Random(seed)
            self.mutex = threading.Lock()
            self.files = {}         # ino -> FileState, files changed
            self.dents = {}         # dir ino -> {name: ino}, durable
            self.history = deque()  # lossy: (time, ino, FileState)
            self.handles = {}       # fh -> Handle
            self.next_fh = 1
            self.ntrash = 0
            self.cut = None         # time of the cut
            self.mounted = threading.Event()
            self.stats = dict(writes=0, written=0, saved=0, syncs=0,
                              dirsyncs=0, refused=0)
            os.makedirs(self.trash, exist_ok=True)
            self.root_ino = os.lstat(self.root).st_ino
            for d, _, _ in os.walk(self.root):
                self.dents[os.lstat(d).st_ino] = self.listing(d)

        # -- helpers, called with self.mutex held where they change state

        def real(self, path):
            return self.root + path

        def listing(self, d):
            with os.scandir(d) as it:
                return {e.name: e.inode() for e in it}

        def live(self):
            if self.cut is not None:
                self.stats["refused"] += 1
                raise fuse.FuseOSError(errno.EIO)

        def state(self, ino, size):
            """The FileState of ino; size is its size now, unchanged yet."""
            fs = self.files.get(ino)
            if fs is None:
                fs = self.files[ino] = FileState(size)
            return fs

        def save(self, fd, fs, start, end):
            """Keep the durable bytes of the pages [start, end) touches."""
            end = min(end, fs.dsize)
            if start >= end:
                return
            for pg in range(start // PAGE, (end - 1) // PAGE + 1):
                if pg in fs.undo:
                    continue
                b = os.pread(fd, PAGE, pg * PAGE)
                keep = fs.dsize - pg * PAGE     # durable bytes of the page
                if len(b) > keep:
                    b = b[:keep]
                fs.undo[pg] = b + bytes(PAGE - len(b))
                self.stats["saved"] += 1

        def sync_file(self, fd, ino):
            fs = self.files.get(ino)
            if fs is None:
                return                  # nothing changed since the last
            size = os.fstat(fd).st_size
            if self.mode == "lossy":
                now = time.monotonic()
                self.history.append((now, ino, fs))
                while self.history and \
                        self.history[0][0] < now - self.window:
                    self.history.popleft()
            self.files[ino] = FileState(size)

        def sync_dir(self, path):
            st = os.lstat(path)
            self.dents[st.st_ino] = self.listing(path)

        def eager(self, *paths):
            if self.dirs == "eager":
                for path in paths:
                    self.sync_dir(os.path.dirname(self.real(path)))

        def to_trash(self, real):
            """Move real away, keeping its inode for a durable name."""
            self.ntrash += 1
            os.rename(real, os.path.join(self.trash, str(self.ntrash)))

        def truncate_fd(self, fd, ino, length):
            size = os.fstat(fd).st_size
            fs = self.state(ino, size)
            if length < size:
                self.save(fd, fs, length, size)
            os.ftruncate(fd, length)

        def backing_flags(self, flags):
            """Open flags for the backing file: read-write, since save()
            reads what a write replaces; no O_APPEND (the kernel gives each
            write its offset); no sync or direct I/O, which would only slow
            the backing disk down."""
            flags &= ~(os.O_ACCMODE | os.O_APPEND | os.O_SYNC | os.O_DSYNC |
                       os.O_DIRECT | os.O_TRUNC | os.O_CREAT | os.O_EXCL)
            return flags | os.O_RDWR

        def new_handle(self, fd, flags):
            ino = os.fstat(fd).st_ino
            fh = self.next_fh
            self.next_fh += 1
            self.handles[fh] = Handle(fd, ino,
                                      bool(flags & (os.O_SYNC | os.O_DSYNC)))
            return fh

        # -- file system operations

        def init(self, path):
            self.mounted.set()

        def getattr(self, path, fh=None):
            if fh and fh.fh in self.handles:
                st = os.fstat(self.handles[fh.fh].fd)
            else:
                st = os.lstat(self.real(path))
            return {k: getattr(st, k) for k in (
                "st_mode", "st_ino", "st_nlink", "st_uid", "st_gid",
                "st_size", "st_blocks", "st_rdev")} | {
                "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns,
                "st_ctime": st.st_ctime_ns}

        def access(self, path, amode):
            if not os.access(self.real(path), amode):
                raise fuse.FuseOSError(errno.EACCES)

        def readlink(self, path):
            return os.readlink(self.real(path))

        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(self.real(path))

        def statfs(self, path):
            sv = os.statvfs(self.real(path))
            return {k: getattr(sv, k) for k in (
                "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

        def chmod(self, path, mode):
            with self.mutex:
                self.live()
                os.chmod(self.real(path), mode)

        def chown(self, path, uid, gid):
            with self.mutex:
                self.live()
                os.lchown(self.real(path), uid, gid)

        def utimens(self, path, times=None):
            with self.mutex:
                self.live()
                if times is None:
                    os.utime(self.real(path), follow_symlinks=False)
                else:
                    os.utime(self.real(path), ns=times,
                             follow_symlinks=False)

        def mkdir(self, path, mode):
            with self.mutex:
                self.live()
                os.mkdir(self.real(path), mode)
                self.dents[os.lstat(self.real(path)).st_ino] = {}
                self.eager(path)

        def rmdir(self, path):
            with self.mutex:
                self.live()
                if os.listdir(self.real(path)):
                    raise fuse.FuseOSError(errno.ENOTEMPTY)
                self.to_trash(self.real(path))
                self.eager(path)

        def unlink(self, path):
            with self.mutex:
                self.live()
                if stat.S_ISDIR(os.lstat(self.real(path)).st_mode):
                    raise fuse.FuseOSError(errno.EISDIR)
                self.to_trash(self.real(path))
                self.eager(path)

        def symlink(self, target, source):
            with self.mutex:
                self.live()
                os.symlink(source, self.real(target))
                self.eager(target)

        def link(self, target, source):
            raise fuse.FuseOSError(errno.ENOTSUP)

        def mknod(self, path, mode, dev):
            raise fuse.FuseOSError(errno.ENOTSUP)

        def rename(self, old, new):
            with self.mutex:
                self.live()
                src, dst = self.real(old), self.real(new)
                try:
                    dst_st = os.lstat(dst)
                except FileNotFoundError:
                    dst_st = None
                if dst_st is not None:
                    src_dir = stat.S_ISDIR(os.lstat(src).st_mode)
                    if stat.S_ISDIR(dst_st.st_mode):
                        if not src_dir:
                            raise fuse.FuseOSError(errno.EISDIR)
                        if os.listdir(dst):
                            raise fuse.FuseOSError(errno.ENOTEMPTY)
                    elif src_dir:
                        raise fuse.FuseOSError(errno.ENOTDIR)
                    if dst_st.st_ino != os.lstat(src).st_ino:
                        self.to_trash(dst)
                os.rename(src, dst)
                self.eager(old, new)

        def create(self, path, mode, fi):
            with self.mutex:
                self.live()
                real = self.real(path)
                existed = os.path.lexists(real)
                fd = os.open(real, self.backing_flags(fi.flags) | os.O_CREAT,
                             mode)
                fh = self.new_handle(fd, fi.flags)
                ino = self.handles[fh].ino
                if not existed:
                    self.files[ino] = FileState(0)
                    self.eager(path)
                elif fi.flags & os.O_TRUNC:
                    self.truncate_fd(fd, ino, 0)
                fi.fh = fh
                fi.direct_io = 0
                fi.keep_cache = 0
                return 0

        def open(self, path, fi):
            with self.mutex:
                if fi.flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC):
                    self.live()
                fd = os.open(self.real(path), self.backing_flags(fi.flags))
                fh = self.new_handle(fd, fi.flags)
                if fi.flags & os.O_TRUNC:
                    self.truncate_fd(fd, self.handles[fh].ino, 0)
                fi.fh = fh
                fi.direct_io = 0
                fi.keep_cache = 0
                return 0

        def read(self, path, size, offset, fi):
            if self.cut is not None:
                raise fuse.FuseOSError(errno.EIO)
            return os.pread(self.handles[fi.fh].fd, size, offset)

        def write(self, path, data, offset, fi):
            with self.mutex:
                self.live()
                h = self.handles[fi.fh]
                fs = self.files.get(h.ino)
                if fs is None:
                    fs = self.state(h.ino, os.fstat(h.fd).st_size)
                self.save(h.fd, fs, offset, offset + len(data))
                n = os.pwrite(h.fd, data, offset)
                self.stats["writes"] += 1
                self.stats["written"] += n
                if h.sync:
                    self.sync_file(h.fd, h.ino)
                return n

        def truncate(self, path, length, fh=None):
            with self.mutex:
                self.live()
                if fh:
                    h = self.handles[fh.fh]
                    self.truncate_fd(h.fd, h.ino, length)
                    return 0
                fd = os.open(self.real(path), os.O_WRONLY)
                try:
                    self.truncate_fd(fd, os.fstat(fd).st_ino, length)
                finally:
                    os.close(fd)

        def flush(self, path, fi):
            return 0

        def fsync(self, path, datasync, fi):
            with self.mutex:
                self.live()
                h = self.handles[fi.fh]
                self.sync_file(h.fd, h.ino)
                self.stats["syncs"] += 1

        def release(self, path, fi):
            with self.mutex:
                h = self.handles.pop(fi.fh)
            os.close(h.fd)

        def fsyncdir(self, path, datasync, fh):
            with self.mutex:
                self.live()
                self.sync_dir(self.real(path))
                self.stats["dirsyncs"] += 1

        # -- the cut and the restore

        def do_cut(self):
            with self.mutex:
                if self.cut is None:
                    self.cut = time.monotonic()

        def restore(self):
            """Put BACKING/root back to the durable state (unmounted)."""
            where = {}      # ino -> backing path, now
            for top in (self.root, self.trash):
                for d, subdirs, names in os.walk(top):
                    for n in subdirs + names:
                        path = os.path.join(d, n)
                        where[os.lstat(path).st_ino] = path
            where[self.root_ino] = self.root
            undone = self.undone_syncs()
            if os.path.lexists(self.restore_dir):
                shutil.rmtree(self.restore_dir)
            os.mkdir(self.restore_dir, os.lstat(self.root).st_mode & 0o7777)
            placed = set()
            self.rebuild(self.root_ino, self.restore_dir, where, placed,
                         undone)
            old = self.root + ".old"
            os.rename(self.root, old)
            os.rename(self.restore_dir, self.root)
            shutil.rmtree(old)
            shutil.rmtree(self.trash)
            os.mkdir(self.trash)

        def undone_syncs(self):
            """Lossy: ino -> FileStates to go back through, newest first."""
            undone = {}
            if self.mode != "lossy":
                return undone
            for t, ino, fs in reversed(self.history):
                if t >= self.cut - self.window:
                    undone.setdefault(ino, []).append(fs)
            return undone

        def durable_dents(self, dino, path):
            """The entries of directory dino that the cut leaves."""
            if self.mode == "partial" and self.dirs == "strict" and \
                    os.path.isdir(path) and self.rng.random() < self.p:
                return self.listing(path)
            return self.dents.get(dino, {})

        def rebuild(self, dino, dest, where, placed, undone):
            src_dir = where.get(dino)
            entries = self.durable_dents(dino, src_dir) \
                if src_dir is not None else self.dents.get(dino, {})
            for name in sorted(entries):
                ino = entries[name]
                src = where.get(ino)
                if src is None or ino in placed:
                    continue            # gone, or a second name
                st = os.lstat(src)
                out = os.path.join(dest, name)
                placed.add(ino)
                if stat.S_ISDIR(st.st_mode):
                    os.mkdir(out, st.st_mode & 0o7777)
                    self.rebuild(ino, out, where, placed, undone)
                elif stat.S_ISLNK(st.st_mode):
                    os.symlink(os.readlink(src), out)
                else:
                    os.rename(src, out)
                    self.put_back(out, ino, undone.get(ino, []))

        def put_back(self, path, ino, older):
            fs = self.files.get(ino)
            if fs is None and not older:
                return
            fd = os.open(path, os.O_RDWR)
            try:
                if fs is not None:
                    if self.mode == "partial":
                        self.put_back_partial(fd, fs)
                    else:
                        self.put_back_all(fd, fs)
                for fs in older:
                    self.put_back_all(fd, fs)
            finally:
                os.close(fd)

        def put_back_all(self, fd, fs):
            for pg, b in fs.undo.items():
                os.pwrite(fd, b, pg * PAGE)
            os.ftruncate(fd, fs.dsize)

        def put_back_partial(self, fd, fs):
            cur = os.fstat(fd).st_size
            end = fs.dsize
            if cur < fs.dsize and self.rng.random() < self.p:
                end = cur               # the truncation reached the disk
            lost = []
            for pg in range((max(cur, fs.dsize) + PAGE - 1) // PAGE):
                beyond = (pg + 1) * PAGE > fs.dsize
                if pg not in fs.undo and not beyond:
                    continue            # not written since the sync
                if self.rng.random() >= self.p:
                    lost.append(pg)
                elif beyond and cur > fs.dsize:
                    end = max(end, min(cur, (pg + 1) * PAGE))
            for pg in lost:
                if pg in fs.undo:
                    os.pwrite(fd, fs.undo[pg], pg * PAGE)
                    continue
                lo = max(fs.dsize, pg * PAGE)
                hi = min(end, (pg + 1) * PAGE)
                if hi > lo:
                    os.pwrite(fd, bytes(hi - lo), lo)
            os.ftruncate(fd, end)

    return CutFS


def serve_ctl(ops, path):
    """Answer "ping", "cut" and "stats" on the Unix socket path."""
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)

    def loop():
        while True:
            conn, _ = srv.accept()
            with conn:
                cmd = conn.recv(64).decode().strip()
                if cmd == "ping":
                    reply = "ready" if ops.mounted.is_set() else "starting"
                elif cmd == "cut":
                    ops.do_cut()
                    reply = "cut"
                elif cmd == "stats":
                    reply = json.dumps(ops.stats)
                else:
                    reply = "unknown command"
                conn.sendall(reply.encode() + b"\n")

    threading.Thread(target=loop, daemon=True).start()


def ctl(path, cmd, timeout=10.0):
    """Send cmd to a running simulator; its reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(cmd.encode() + b"\n")
        return s.makefile().readline().strip()
    finally:
        s.close()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--ctl" and \
            sys.argv[3] in ("ping", "cut", "stats"):
        print(ctl(sys.argv[2], sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(
        description="FUSE passthrough that simulates power cuts")
    ap.add_argument("--mode", choices=("strict", "partial", "lossy"),
                    default="strict")
    ap.add_argument("--p", type=float, default=0.5,
                    help="partial: chance that an unsynced page survives")
    ap.add_argument("--window", type=float, default=500,
                    help="lossy: ms of synced changes undone at the cut")
    ap.add_argument("--dirs", choices=("strict", "eager"), default="strict")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ctl", help="control socket")
    ap.add_argument("backing")
    ap.add_argument("mount")
    a = ap.parse_args()
    try:
        fuse = load_fuse()
    except (ImportError, OSError) as e:
        print("powercut_fs: no fusepy: %s" % e, file=sys.stderr)
        return 77
    os.makedirs(os.path.join(a.backing, "root"), exist_ok=True)
    ops = make_ops(fuse)(a.backing, a.mode, a.p, a.window, a.dirs, a.seed)
    if a.ctl:
        serve_ctl(ops, a.ctl)
    # fusepy warns about the float times it no longer uses.
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    fuse.FUSE(ops, a.mount, raw_fi=True, foreground=True,
              big_writes=True, max_write=131072, hard_remove=True,
              use_ino=True, fsname="powercut", subtype="powercut")
    if not ops.mounted.is_set():
        print("powercut_fs: could not mount %s" % a.mount, file=sys.stderr)
        return 1
    if ops.cut is not None:
        ops.restore()
    print("powercut_fs: %s%s" % ("cut, restored; " if ops.cut else "",
          json.dumps(ops.stats)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
