#!/bin/sh
# The documentation matches the programs: every option tupelod --help
# lists is in tupelod(8) and tupelod.conf(5), those it marks reloadable
# are the ones tupelod.conf(5) lists under RELOADING and tupelod(8) under
# SIGHUP, every tupelo command and option in tupelo(1), each SYNOPSIS flag
# in the usage line, every public function of <tupelo/tupelo.h> (each
# gets a "man tp_..." link) in libtupelo(3); the example config reads
# back as the defaults; and the C examples of libtupelo(3) and README.md
# compile, link and run against a real tupelod. tupelod never reads an
# installed config here (-c /dev/null); its two pages are those make
# wrote into the build tree.
set -u
src=${TOP_SRCDIR:-.}
bld=${TOP_BUILDDIR:-.}
tupelod=${TUPELOD:-$bld/broker/tupelod}
tupelo=${TUPELO_CLI:-$bld/tools/tupelo}
man8=$bld/man/tupelod.8
man5=$bld/man/tupelod.conf.5
bad=0
tmp=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() {
	echo "docs: $*" >&2
	bad=1
}

# Option names as the man source writes them ("Fl -name" or "name =").
has_opt() {
	grep -q -- "-$2\b\|^\.It Cm $2\b\|^\.It Ic $2\b\|$2 =" "$1"
}

help=$("$tupelod" -c /dev/null --help)
for o in $(echo "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u |
    grep -v '^--option$'); do
	name=${o#--}
	has_opt "$man8" "$name" || fail "tupelod.8 lacks --$name"
done
for o in $(echo "$help" | sed -n 's/^  \(-., \)\{0,1\}--\([a-z-]*\) .*/\2/p' |
    grep -v '^\(config\|verbose\|help\|version\)$'); do
	grep -q "^\.It Cm $o\b" "$man5" || fail "tupelod.conf.5 lacks $o"
done

# Reloadable: "--name ... (reloadable)" in --help; ".It Cm a , Cm b" under
# RELOADING in tupelod.conf(5); ".Cm name" in the SIGHUP entry of
# tupelod(8).
echo "$help" | sed -n 's/^  \(-., \)\{0,1\}--\([a-z-]*\) .*(reloadable)$/\2/p' |
    sort >"$tmp/reload"
sed -n '/^\.Sh RELOADING/,/^\.Sh /p' "$man5" | sed -n 's/^\.It //p' |
    grep -o 'Cm [a-z-]*' | sed 's/^Cm //' | sort |
    diff -u "$tmp/reload" - >&2 ||
    fail "reloadable options: --help (-) and tupelod.conf.5 RELOADING (+)"
sed -n '/^\.It Dv SIGHUP/,/^\.It /p' "$man8" | sed -n 's/^\.Cm \([a-z-]*\).*/\1/p' |
    sort | diff -u "$tmp/reload" - >&2 ||
    fail "reloadable options: --help (-) and tupelod.8 SIGHUP (+)"

# The example config is every option at its default.
if [ -f "$bld/tools/tupelod.conf.example" ]; then
	"$tupelod" -c "$bld/tools/tupelod.conf.example" --dump-config |
	    cmp -s - "$bld/tools/tupelod.conf.example" ||
	    fail "tools/tupelod.conf.example does not read back as the defaults"
else
	fail "no tools/tupelod.conf.example in the build tree"
fi

# man tp_x: every function the header declares is in libtupelo(3).
for f in $(sed -n 's/^[a-z].*[	 *]\(tp_[a-z0-9_]*\)(.*/\1/p' \
    "$src/client/tupelo/tupelo.h" | sort -u); do
	grep -q "\b$f\b" "$src/man/libtupelo.3" || fail "libtupelo.3 lacks $f"
done

echo "$help" | head -n 1 | grep -o -- '-[a-zA-Z]' | sort -u |
while read -r f; do
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$man8" |
	    grep -q "Fl ${f#-}\|Op Fl [a-zA-Z]*${f#-}" ||
	    { echo "docs: tupelod.8 SYNOPSIS lacks $f" >&2; exit 1; }
done || bad=1

for o in $("$tupelo" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	has_opt "$src/man/tupelo.1" "${o#--}" || fail "tupelo.1 lacks $o"
done
"$tupelo" --help | sed -n 's/^  \(station [a-z]*\|[a-z][a-z]*\) .*/\1/p' |
while read -r cmd; do
	grep -q "^\.It Nm Cm $cmd\|^\.It Cm $cmd\|Cm $cmd" "$src/man/tupelo.1" ||
	    { echo "docs: tupelo.1 lacks command $cmd" >&2; exit 1; }
done || bad=1

: >"$tmp/log"
"$tupelod" -c /dev/null -d "$tmp/data" -l 127.0.0.1:0 2>"$tmp/log" &
pid=$!
i=0
while ! grep -q "listening on" "$tmp/log" && [ $i -lt 500 ]; do
	sleep 0.02
	i=$((i + 1))
done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/log")
[ -n "$port" ] || fail "tupelod did not start: $(cat "$tmp/log")"

# Compile the C program in file $2 (from $1) and run it against tupelod.
run_example() {
	[ -s "$2" ] || { fail "$1 has no C example"; return; }
	if ! ${CC:-cc} -Wall -Werror -o "$2.bin" "$2" -I"$src/client" \
	    -L"$bld/client/.libs" -ltupelo; then
		fail "the $1 example does not compile"
		return
	fi
	TUPELO_URL="tupelo://127.0.0.1:$port" \
	    LD_LIBRARY_PATH="$bld/client/.libs" "$2.bin" >"$2.out" 2>&1 ||
	    fail "the $1 example failed: $(cat "$2.out")"
	grep -q hello "$2.out" || fail "the $1 example did not print hello"
}

sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' "$src/man/libtupelo.3" |
    sed -n '/^\.Bd -literal/,/^\.Ed/p' | sed '1d;$d' |
    sed 's/\\e/\\/g; s/^\\&//' >"$tmp/man.c"
run_example libtupelo.3 "$tmp/man.c"
sed -n '/^```c$/,/^```$/p' "$src/README.md" | sed '1d;$d' >"$tmp/readme.c"
run_example README.md "$tmp/readme.c"

[ "$bad" -eq 0 ] && echo "docs: ok"
exit "$bad"
