#!/bin/sh
# Run the test suite, or another command, on a fresh Debian 12 (bookworm)
# machine: a root made by `debootstrap --variant=minbase` with only git and
# ca-certificates added, entered with chroot. Everything else the command
# needs (compilers, libraries, python3, Node.js and npm) must come from
# tools/setup.sh, as on a machine just installed: that is what this checks.
#
#   tools/fresh-debian.sh [--keep] [--rebuild] [--root DIR] [--mirror URI]
#       [-- COMMAND [ARG...]]
#
# The repository goes in as a git clone of the commit checked out here
# (HEAD): uncommitted changes are not in it. COMMAND runs as root in the
# clone's top directory; the default is the README's test command,
# tools/setup.sh check. The exit status is COMMAND's.
#
# The debootstrapped base is kept as a tarball in
# ${XDG_CACHE_HOME:-/var/cache}/tupelo-fresh and every run unpacks a
# pristine copy of it. The Debian mirror is the one this machine's apt
# uses. What this machine needs to reach its package sources comes along:
# its CA certificates, npm's cafile and registry, proxy variables, and
# apt's proxy and Check-Valid-Until/Check-Date settings when it sets them.
# Needs root, chroot, mount and debootstrap (installed when missing).
set -u

prog=fresh-debian
suite=bookworm
src=/build/tupelo	# the clone, inside the root
PATH=$PATH:/usr/sbin:/sbin
export PATH

keep=0
rebuild=0
root=""
mirror=""
made_root=0	# 1: $root is ours to remove
mounts=""	# what we mounted, newest first

usage_line() {
	echo "usage: tools/fresh-debian.sh [--keep] [--rebuild] [--root DIR]"
	echo "           [--mirror URI] [-- COMMAND [ARG...]]"
}

help() {
	usage_line
	cat <<EOF

Run COMMAND (default: tools/setup.sh check) as root in a fresh Debian 12
root: debootstrap --variant=minbase plus git and ca-certificates, a git
clone of this repository's HEAD (uncommitted changes are left out) in
$src, and /proc, /sys, /dev, /dev/pts, /dev/shm mounted. Exits with
COMMAND's status, after killing what still runs in the root, unmounting
and removing it.

  --keep        keep the root afterwards (unmounted), and print its path
  --rebuild     debootstrap the cached base again
  --root DIR    build the root in DIR (new or empty; removed afterwards
                unless --keep); default a new directory in /var/tmp
  --mirror URI  the Debian mirror to use; default the one this machine's
                apt sources name for $suite
  -h, --help    this help

The base is cached in ${XDG_CACHE_HOME:-/var/cache}/tupelo-fresh.
EOF
}

log() {
	echo "$prog: $*" >&2
}

die() {
	log "$*"
	exit 1
}

usage_error() {
	log "$*"
	usage_line >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--keep)
		keep=1
		;;
	--rebuild)
		rebuild=1
		;;
	--root|--mirror)
		[ $# -ge 2 ] && [ -n "$2" ] ||
		    usage_error "$1 needs an argument"
		if [ "$1" = --root ]; then root=$2; else mirror=$2; fi
		shift
		;;
	--root=*)
		root=${1#--root=}
		;;
	--mirror=*)
		mirror=${1#--mirror=}
		;;
	-h|--help)
		help
		exit 0
		;;
	--)
		shift
		break
		;;
	-*)
		usage_error "unknown option: $1"
		;;
	*)
		usage_error "unexpected argument: $1 (a command goes after --)"
		;;
	esac
	shift
done
[ $# -gt 0 ] || set -- tools/setup.sh check

[ "$(id -u)" -eq 0 ] ||
    die "must run as root: it runs debootstrap, mount and chroot"
for c in git chroot mount umount tar dpkg; do
	command -v "$c" >/dev/null 2>&1 || die "$c is needed and not found"
done

here=$(cd "$(dirname "$0")/.." && pwd)
top=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null) ||
    die "$here is not in a git work tree: nothing to clone"
head=$(git -C "$top" rev-parse --verify -q HEAD) ||
    die "$top has no commit to clone"
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
	log "uncommitted changes in $top are left out: testing HEAD only"
fi

# "URI SUITE" for each deb source of this machine's apt: deb822 files
# (Types, URIs, Suites, Enabled) and one-line lists.
apt_sources() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '
		function flush(	n, m, i, j, u, s) {
			if (v["types"] ~ /(^|[ \t])deb([ \t]|$)/ &&
			    v["enabled"] !~ /[Nn][Oo]/) {
				n = split(v["uris"], u)
				m = split(v["suites"], s)
				for (i = 1; i <= n; i++)
					for (j = 1; j <= m; j++)
						print u[i], s[j]
			}
			split("", v)
			key = ""
		}
		/^#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]/ { if (key != "") v[key] = v[key] " " $0; next }
		{
			i = index($0, ":")
			if (i == 0)
				next
			key = tolower(substr($0, 1, i - 1))
			v[key] = substr($0, i + 1)
		}
		END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) {
				while (i <= NF && $i !~ /\]$/)
					i++
				i++
			}
			if (i + 1 <= NF)
				print $i, $(i + 1)
		}' "$f"
	done
}

# The root's apt sources: this machine's for bookworm, -updates and
# -security, or --mirror's for the first two.
if [ -n "$mirror" ]; then
	sources="$mirror $suite
$mirror $suite-updates"
else
	sources=$(apt_sources | awk -v s="$suite" '
	    ($2 == s || $2 == s "-updates" || $2 == s "-security") &&
	    !seen[$0]++')
	mirror=$(echo "$sources" | awk -v s="$suite" '$2 == s { print $1;
	    exit }')
	[ -n "$mirror" ] || die "this machine's apt sources name no" \
	    "Debian $suite mirror; give one with --mirror URI"
fi

arch=$(dpkg --print-architecture)
cache=${XDG_CACHE_HOME:-/var/cache}/tupelo-fresh
base=$cache/$suite-minbase-$arch.tar.gz

# ---- cleanup: processes, mounts, the root ----

# The processes whose root directory is the chroot.
chroot_pids() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] &&
		    echo "${p#/proc/}"
	done
}

kill_chroot() {
	pids=$(chroot_pids)
	[ -n "$pids" ] || return 0
	log "killing what still runs in the root:" $pids
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null
	i=0
	while [ $i -lt 50 ] && [ -n "$(chroot_pids)" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	pids=$(chroot_pids)
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null
	sleep 0.2
}

# Mount points under the root, deepest first.
root_mounts() {
	awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts |
	    sort -r
}

unmount_all() {
	for m in $mounts $(root_mounts); do
		grep -q " $m " /proc/mounts || continue
		umount "$m" 2>/dev/null || umount -l "$m" ||
		    log "cannot unmount $m"
	done
	mounts=""
}

cleanup() {
	trap - EXIT INT TERM HUP
	[ "$made_root" -eq 1 ] || return 0
	kill_chroot
	unmount_all
	if [ -n "$(root_mounts)" ]; then
		log "$root still has mounts: not removed"
	elif [ "$keep" -eq 1 ]; then
		log "kept $root"
	else
		rm -rf --one-file-system "$root"
	fi
}

on_exit() {
	rc=$?
	cleanup
	exit "$rc"
}

trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# mnt DIR MOUNT-ARGS...: mount and remember, for unmount_all.
mnt() {
	d=$1
	shift
	mkdir -p "$d" && mount "$@" "$d" || die "cannot mount $d"
	mounts="$d $mounts"
}

# mkdev NAME MAJOR MINOR: a character device in the root's /dev.
mkdev() {
	mknod -m 666 "$root/dev/$1" c "$2" "$3" || die "cannot mknod /dev/$1"
}

# ---- the root ----

if [ -n "$root" ]; then
	if [ -e "$root" ]; then
		[ -d "$root" ] && [ -z "$(ls -A "$root")" ] ||
		    die "--root $root exists and is not an empty directory"
	else
		mkdir -p "$root" || die "cannot make $root"
	fi
	root=$(cd "$root" && pwd -P)
else
	root=$(mktemp -d /var/tmp/tupelo-fresh.XXXXXX) ||
	    die "cannot make a directory in /var/tmp"
	root=$(cd "$root" && pwd -P)
fi
made_root=1
chmod 755 "$root"

t0=$(date +%s)
if [ "$rebuild" -eq 1 ] || [ ! -f "$base" ]; then
	if ! command -v debootstrap >/dev/null 2>&1; then
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends debootstrap >&2 ||
		    die "cannot install debootstrap"
	fi
	log "debootstrap $suite from $mirror into $root"
	debootstrap --variant=minbase --include=git,ca-certificates \
	    "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 || {
		tail -n 20 "$root.debootstrap.log" >&2
		die "debootstrap failed (log: $root.debootstrap.log)"
	}
	rm -f "$root.debootstrap.log"
	mkdir -p "$cache" &&
	    tar -C "$root" --numeric-owner -czf "$base.tmp" . &&
	    mv "$base.tmp" "$base" || die "cannot write $base"
	log "debootstrap took $(($(date +%s) - t0)) s; base cached in $base"
else
	tar -C "$root" --numeric-owner -xzpf "$base" ||
	    die "cannot unpack $base (--rebuild makes it again)"
	log "unpacked the cached base $base in $(($(date +%s) - t0)) s"
fi

# apt: the same sources as this machine, and the settings it needs to
# reach them (a snapshot mirror's old Release files, a proxy).
echo "$sources" | awk '{ print "deb", $1, $2, "main" }' \
    >"$root/etc/apt/sources.list"
conf=$root/etc/apt/apt.conf.d/99host
apt-config dump 2>/dev/null |
    grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
    >"$conf" || rm -f "$conf"
# No services start in a chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# The CA certificates this machine trusts (some reach the internet through
# an intercepting proxy), also where update-ca-certificates keeps them.
if [ -d /usr/local/share/ca-certificates ]; then
	cp -R /usr/local/share/ca-certificates/. \
	    "$root/usr/local/share/ca-certificates/"
fi
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi

# Name resolution as here; localhost as on any installed machine.
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
[ -s "$root/etc/hosts" ] ||
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost\n' \
    >"$root/etc/hosts"

# The environment of COMMAND: a clean one, plus how to reach the network.
env_add() {
	envs="$envs$1
"
}
envs=""
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	eval "val=\${$v-}"
	[ -z "$val" ] || env_add "$v=$val"
done
if command -v npm >/dev/null 2>&1; then
	cafile=$(npm config get cafile 2>/dev/null)
	if [ -f "$cafile" ]; then
		mkdir -p "$root$(dirname "$cafile")"
		cp "$cafile" "$root$cafile"
		env_add "npm_config_cafile=$cafile"
	fi
	registry=$(npm config get registry 2>/dev/null)
	[ -z "$registry" ] || env_add "npm_config_registry=$registry"
fi

git clone -q --no-hardlinks "$top" "$root$src" &&
    git -C "$root$src" checkout -q --detach "$head" &&
    git -C "$root$src" remote remove origin ||
    die "cannot clone $top into $root$src"
log "cloned $(git -C "$top" log -1 --format='%h %s' "$head")"

mnt "$root/proc" -t proc proc
mnt "$root/sys" -t sysfs -o ro sysfs
mnt "$root/dev" -t tmpfs -o mode=755,nosuid tmpfs
mkdev null 1 3
mkdev zero 1 5
mkdev full 1 7
mkdev random 1 8
mkdev urandom 1 9
mkdev tty 5 0
# FUSE, as a real machine has it: the power-cut tests mount one.
[ -c /dev/fuse ] && mkdev fuse 10 229
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mnt "$root/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts
ln -s pts/ptmx "$root/dev/ptmx"
mnt "$root/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs

# COMMAND in the clone, in a clean environment plus what reaches the
# network, with the default disposition of SIGINT and SIGQUIT (a
# script's asynchronous command ignores them) so that ^C stops it, and
# waited for so that a signal runs the cleanup at once.
log "running in $root: $*"
# shellcheck disable=SC2016
set -- chroot "$root" /bin/sh -c 'HOME=~root && export HOME &&
    cd "$0" && exec "$@"' "$src" "$@"
ifs=$IFS
IFS='
'
set -f
for e in $envs; do
	set -- "$e" "$@"
done
set +f
IFS=$ifs
t1=$(date +%s)
exec 3<&0
env -i --default-signal=INT,QUIT LANG=C.UTF-8 \
    TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    "$@" <&3 3<&- &
wait $!
status=$?
exec 3<&-
log "exit status $status after $(($(date +%s) - t1)) s" \
    "($(($(date +%s) - t0)) s in all)"
exit "$status"
