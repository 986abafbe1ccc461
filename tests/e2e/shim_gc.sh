#!/bin/sh
# A real garbage collector under the shim: Boehm GC's own test (gctest,
# built for Windows from Debian's source package by tests/module.mk),
# single-threaded and with win32 threads and parallel marking. In every
# mode it must pass its own test, as under plain Wine; under native mode
# its final heap must stay near trace mode's (a conservative collector
# scans what looks like the program's writable memory as roots: native
# mode once showed Wine's unix-side memory as such and the heap grew by
# half); and identical runs of the single-threaded test must diff as the
# same with winmem diff's default rules. Runs on Wine 8.0 here and on
# Wine 10.0 in the Debian 13 root (tools/wine10-check.sh).
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"

# gc NAME EXE MODE: one run (MODE plain or a winmem run mode); the
# collector's own log (GC_LOG_FILE) in NAME.log, the trace in NAME.wmt
gc() {
    rm -f "$1.log"
    if [ "$3" = plain ]; then
        GC_LOG_FILE="Z:$(echo "$OUT/$1.log" | tr / '\\')" timeout 120 wine "$P/$2.exe" > "$1.out" 2>&1
    else
        GC_LOG_FILE="Z:$(echo "$OUT/$1.log" | tr / '\\')" timeout 120 "$W" run --mode "$3" --no-summary \
            -o "$OUT/$1.wmt" -- wine "$P/$2.exe" > "$1.out" 2>&1
    fi
}
passed() { grep -q "^Collector appears to work" "$1.log" 2>/dev/null; }
ran() { [ "$1" = 0 ] && passed "$2"; }             # ran STATUS NAME
heap() { sed -n 's/^Final heap size is \([0-9]*\) bytes/\1/p' "$1.log"; }
# same_or_collector STATUS DIFF-OUTPUT: the same, or only differences in how
# many calls or bytes the collector's own sites made (its mark stack, its
# root scan): never a new or lost site, a failure, a protection or a leak,
# nor a site outside the collector
same_or_collector() {
    [ "$1" = 0 ] || { [ "$1" = 1 ] && grep -q '^  1\. ' "$2" &&
        ! grep '^  [0-9]*\. ' "$2" | grep -vq '^  [0-9]*\. \[calls/bytes\] gctest\.exe!GC_'; }
}
equal() { [ -n "$1" ] && [ "$1" = "$2" ]; }
near() { [ -n "$1" ] && [ -n "$2" ] && [ $(($2 * 100)) -le $(($1 * 133)) ]; }   # near WINE NATIVE

for exe in gctest gctest_mt; do
    gc $exe-plain $exe plain
    check "$exe under plain Wine passes its own test" passed $exe-plain
    for mode in trace check native; do
        gc $exe-$mode $exe $mode; rc=$?
        check "$exe under winmem run --mode $mode: exit 0 ($rc) and its own test passes" ran $rc $exe-$mode
    done
    # The single-threaded collector's final heap takes one of two sizes
    # (27.5 or 35.9 MB) as its own timing and the layout decide, under plain
    # Wine and traced alike (Wine 8.0: plain 35.9, traced 27.5; Wine 10.0:
    # traced 27.5, native mode mostly 35.9 — its first queries are slower
    # while the model learns). The bug this guards against gave 37-47 MB
    # against 25-27: native mode stays within 1.33x of the larger of Wine's
    # runs. The threaded collector's heap is not compared: in 15 runs of
    # each mode (2026-12-04, both Wines) it ended anywhere from 64 to 111 MB
    # under plain Wine and traced alike, wider than the bug's effect, so a
    # bound would only test the scheduler; the roots below are exact.
    [ $exe = gctest ] || continue
    ht=$(heap $exe-trace) hn=$(heap $exe-native)
    hp=$(heap $exe-plain)
    hmax=$(( ${ht:-0} > ${hp:-0} ? ${ht:-0} : ${hp:-0} ))
    check "$exe: native mode's final heap ($hn bytes) within 1.33x of Wine's own, traced ($ht) or plain ($hp)" near "$hmax" "$hn"
done

# What makes the heap: the roots. The collector scans every committed,
# writable MEM_IMAGE region (gc_roots.exe walks as it does): native mode
# must show exactly the bytes Wine shows (it splits written copy-on-write
# pages off as PAGE_READWRITE, which are roots either way), never Wine's
# unix-side memory as the program's.
for mode in trace native; do
    timeout 120 "$W" run --mode $mode --no-summary -o "$OUT/roots-$mode.wmt" -- wine "$P/gc_roots.exe" > roots-$mode.out 2>&1
done
rt=$(sed -n 's/^roots [0-9]* regions \([0-9]*\) bytes/\1/p' roots-trace.out)
rn=$(sed -n 's/^roots [0-9]* regions \([0-9]*\) bytes/\1/p' roots-native.out)
check "a collector's roots: native mode shows the bytes trace mode (Wine) does (${rn:-none} = ${rt:-none})" \
    equal "$rt" "$rn"

# Identical runs of the single-threaded test diff as the same by the
# default rules on Wine 8.0. The collector itself does not always take the
# same path, and on Wine 10.0 about one pair of runs in two differs at its
# own sites beyond the 4x tolerance: its mark stack overflows and grows
# (GC_stopped_mark's malloc: 2 MiB in one run, 17-33 MiB in another), or
# its root scan walks more regions (GC_register_dynamic_libraries: 55
# VirtualQuery calls, then 232). Those are real differences in what the
# program asked, which the diff must not hide; so a pair is the same, or
# differs at the collector's own sites in calls or bytes and nothing else
# (the site named by the collector's frame, not msvcrt's malloc under it).
# (The threaded test is noisier than any default: docs/regression-testing.md.)
gc gctest-trace2 gctest trace
gc gctest-trace3 gctest trace
for pair in "trace trace2" "trace trace3" "trace2 trace3"; do
    set -- $pair
    "$W" diff "gctest-$1.wmt" "gctest-$2.wmt" > diff-$1-$2.out 2>&1; rc=$?
    check "gctest: identical runs ($1, $2) diff as the same (exit $rc), or in the collector's own sites' calls or bytes alone" \
        same_or_collector $rc diff-$1-$2.out
    [ $rc = 0 ] || grep '^  [0-9]*\. ' diff-$1-$2.out
done
finish
