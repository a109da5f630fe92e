#!/bin/sh
# The power-cut checks can fail: in lossy mode the simulated disk also
# forgets what was synced in the last 500 ms before a cut, so
# tools/powercut.py must report acknowledged messages lost and exit 1.
# Directory entries are durable at once here (--dirs eager): the losses
# come from the data alone. Skipped (exit 77) where FUSE or fusepy is
# missing.
set -u
top=${TOP_SRCDIR:-.}
build=${TOP_BUILDDIR:-.}
out=$(mktemp) || exit 99
trap 'rm -f "$out"' EXIT
python3 "$top/tools/powercut.py" --cuts 2 --seed 16 --duration 1.5 \
	--mode lossy --dirs eager --tupelod "${TUPELOD:-$build/broker/tupelod}" \
	--cli "${TUPELO_CLI:-$build/tools/tupelo}" >"$out" 2>&1
rc=$?
cat "$out"
case $rc in
77)	exit 77 ;;
1)	;;
*)	echo "powercut_lossy: exit $rc, want 1" >&2
	exit 1 ;;
esac
if grep -q '^  lost: [1-9]' "$out"; then
	echo "powercut_lossy: ok, the checks caught the losses"
	exit 0
fi
echo "powercut_lossy: lossy mode lost nothing acknowledged:" \
    "the checks cannot fail" >&2
exit 1
