#!/bin/sh
# Storage benchmark: produce throughput and ack latency of stations with
# durability sync and interval, with 1 and 8 producers and with one
# message in flight, then the zstd compression ratio of JSON-like
# messages. A benchmark, not a test: it measures and prints, it asserts
# nothing about speed, and make check does not run it.
#
#   tools/bench-storage.sh
#
# It starts its own tupelod (broker/tupelod, built by tools/setup.sh build
# if missing) on 127.0.0.1, port 0, with a fresh data directory under
# $TMPDIR (default /tmp), and stops it by its PID and removes the
# directory when it exits. Each throughput row runs BENCH_RUNS times
# (default 3), interleaved with the other rows, each run on a new
# station and capped at BENCH_DURATION seconds (default 10); the table
# shows the run with the median msg/s and the range of all runs.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tupelod=$top/broker/tupelod
tupelo=$top/tools/tupelo
duration=${BENCH_DURATION:-10}
runs=${BENCH_RUNS:-3}
size=128	# bytes, the throughput rows
count=100000	# messages per throughput row
count1=5000	# messages per window-1 row
window=256
zcount=20000	# messages per compression row
zsize=1024

. "$top/tools/bench-lib.sh"
bench_init bench-storage bench

bench_start

# The value of field $2 in the one-line JSON object $1.
field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

flush_ms=$("$tupelod" -c /dev/null --help |
    sed -n 's/.*--flush-interval N \[\([0-9]*\)\].*/\1/p')
build=$("$top/config.status" --config 2>/dev/null || :)
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
fs=$(df -PT "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo "Tupelo storage benchmark"
echo "tupelod:  $("$tupelod" --version) (configure: ${build:-defaults})"
echo "machine:  $(nproc) CPUs${cpu:+, $cpu}, $(uname -sr)"
echo "data dir: $tmp (${fs:-unknown})"
echo "sync: ack after fsync; interval: ack after commit, fsync every" \
    "${flush_ms:-?} ms"
echo

bad=0
started=$(date +%s)
mkdir "$tmp/res"

# One run: a new station, durability $1, $2 producers, window $3, $4
# messages; its JSON result line, or "failed", goes to $tmp/res/$1-$2-$3.
run() {
	st=bench-$1-p$2-w$3
	"$tupelo" station create "$st" --durability "$1" >/dev/null
	sync
	if out=$("$tupelo" --json bench produce "$st" --producers "$2" \
	    --window "$3" --count "$4" --size "$size" --duration "$duration")
	then
		echo "$out" >>"$tmp/res/$1-$2-$3"
	else
		echo failed >>"$tmp/res/$1-$2-$3"
		bad=1
	fi
	"$tupelo" station rm "$st" >/dev/null
}

# The row of durability $1, $2 producers, window $3: the median run.
row() {
	f=$tmp/res/$1-$2-$3
	if grep -q failed "$f"; then
		printf '%-10s %4s %6s  failed\n' "$1" "$2" "$3"
		return
	fi
	while read -r line; do
		echo "$(field "$line" msg_per_s) $line"
	done <"$f" | sort -n >"$f.sorted"
	n=$(wc -l <"$f.sorted")
	med=$(sed -n "$(((n + 1) / 2))p" "$f.sorted" | cut -d' ' -f2)
	lo=$(sed -n 1p "$f.sorted" | cut -d' ' -f1)
	hi=$(sed -n "${n}p" "$f.sorted" | cut -d' ' -f1)
	printf '%-10s %4s %6s %8s %6s %8s %15s %7s %7s\n' "$1" "$2" "$3" \
	    "$(field "$med" messages)" "$(field "$med" seconds)" \
	    "$(field "$med" msg_per_s)" "$lo-$hi" "$(field "$med" p50_ms)" \
	    "$(field "$med" p99_ms)"
}

rows="sync:1:$window:$count sync:8:$window:$count
interval:1:$window:$count interval:8:$window:$count
sync:1:1:$count1 interval:1:1:$count1"
i=0
while [ $i -lt "$runs" ]; do
	for r in $rows; do
		IFS=: read -r d p w n <<-EOF
		$r
		EOF
		run "$d" "$p" "$w" "$n"
	done
	i=$((i + 1))
done

echo "Produce: $size-byte messages, $count a run with window $window," \
    "$count1 with window 1;"
echo "prod producers, each on its own connection; the run with the median" \
    "msg/s"
echo "of $runs, with the range of all; runs capped at $duration s;" \
    "p50/p99: ack latency"
printf '%-10s %4s %6s %8s %6s %8s %15s %7s %7s\n' durability prod \
    window messages secs msg/s range p50_ms p99_ms
for r in $rows; do
	IFS=: read -r d p w n <<-EOF
	$r
	EOF
	row "$d" "$p" "$w"
done
echo

echo "Compression: JSON-like messages of $zsize bytes, 1 producer," \
    "window $window,"
echo "1 run, durability the broker's default. A zstd station compresses"
echo "its first 1000 messages alone and trains a dictionary on them;"
echo "the rows show each phase on its own."
printf '%-30s %8s %12s %13s %6s %8s\n' station/phase messages \
    stored_bytes logical_bytes ratio msg/s
# Produce count messages to station st; print a row for what they added.
zrow() {
	before=$("$tupelo" --json station info "$2")
	sync
	if ! out=$("$tupelo" --json bench produce "$2" --window "$window" \
	    --count "$3" --size "$zsize" --duration "$duration"); then
		printf '%-30s  failed\n' "$1"
		bad=1
		return
	fi
	after=$("$tupelo" --json station info "$2")
	stored=$(($(field "$after" bytes) - $(field "$before" bytes)))
	logical=$(($(field "$after" logical_bytes) - \
	    $(field "$before" logical_bytes)))
	printf '%-30s %8s %12s %13s %6s %8s\n' "$1" "$3" "$stored" \
	    "$logical" "$(awk -v l="$logical" -v s="$stored" \
	    'BEGIN { if (s > 0) printf "%.2f", l / s; else print "-" }')" \
	    "$(field "$out" msg_per_s)"
}
"$tupelo" station create bench-json-none >/dev/null
"$tupelo" station create bench-json-zstd --compression zstd >/dev/null
zrow "none" bench-json-none "$zcount"
zrow "zstd, no dictionary yet" bench-json-zstd 1000
# Training runs in the broker's writer; give it a moment.
i=0
while ! grep -q "dictionary trained station=bench-json-zstd" "$tmp/log" &&
    [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
zrow "zstd, trained dictionary" bench-json-zstd "$zcount"
echo
echo "ratio = logical_bytes / stored_bytes, from tupelo --json station info"
echo "$(($(date +%s) - started)) s in all"
exit "$bad"
