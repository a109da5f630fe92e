#!/bin/sh
# Set up Tupelo on a Debian machine: install the Debian packages that are
# missing (nothing when all are present), build, then run or test.
#
#   tools/setup.sh run     build and start tupelod in the foreground
#   tools/setup.sh check   build and run the whole test suite
#   tools/setup.sh build   build only
#   tools/setup.sh deps    install missing packages only
set -eu

PACKAGES="gcc make autoconf automake libtool pkgconf
libevent-dev liblmdb-dev libprotobuf-c-dev protobuf-c-compiler
libzstd-dev libcmocka-dev libjansson-dev libcurl4-openssl-dev
libssl-dev openssl python3 python3-fusepy fuse3"

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

usage() {
	echo "usage: tools/setup.sh run|check|build|deps" >&2
	exit 2
}

deps() {
	missing=""
	# The Lambda tests run serverless-offline on Node.js: the machine's
	# node and npm if it has them, else Debian's.
	if [ "${1:-}" = check ] && { ! command -v node >/dev/null 2>&1 ||
	    ! command -v npm >/dev/null 2>&1; }; then
		missing=" nodejs npm"
	fi
	for p in $PACKAGES; do
		if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed"; then
			missing="$missing $p"
		fi
	done
	[ -z "$missing" ] && return 0
	# One line says what; apt-get's and dpkg's thousands go to the log,
	# whose end is shown if installing fails.
	log=$top/setup.log
	echo "setup: installing:$missing (output in $log)" >&2
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	if ! { $sudo apt-get update -qq &&
	    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing; } >"$log" 2>&1; then
		echo "setup: installing failed; the end of $log:" >&2
		tail -n 30 "$log" >&2
		exit 1
	fi
}

build() {
	deps "${1:-}"
	# autoreconf says what it copies on standard output: kept in the
	# log unless it fails.
	if [ ! -x configure ] || [ configure.ac -nt configure ]; then
		if ! autoreconf -fi >>"$top/setup.log" 2>&1; then
			echo "setup: autoreconf failed; the end of" \
			    "$top/setup.log:" >&2
			tail -n 30 "$top/setup.log" >&2
			exit 1
		fi
	fi
	if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
		./configure -q >&2
	fi
	make -s -j"$(nproc 2>/dev/null || echo 2)" >&2
}

# Sum the test results: cmocka's own counts where a program printed them,
# otherwise the program's automake result.
# The sum of the numbers sed script $1 prints from file $2 (a program
# may run several cmocka groups); empty when it prints none.
sum_of() {
	sed -n "$1" "$2" | awk '{ s += $1; n++ } END { if (n) print s }'
}

summary() {
	passed=0 failed=0 skipped=0
	for trs in $(find tests -name '*.trs' | sort); do
		log=${trs%.trs}.log
		run=$(sum_of 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' \
		    "$log")
		result=$(sed -n 's/^:test-result: //p' "$trs")
		if [ -n "$run" ]; then
			p=$(sum_of \
			    's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log")
			s=$(sum_of \
			    's/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p' "$log")
			p=${p:-0} s=${s:-0}
			passed=$((passed + p))
			skipped=$((skipped + s))
			failed=$((failed + run - p - s))
			# A program that failed without cmocka saying so.
			if [ "$result" != PASS ] && [ "$p" -eq "$run" ]; then
				failed=$((failed + 1))
			fi
		else
			case "$result" in
			PASS) passed=$((passed + 1)) ;;
			SKIP) skipped=$((skipped + 1)) ;;
			*) failed=$((failed + 1)) ;;
			esac
		fi
	done
	echo "$passed passed, $failed failed, $skipped skipped"
}

case "${1:-}" in
deps)
	deps
	;;
build)
	build
	;;
run)
	build
	# The tree's own defaults, whatever an installed tupelod.conf says,
	# and the tree's example functions (the README's tour uses one).
	exec ./broker/tupelod -c /dev/null --functions-dir tools/functions
	;;
check)
	build check
	status=0
	make -s check >&2 || status=$?
	if [ "$status" -ne 0 ]; then
		find tests -name '*.log' ! -name 'test-suite.log' |
		    while read -r log; do
			trs=${log%.log}.trs
			[ -f "$trs" ] && grep -q '^:test-result: PASS' "$trs" &&
			    continue
			echo "==== $log" >&2
			tail -n 60 "$log" >&2
		done
	fi
	summary
	exit "$status"
	;;
*)
	usage
	;;
esac
