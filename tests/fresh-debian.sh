#!/bin/sh
# The README's set-up, proved on a fresh machine: builds a minimal Debian 12
# root (debootstrap, variant minbase, suite bookworm, from the Debian mirror
# this machine's apt uses), copies the checkout in (git archive HEAD: the
# committed files only), and runs the README's main set-up command in it
# through chroot, with nothing installed beforehand.  Then, optionally:
#   --fast  the test dependencies (tests/install-deps.sh test), a build with
#           warnings as errors and `ctest -L fast` (a quarter of an hour)
#   --test  the README's test command (tests/run-all.sh: every peer, two
#           builds, the whole suite twice -- an hour or more on 2 cores)
#
# Not run by CTest or CI: it needs root, the network, a few minutes and
# about 1 GiB under /tmp.  The root is removed afterwards (--keep leaves it,
# and says where).
#
# usage: tests/fresh-debian.sh [--fast] [--test] [--keep]
set -eu

run_fast=0 run_test=0 keep=0
for arg in "$@"; do
	case $arg in
	--fast) run_fast=1 ;;
	--test) run_test=1 ;;
	--keep) keep=1 ;;
	*) echo "usage: tests/fresh-debian.sh [--fast] [--test] [--keep]" >&2; exit 2 ;;
	esac
done

checkout=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'fresh-debian: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
	say "needs root (debootstrap and chroot): run it with sudo"
	exit 2
fi

# The README's commands, read from the README itself so that this checks
# exactly what it tells people to type: the first line of the first sh
# block under "## Set up", and the first line of the next sh block.
readme_command() { # $1: 1 for the set-up command, 2 for the test command
	awk -v want="$1" '
		/^## Set up/ { inside = 1; next }
		inside && /^## / { exit }
		inside && /^```sh/ { block++; getline; if (block == want) { print; exit } }
	' "$checkout/README.md"
}
setup_cmd=$(readme_command 1)
test_cmd=$(readme_command 2)
if [ -z "$setup_cmd" ] || { [ $run_test = 1 ] && [ -z "$test_cmd" ]; }; then
	say "could not find the commands in README.md's \"## Set up\" section"
	exit 1
fi

# The mirror of this machine's apt: the first Debian archive (not the
# security one) in sources.list or sources.list.d, one-line or deb822 form.
mirror() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		url=$(awk '
			/^[ \t]*#/ { next }
			$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
			$1 == "URIs:" { for (i = 2; i <= NF; i++) print $i }
		' "$f" | grep -v -e security -e '^$' | head -n 1)
		if [ -n "$url" ]; then
			echo "$url"
			return
		fi
	done
	echo http://deb.debian.org/debian
}

if ! command -v debootstrap >/dev/null 2>&1; then
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

root=$(mktemp -d /tmp/cachectl-fresh-debian.XXXXXX)
chmod 755 "$root" # as / is: apt's _apt user must reach its lists
mounted=""

cleanup() {
	status=$?
	for m in $mounted; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
	if [ $keep = 1 ]; then
		say "the root is kept at $root"
	elif grep -q " $root/" /proc/self/mounts; then
		# never remove through a mount that is still there
		say "something is still mounted under $root: not removing it"
	else
		rm -rf --one-file-system "$root"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url=$(mirror)
say "debootstrap --variant=minbase bookworm from $url into $root"
debootstrap --variant=minbase bookworm "$root" "$url" >"$root.debootstrap.log" 2>&1 || {
	tail -n 20 "$root.debootstrap.log" >&2
	rm -f "$root.debootstrap.log"
	exit 1
}
rm -f "$root.debootstrap.log"

# What a chroot needs from the host: processes (/proc), name resolution for
# apt, device nodes (debootstrap makes them; bound from the host only when
# it could not) and pseudo-terminals (dpkg logs through one).
mount -t proc proc "$root/proc"
mounted="$root/proc $mounted"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ ! -c "$root/dev/null" ]; then
	mount --bind /dev "$root/dev"
	mounted="$root/dev $mounted"
fi
if [ -d /dev/pts ] && ! grep -q " $root/dev/pts " /proc/self/mounts; then
	mkdir -p "$root/dev/pts"
	mount --bind /dev/pts "$root/dev/pts"
	mounted="$root/dev/pts $mounted"
fi

say "copying the checkout (git archive HEAD of $checkout)"
mkdir "$root/root/cachectl"
git -C "$checkout" archive HEAD | tar -x -C "$root/root/cachectl"

# A network that intercepts TLS (a company proxy, this workplace's egress)
# signs with its own CA, which the host trusts through
# /usr/local/share/ca-certificates and a fresh root cannot.  apt fetches
# over plain HTTP and needs nothing; npm (the test peers) does: hand node
# the host's extra CAs, and nothing else of the host.
node_ca=""
extra_cas=$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
if [ -n "$extra_cas" ]; then
	cat $extra_cas >"$root/root/host-extra-ca.crt"
	node_ca="NODE_EXTRA_CA_CERTS=/root/host-extra-ca.crt"
	say "giving node the host's extra CAs: $(echo $extra_cas | tr '\n' ' ')"
fi

in_root() {
	chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb $node_ca \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /root/cachectl && $1"
}

step() { # $1: what, $2: command
	say "running $1: $2"
	start=$(date +%s)
	if in_root "$2"; then
		say "$1 passed in $(($(date +%s) - start)) s"
	else
		status=$?
		say "$1 FAILED (exit $status) after $(($(date +%s) - start)) s"
		exit 1
	fi
}

step "the README's set-up command" "$setup_cmd"
if [ $run_fast = 1 ]; then
	step "the fast tests" "tests/install-deps.sh test && cmake -S . -B build-fast -DCACHECTL_WERROR=ON >/dev/null \
		&& cmake --build build-fast -j2 >/dev/null && cd build-fast && CACHECTL_REQUIRE_PEERS=1 ctest -L fast"
fi
if [ $run_test = 1 ]; then
	step "the README's test command" "$test_cmd"
fi
