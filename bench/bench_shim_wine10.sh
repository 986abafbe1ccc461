#!/bin/sh
# bench/bench_shim_wine10.sh — what the shim costs on Debian 13's Wine 10.0
# (System V door), side by side in one run inside the Debian 13 root that
# check-wine10 makes: a PE program calling VirtualQuery in a loop under plain
# Wine 10.0, and with the shim (trace mode) without and with a 16-frame
# Windows stack, under `winmem run` (its writer appends the trace) and with
# a bare LD_PRELOAD (the program does). Medians of 5 runs; the program
# times its own loop.
set -u
BUILD=${BUILD:-build}
if [ "$(id -u)" -ne 0 ]; then
    echo "shim on Wine 10.0: not measured (the Debian 13 root needs root)"; exit 0
fi
tools/wine10-root.sh >/dev/null || exit 1
top=$(pwd)
tools/wine10-root.sh run env -i PATH=/usr/bin:/bin HOME=/root DISPLAY= XDG_RUNTIME_DIR=/tmp N=200000 \
    P="$top/$BUILD/tests/programs" SHIM="$top/$BUILD/libwinmem-shim.so" OUT="$top/$BUILD/bench-shim-w10" W="$top/$BUILD/winmem" \
    WINEPREFIX="$top/$BUILD/wp-shim-w10" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" sh -c '
    mkdir -p "$OUT"
    [ -f "$WINEPREFIX/system.reg" ] || { timeout 180 wineboot -i >/dev/null 2>&1; timeout 60 wineserver -w; }
    median() { sort -n | awk "{a[NR]=\$1} END {print a[int((NR+1)/2)]}"; }
    run5() { for i in 1 2 3 4 5; do env "$@" timeout 300 wine $P/shim_probe.exe bench $N 2>/dev/null | tr -d "\r" | tail -1
             rm -f "$OUT"/*.trace*; done | median; }
    runw() { for i in 1 2 3 4 5; do timeout 300 "$W" run --no-summary --stack $1 -o "$OUT/r-%p.trace" -- wine $P/shim_probe.exe bench $N 2>/dev/null | tr -d "\r" | tail -1
             rm -f "$OUT"/*.trace*; done | median; }
    wineserver -p5 >/dev/null 2>&1
    plain=$(run5 X=1)
    s0=$(runw 0)
    s16=$(runw 16)
    b0=$(run5 WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
    b16=$(run5 WINMEM_STACK=16 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
    timeout 60 wineserver -w >/dev/null 2>&1
    rm -rf "$OUT"
    awk -v p="$plain" -v s0="$s0" -v s16="$s16" -v b0="$b0" -v b16="$b16" -v v="$(wine --version)" "BEGIN {
        printf \"shim on %s (System V door): ns per VirtualQuery call, median of 5 runs of %d calls\n\", v, $N
        printf \"  %-46s %9.1f %11s %7s\n\", \"PE under plain Wine 10.0\", p, \"-\", \"1.00\"
        printf \"  %-46s %9.1f %+9.1f ns %7.2f   (target <= +100 ns)\n\", \"PE + shim (winmem run), trace, no stack\", s0, s0 - p, s0 / p
        printf \"  %-46s %9.1f %+9.1f ns %7.2f   (target <= +300 ns)\n\", \"PE + shim (winmem run), Windows stack (16)\", s16, s16 - p, s16 / p
        printf \"  %-46s %9.1f %+9.1f ns %7.2f\n\", \"  bare LD_PRELOAD, no stack\", b0, b0 - p, b0 / p
        printf \"  %-46s %9.1f %+9.1f ns %7.2f\n\", \"  bare LD_PRELOAD, Windows stack (16)\", b16, b16 - p, b16 / p
    }"'
