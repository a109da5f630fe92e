#!/bin/sh
# Run tests/fuzz/protocol.py against a real tupelod, seed after seed, and
# check what a client must be able to count on: the broker stays up, exits
# 0 within 30 s of SIGTERM, and starts again on what it left.
#
#   tests/fuzz/protocol.sh [SECONDS_PER_SEED [SEED...]]   (default 60; 1 2 3)
#
# TUPELOD=path picks the broker (default broker/tupelod); an
# --enable-asan build also catches memory errors, which end up in its log
# and fail the run. Each seed gets its own scratch data directory, removed
# when the seed passes and kept (its path printed) when it fails.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
seeds=${*:-1 2 3}
bin=${TUPELOD:-broker/tupelod}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0

# Start $bin on $dir/data; pid and port (from its new "listening on"
# line in the log, which an earlier run of the seed may share).
start() {
	runs=$(grep -c "listening on" "$dir/log" 2>/dev/null)
	"$bin" -c /dev/null -d "$dir/data" -l 127.0.0.1:0 \
	    --exec-triggers any 2>>"$dir/log" &
	pid=$!
	for _ in $(seq 300); do
		if [ "$(grep -c "listening on" "$dir/log")" -gt "${runs:-0}" ]
		then
			port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
			    "$dir/log" | tail -1)
			return 0
		fi
		kill -0 $pid 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# SIGTERM $pid; 0 if it exits 0 within 30 s.
stop() {
	kill -TERM $pid
	for _ in $(seq 300); do
		kill -0 $pid 2>/dev/null || { wait $pid; return $?; }
		sleep 0.1
	done
	kill -KILL $pid
	wait $pid
	return 1
}

for seed in $seeds; do
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tupelo-pfuzz.XXXXXX")
	why=
	if ! start; then
		why="did not start"
	else
		python3 tests/fuzz/protocol.py proto/tupelo.proto "$port" \
		    "$secs" "$seed" >"$dir/replies" 2>&1 ||
		    why="the fuzzer failed (broker gone?)"
		if [ -z "$why" ] && ! kill -0 $pid 2>/dev/null; then
			why="tupelod died"
		elif ! stop; then
			why="${why:-no clean exit on SIGTERM}"
		elif ! start; then
			why="did not start again"
		elif ! stop; then
			why="no clean exit after the restart"
		fi
	fi
	if grep -qE "ERROR: AddressSanitizer|runtime error:|SUMMARY:" \
	    "$dir/log"; then
		why="${why:-a sanitizer report in the log}"
	fi
	if [ -n "$why" ]; then
		echo "seed $seed: FAILED: $why (kept $dir)"
		failed=1
	else
		echo "seed $seed: ok, $(tail -1 "$dir/replies")"
		[ -n "${KEEP:-}" ] || rm -rf "$dir"
	fi
done
exit $failed
