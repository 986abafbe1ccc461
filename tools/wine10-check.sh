#!/bin/sh
# make check-wine10: the shim and the conformance matrix on Debian 13's Wine
# 10.0, in the Debian 13 root tools/wine10-root.sh makes (and caches) under
# build/. Everything was built on the host; the tree is bind-mounted at the
# same path inside. Runs: every tests/e2e/shim_*.sh (PE and winelib programs,
# the three modes, `winmem run`, stacks, threads, fork/exec, kill -9, an
# unknown dispatcher), and the matrix's Wine columns with the expected
# differences read for Wine 10 (the native column does not depend on Wine
# and runs on the host).
set -eu
B=${BUILD:-build}
top=$(pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "check-wine10: needs root (debootstrap, chroot, mount) to make and enter the Debian 13 root" >&2
    exit 1
fi
tools/wine10-root.sh >/dev/null
inside() {
    tools/wine10-root.sh run env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root DISPLAY= \
        XDG_RUNTIME_DIR=/tmp LANG=C.UTF-8 WINMEM_WINE_TAG=w10 BUILD="$B" sh -c 'cd "$0" && exec "$@"' "$top" "$@"
}
echo "Wine in the root: $(inside wine --version 2>/dev/null)"
rc=0
for t in tests/e2e/shim_*.sh; do
    echo "--- $t (Wine 10.0)"
    inside env WINMEM_SHIM_CHECK=1 sh "$t" || { echo "FAILED: $t on Wine 10.0"; rc=1; }
done
echo "--- conformance matrix (Wine 10.0)"
progs=$(ls wine-tests/*.c | sed 's|wine-tests/||; s|\.c$||')
inside python3 tools/wt-matrix --build "$B" --require-shim --runs wine-pe,wine-winelib,shim-trace,shim-check,shim-native \
    --expected wine-tests/expected-differences.txt $progs || { echo "FAILED: conformance on Wine 10.0"; rc=1; }
exit $rc
