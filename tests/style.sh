#!/bin/sh
# Whitespace and line length of our C sources (KNF: tabs, 80 columns).
set -u
top=${TOP_SRCDIR:-.}
cd "$top" || exit 99
bad=0
for f in $(find proto storage broker client tools tests \
    -name '*.[ch]' ! -name '*.pb-c.[ch]' | sort); do
	if grep -n '[[:space:]]$' "$f" | head -n 3 | sed "s|^|$f:|" |
	    grep .; then
		echo "$f: trailing whitespace" >&2
		bad=1
	fi
	if expand "$f" | awk -v f="$f" 'length > 80 {
	    printf "%s:%d: %d columns\n", f, NR, length; n++ }
	    END { exit n > 0 }' >&2; then :; else bad=1; fi
	if grep -n '^        ' "$f" | head -n 3 | sed "s|^|$f:|" | grep .;
	then
		echo "$f: indent with tabs, not spaces" >&2
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "style: ok"
exit "$bad"
