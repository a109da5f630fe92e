#!/bin/sh
# Power cuts in make check: a short run of tools/powercut.py, tupelod on
# the simulated disk of tools/powercut_fs.py in strict mode (data durable
# at fsync, directory entries at their directory's fsync), four cuts, a
# fresh data directory every second one so that the early life of a
# directory is cut too. Skipped (exit 77) where FUSE or fusepy is missing.
set -u
top=${TOP_SRCDIR:-.}
build=${TOP_BUILDDIR:-.}
exec python3 "$top/tools/powercut.py" --cuts 4 --seed 15 --duration 1.5 \
	--fresh-every 2 --tupelod "${TUPELOD:-$build/broker/tupelod}" \
	--cli "${TUPELO_CLI:-$build/tools/tupelo}"
