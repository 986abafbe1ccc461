#!/bin/sh
# Installs the Debian packages listed in tools/debian-packages.txt that are missing.
# As root it runs apt-get; otherwise it prints the exact apt-get line and fails,
# so `make` stops with something a person can copy.
set -eu
here=$(dirname "$0")
list=$(grep -v '^#' "$here/debian-packages.txt" | tr -s ' \n' ' ')
missing=""
for p in $list; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
line="apt-get install -y$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "winmem: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
fi
echo "winmem: installing missing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q $missing >&2
