# Sourced by the benchmark scripts: start and stop a private tupelod.
# Expects $tupelod, $tmp (a scratch directory) and a die function; sets
# pid, port and TUPELO_URL (exported). $bench_args: more tupelod options.

# For a script with nothing else to clean up ($top, $tupelod and $tupelo
# set): build if needed, make $tmp (named after $2), stop tupelod and
# remove $tmp at exit, and a die that names the script ($1).
bench_init() {
	bench_name=$1
	if [ ! -x "$tupelod" ] || [ ! -x "$tupelo" ]; then
		"$top/tools/setup.sh" build
	fi
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/tupelo-$2.XXXXXX")
	pid=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	bench_stop
	rm -rf "$tmp"
}

die() {
	echo "$bench_name: $*" >&2
	exit 1
}

# Start tupelod on 127.0.0.1, port 0, data in $tmp/data, log in $tmp/log.
bench_start() {
	# The log exists before the loop below reads it (set -e).
	: >"$tmp/log"
	# shellcheck disable=SC2086
	"$tupelod" -c /dev/null -d "$tmp/data" -l 127.0.0.1:0 ${bench_args:-} \
	    2>"$tmp/log" &
	pid=$!
	port=
	i=0
	while [ $i -lt 500 ]; do
		port=$(sed -n -e '/(tls)/d' \
		    -e 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		    "$tmp/log")
		[ -n "$port" ] && break
		kill -0 "$pid" 2>/dev/null ||
		    die "tupelod exited: $(cat "$tmp/log")"
		sleep 0.02
		i=$((i + 1))
	done
	[ -n "$port" ] ||
	    die "tupelod did not listen within 10 s: $(cat "$tmp/log")"
	TUPELO_URL=tupelo://127.0.0.1:$port
	export TUPELO_URL
}

# Stop it by its PID: SIGTERM, then SIGKILL after 5 s.
bench_stop() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || :
		i=0
		while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 250 ]; do
			sleep 0.02
			i=$((i + 1))
		done
		kill -9 "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
		pid=
	fi
}
