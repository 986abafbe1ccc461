#!/bin/sh
# Makes (once) a Debian 13 "trixie" root with Debian's Wine 10.0 under
# build/wine10-root, so the shim is tested on the Wine that Debian stable ships
# beside the host's Wine 8.0. The root is made with debootstrap from the mirror
# apt itself uses, and cached: a second run with the same package list reuses it.
#
#   tools/wine10-root.sh            make or reuse the root, print its path
#   tools/wine10-root.sh run CMD…   run CMD inside it (private mount namespace:
#                                   nothing stays mounted when CMD ends)
#
# Needs root (debootstrap, chroot, mount). The host tree is bind-mounted at the
# same path inside, so host-built binaries run there unchanged.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
root=${WINE10_ROOT:-$here/build/wine10-root}
# What the host-built shim, CLI and test programs need inside (trixie's names).
pkgs="wine wine64 libunwind8 libelf1t64 libdw1t64 liblzo2-2 libsnappy1v5 libzstd1 zlib1g libstdc++6 python3 procps ca-certificates"
stamp="$root/.winmem-ready"

mirror() {
    # The first Debian URI apt is configured with (deb822 or one-line format).
    m=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
    [ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\)[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n1)
    [ -n "$m" ] || m=http://deb.debian.org/debian
    echo "$m"
}

make_root() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pkgs" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "winmem: making the Wine 10.0 root needs root (debootstrap, chroot)" >&2; exit 1
    fi
    command -v debootstrap >/dev/null || { echo "winmem: debootstrap is missing (tools/debian-packages.txt)" >&2; exit 1; }
    rm -rf "$root"
    m=$(mirror)
    echo "winmem: debootstrap trixie from $m into $root (once; cached)" >&2
    debootstrap --variant=minbase trixie "$root" "$m" >"$root.log" 2>&1 || {
        tail -20 "$root.log" >&2; exit 1; }
    printf 'deb %s trixie main\ndeb-src %s trixie main\n' "$m" "$m" >"$root/etc/apt/sources.list"
    in_root sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs" >>"$root.log" 2>&1 || {
        tail -20 "$root.log" >&2; exit 1; }
    echo "$pkgs" >"$stamp"
}

# Runs "$@" chrooted into the root with /proc, /sys, /dev, /tmp and the host
# tree mounted, in a private mount namespace so nothing outlives the command.
in_root() {
    unshare --mount --propagation private /bin/sh -c '
        r=$1; tree=$2; shift 2
        mount --bind "$r" "$r"     # / inside is a mount point: tests can unshare again
        mount -t proc proc "$r/proc"
        mount --rbind /sys "$r/sys"
        mount --rbind /dev "$r/dev"
        mount -t tmpfs tmpfs "$r/tmp"
        mkdir -p "$r$tree" && mount --bind "$tree" "$r$tree"
        exec chroot "$r" "$@"' sh "$root" "$here" "$@"
}

make_root
if [ "${1:-}" = run ]; then
    shift
    in_root "$@"
else
    echo "$root"
fi
