#!/bin/sh
# AWE end to end: wine-tests/awe.c natively (libwinmem) and as a PE program
# under wine — plain (Wine 8.0's stubs fail it), with the shim (winmem's
# implementation: every section must pass, with the same checks as native),
# and with the shim told kernelbase is unknown (one stderr line, Wine's
# answers unchanged).
set -eu
B=${BUILD:-build}
shim=${WINMEM_SHIM:-$B/libwinmem-shim.so}   # WINMEM_SHIM: another build of it
native=$B/wine-tests/native/awe   # built by check-e2e's prerequisites
pe=$B/wine-tests/pe/awe.exe
for f in "$shim" "$native" "$pe"; do
    [ -f "$f" ] || { echo "not ok - $f is not built (make check-e2e builds it)"; exit 1; }
done
shim=$(realpath "$shim")
work=$(mktemp -d "$PWD/$B/awe-e2e.XXXXXX")
trap 'WINEPREFIX=$work/prefix wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset LD_PRELOAD WINMEM_MODE WINMEM_ONLY || true
fail=0
ok()  { echo "ok - $1"; }
bad() { echo "not ok - $1"; fail=1; }

"$native" > "$work/native.out" 2>&1 && ok "native run passes" || { bad "native run"; cat "$work/native.out"; }
wineboot -i >/dev/null 2>&1 || true

( cd "$work" && timeout 300 wine "$OLDPWD/$pe" ) > "$work/plain.out" 2>&1 || true
if grep -q "error 120" "$work/plain.out" && grep -q "^WT awe.pattern fail" "$work/plain.out"; then
    ok "plain Wine 8.0 fails AWE with ERROR_CALL_NOT_IMPLEMENTED (the test can fail)"
else
    bad "plain Wine did not fail as Wine 8.0 does"; cat "$work/plain.out"
fi

( cd "$work" && WINMEM_OUTPUT="$work/t-%p.trace" LD_PRELOAD="$shim" timeout 300 wine "$OLDPWD/$pe" ) \
    > "$work/shim.out" 2> "$work/shim.err" || true
grep '^WT ' "$work/native.out" > "$work/native.wt"
tr -d '\r' < "$work/shim.out" | grep '^WT ' > "$work/shim.wt" || true
if grep -q "awe (pe): [0-9]* tests executed (0 failures)" "$work/shim.out" && cmp -s "$work/native.wt" "$work/shim.wt"; then
    ok "PE under wine with the shim: $(grep -c pass "$work/shim.wt") sections pass, same checks as native"
else
    bad "PE under wine with the shim differs from native"; diff "$work/native.wt" "$work/shim.wt" || true
    cat "$work/shim.out" "$work/shim.err" | head -40
fi

( cd "$work" && WINMEM_TEST_AWE_UNKNOWN=1 WINMEM_OUTPUT="$work/u-%p.trace" LD_PRELOAD="$shim" \
    timeout 300 wine "$OLDPWD/$pe" ) > "$work/unknown.out" 2> "$work/unknown.err" || true
if [ "$(grep -c 'winmem-shim: AWE: .*stays Wine' "$work/unknown.err")" -ge 1 ] &&
   [ "$(tr -d '\r' < "$work/unknown.out" | grep '^WT ')" = "$(tr -d '\r' < "$work/plain.out" | grep '^WT ')" ]; then
    ok "unknown kernelbase: one stderr line, the program sees plain Wine"
else
    bad "unknown kernelbase was not left alone"; cat "$work/unknown.err" | head; diff "$work/plain.out" "$work/unknown.out" | head
fi
exit $fail
