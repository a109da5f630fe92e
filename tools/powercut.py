#!/usr/bin/env python3
"""Power-cut torture of tupelod: the broker on a simulated disk
(tools/powercut_fs.py) under producers and a consumer group, the power cut
at a random moment, again and again, and after each cut a check that
nothing acknowledged was lost.

usage: tools/powercut.py [--cuts N] [--seed N] [--mode strict|partial|lossy]
           [--p P] [--window MS] [--dirs strict|eager] [--duration S]
           [--fresh-every N] [--check-accept LIST] [--tupelod-mkdir]
           [--producers N]
           [--wal-size SIZE] [--tupelod PATH] [--cli PATH]
           [--fs-python PATH] [--workdir DIR] [--keep]

Each cut: producers (one connection each, batches of unique payloads over
the protocol) on station "sync" (--durability sync) and "int" (interval),
runs of "tupelo consume sync -g g -n N" acking; after a random time (from
--seed, printed) tupelod is frozen with SIGSTOP, so it cannot acknowledge
anything after the cut, the disk is cut, tupelod killed, the simulator
unmounted (which puts back the durable state) and mounted again. Then:

  1. "tupelod --check" on the directory as the cut left it: its exit
     status must be in --check-accept (default 0,3: sound, or "needs
     recovery: tupelod repairs this on start");
  2. tupelod must start (else a failed start: a fresh data directory
     follows);
  3. every message acknowledged on "sync" must be there, at its seq, once,
     in order ("tupelo read --json"); on "int" only a tail of the
     acknowledged may be missing (what durability interval allows; counted
     apart); no payload twice, none damaged;
  4. no confirmed group ack lost: a "consume -n" that exited 0 had its
     acks committed, so the group's ack floor must cover them, and none of
     them may be delivered again;
  5. tupelod is stopped, and "tupelod --check" of the stopped broker must
     say sound (0).

The data directory is made before the simulator mounts, as an operator
would make it; with --tupelod-mkdir tupelod makes each new one itself.

A line per cut, then a summary; exit 0 if all held, 1 if not, 2 on bad
usage, 77 when FUSE or fusepy is missing (tools/setup.sh installs fuse3 and
python3-fusepy; /dev/fuse and root, or fusermount, are needed to mount).
A cut takes about its run time (--duration at most) plus 1.5 s. The mounts
and processes it made are removed on exit, and the scratch directory too
(TMPDIR, or --workdir) unless --keep.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
START_S = 60            # for tupelod to listen (replay included)
MOUNT_S = 20            # for the simulator to mount
RESTORE_S = 120         # for the simulator to restore and exit
RETENTION = 20000       # messages kept per station: bounds the checks


class Unavailable(Exception):
    pass


class StartFailed(Exception):
    pass


# -- protocol: just enough protobuf for Hello and Produce

def varint(n):
    out = bytearray()
    while n > 0x7f:
        out.append(n & 0x7f | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def fint(num, v):
    return varint(num << 3) + varint(v)


def fbytes(num, b):
    return varint(num << 3 | 2) + varint(len(b)) + b


def parse(b):
    """{field number: [values]}: ints for varints, bytes for the rest."""
    out, i = {}, 0
    while i < len(b):
        key, i = readvarint(b, i)
        wire = key & 7
        if wire == 0:
            v, i = readvarint(b, i)
        elif wire == 2:
            n, i = readvarint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        out.setdefault(key >> 3, []).append(v)
    return out


def readvarint(b, i):
    n = shift = 0
    while True:
        c = b[i]
        i += 1
        n |= (c & 0x7f) << shift
        shift += 7
        if c < 0x80:
            return n, i


class Client:
    """One connection: Hello, then Produce requests one at a time."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.sock.settimeout(None)
        self.rfile = self.sock.makefile("rb")
        self.next_id = 1
        body = self.call(10, fint(1, 1) + fbytes(2, b"powercut"))
        if 11 not in body:
            raise OSError("hello refused: %r" % body)

    def call(self, num, msg):
        fid = self.next_id
        self.next_id += 1
        frame = fint(1, fid) + fbytes(num, msg)
        self.sock.sendall(struct.pack(">I", len(frame)) + frame)
        head = self.rfile.read(4)
        if len(head) < 4:
            raise OSError("connection closed")
        n = struct.unpack(">I", head)[0]
        data = self.rfile.read(n)
        if len(data) < n:
            raise OSError("connection closed")
        return parse(data)

    def produce(self, station, payloads):
        """(first seq, count) once acknowledged; raises otherwise."""
        msg = fbytes(1, station.encode()) + b"".join(
            fbytes(2, fbytes(3, p)) for p in payloads)
        body = self.call(30, msg)
        if 31 not in body:
            err = parse(body[2][0]) if 2 in body else {}
            raise OSError("produce refused: %s" %
                          err.get(2, [b"?"])[0].decode(errors="replace"))
        ack = parse(body[31][0])
        return ack.get(1, [0])[0], ack.get(3, [0])[0]

    def close(self):
        self.sock.close()


def payload_of(ident):
    """The payload of message ident: the ident, then filler it implies."""
    h = zlib.crc32(ident.encode())
    filler = ("%08x" % h) * (h % 200)
    return "%s:%s" % (ident, filler)


def ident_of(payload):
    """The ident of a stored payload, or None if it is not one of ours."""
    ident = payload.split(":", 1)[0]
    return ident if payload == payload_of(ident) else None


# -- the workload

class Producer(threading.Thread):
    """Batches of unique payloads to one station until told to stop."""

    def __init__(self, port, station, name, seed, stop):
        super().__init__(daemon=True)
        self.port, self.station, self.name = port, station, name
        self.rng = random.Random(seed)
        self.stop = stop
        self.acked = []         # (seq, ident), acknowledged
        self.error = None
        self.k = 0

    def run(self):
        try:
            c = Client(self.port)
        except OSError as e:
            self.error = str(e)
            return
        try:
            while not self.stop.is_set():
                n = self.rng.randint(1, 64)
                ids = ["%s.%d" % (self.name, self.k + i) for i in range(n)]
                self.k += n
                first, count = c.produce(
                    self.station, [payload_of(i).encode() for i in ids])
                if count != n:
                    self.error = "stored %d of %d" % (count, n)
                    return
                self.acked.extend((first + i, x) for i, x in enumerate(ids))
        except OSError as e:
            if not self.stop.is_set():
                self.error = str(e)
        finally:
            c.close()


class Consumer(threading.Thread):
    """Runs of "tupelo consume -n" on station sync, group g."""

    def __init__(self, t, confirmed, stop):
        super().__init__(daemon=True)
        self.t, self.confirmed, self.stop = t, confirmed, stop
        self.proc = None
        self.again = []         # confirmed seqs delivered again
        self.confirmed_now = 0
        self.errors = 0
        self.last_error = None

    def run(self):
        while not self.stop.is_set():
            self.proc = self.t.cli_popen(
                ["--json", "consume", "sync", "-g", "g", "-n", "200",
                 "--timeout", "1"])
            out, err = self.proc.communicate()
            seqs = []
            for line in out.splitlines():
                try:
                    seqs.append(json.loads(line)["seq"])
                except (ValueError, KeyError):
                    pass
            if self.proc.returncode == 0:
                self.again += [s for s in seqs if s in self.confirmed]
                self.confirmed.update(seqs)
                self.confirmed_now += len(seqs)
            elif not self.stop.is_set():
                self.errors += 1
                self.last_error = err.strip().splitlines()[-1:] or ["?"]
                time.sleep(0.1)

    def halt(self):
        deadline = time.monotonic() + 10
        while self.is_alive() and time.monotonic() < deadline:
            p = self.proc
            if p is not None and p.poll() is None and \
                    time.monotonic() > deadline - 5:
                p.kill()
            self.join(0.1)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        self.join()


# -- the pieces under test

class Fs:
    """The simulator, one process per mount."""

    def __init__(self, t):
        self.t = t
        self.backing = os.path.join(t.work, "backing")
        self.mnt = os.path.join(t.work, "mnt")
        self.sock = os.path.join(t.work, "ctl.sock")
        self.proc = None
        self.mounted = False    # once: later failures are not "no FUSE"
        os.makedirs(os.path.join(self.backing, "root"), exist_ok=True)
        os.makedirs(self.mnt, exist_ok=True)

    def mount(self, seed):
        a = self.t.args
        log = open(os.path.join(self.t.work, "fs.log"), "a")
        self.proc = subprocess.Popen(
            [self.t.fs_python, os.path.join(HERE, "powercut_fs.py"),
             "--mode", a.mode, "--p", str(a.p), "--window", str(a.window),
             "--dirs", a.dirs, "--seed", str(seed), "--ctl", self.sock,
             self.backing, self.mnt],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        fail = RuntimeError if self.mounted else Unavailable
        deadline = time.monotonic() + MOUNT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise fail("cannot mount the simulator: %s" %
                           self.t.tail("fs.log"))
            try:
                if self.ctl("ping") == "ready":
                    self.mounted = True
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise fail("the simulator did not mount in %d s" % MOUNT_S)

    def ctl(self, cmd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.sock)
            s.sendall(cmd.encode() + b"\n")
            return s.makefile().readline().strip()
        finally:
            s.close()

    def cut(self):
        if self.ctl("cut") != "cut":
            raise RuntimeError("the simulator did not cut")

    def unmount(self):
        """Unmount; after a cut the simulator restores, then exits."""
        if self.proc is None:
            return
        cmd = ["umount"] if os.geteuid() == 0 else \
            [shutil.which("fusermount3") or "fusermount", "-u"]
        for i in range(50):
            if subprocess.run(cmd + [self.mnt], stderr=subprocess.DEVNULL
                              ).returncode == 0 or \
                    self.proc.poll() is not None:
                break
            time.sleep(0.1)
        else:
            subprocess.run(cmd + ["-l" if cmd[0] == "umount" else "-z",
                                  self.mnt], stderr=subprocess.DEVNULL)
        try:
            rc = self.proc.wait(RESTORE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        if rc != 0:
            raise RuntimeError("the simulator failed (exit %d): %s" %
                               (rc, self.t.tail("fs.log")))

    def wipe(self):
        """A fresh data directory, made before mounting (so durable, as an
        operator's would be), or left for tupelod to make (--tupelod-mkdir)."""
        data = os.path.join(self.backing, "root", "data")
        shutil.rmtree(data, ignore_errors=True)
        if not self.t.args.tupelod_mkdir:
            os.mkdir(data)


class Broker:
    def __init__(self, t):
        self.t = t
        self.proc = None
        self.port = None

    def start(self):
        log_path = os.path.join(self.t.work, "tupelod.log")
        mark = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        log = open(log_path, "a")
        # -c /dev/null: an installed tupelod.conf must not change the run.
        self.proc = subprocess.Popen(
            [self.t.tupelod, "-c", "/dev/null", "-d", self.t.data,
             "-l", "127.0.0.1:0", "--wal-size", self.t.args.wal_size],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            with open(log_path) as f:
                f.seek(mark)
                text = f.read()
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                self.proc = None
                lines = [x for x in text.splitlines() if "error" in x]
                raise StartFailed((lines or text.splitlines() or
                                   ["exit without a word"])[-1])
            time.sleep(0.02)
        self.kill()
        raise StartFailed("not listening after %d s" % START_S)

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self):
        """SIGTERM, as an operator stops it; its exit status."""
        self.proc.terminate()
        try:
            rc = self.proc.wait(START_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc


# -- the torture

class Torture:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.accept = {int(x) for x in args.check_accept.split(",") if x}
        self.tupelod = args.tupelod
        self.cli = args.cli
        self.fs_python = None
        self.work = None
        self.fs = self.broker = None
        self.stop = threading.Event()
        self.stations_gone = False
        self.producers, self.consumer = [], None
        self.reset()
        self.n = dict(cuts=0, acked_sync=0, acked_int=0, confirmed=0,
                      lost=0, int_lost=0, acks_lost=0, again=0, dup=0,
                      order=0, damaged=0, int_holes=0, failed_starts=0,
                      unreachable=0, gone=0,
                      stop_failed=0, errors=0)
        self.checks_cut = {}
        self.checks_stopped = {}
        self.bad_checks = 0
        self.seconds = 0.0

    def reset(self):
        """Forget what a fresh data directory cannot hold."""
        self.expect = {"sync": {}, "int": {}}   # station: seq -> ident
        self.confirmed = set()
        self.floor = 0          # the group's ack floor, as last seen

    # -- helpers

    def say(self, msg):
        print(msg, flush=True)

    def tail(self, name, n=3):
        try:
            with open(os.path.join(self.work, name)) as f:
                lines = f.read().splitlines()
        except OSError:
            return "(no log)"
        return " / ".join(lines[-n:])

    def cli_popen(self, argv):
        return subprocess.Popen(
            [self.cli, "-u", "tupelo://127.0.0.1:%d" % self.broker.port] +
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def cli_run(self, argv):
        p = self.cli_popen(argv)
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError("tupelo %s: no answer" % " ".join(argv))
        if p.returncode != 0:
            raise RuntimeError("tupelo %s: exit %d" %
                               (" ".join(argv), p.returncode))
        return out

    def check(self):
        """tupelod --check of the data directory: (status, first line)."""
        p = subprocess.run([self.tupelod, "--check", self.data],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
        lines = (p.stdout + p.stderr).splitlines()
        if p.returncode < 0:
            word = "killed by %s" % signal.Signals(-p.returncode).name
        else:
            word = "%d %s" % (p.returncode, {
                0: "sound", 1: "corrupt", 3: "needs recovery"}.get(
                p.returncode, "?"))
        first = next((x for x in lines if not x.endswith(": ok")), "")
        if p.returncode != 0 and first:
            first = re.sub(r"^check: ", "", first).replace(
                self.data + ": ", "").replace(self.data, "DATA")
            first = re.sub(r"^needs recovery: ", "", first)
            word += ' "%s"' % first
        return p.returncode, word

    def setup_stations(self):
        for st, dur in (("sync", "sync"), ("int", "interval")):
            self.cli_run(["station", "create", st, "--durability", dur,
                          "--retention-messages", str(RETENTION)])
        self.cli_run(["group", "create", "sync", "g", "--ack-wait", "2"])

    def fresh(self):
        self.fs.unmount()
        self.fs.wipe()
        self.reset()
        self.fs.mount(self.rng.randrange(1 << 30))
        self.broker.start()
        self.setup_stations()

    # -- one cut

    def run_load(self, seconds, cut):
        self.stop.clear()
        port = self.broker.port
        self.producers = [
            Producer(port, "sync", "c%d.s%d" % (cut, i),
                     self.rng.randrange(1 << 30), self.stop)
            for i in range(self.args.producers)] + [
            Producer(port, "int", "c%d.i0" % cut,
                     self.rng.randrange(1 << 30), self.stop)]
        self.consumer = Consumer(self, self.confirmed, self.stop)
        for th in self.producers + [self.consumer]:
            th.start()
        time.sleep(seconds)

    def halt_load(self):
        """After the cut: let the clients see the broker gone."""
        self.stop.set()
        for p in self.producers:
            p.join(10)
        self.consumer.halt()
        got = {"sync": 0, "int": 0}
        for p in self.producers:
            if p.error:
                self.n["errors"] += 1
                self.say("  producer %s: %s" % (p.name, p.error))
            for seq, ident in p.acked:
                self.expect[p.station][seq] = ident
            got[p.station] += len(p.acked)
        self.n["acked_sync"] += got["sync"]
        self.n["acked_int"] += got["int"]
        self.n["confirmed"] += self.consumer.confirmed_now
        self.n["again"] += len(self.consumer.again)
        if self.consumer.errors:
            self.n["errors"] += self.consumer.errors
            self.say("  consume failed %d times: %s" % (
                self.consumer.errors, self.consumer.last_error[0]))
        return got

    def gone(self, argv):
        """The output of tupelo argv, or None if there is no such station
        (the data directory lost it, or all of itself)."""
        p = self.cli_popen(argv)
        out, err = p.communicate(timeout=120)
        if p.returncode != 0 and "no station named" in err:
            self.stations_gone = True
            return None
        if p.returncode != 0:
            raise RuntimeError("tupelo %s: exit %d: %s" % (
                " ".join(argv), p.returncode, err.strip()))
        return out

    def read(self, station):
        """[(seq, ident or None)] of what the station holds."""
        out = []
        text = self.gone(["--json", "read", station]) or ""
        for line in text.splitlines():
            m = json.loads(line)
            out.append((m["seq"], ident_of(m.get("payload", ""))))
        return out

    def verify_station(self, station):
        """Compare with what was acknowledged; (lost, interval-allowed)."""
        stored = self.read(station)
        seen, last = {}, 0
        for seq, ident in stored:
            if seq <= last:
                self.n["order"] += 1
            last = seq
            if ident is None:
                self.n["damaged"] += 1
            elif ident in seen:
                self.n["dup"] += 1
            else:
                seen[ident] = seq
        first = stored[0][0] if stored else last + 1
        at = dict(stored)
        exp = self.expect[station]
        missing = set(s for s, i in exp.items()
                         if s >= first and at.get(s) != i)
        kept = [s for s, i in exp.items() if s >= first and at.get(s) == i]
        for s in list(exp):
            if s < first or s in missing:
                del exp[s]      # trimmed by retention, or counted now
        if station == "int":
            if missing and kept and min(missing) < max(kept):
                self.n["int_holes"] += 1
            return 0, len(missing)
        return len(missing), 0

    def verify_group(self):
        text = self.gone(["--json", "group", "info", "sync", "g"])
        floor = json.loads(text)["ack_floor"] if text else 0
        want = self.floor
        while want + 1 in self.confirmed:
            want += 1
        lost = max(0, want - floor)
        self.floor = floor
        self.confirmed.difference_update(
            [s for s in self.confirmed if s <= floor])
        return lost

    def one_cut(self, i):
        a = self.args
        lo = a.window / 1000.0 + 0.5 if a.mode == "lossy" else 0.2
        secs = self.rng.uniform(lo, max(lo, a.duration))
        start = time.monotonic()
        self.run_load(secs, i)
        self.broker.freeze()
        self.fs.cut()
        self.stop.set()
        self.broker.kill()
        got = self.halt_load()
        written = json.loads(self.fs.ctl("stats"))["written"]
        self.fs.unmount()
        self.fs.mount(self.rng.randrange(1 << 30))
        line = "cut %d/%d at %.2fs: wrote %.0f MB, acked %d sync, %d " \
            "int | " % (i, a.cuts, secs, written / 1e6, got["sync"],
                        got["int"])
        status, word = self.check()
        self.checks_cut[status] = self.checks_cut.get(status, 0) + 1
        if status not in self.accept:
            self.bad_checks += 1
        line += "check %s | " % word
        try:
            self.broker.start()
        except StartFailed as e:
            self.n["failed_starts"] += 1
            self.n["unreachable"] += len(self.expect["sync"])
            self.say(line + "START FAILED: %s | fresh data directory" % e)
            self.fresh()
            self.seconds += time.monotonic() - start
            return
        self.stations_gone = False
        lost, int_lost = self.verify_station("sync")
        int_lost = self.verify_station("int")[1]
        acks_lost = self.verify_group()
        self.n["lost"] += lost
        self.n["int_lost"] += int_lost
        self.n["acks_lost"] += acks_lost
        line += "start ok | lost %d, int lost %d, acks lost %d" % (
            lost, int_lost, acks_lost)
        if self.broker.stop() != 0:
            self.n["stop_failed"] += 1
        status, word = self.check()
        self.checks_stopped[status] = self.checks_stopped.get(status, 0) + 1
        line += " | stopped: check %s" % word
        if self.stations_gone:
            line += " | stations gone: made anew"
            self.n["gone"] += 1
            self.reset()
        self.say(line)
        if a.fresh_every and i % a.fresh_every == 0 and i < a.cuts:
            self.fresh()
        elif i < a.cuts:
            self.broker.start()
            if self.stations_gone:
                self.setup_stations()
        self.seconds += time.monotonic() - start

    def run(self):
        a = self.args
        self.work = a.workdir or tempfile.mkdtemp(prefix="powercut.")
        os.makedirs(self.work, exist_ok=True)
        self.fs = Fs(self)
        self.broker = Broker(self)
        self.data = os.path.join(self.fs.mnt, "data")
        self.say("powercut: seed %d, mode %s%s, dirs %s, %d cuts, "
                 "runs up to %.1fs, in %s" % (
                     a.seed, a.mode,
                     " p=%g" % a.p if a.mode == "partial" else
                     " window=%gms" % a.window if a.mode == "lossy" else "",
                     a.dirs, a.cuts, a.duration, self.work))
        self.fs.wipe()
        self.fs.mount(self.rng.randrange(1 << 30))
        self.broker.start()
        self.setup_stations()
        for i in range(1, a.cuts + 1):
            self.one_cut(i)
            self.n["cuts"] += 1
        return self.summary()

    def summary(self):
        n = self.n
        fmt = lambda d: ", ".join(
            "%d x%d" % (k, v) for k, v in sorted(d.items())) or "none"
        problems = []
        for key, what in (("lost", "acknowledged messages lost"),
                          ("acks_lost", "confirmed group acks lost"),
                          ("again", "confirmed messages delivered again"),
                          ("failed_starts", "failed starts"),
                          ("dup", "duplicates"), ("order", "out of order"),
                          ("damaged", "damaged payloads"),
                          ("int_holes", "holes in interval stations"),
                          ("gone", "restarts without the stations"),
                          ("stop_failed", "unclean stops")):
            if n[key]:
                problems.append("%d %s" % (n[key], what))
        if self.bad_checks:
            problems.append("%d checks after a cut not in {%s}" % (
                self.bad_checks, self.args.check_accept))
        bad_stopped = sum(v for k, v in self.checks_stopped.items() if k)
        if bad_stopped:
            problems.append("%d checks of a stopped broker not sound" %
                            bad_stopped)
        self.say("powercut: %d cuts, %.1f s per cut (seed %d)" % (
            n["cuts"], self.seconds / max(1, n["cuts"]), self.args.seed))
        self.say("  acknowledged: %d sync, %d interval; confirmed group "
                 "acks: %d" % (n["acked_sync"], n["acked_int"],
                               n["confirmed"]))
        self.say("  lost: %d; confirmed acks lost: %d, delivered again: "
                 "%d; interval lost: %d (allowed)" % (
                     n["lost"], n["acks_lost"], n["again"], n["int_lost"]))
        self.say("  failed starts: %d (%d acknowledged sync messages out "
                 "of reach); duplicates %d, out of order %d, damaged %d" % (
                     n["failed_starts"], n["unreachable"], n["dup"],
                     n["order"], n["damaged"]))
        self.say("  --check after cut: %s; of the stopped broker: %s" % (
            fmt(self.checks_cut), fmt(self.checks_stopped)))
        self.say("  result: %s" % ("ok" if not problems else
                                  "FAILED: " + "; ".join(problems)))
        return 0 if not problems else 1

    def cleanup(self):
        self.stop.set()
        if self.broker is not None and self.broker.proc is not None:
            self.broker.kill()
        if self.consumer is not None:
            self.consumer.halt()
        if self.fs is not None and self.fs.proc is not None:
            try:
                self.fs.unmount()
            except (RuntimeError, OSError):
                pass
            if self.fs.proc is not None:
                self.fs.proc.kill()
        if self.work and not self.args.keep and not self.args.workdir:
            shutil.rmtree(self.work, ignore_errors=True)


def fs_python(args):
    """An interpreter that has fusepy; raises Unavailable."""
    if not os.path.exists("/dev/fuse"):
        raise Unavailable("no /dev/fuse (FUSE is not available here)")
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        raise Unavailable("cannot open /dev/fuse: %s" % e.strerror)
    cands = [args.fs_python] if args.fs_python else \
        [sys.executable, "python3", "/usr/bin/python3"]
    for py in cands:
        try:
            r = subprocess.run(
                [py, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                 "import powercut_fs; powercut_fs.load_fuse()", HERE],
                capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return py
    raise Unavailable("no python3 with fusepy and libfuse2 (Debian: "
                      "apt-get install python3-fusepy fuse3)")


def main():
    ap = argparse.ArgumentParser(
        description="Power-cut torture of tupelod on a simulated disk.")
    ap.add_argument("--cuts", type=int, default=20, help="default 20")
    ap.add_argument("--seed", type=int, default=None,
                    help="default: from the clock (printed)")
    ap.add_argument("--mode", choices=("strict", "partial", "lossy"),
                    default="strict")
    ap.add_argument("--p", type=float, default=0.5,
                    help="partial: chance an unsynced page survives")
    ap.add_argument("--window", type=float, default=500,
                    help="lossy: ms of synced data undone at a cut")
    ap.add_argument("--dirs", choices=("strict", "eager"), default="strict",
                    help="directory entries durable at the directory's "
                    "fsync (strict) or at once (eager)")
    ap.add_argument("--duration", type=float, default=3.0,
                    help="longest run before a cut, seconds (default 3)")
    ap.add_argument("--fresh-every", type=int, default=10,
                    help="a new data directory every N cuts (0: only "
                    "after a failed start)")
    ap.add_argument("--check-accept", default="0,3",
                    help="exit statuses of --check accepted after a cut")
    ap.add_argument("--tupelod-mkdir", action="store_true",
                    help="let tupelod make each new data directory")
    ap.add_argument("--producers", type=int, default=2,
                    help="producers on the sync station")
    ap.add_argument("--wal-size", default="8M",
                    help="tupelod's (default 8M: a checkpoint about every "
                    "4 MB)")
    ap.add_argument("--tupelod", default=os.environ.get(
        "TUPELOD", os.path.join(TOP, "broker", "tupelod")),
        help="default $TUPELOD, else broker/tupelod")
    ap.add_argument("--cli", default=os.environ.get(
        "TUPELO_CLI", os.path.join(TOP, "tools", "tupelo")),
        help="default $TUPELO_CLI, else tools/tupelo")
    ap.add_argument("--fs-python", help="interpreter for the simulator")
    ap.add_argument("--workdir", help="scratch directory (kept)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch directory")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    if args.cuts < 1 or not 0 <= args.p <= 1 or args.duration <= 0:
        ap.error("need --cuts >= 1, 0 <= --p <= 1, --duration > 0")
    t = Torture(args)

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        t.fs_python = fs_python(args)
        return t.run()
    except Unavailable as e:
        print("powercut: cannot run: %s" % e, file=sys.stderr)
        return 77
    except KeyboardInterrupt:
        print("powercut: interrupted", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, StartFailed) as e:
        print("powercut: %s" % e, file=sys.stderr)
        return 1
    finally:
        t.cleanup()


if __name__ == "__main__":
    sys.exit(main())
