#!/bin/sh
# make demo: a real Windows program (tests/programs/cli_target.exe, built with
# mingw-w64) runs under Wine through `winmem run`; then its report, and the
# memory map of a live Wine process in Windows terms. Uses its own Wine
# prefix under build/ so a fresh machine needs nothing set up by hand.
set -eu
B=${BUILD:-build}
W=$B/winmem
T=$B/tests/programs/cli_target.exe
D=$B/demo
mkdir -p "$D"
export WINEPREFIX="$PWD/$D/prefix" WINEDEBUG=-all
[ -d "$WINEPREFIX" ] || echo "== creating a Wine prefix in $WINEPREFIX (once, ~10 s)"
wineboot -i > /dev/null 2>&1 || true

echo "== winmem run -- wine $T"
"$W" run -o "$D/cli_target.wmt" -- wine "$T"

echo
echo "== winmem report $D/cli_target.wmt"
"$W" report --top 3 --frames 6 --html "$D/report.html" "$D/cli_target.wmt"
echo "(the same as one page, with commit over time and a sortable table: $D/report.html)"

echo
echo "== winmem diff against a build whose one VirtualProtect differs"
"$W" run -o "$D/variant.wmt" --no-summary -- wine "$T" --variant 2>/dev/null
"$W" diff --frames 4 "$D/cli_target.wmt" "$D/variant.wmt" || true

echo
echo "== winmem maps of a live Wine process under the shim (native mode: its model of the memory)"
rm -f "$D/release" "$D/hold.out"   # a "region=" left by an earlier run is not this run's
"$W" run --mode native --no-summary -o "$D/hold.wmt" -- wine "$T" --hold "Z:$(echo "$PWD/$D/release" | tr / '\\')" > "$D/hold.out" 2>/dev/null &
i=0
while ! grep -q region= "$D/hold.out" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
pid=$(pgrep -n -x cli_target.exe || true)
addr=$(sed -n 's/^region=\(0x\)\{0,1\}0*\([0-9A-Fa-f]*\).*/\2/p' "$D/hold.out" | tr A-F a-f)
if [ -n "$pid" ] && [ -n "$addr" ]; then
    "$W" maps "$pid" --no-free > "$D/maps.txt"
    echo "(the program reserved 1 MiB at 0x$addr with PAGE_NOACCESS, committed 4 pages, made the first read-only;"
    echo " full map: $D/maps.txt, $(grep -c '^0' "$D/maps.txt") regions in use; free ones left out)"
    sed -n '1,3p' "$D/maps.txt"
    grep -i "^0*$addr " -A2 "$D/maps.txt" || true
    sed -n '/^[0-9]* regions$/,$p' "$D/maps.txt"
fi
touch "$D/release"
wait 2>/dev/null || true
