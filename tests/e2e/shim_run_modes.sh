#!/bin/sh
# `winmem run` in every mode on a real Windows program: the program's exit
# status and output are exactly plain Wine's, the shim hooked Wine's calls,
# and the trace holds the program's memory calls with stacks that reach the
# program. Runs on Wine 8.0 here and on Wine 10.0 in the
# Debian 13 root (tools/wine10-check.sh).
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"
timeout 120 wine $P/shim_probe.exe > plain.out 2>/dev/null; rc0=$?
for mode in trace check native; do
    timeout 180 "$W" run --mode $mode --no-summary -o "$OUT/$mode.wmt" -- wine $P/shim_probe.exe > $mode.out 2>$mode.err; rc=$?
    check "run --mode $mode: exit status as plain Wine's ($rc0 = $rc)" [ $rc0 = $rc ]
    grep -v '^trace: ' $mode.out > $mode.prog.out
    check "run --mode $mode: output as plain Wine's" cmp -s plain.out $mode.prog.out
    t=$(one_trace "$mode.wmt*")
    check "run --mode $mode: one trace" [ -n "$t" ]
    [ -n "$t" ] || continue
    $DUMP "$t" > $mode.txt
    flags=$(sed -n 's/^header .* flags=\(0x[0-9a-f]*\) .*/\1/p' $mode.txt)
    check "run --mode $mode: Wine's calls hooked (header flag WINE_HOOKED in $flags)" [ $(( ${flags:-0} & 2 )) = 2 ]
    n=$(grep -c "^call api=NtAllocateVirtualMemory door=wine .*frames=.*shim_probe.exe+" $mode.txt)
    check "run --mode $mode: NtAllocateVirtualMemory calls with stacks into the program ($n)" [ "$n" -gt 0 ]
done
finish
