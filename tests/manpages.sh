#!/bin/sh
# The man pages match the programs: every option tupelod --help lists is in
# tupelod(8) and tupelod.conf(5), every tupelo command and option in
# tupelo(1), each SYNOPSIS flag in the usage line; and the example in
# libtupelo(3) compiles, links and runs against a real tupelod.
set -u
src=${TOP_SRCDIR:-.}
bld=${TOP_BUILDDIR:-.}
tupelod=${TUPELOD:-$bld/broker/tupelod}
tupelo=${TUPELO_CLI:-$bld/tools/tupelo}
bad=0
fail() {
	echo "manpages: $*" >&2
	bad=1
}

# Option names as the man source writes them ("Fl -name" or "name =").
has_opt() {
	grep -q -- "-$2\b\|^\.It Cm $2\b\|^\.It Ic $2\b\|$2 =" "$1"
}

for o in $("$tupelod" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	name=${o#--}
	has_opt "$src/man/tupelod.8" "$name" ||
	    fail "tupelod.8 lacks --$name"
done
for o in $("$tupelod" --help | sed -n 's/^  \(-., \)\{0,1\}--\([a-z-]*\) .*/\2/p' |
    grep -v '^\(config\|verbose\|help\|version\)$'); do
	grep -q "^\.It Cm $o\b" "$src/man/tupelod.conf.5" ||
	    fail "tupelod.conf.5 lacks $o"
done
"$tupelod" --help | head -n 1 | grep -o -- '-[a-zA-Z]' | sort -u |
while read -r f; do
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$src/man/tupelod.8" |
	    grep -q "Fl ${f#-}\|Op Fl [a-zA-Z]*${f#-}" ||
	    { echo "manpages: tupelod.8 SYNOPSIS lacks $f" >&2; exit 1; }
done || bad=1

for o in $("$tupelo" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	has_opt "$src/man/tupelo.1" "${o#--}" || fail "tupelo.1 lacks $o"
done
"$tupelo" --help | sed -n 's/^  \(station [a-z]*\|[a-z][a-z]*\) .*/\1/p' |
while read -r cmd; do
	grep -q "^\.It Nm Cm $cmd\|^\.It Cm $cmd\|Cm $cmd" "$src/man/tupelo.1" ||
	    { echo "manpages: tupelo.1 lacks command $cmd" >&2; exit 1; }
done || bad=1

# The EXAMPLES program of libtupelo(3).
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pid=
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$src/man/libtupelo.3" |
    sed -n '/^\.Bd -literal/,/^\.Ed/p' | sed '1d;$d' |
    sed 's/\\e/\\/g; s/^\\&//' >"$tmp/example.c"
[ -s "$tmp/example.c" ] || fail "libtupelo.3 has no EXAMPLES program"
if ! ${CC:-cc} -Wall -Werror -o "$tmp/example" "$tmp/example.c" \
    -I"$src/client" -L"$bld/client/.libs" -ltupelo; then
	fail "the libtupelo.3 example does not compile"
else
	"$tupelod" -d "$tmp/data" -l 127.0.0.1:0 2>"$tmp/log" &
	pid=$!
	i=0
	while ! grep -q "listening on" "$tmp/log" && [ $i -lt 500 ]; do
		sleep 0.02
		i=$((i + 1))
	done
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' \
	    "$tmp/log")
	TUPELO_URL="tupelo://127.0.0.1:$port" \
	    LD_LIBRARY_PATH="$bld/client/.libs" "$tmp/example" \
	    >"$tmp/out" 2>&1 || fail "the example failed: $(cat "$tmp/out")"
fi
[ "$bad" -eq 0 ] && echo "manpages: ok"
exit "$bad"
