#!/bin/sh
# tools/debian-source.sh PACKAGE DIR: Debian 12's source package PACKAGE,
# unpacked (with Debian's patches) into DIR/PACKAGE, fetched once with
# apt-get source through a private apt configuration under build/apt (a
# deb-src line for the mirror apt itself uses), so the machine's own apt
# setup is never changed. A second run finds DIR/PACKAGE and does nothing:
# tests that build from it stay offline after the first time.
# Prints the unpacked directory.
set -eu
pkg=$1 dir=$2
here=$(cd "$(dirname "$0")/.." && pwd)
out="$dir/$pkg"
if [ -f "$out/.winmem-ready" ]; then echo "$out"; exit 0; fi
command -v dpkg-source >/dev/null || { echo "winmem: dpkg-source is missing (dpkg-dev, tools/debian-packages.txt)" >&2; exit 1; }
# The first Debian URI apt is configured with (deb822 or one-line format), as tools/wine10-root.sh does.
m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\)[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
[ -n "$m" ] || m=http://deb.debian.org/debian
apt=$here/build/apt
mkdir -p "$apt/lists/partial" "$dir"
echo "deb-src $m bookworm main" > "$apt/sources.list"
opts="-o Dir::Etc::sourcelist=$apt/sources.list -o Dir::Etc::sourceparts=- -o Dir::State::lists=$apt/lists -o APT::Get::List-Cleanup=0"
# shellcheck disable=SC2086
apt-get -q $opts update > "$apt/update.log" 2>&1 || { tail -5 "$apt/update.log" >&2; exit 1; }
rm -rf "$out" "$dir/.fetch-$pkg" && mkdir -p "$dir/.fetch-$pkg"
# shellcheck disable=SC2086
(cd "$dir/.fetch-$pkg" && apt-get -q $opts source --download-only "$pkg" > fetch.log 2>&1 &&
     dpkg-source -x ./*.dsc src > extract.log 2>&1) || { tail -5 "$dir/.fetch-$pkg"/*.log >&2; exit 1; }
mv "$dir/.fetch-$pkg/src" "$out"
rm -rf "$dir/.fetch-$pkg"
touch "$out/.winmem-ready"
echo "$out"
