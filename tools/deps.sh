#!/bin/sh
# Install the Debian 12 packages skyha needs to build, test, demo and bench.
# Idempotent: installs only what is missing, runs apt-get update only then.
# Usage: tools/deps.sh [build|test|bench]   (each level includes the previous)
set -eu
level=${1:-test}

build_pkgs="gcc make pkg-config libzmq3-dev libsodium-dev libsystemd-dev libyaml-dev libjansson-dev"
test_pkgs="python3 python3-zmq iproute2 systemd procps clang-format cppcheck"
# keepalived: failover baseline; stress-ng: CPU load (per-folder deps.txt add more)
bench_pkgs="keepalived stress-ng"

# Each daemon folder may list what it needs in deps.txt, so adding a daemon
# does not edit this file: packages separated by spaces, '#' comments; a line
# starting with "test:" or "bench:" lists packages needed only at that level.
top=$(cd "$(dirname "$0")/.." && pwd)
for f in "$top"/*/deps.txt; do
	[ -f "$f" ] || continue
	body=$(sed 's/#.*//' "$f")
	build_pkgs="$build_pkgs $(printf '%s\n' "$body" | { grep -v -E '^[[:space:]]*(test|bench):' || true; } | tr '\n' ' ')"
	test_pkgs="$test_pkgs $(printf '%s\n' "$body" | sed -n -E 's/^[[:space:]]*test:(.*)/\1/p' | tr '\n' ' ')"
	bench_pkgs="$bench_pkgs $(printf '%s\n' "$body" | sed -n -E 's/^[[:space:]]*bench:(.*)/\1/p' | tr '\n' ' ')"
done

pkgs=$build_pkgs
case $level in
build) ;;
test) pkgs="$pkgs $test_pkgs" ;;
bench) pkgs="$pkgs $test_pkgs $bench_pkgs" ;;
*) echo "deps.sh: unknown level '$level' (build, test or bench)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null; then SUDO=sudo; else
			echo "deps.sh: missing packages:$missing; run as root to install them" >&2
			exit 1
		fi
	else
		SUDO=
	fi
	echo "deps.sh: installing$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The test servers from npm (docs/backup.md, "Testing the targets"): s3rver and
# Azurite at the versions tools/npm/package-lock.json pins, installed once.
if [ "$level" != build ] && [ -f "$top/tools/npm/package-lock.json" ] &&
	{ [ ! -x "$top/tools/npm/node_modules/.bin/s3rver" ] ||
		[ ! -x "$top/tools/npm/node_modules/.bin/azurite-blob" ]; }; then
	if ! command -v npm >/dev/null; then
		echo "deps.sh: npm is missing: install Debian's npm (or nodejs from NodeSource, which carries it)" >&2
		exit 1
	fi
	echo "deps.sh: npm ci in tools/npm (s3rver, Azurite)"
	(cd "$top/tools/npm" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
