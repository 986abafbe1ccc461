# tests/programs/shim_common.sh — sourced by tests/e2e/shim_*.sh: paths, a
# throw-away Wine prefix under build/, and ok/fail bookkeeping.
# The scripts run in `make check-shim`, which builds their programs first
# (tests/module.mk); check-e2e runs the other tests/e2e/*.sh.
set -u
BUILD=${BUILD:-build}
ROOT=$(pwd)
P=$ROOT/$BUILD/tests/programs
SHIM=$ROOT/$BUILD/libwinmem-shim.so
DUMP=$P/trace_dump
W=$ROOT/$BUILD/winmem
H=$P/rec_host
OUT=$(mktemp -d "$ROOT/$BUILD/shim-e2e.XXXXXX")
# WINMEM_WINE_TAG names the Wine under test (w10 in the Debian 13 root): each Wine its own prefix.
export WINEPREFIX="$ROOT/$BUILD/wp-shim${WINMEM_WINE_TAG:+-$WINMEM_WINE_TAG}" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset WINMEM_OUTPUT WINMEM_MODE WINMEM_STACK WINMEM_ONLY WINMEM_UNIX WINMEM_QUIET
fails=0

ok()   { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# check "what" command...: passes when the command succeeds
check() { what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }
# the one trace file matching a glob, or fail
one_trace() {
    set -- $1
    [ $# -eq 1 ] && [ -f "$1" ] && echo "$1"
}
# A prefix of our own: the first start takes ~10-30 s, then it is reused.
wine_prefix() {
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        timeout 180 wineboot -i >/dev/null 2>&1
        timeout 60 wineserver -w   # the registry is written when the server exits
    fi
    [ -f "$WINEPREFIX/system.reg" ] || { fail "cannot create the Wine prefix $WINEPREFIX"; finish; }
}
# work_in_out: the script's files (and winmem run's directories) under $OUT
work_in_out() {
    export TMPDIR="$OUT/tmp"
    mkdir -p "$TMPDIR"
    cd "$OUT" || exit 1
}
finish() {
    timeout 60 wineserver -w >/dev/null 2>&1  # not -k: another test run may share the prefix
    if [ "$fails" -eq 0 ]; then rm -rf "$OUT"; echo "all passed"; exit 0; fi
    echo "$fails failed (files kept in $OUT)"
    exit 1
}
