#!/bin/sh
# Memory benchmark: tupelod's resident memory idle, with 1,000 idle
# connections (each has said Hello), and with 1,000 stations. A
# benchmark, not a test: it measures and prints, and make check does
# not run it.
#
#   tools/bench-memory.sh
#
# RSS is VmRSS from /proc (shared library pages included), also split
# into anonymous and file-backed memory. It starts its own tupelod
# (broker/tupelod, built by tools/setup.sh build if missing) with a fresh
# data directory under $TMPDIR (default /tmp), and stops it by its PID
# and removes the directory when it exits.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tupelod=$top/broker/tupelod
tupelo=$top/tools/tupelo
nconn=${BENCH_CONNS:-1000}
nstations=${BENCH_STATIONS:-1000}

if [ ! -x "$tupelod" ] || [ ! -x "$tupelo" ]; then
	"$top/tools/setup.sh" build
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tupelo-bench.XXXXXX")
pid=
cpid=
. "$top/tools/bench-lib.sh"
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null || :
	bench_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die() {
	echo "bench-memory: $*" >&2
	exit 1
}

# "VmRSS RssAnon RssFile" of the broker, KiB.
rss() {
	awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
	    /^RssFile:/ { f = $2 } END { print r, a, f }' "/proc/$pid/status"
}

show() {
	set -- "$1" $(rss)
	printf '%-36s %8s KiB  (anon %s, file %s)\n' "$1" "$2" "$3" "$4"
}

ulimit -n 4096 2>/dev/null || :
# Each station counts twice, with its dead-letter station.
bench_args="--max-stations $((2 * nstations + 64)) --max-connections $((nconn + 64))"
bench_start
sleep 0.5
show "idle"
set -- $(rss)
idle_rss=$1 idle_anon=$2

# Idle connections: each sends Hello (version 1) and reads the answer,
# then stays open until the line "done" is read from the fifo.
mkfifo "$tmp/ctl"
python3 - "$port" "$nconn" "$tmp/ctl" >"$tmp/conns.out" <<'EOF' &
import socket, sys
port, n, ctl = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
hello = bytes([0, 0, 0, 6, 0x08, 0x01, 0x52, 0x02, 0x08, 0x01])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(hello)
    head = s.recv(4, socket.MSG_WAITALL)
    length = int.from_bytes(head, "big")
    s.recv(length, socket.MSG_WAITALL)
    socks.append(s)
print("open", len(socks), flush=True)
open(ctl).read()
EOF
cpid=$!
i=0
while ! grep -q open "$tmp/conns.out" 2>/dev/null; do
	kill -0 "$cpid" 2>/dev/null || die "the connections failed"
	sleep 0.1
	i=$((i + 1))
	[ $i -lt 600 ] || die "$nconn connections took over 60 s"
done
sleep 0.5
show "$nconn idle connections"
set -- $(rss)
per=$(( ($2 - idle_anon) * 1024 / nconn ))
echo "                                     $per bytes of anonymous memory per connection"
echo done >"$tmp/ctl"
wait "$cpid" 2>/dev/null || :
cpid=
sleep 0.5
show "connections closed"

i=0
while [ $i -lt "$nstations" ]; do
	"$tupelo" station create "m$i" >/dev/null
	i=$((i + 1))
done
sleep 0.5
show "$nstations stations"
set -- $(rss)
echo "                                     $(( ($1 - idle_rss) * 1024 / nstations )) bytes of RSS per station"
