#!/usr/bin/env python3
"""Grammar-based protocol fuzzer for a running tupelod.

    protocol.py PROTO PORT SECONDS SEED

Sends random requests of every type, built from the messages of PROTO
(tupelo.proto), over three connections that reconnect now and then:
mostly valid names, subscriptions the broker handed out, seqs it stored
and trigger settings in range, so that the requests reach stations,
groups, deliveries, dead letters and exec triggers; one frame in ten has a
few bytes mutated. Prints the replies it got by kind and the frames sent.
The broker must stay up: tests/fuzz/protocol.sh checks that, its exit on
SIGTERM and a restart. Trigger commands come from a fixed harmless list.
"""
import random
import re
import socket
import struct
import sys
import time

proto, port, secs, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
R = random.Random(seed)

# The messages of the .proto: name -> [(repeated, type, field, number)].
msgs = {}
cur = None
for line in open(proto):
    line = line.split("//")[0].strip()
    m = re.match(r"message (\w+) \{", line)
    if m:
        cur = m.group(1)
        msgs[cur] = []
        continue
    m = re.match(r"(repeated )?(\w+) (\w+) = (\d+)", line)
    if m and cur:
        msgs[cur].append((bool(m.group(1)), m.group(2), m.group(3), int(m.group(4))))
body_num = {typ: num for rep, typ, name, num in msgs["Frame"]}
body_name = {num: typ for typ, num in body_num.items()}

# Requests, weighted towards the ones that move messages.
WEIGHTS = {"Produce": 25, "Ack": 8, "Nack": 4, "InProgress": 3, "Term": 3, "Subscribe": 8,
           "Read": 5, "Unsubscribe": 2, "StationDelete": 0.5, "StationPurge": 0.5,
           "StationCreate": 4, "TriggerCreate": 4, "TriggerUpdate": 2, "TriggerDelete": 0.5,
           "TriggerGet": 1, "TriggerList": 1, "GroupCreate": 2, "GroupDelete": 0.5,
           "GroupList": 1, "GroupGet": 1, "DlsReplay": 2, "StationUpdate": 2, "StationGet": 1,
           "StationList": 1, "Hello": 1, "DictGet": 1, "Request": 1}

STATIONS = ["a", "b", "a.dls", "b.dls", "c", "orders", "_x", "", "x" * 300, "a b", "..", "a.dls.dls"]
GROUPS = ["g", "h", "_trigger.t1", "", "g" * 200]
TRIGGERS = ["t1", "t2", "", "t" * 130]
STARTS = ["all", "new", "seq:0", "seq:1", "seq:5", "seq:18446744073709551615", "seq:-1", "time:0",
          "time:2026-01-01T00:00:00Z", "time:99999999999999", "last:0", "last:3",
          "last:999999999", "bogus", "", "seq:", "time:", "last:"]
FIELDS = ["retention_age_s", "retention_messages", "retention_bytes", "retention_ack",
          "durability", "max_message_size", "dedup_window_s", "compression",
          "compression_level", "batch_size", "batch_window_ms", "mode", "concurrency",
          "timeout_ms", "max_retries", "filters", "enabled", "on_failure", "on_success", "url",
          "command", "bogus", ""]
COMMANDS = ["true", "cat >/dev/null", "exit 3", "sleep 0.1", "echo '{}'"]
URLS = ["http://127.0.0.1:1/", "http://127.0.0.1:9/x", "", "notaurl", "http://[::1]:1/"]
FILTERS = ["a=b", "a^=b", "a!=b", "a?", "$.x=1", "$.", "=", "", "$.a.b=c", "k=" + "v" * 5000]
VALID = {"mode": [1, 2], "batch_size": [1, 2, 10, 100], "batch_window_ms": [0, 10, 100],
         "batch_max_bytes": [1024, 65536, 6 << 20], "concurrency": [1, 2, 10],
         "timeout_ms": [100, 1000, 30000], "max_retries": [0, 1, 2, 0xffffffff],
         "backoff_initial_ms": [1, 10, 1000], "backoff_max_ms": [1000, 300000],
         "max_age_s": [0, 1, 60], "retention_age_s": [0, 1, 60],
         "retention_messages": [0, 1, 10, 1000], "retention_bytes": [0, 1000, 1 << 20],
         "max_message_size": [0, 10, 1 << 20], "dedup_window_s": [0, 1, 120],
         "compression_level": [0, 1, 3, 19], "max_unacked": [0, 1, 10, 1000],
         "max_ack_pending": [0, 1, 10, 10000], "max_count": [0, 1, 10, 100],
         "max_bytes": [0, 100, 1 << 20]}
# A trigger's config usually has these, so that creates get through.
REQUIRED = {"TriggerConfig": {"name", "station", "target", "command"}}
subs = [1, 2, 3]
present = []


def varint(n):
    n &= (1 << 64) - 1
    b = bytearray()
    while n >= 0x80:
        b.append((n & 0x7f) | 0x80)
        n >>= 7
    b.append(n)
    return bytes(b)


def key(num, wire):
    return varint(num << 3 | wire)


def field(num, v):
    if isinstance(v, int):
        return key(num, 0) + varint(v)
    return key(num, 2) + varint(len(v)) + v


def pick(good, bad, p=0.85):
    return (R.choice(good) if R.random() < p else R.choice(bad)).encode()


def some_int(bits):
    c = R.random()
    if c < 0.3:
        return R.choice([0, 1, 2, 3, 5, 10, 100, 1000])
    if c < 0.5:
        return R.choice([(1 << bits) - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1])
    return R.getrandbits(R.choice([4, 8, 16, 24, bits]))


def gen_value(typ, name, depth):
    if name in VALID and R.random() < 0.9:
        return R.choice(VALID[name])
    if typ in ("uint64", "int64"):
        if name == "sub":
            return R.choice(subs[-5:]) if R.random() < 0.85 else R.choice(subs + [0, R.getrandbits(64)])
        if "seq" in name:
            return R.randint(1, 300) if R.random() < 0.8 else R.choice([0, R.getrandbits(64), (1 << 64) - 1])
        return some_int(64)
    if typ in ("uint32", "int32"):
        choices = {"target": [0, 1, 2, 3, 4, 7], "durability": [0, 1, 2, 3], "compression": [0, 1, 2],
                   "version": [1, 1, 1, 0, 2, 99], "id": [0, 1, 2, some_int(32)],
                   "max_deliveries": [0, 1, 2, 0xffffffff, 5]}
        if name in choices:
            return R.choice(choices[name])
        if name.endswith("_ms"):
            return R.choice([0, 1, 10, 100, 1000, some_int(32)])
        return some_int(32)
    if typ == "bool":
        return R.choice([0, 1])
    if typ == "string":
        if name in ("station", "to", "on_failure", "on_success") or (name == "name" and depth > 0 and R.random() < 0.5):
            return pick(["a", "b", "c", "a.dls"], STATIONS)
        table = {"group": (["g", "h"], GROUPS), "name": (["a", "b", "c", "t1", "t2"], STATIONS + TRIGGERS),
                 "start": (STARTS, STARTS), "fields": (FIELDS, FIELDS), "command": (COMMANDS, COMMANDS),
                 "url": (URLS, URLS), "function": (URLS, URLS), "filters": (FILTERS, FILTERS),
                 "key": (["k", "type", "tp-x", "region"], ["", "k" * 300]),
                 "ordering_key": (["k", "type"], ["", "k" * 300]),
                 "msg_id": (["", "", "id1", "id2", str(R.randint(1, 1000))], ["i" * 300])}
        if name in table:
            good, bad = table[name]
            return pick(good, bad, 0.99 if name in ("key", "msg_id") else 0.85)
        return R.choice([b"", b"x", b"hello", R.randbytes(R.randint(0, 40))])
    if typ == "bytes":
        c = R.random()
        if c < 0.3:
            return b""
        if c < 0.6:
            return b'{"x": 1, "a": {"b": "c"}}'
        return R.randbytes(R.choice([1, 10, 100, 2000]))
    if typ in msgs:
        return gen_msg(typ, depth + 1)
    return 0


def gen_msg(typ, depth=0):
    out = bytearray()
    if depth > 4:
        return bytes(out)
    if typ in ("TriggerCreate", "TriggerUpdate", "StationUpdate") and R.random() < 0.9:
        # A config and the list of the settings it sets.
        del present[:]
        out += field(1, gen_msg("StationConfig" if typ == "StationUpdate" else "TriggerConfig", depth + 1))
        for f in present:
            if f not in ("name", "station", "created_ns"):
                out += field(2, f.encode())
        return bytes(out)
    for rep, ftyp, name, num in msgs[typ]:
        if typ in REQUIRED and R.random() < 0.97:
            if name in REQUIRED[typ]:
                if name == "target":
                    present.append(name)
                    out += field(num, 1)
                    continue
            elif R.random() < 0.8:
                continue
        elif R.random() < 0.12 and not (typ == "Produce" and name == "station"):
            continue
        if typ in ("TriggerConfig", "StationConfig"):
            present.append(name)
        n = R.choice([1, 1, 2, 3, 10, 50]) if rep else 1
        if typ == "Produce" and name == "messages":
            n = R.choice([1, 2, 10, 100])
        if typ == "Message" and name == "headers":
            n = R.choice([0, 1, 2, 3])
        for _ in range(n):
            v = gen_value(ftyp, name, depth)
            if isinstance(v, int) and ftyp in ("int32", "int64") and R.random() < 0.1:
                v = -v
            out += field(num, v)
    return bytes(out)


def mutate(b):
    b = bytearray(b)
    for _ in range(R.randint(1, 4)):
        if not b:
            break
        i = R.randrange(len(b))
        op = R.random()
        if op < 0.4:
            b[i] ^= 1 << R.randrange(8)
        elif op < 0.6:
            b[i] = R.choice([0, 0xff, 0x7f, 0x80])
        elif op < 0.8:
            del b[i:i + R.randint(1, 4)]
        else:
            b[i:i] = R.randbytes(R.randint(1, 4))
    return bytes(b)


def frame(fid, typ, body):
    data = field(1, fid) + field(body_num[typ], body)
    return struct.pack(">I", len(data)) + data


def readvarint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


seen = {}


def note_reply(body):
    """Count the reply by kind (and error code); keep the subs handed out."""
    try:
        i = 0
        while i < len(body):
            k, i = readvarint(body, i)
            if k & 7 == 0:
                _, i = readvarint(body, i)
                continue
            if k & 7 != 2:
                return
            n, i = readvarint(body, i)
            inner = body[i:i + n]
            kind = body_name.get(k >> 3, k >> 3)
            if kind == "Error" and inner[:1] == b"\x08":
                kind = "Error %d" % readvarint(inner, 1)[0]
            if kind == "SubscribeOk" and inner[:1] == b"\x08":
                subs.append(readvarint(inner, 1)[0])
                del subs[:-20]
            seen[kind] = seen.get(kind, 0) + 1
            i += n
    except IndexError:
        pass


def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    return s


def send(j, data):
    try:
        conns[j].setblocking(True)
        conns[j].settimeout(10)
        conns[j].sendall(data)
        conns[j].setblocking(False)
    except (BrokenPipeError, ConnectionResetError):
        conns[j] = connect()
        bufs[j] = b""


def drain(j):
    try:
        while True:
            d = conns[j].recv(1 << 20)
            if not d:
                conns[j] = connect()
                bufs[j] = b""
                return
            bufs[j] += d
    except BlockingIOError:
        pass
    except ConnectionResetError:
        conns[j] = connect()
        bufs[j] = b""
        return
    while len(bufs[j]) >= 4:
        n = struct.unpack(">I", bufs[j][:4])[0]
        if len(bufs[j]) < 4 + n:
            break
        note_reply(bufs[j][4:4 + n])
        bufs[j] = bufs[j][4 + n:]


conns = [connect() for _ in range(3)]
bufs = [b""] * 3
for st in (b"a", b"b", b"c"):
    send(0, frame(1, "StationCreate", field(1, field(1, st))))
end = time.time() + secs
sent = 0
while time.time() < end:
    j = R.randrange(len(conns))
    if R.random() < 0.01:
        conns[j].close()
        conns[j] = connect()
        bufs[j] = b""
    typ = R.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    data = frame(sent + 2, typ, gen_msg(typ))
    if R.random() < 0.1:
        data = data[:4] + mutate(data[4:])
        data = struct.pack(">I", len(data) - 4) + data[4:]
    send(j, data)
    sent += 1
    for k in range(len(conns)):
        drain(k)
for kind, n in sorted(seen.items(), key=lambda kv: -kv[1]):
    print("%8d %s" % (n, kind))
print("%d frames sent" % sent)
