#!/bin/sh
# Side-by-side benchmark: Tupelo against the peer baseline (NATS JetStream,
# Redis Streams) on this machine, the same workloads, the same caps. A
# benchmark, not a test: it measures and prints, asserts nothing about
# speed, and make check does not run it.
#
#   tools/bench-compare.sh PEERS_DIR
#
# PEERS_DIR is the peers harness (the directory of run-peers.sh,
# summarize.py and its README.md, which describes the workloads W1..W4).
# First the Tupelo half: it starts its own tupelod (broker/tupelod, built
# by tools/setup.sh build if missing) on 127.0.0.1, port 0, with a fresh
# data directory under $TMPDIR (default /tmp), stopped by its PID when
# the half is done or the script exits, and runs REPS interleaved runs
# (run 1 of every row, then run 2, ...) of:
#   W1  1 producer, 128 B and 1 KiB, window 1 and 256, sync and interval
#   W2  4 producers, window 256, 128 B, sync and interval
#   W3  5000/s of 1 KiB, one consumer with acks, sync and interval
#   W4  drain 200,000 stored 1 KiB messages with acks, sync and interval
# each on a new station, capped at N messages and T seconds, with `sync`
# before each run and tupelod's CPU time (/proc/PID/stat) around it. The
# RESULT lines go to a raw file in run-peers.sh's format (label|run|RESULT
# ...). Then the peer half: "$PEERS_DIR"/run-peers.sh $PEER_SECTIONS with
# the same REPS, N, T, LAT_T, DRAIN_N and WORKLOADS (its other settings
# taken from the environment as they are). Last, one table of medians:
# each Tupelo row, each peer's matching row and Tupelo's ratio to it; the
# p50 ack of W1 with one message in flight against one fdatasync measured
# in the same run; and summarize.py's markdown of both raw files together.
#
# The defaults keep the peers' message counts and 3 interleaved runs but
# cap a run at 5 s (10 s of W3) rather than 20, so that the whole
# comparison, both halves, takes about 12 minutes on a 2-core machine;
# only the rows that reach the cap (one message in flight, and the slow
# peers) measure over a shorter time. T=20 LAT_T=10 gives the peers'
# own caps (about 35 minutes). QUICK=1 is a smoke run of both (1 run,
# 20,000 messages, 3 s caps) in about 2 minutes.
#
# Environment (defaults): REPS=3 N=200000 T=5 LAT_RATE=5000 LAT_T=5
#   LAT_SIZE=1024 DRAIN_N=200000 WORKLOADS="W1 W2 W3 W4"
#   PEER_SECTIONS="nats redis" (run-peers.sh's sections; add nats-fsync
#   for NATS with an fsync per message, which it builds from source)
#   QUICK=1 (REPS=1 N=20000 T=3 LAT_T=2 DRAIN_N=20000, as run-peers.sh)
#   PEERS=0 (skip the peer half) or PEERS_RAW=FILE (use that raw file of an
#   earlier run-peers.sh instead of running it)
#   OUT=DIR (where the raw files and the summary go; default a new
#   directory $TMPDIR/tupelo-compare-<UTC time>)
set -eu

usage() {
	echo "usage: tools/bench-compare.sh PEERS_DIR" >&2
	exit 2
}
[ $# -eq 1 ] || usage
case $1 in
-h|--help)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' \
	    "$0"
	exit 0
	;;
esac
peers=$(cd "$1" 2>/dev/null && pwd) || usage
[ -f "$peers/run-peers.sh" ] && [ -f "$peers/summarize.py" ] || {
	echo "bench-compare: $1 has no run-peers.sh and summarize.py" >&2
	exit 2
}

top=$(cd "$(dirname "$0")/.." && pwd)
tupelod=$top/broker/tupelod
tupelo=$top/tools/tupelo

# Our settings in lower case: the peers' run sees the caller's environment
# unchanged.
if [ "${QUICK:-0}" = 1 ]; then
	reps=${REPS:-1} n=${N:-20000} t=${T:-3} lat_t=${LAT_T:-2}
	drain_n=${DRAIN_N:-20000}
else
	reps=${REPS:-3} n=${N:-200000} t=${T:-5} lat_t=${LAT_T:-5}
	drain_n=${DRAIN_N:-200000}
fi
lat_rate=${LAT_RATE:-5000}
lat_size=${LAT_SIZE:-1024}
workloads=${WORKLOADS:-"W1 W2 W3 W4"}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=${OUT:-${TMPDIR:-/tmp}/tupelo-compare-$stamp}
mkdir -p "$out"
raw=$out/raw-tupelo-$stamp.txt

. "$top/tools/bench-lib.sh"
bench_init bench-compare compare

log() {
	printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
}
want() {
	case " $workloads " in *" $1 "*) return 0 ;; esac
	return 1
}

bench_start

tck=$(getconf CLK_TCK)
# tupelod's user + system time in clock ticks, all its threads.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$pid/stat"
}

flush_ms=$("$tupelod" -c /dev/null --help |
    sed -n 's/.*--flush-interval N \[\([0-9]*\)\].*/\1/p')
d_sync="sync (fsync before ack, group commit)"
d_int="interval (ack after commit, fsync every ${flush_ms:-?} ms)"
{
	echo "# tupelo raw results, $stamp (UTC)"
	echo "# tupelod: $("$tupelod" --version)" \
	    "(configure: $("$top/config.status" --config 2>/dev/null || :))"
	echo "# kernel $(uname -r); $(nproc) cores;" \
	    "data fs $(df -PT "$tmp" | awk 'NR == 2 { print $2 }')"
	echo "# REPS=$reps N=$n T=$t LAT_RATE=$lat_rate LAT_T=$lat_t" \
	    "LAT_SIZE=$lat_size DRAIN_N=$drain_n workloads: $workloads"
} >"$raw"

# One run: label $1, run $2, on a new station of durability $3 (sync or
# interval); the rest is the tupelo command, STATION where the station
# goes. W4 runs $drain_pre first, not counted in the CPU time.
drain_pre=
run() {
	label=$1 rep=$2 dur=$3
	shift 3
	st=cmp-$dur-$$
	"$tupelo" station create "$st" --durability "$dur" >/dev/null
	if [ -n "$drain_pre" ] && ! "$tupelo" bench produce "$st" \
	    --window 256 --count "$drain_n" --size 1024 --duration 600 \
	    >/dev/null 2>"$tmp/err"; then
		echo "#FAILED $label|$rep|prefill: $(tr '\n' ' ' <"$tmp/err")" \
		    >>"$raw"
		"$tupelo" station rm "$st" >/dev/null
		return
	fi
	args=
	for a in "$@"; do
		[ "$a" = STATION ] && a=$st
		args="$args '$a'"
	done
	[ "$rep" = 1 ] && echo "#cmd $label|tupelo$args" | sed "s/$st/ST/" \
	    >>"$raw"
	sync
	c0=$(ticks)
	tag=$(printf '%s' "$label" | tr ' |' '__')
	if res=$(eval "\"\$tupelo\" $args --result \"\$tag\"" \
	    2>"$tmp/err"); then
		c1=$(ticks)
		printf '%s\n' "$res" | grep '^RESULT ' |
		    awk -v p="$label|$rep|" -v d=$((c1 - c0)) -v t="$tck" \
		    '{ printf "%s%s server_cpu_s=%.2f\n", p, $0, d / t }' \
		    >>"$raw"
		log "$label #$rep: $(printf '%s\n' "$res" |
		    grep -oE ' (msgs_per_s|p50_us|p99_us)=[0-9.]+' |
		    tr '\n' ' ')"
		case $res in
		*wl=pub*)
			msgs=$(printf '%s\n' "$res" |
			    sed -n 's/.* msgs=\([0-9]*\).*/\1/p')
			stored=$("$tupelo" --json station info "$st" |
			    sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
			[ "$msgs" = "$stored" ] || echo "#WARN $label|$rep|" \
			    "stored $stored of $msgs" >>"$raw"
			;;
		esac
	else
		echo "#FAILED $label|$rep|$(tr '\n' ' ' <"$tmp/err") $res" \
		    >>"$raw"
		log "$label #$rep FAILED: $(cat "$tmp/err")"
	fi
	"$tupelo" station rm "$st" >/dev/null
}

log "Tupelo half: tupelod on 127.0.0.1:$port, raw results in $raw"
rep=1
while [ "$rep" -le "$reps" ]; do
	log "=== repetition $rep of $reps"
	for dur in sync interval; do
		[ "$dur" = sync ] && d=$d_sync || d=$d_int
		if want W1; then
			for size in 128 1024; do
				run "W1;tupelo;$d;tp_produce (1 in flight);$size" \
				    "$rep" "$dur" bench produce STATION \
				    --window 1 --count "$n" --size "$size" \
				    --duration "$t"
				run "W1;tupelo;$d;tp_producer (256 in flight);$size" \
				    "$rep" "$dur" bench produce STATION \
				    --window 256 --count "$n" --size "$size" \
				    --duration "$t"
			done
		fi
		if want W2; then
			run "W2;tupelo;$d;4 x tp_producer (256 in flight);128" \
			    "$rep" "$dur" bench produce STATION --producers 4 \
			    --window 256 --count "$n" --size 128 --duration "$t"
		fi
		if want W3; then
			run "W3;tupelo;$d;group consumer, explicit ack @ $lat_rate/s;$lat_size" \
			    "$rep" "$dur" bench latency STATION --rate "$lat_rate" \
			    --size "$lat_size" --duration "$lat_t" --warmup 1
		fi
		if want W4; then
			drain_pre=1
			run "W4;tupelo;$d;group consumer + tp_ack each;1024" \
			    "$rep" "$dur" bench consume STATION -g drain \
			    --count "$drain_n"
			drain_pre=
		fi
	done
	rep=$((rep + 1))
done
bench_stop
grep -E '^#(FAILED|WARN)' "$raw" >&2 || :

# One fsync on this disk, for W1 with one message in flight: 4 KiB
# rewritten in place in a file of the data directory's file system, then
# fdatasync, 500 times; the median.
fsync_us=$(python3 - "$tmp" <<'EOF'
import os, statistics, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
block = b"\0" * 4096
for i in range(64):
    os.pwrite(fd, block, i * 4096)
os.fsync(fd)
t = []
for i in range(500):
    a = time.monotonic_ns()
    os.pwrite(fd, block, (i % 64) * 4096)
    os.fdatasync(fd)
    t.append((time.monotonic_ns() - a) / 1000)
os.close(fd)
os.unlink(path)
print("%.0f" % statistics.median(t))
EOF
)
echo "#fsync p50_us=$fsync_us (4 KiB rewritten in place + fdatasync)" >>"$raw"

peers_raw=${PEERS_RAW:-}
if [ -z "$peers_raw" ] && [ "${PEERS:-1}" != 0 ]; then
	log "peer half: $peers/run-peers.sh (log in $out/peers.log)"
	# shellcheck disable=SC2086
	{ REPS=$reps N=$n T=$t LAT_T=$lat_t DRAIN_N=$drain_n \
	    WORKLOADS=$workloads "$peers/run-peers.sh" \
	    ${PEER_SECTIONS:-nats redis} 2>&1; echo $? >"$tmp/peers.rc"; } |
	    tee "$out/peers.log"
	[ "$(cat "$tmp/peers.rc")" = 0 ] ||
	    log "run-peers.sh exited with $(cat "$tmp/peers.rc")"
	# It names its raw file, under its results directory: beside it,
	# $RESULTS_DIR, or $SCRATCH/results where its directory is read-only.
	f=$(sed -n 's/.*raw results: results\/\(raw-[^ ]*\.txt\).*/\1/p' \
	    "$out/peers.log" | tail -n 1)
	for d in ${RESULTS_DIR:-} "$peers/results" \
	    "${SCRATCH:-/tmp/tupelo-peers}/results"; do
		if [ -n "$f" ] && [ -f "$d/$f" ]; then
			peers_raw=$d/$f
			break
		fi
	done
	[ -n "$peers_raw" ] || log "cannot find the peers' raw file"
fi
if [ -n "$peers_raw" ]; then
	cp "$peers_raw" "$out/"
	cat "$raw" "$peers_raw" >"$out/raw-all.txt"
else
	cp "$raw" "$out/raw-all.txt"
fi
python3 "$peers/summarize.py" "$out/raw-all.txt" >"$out/summary.md" ||
    log "summarize.py failed"

echo
echo "One fdatasync on this disk (4 KiB rewritten in place): p50 $fsync_us us"
echo "Tupelo against the peers: medians of each row's runs"
echo "W1/W2/W4: msgs/s, x = Tupelo / peer (above 1: Tupelo faster);" \
    "W3: latency us, x = Tupelo / peer (below 1: Tupelo faster)"
python3 - "$raw" "$peers_raw" "$fsync_us" <<'EOF'
import re
import sys
from statistics import median


def parse(path):
    runs = {}
    if not path:
        return runs
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#") or "|RESULT " not in line:
                continue
            label, _, res = line.split("|", 2)
            kv = dict(t.split("=", 1) for t in res.split()[1:] if "=" in t)
            runs.setdefault(label, []).append(kv)
    return runs


def med(rs, key, per=None):
    vals = []
    for r in rs:
        try:
            v = float(r[key])
            if per:
                v = v / float(r[per]) * 1e6
            vals.append(v)
        except (KeyError, ValueError, ZeroDivisionError):
            pass
    return median(vals) if vals else None


def kind(wl, client):
    """What a row is, so that Tupelo's and the peers' rows pair up."""
    if wl in ("W1", "W2"):
        if "cross-check" in client:
            return None
        if "(1 in flight)" in client or re.search(r"-P 1$", client):
            return "1"
        if "(256 in flight)" in client or re.search(r"-P 64$", client):
            return "256"
        return None
    if wl == "W3":
        m = re.search(r"@ (\d+)/s", client)
        return m.group(1) if m else None
    return "drain"


def column(peer, dur):
    if peer == "nats":
        return "nats-fsync" if "fsync per message" in dur else "nats"
    if peer == "redis":
        for w in ("everysec", "always"):
            if w in dur:
                return "redis-" + w
        return "redis-none"
    return peer


tupelo, peers = parse(sys.argv[1]), parse(sys.argv[2])
cols, cells = [], {}
for label, rs in peers.items():
    wl, peer, dur, client, size = label.split(";")
    k, c = kind(wl, client), column(peer, dur)
    if k is None:
        continue
    if c not in cols:
        cols.append(c)
    # The first of a kind stays: NATS W3 push before pull.
    cells.setdefault((wl, k, size, c), rs)

names = {"1": "w1", "256": "w256", "drain": "drain"}
head = "%-28s %9s %7s" % ("row", "tupelo", "cpu/msg")
for c in cols:
    head += " %9s %6s" % (c[:9], "x")
print(head)
print("-" * len(head))


def show(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v


for label, rs in tupelo.items():
    wl, _, dur, client, size = label.split(";")
    k = kind(wl, client)
    if wl == "W3":
        metrics = [("p50_us", "p50"), ("p99_us", "p99")]
        per = "sent"
        mode = "%s/s" % k
    else:
        metrics = [("msgs_per_s", "")]
        per = "msgs"
        mode = ("4x" if client.startswith("4 x") else "") + names[k]
    cpu = med(rs, "server_cpu_s", per)
    for key, what in metrics:
        t = med(rs, key)
        row = "%s %s %s %s %s" % (wl, size, mode, dur.split()[0], what)
        line = "%-28s %9s %7s" % (row.strip(), show(t), show(cpu))
        for c in cols:
            p = med(cells.get((wl, k, size, c), []), key)
            ratio = "%.2f" % (t / p) if t is not None and p else "-"
            line += " %9s %6s" % (show(p), ratio)
        print(line)
print()
print("cpu/msg: tupelod user + system CPU us per message of the run (W4:"
      " the drain only)")

# One message in flight: the ack's latency against one fdatasync.
fsync = float(sys.argv[3]) if sys.argv[3:] and sys.argv[3] else None
for label, rs in tupelo.items():
    wl, _, dur, client, size = label.split(";")
    p = med(rs, "p50_us")
    if wl == "W1" and kind(wl, client) == "1" and p is not None and fsync:
        print("W1 %s w1 %s: p50 ack %.0f us, %.2f x one fdatasync"
              % (size, dur.split()[0], p, p / fsync))
EOF
echo
echo "raw results: $raw${peers_raw:+ and $peers_raw}"
echo "all rows as markdown (summarize.py): $out/summary.md"
