#!/bin/sh
# bench/bench_shim.sh — what the shim costs, side by side in one run (make bench).
#  1. a PE program calling VirtualQuery in a loop: plain Wine, Wine + shim
#     (trace mode) without stacks, with the Windows stack (16 frames), run
#     as users run it (`winmem run`, whose writer appends the trace) and
#     with a bare LD_PRELOAD (the program's threads append it themselves);
#  2. the native door with a 16-frame ELF stack vs calling libwinmem
#     directly, the same two ways;
#  3. Wine's VirtualQuery vs winmem's native VirtualQuery on the same kind of
#     memory (64 KiB committed private read-write), as a ratio;
#  4. native mode under Wine: VirtualQuery on memory Wine allocated, answered
#     from the shim's model, against plain Wine and trace mode (the same
#     recording, Wine's answer); and what feeding the model adds to an
#     allocation (VirtualAlloc+VirtualFree pairs, native vs trace mode);
#  5. the floor every system call pays through ntdll's stub and Wine's
#     dispatcher (a class that does nothing), and VirtualQuery above it.
# Each figure is the median of 5 runs; the programs time their own loops.
set -u
BUILD=${BUILD:-build}
ROOT=$(pwd)
P=$ROOT/$BUILD/tests/programs
SHIM=$ROOT/$BUILD/libwinmem-shim.so
W=$ROOT/$BUILD/winmem
OUT=$ROOT/$BUILD/bench-shim
mkdir -p "$OUT"
export WINEPREFIX="$ROOT/$BUILD/wp-shim" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
[ -f "$WINEPREFIX/system.reg" ] || { timeout 180 wineboot -i >/dev/null 2>&1; timeout 60 wineserver -w; }
N=200000

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run5 CMD...: median ns/call over 5 runs (each run deletes its trace)
run5() {
    for i in 1 2 3 4 5; do
        "$@" 2>/dev/null | tr -d '\r' | tail -1
        rm -f "$OUT"/*.trace*
    done | median
}
pe()   { env "$@" timeout 300 wine $P/shim_probe.exe bench $N; }
# run_pe STACK / run_nat STACK: under `winmem run` (its writer appends)
run_pe()  { timeout 300 "$W" run --no-summary --stack $1 -o "$OUT/r-%p.trace" -- wine $P/shim_probe.exe bench $N; }
run_nat() { "$W" run --no-summary --stack $1 -o "$OUT/r-%p.trace" -- $P/shim_native bench $N; }
# nat [direct] VAR=value...: the native program, through the door or direct
nat()  { how=""; [ "$1" = direct ] && { how=direct; shift; }; env "$@" $P/shim_native bench $N $how; }

wineserver -p5 >/dev/null 2>&1    # keep one server for all runs
plain=$(run5 pe X=1)
s0=$(run5 run_pe 0)
s16=$(run5 run_pe 16)
b0=$(run5 pe WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
b16=$(run5 pe WINMEM_STACK=16 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
nq=$(run5 pe WINMEM_MODE=native WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
pf() { env "$@" timeout 300 wine $P/shim_probe.exe floorbench $N; }
floor=$(run5 pf X=1)
nfloor=$(run5 pf WINMEM_MODE=native WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
pa() { env "$@" timeout 300 wine $P/shim_probe.exe allocbench 20000; }
aplain=$(run5 pa X=1)
atrace=$(run5 pa WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
anative=$(run5 pa WINMEM_MODE=native WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/b-%p.trace" LD_PRELOAD="$SHIM")
timeout 60 wineserver -w >/dev/null 2>&1  # not -k: another test run may share the prefix
direct=$(run5 nat direct X=1)
door16=$(run5 run_nat 16)
door0=$(run5 run_nat 0)
bdoor16=$(run5 nat WINMEM_STACK=16 WINMEM_OUTPUT="$OUT/n-%p.trace" LD_PRELOAD="$SHIM")
rmdir "$OUT" 2>/dev/null

awk -v fl="$floor" -v nfl="$nfloor" -v nq="$nq" -v ap="$aplain" -v at="$atrace" -v an="$anative" -v p="$plain" -v s0="$s0" -v s16="$s16" -v d="$direct" -v n16="$door16" -v n0="$door0" \
    -v b0="$b0" -v b16="$b16" -v bn16="$bdoor16" 'BEGIN {
    printf "shim: ns per VirtualQuery call, median of 5 runs of %d calls\n", '"$N"'
    printf "  %-46s %9s %11s %7s\n", "", "ns/call", "overhead", "ratio"
    printf "  %-46s %9.1f %11s %7s\n", "PE under plain Wine 8.0", p, "-", "1.00"
    printf "  %-46s %9.1f %+9.1f ns %7.2f   (target <= +100 ns)\n", "PE + shim (winmem run), trace, no stack", s0, s0 - p, s0 / p
    printf "  %-46s %9.1f %+9.1f ns %7.2f   (target <= +300 ns)\n", "PE + shim (winmem run), Windows stack (16)", s16, s16 - p, s16 / p
    printf "  %-46s %9.1f %+9.1f ns %7.2f\n", "  bare LD_PRELOAD, no stack", b0, b0 - p, b0 / p
    printf "  %-46s %9.1f %+9.1f ns %7.2f\n", "  bare LD_PRELOAD, Windows stack (16)", b16, b16 - p, b16 / p
    printf "  %-46s %9.1f %11s %7s\n", "native: libwinmem VirtualQuery called directly", d, "-", "1.00"
    printf "  %-46s %9.1f %+9.1f ns %7.2f\n", "native door (winmem run), no stack", n0, n0 - d, n0 / d
    printf "  %-46s %9.1f %+9.1f ns %7.2f   (target <= +150 ns)\n", "native door (winmem run), ELF stack (16)", n16, n16 - d, n16 / d
    printf "  %-46s %9.1f %+9.1f ns %7.2f\n", "  bare LD_PRELOAD, ELF stack (16)", bn16, bn16 - d, bn16 / d
    printf "  (winmem run: its writer appends the trace; bare LD_PRELOAD: the program does)\n"
    printf "  Wine VirtualQuery / winmem VirtualQuery (64 KiB RW private): %.1f / %.1f ns = %.2f\n", p, d, p / d
    printf "  native mode under Wine, no stack (model answers) %9.1f %+9.1f ns %7.2f   (vs trace: %+.1f ns)\n", nq, nq - p, nq / p, nq - b0
    printf "  the floor: a system call that does nothing (invalid class): plain %.1f, native mode %.1f ns\n", fl, nfl
    printf "  VirtualQuery above that floor: Wine %.1f, native mode %.1f ns = %.2f   (whole call: %.2f, target 0.25)\n", p - fl, nq - nfl, (nq - nfl) / (p - fl), nq / p
    printf "  alloc+free pair: plain %.1f, trace %.1f, native %.1f ns; feeding the model %+.1f ns per pair (target <= +200: two calls)\n", ap, at, an, an - at
}'
