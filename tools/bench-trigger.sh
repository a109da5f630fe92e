#!/bin/sh
# Trigger benchmark: throughput and added latency of function triggers,
# for the exec target (a shell command) and the http target (a Python
# HTTP server on 127.0.0.1), at batch sizes 1 and 100. A benchmark, not
# a test: it measures and prints, it asserts nothing about speed, and
# make check does not run it.
#
#   tools/bench-trigger.sh
#
# Throughput: BENCH_COUNT messages (default 10000, 128 bytes) are stored
# first, then a trigger is added at "all" and timed until its position
# reaches the last one. Latency: BENCH_LAT messages (default 200) are
# produced one at a time, 10 ms apart, to an idle trigger; the function
# notes when it starts, and the latency is that time minus the message's
# broker time (the time the broker stored it; 1 ms resolution), so it
# covers the commit, the hand-over to the trigger, batching and the
# start of the function (fork and exec of /bin/sh, or the HTTP request).
#
# It starts its own tupelod (broker/tupelod, built by tools/setup.sh build
# if missing) with a fresh data directory under $TMPDIR (default /tmp) and
# the HTTP server, and stops both by their PIDs and removes the directory
# when it exits.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tupelod=$top/broker/tupelod
tupelo=$top/tools/tupelo
count=${BENCH_COUNT:-10000}
nlat=${BENCH_LAT:-200}

if [ ! -x "$tupelod" ] || [ ! -x "$tupelo" ]; then
	"$top/tools/setup.sh" build
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tupelo-bench.XXXXXX")
pid=
spid=
. "$top/tools/bench-lib.sh"
cleanup() {
	bench_stop
	if [ -n "$spid" ]; then
		kill "$spid" 2>/dev/null || :
		wait "$spid" 2>/dev/null || :
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() {
	echo "bench-trigger: $*" >&2
	exit 1
}

# The HTTP function: answers 200 at once and notes, per request, when it
# came (ns) and its body, one JSON line each, in $tmp/http.log.
cat >"$tmp/server.py" <<'EOF'
import http.server, json, sys, time, threading
log = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        t = time.time_ns()
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        rec = {"t": t, "path": self.path, "ce_time": self.headers.get("ce-time"), "body": body}
        with lock:
            log.write(json.dumps(rec) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$tmp/server.py" "$tmp/http.log" >"$tmp/server.port" &
spid=$!
i=0
while [ ! -s "$tmp/server.port" ] && [ $i -lt 250 ]; do
	sleep 0.02
	i=$((i + 1))
done
hport=$(head -n 1 "$tmp/server.port")
[ -n "$hport" ] || die "the HTTP server did not start"

# Its exec target is a shell command: one trusted user.
bench_args="--exec-triggers any"
bench_start
mkdir "$tmp/exec"

# Position of a trigger, from its --json info.
position() {
	"$tupelo" --json trigger info "$1" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["position"])'
}

now_ns() {
	date +%s%N
}

# A 128-byte line per message.
python3 -c "
import sys
for i in range($count):
    sys.stdout.write(('m%d ' % i).ljust(127, 'x') + '\n')
" >"$tmp/lines"

echo "tupelo trigger benchmark: $count messages of 128 B per throughput row,"
echo "$nlat messages 10 ms apart per latency row; stations durability sync"
echo
printf '%-28s %12s %10s %10s %10s\n' "row" "msg/s" "p50 ms" "p99 ms" \
    "invocations"

row=0
# bench_row TARGET BATCH MODE CONCURRENCY
bench_row() {
	target=$1 batch=$2 mode=$3 conc=$4
	row=$((row + 1))
	st=b$row
	case $target in
	exec)
		# Throughput: read the event, nothing else.
		tflag="--exec"
		tput="cat >/dev/null"
		# Latency: note the start, keep the event.
		tlat="d=\$(date +%s%N); cat >$tmp/exec/\$d.json"
		;;
	http)
		tflag="--http"
		tput="http://127.0.0.1:$hport/put"
		tlat="http://127.0.0.1:$hport/lat$row"
		;;
	esac
	"$tupelo" station create "$st" >/dev/null
	"$tupelo" produce "$st" <"$tmp/lines" >/dev/null
	t0=$(now_ns)
	"$tupelo" trigger add "t$row" --station "$st" $tflag "$tput" \
	    --start all --batch-size "$batch" --mode "$mode" \
	    --concurrency "$conc" >/dev/null
	last=$("$tupelo" --json station info "$st" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["last_seq"])')
	while [ "$(position "t$row")" -lt "$last" ]; do
		sleep 0.02
	done
	t1=$(now_ns)
	inv=$("$tupelo" --json trigger info "t$row" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["invocations"])')
	"$tupelo" trigger rm "t$row" >/dev/null

	# Latency on a station of its own.
	"$tupelo" station create "${st}l" >/dev/null
	"$tupelo" trigger add "l$row" --station "${st}l" $tflag "$tlat" \
	    --batch-size "$batch" --mode "$mode" --concurrency "$conc" \
	    >/dev/null
	rm -f "$tmp"/exec/*.json
	i=0
	while [ $i -lt "$nlat" ]; do
		echo "lat $i" | "$tupelo" produce "${st}l" >/dev/null
		sleep 0.01
		i=$((i + 1))
	done
	while [ "$(position "l$row")" -lt "$nlat" ]; do
		sleep 0.02
	done
	lat=$(python3 - "$target" "$tmp" "/lat$row" <<'EOF'
import glob, json, os, sys
from datetime import datetime
target, tmp, path = sys.argv[1], sys.argv[2], sys.argv[3]
def ms(rfc):
    return datetime.strptime(rfc, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000
lat = []
if target == "exec":
    for f in glob.glob(os.path.join(tmp, "exec", "*.json")):
        start = int(os.path.basename(f)[:-5]) / 1e6
        for r in json.load(open(f))["Records"]:
            lat.append(start - ms(r["time"]))
else:
    for line in open(os.path.join(tmp, "http.log")):
        rec = json.loads(line)
        if rec["path"] != path:
            continue
        start = rec["t"] / 1e6
        if rec["ce_time"]:
            lat.append(start - ms(rec["ce_time"]))
        else:
            for ev in json.loads(rec["body"]):
                lat.append(start - ms(ev["time"]))
lat.sort()
if not lat:
    print("- -")
else:
    p = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))]
    print("%.2f %.2f" % (p(0.50), p(0.99)))
EOF
)
	"$tupelo" trigger rm "l$row" >/dev/null
	rate=$(( count * 1000000000 / (t1 - t0) ))
	printf '%-28s %12s %10s %10s %10s\n' \
	    "$target b$batch $mode c$conc" "$rate" ${lat} "$inv"
}

bench_row exec 1 stream 1
bench_row exec 1 async 10
bench_row exec 100 stream 1
bench_row http 1 stream 1
bench_row http 1 async 10
bench_row http 100 stream 1
echo
echo "broker: $(ps -o rss= -p "$pid") KiB RSS at the end"
