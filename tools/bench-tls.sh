#!/bin/sh
# TLS benchmark: produce throughput of one producer (128-byte messages,
# window 256) over tupelos:// against tupelo:// to the same tupelod in the
# same run, runs interleaved, and TLS handshakes per second (openssl
# s_time: a loop of new connections, each a full handshake). A benchmark,
# not a test: it measures and prints, and make check does not run it.
#
#   tools/bench-tls.sh
#
# It makes a CA and a server certificate with openssl in a temp directory,
# starts its own tupelod with a TLS listener beside the plain one, and
# stops it by its PID when it exits. Stations use durability interval,
# so that the disk's fsync does not hide what the transport costs. Each
# row runs BENCH_RUNS times (default 3), capped at BENCH_DURATION seconds
# (default 10); the table shows the run with the median msg/s.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
tupelod=$top/broker/tupelod
tupelo=$top/tools/tupelo
duration=${BENCH_DURATION:-10}
runs=${BENCH_RUNS:-3}
size=128
count=200000
window=256
hs_secs=5

. "$top/tools/bench-lib.sh"
bench_init bench-tls bench

# The value of field $2 in the one-line JSON object $1.
field() {
	printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

(
	cd "$tmp"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
	    -days 2 -subj "/CN=Tupelo bench CA"
	openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
	    -subj "/CN=localhost"
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >ext.cnf
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out srv.pem -days 2 -extfile ext.cnf
) >"$tmp/openssl.log" 2>&1 || die "openssl: $(cat "$tmp/openssl.log")"

bench_args="--tls-listen 127.0.0.1:0 --tls-cert $tmp/srv.pem
--tls-key $tmp/srv.key"
bench_start
tls_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) (tls).*/\1/p' \
    "$tmp/log")
[ -n "$tls_port" ] || die "no TLS listener: $(cat "$tmp/log")"
plain_url=$TUPELO_URL
tls_url=tupelos://127.0.0.1:$tls_port
TUPELO_CA=$tmp/ca.pem
export TUPELO_CA

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null |
    head -n 1)
echo "Tupelo TLS benchmark"
echo "tupelod:  $("$tupelod" --version), $(openssl version)"
echo "machine:  $(nproc) CPUs${cpu:+, $cpu}, $(uname -sr)"
echo

mkdir "$tmp/res"
bad=0
# One run over URL $2, results to $tmp/res/$1.
run() {
	st=bench-$1
	"$tupelo" -u "$2" station create "$st" --durability interval \
	    >/dev/null
	if out=$("$tupelo" -u "$2" --json bench produce "$st" \
	    --producers 1 --window "$window" --count "$count" --size "$size" \
	    --duration "$duration"); then
		echo "$out" >>"$tmp/res/$1"
	else
		echo failed >>"$tmp/res/$1"
		bad=1
	fi
	"$tupelo" -u "$2" station rm "$st" >/dev/null
}

i=0
while [ $i -lt "$runs" ]; do
	run plain "$plain_url"
	run tls "$tls_url"
	i=$((i + 1))
done

# The median run of $1: its JSON line.
median() {
	while read -r line; do
		echo "$(field "$line" msg_per_s) $line"
	done <"$tmp/res/$1" | sort -n >"$tmp/res/$1.sorted"
	n=$(wc -l <"$tmp/res/$1.sorted")
	sed -n "$(((n + 1) / 2))p" "$tmp/res/$1.sorted" | cut -d' ' -f2
}

echo "Produce: 1 producer, $size-byte messages, window $window, durability" \
    "interval; median of $runs runs"
printf '%-6s %8s %6s %8s %7s %7s\n' url messages secs msg/s p50_ms p99_ms
for r in plain tls; do
	if grep -q failed "$tmp/res/$r"; then
		printf '%-6s failed\n' "$r"
		continue
	fi
	m=$(median "$r")
	eval "rate_$r=$(field "$m" msg_per_s)"
	printf '%-6s %8s %6s %8s %7s %7s\n' "$r" "$(field "$m" messages)" \
	    "$(field "$m" seconds)" "$(field "$m" msg_per_s)" \
	    "$(field "$m" p50_ms)" "$(field "$m" p99_ms)"
done
if [ -n "${rate_plain:-}" ] && [ -n "${rate_tls:-}" ]; then
	echo "tls/plain: $(awk "BEGIN { printf \"%.0f\", \
	    100 * $rate_tls / $rate_plain }") %"
fi
echo

# Handshakes: s_time opens new connections (no session reuse) for
# hs_secs seconds; each is a full TLS 1.3 handshake with the broker.
out=$(openssl s_time -connect "127.0.0.1:$tls_port" -CAfile "$TUPELO_CA" \
    -new -time "$hs_secs" 2>&1) || { echo "$out" >&2; bad=1; }
echo "Handshakes (openssl s_time -new, $hs_secs s):"
echo "$out" | grep 'connections in' || :
exit $bad
