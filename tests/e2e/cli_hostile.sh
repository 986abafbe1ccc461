#!/bin/sh
# End to end: the readers on hostile input. Paths a trace names
# are a FIFO and /dev/zero; trace and dump paths are a FIFO, a device and a
# directory; a 20 KB sequence-number bomb runs under a memory limit; export
# refuses to write over its input; numeric and name options are checked.
# `timeout` is the hang detector here (minutes away from a normal run), not a
# speed assertion.
. tests/programs/cli_common.sh
PLAIN=$B/winmem            # without ASan, which cannot run under ulimit -v
T=$B/e2e-hostile
rm -rf "$T" && mkdir -p "$T"
mkfifo "$T/fifo"
gen() { python3 tests/e2e/cli_hostile_traces.py "$@"; }

# A trace whose modules are a FIFO and /dev/zero: report and export name the
# frames without opening either.
gen modules "$T/mods.wmt" "$(pwd)/$T/fifo" /dev/zero
out=$(timeout 120 "$W" report "$T/mods.wmt" 2>&1); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q "#0  fifo+0x10"; then ok "report: module paths FIFO and /dev/zero"
else bad "report: module paths FIFO and /dev/zero (exit $rc)"; echo "$out" | tail -5; fi
timeout 120 "$W" export --format folded -o "$T/mods.folded" "$T/mods.wmt" 2>/dev/null; rc=$?
if [ $rc -eq 0 ]; then ok "export: module paths FIFO and /dev/zero"; else bad "export: module paths (exit $rc)"; fi

# A real ELF file, stripped, whose .gnu_debuglink names a FIFO beside it:
# libdwfl must not be sent looking there.
N=$B/tests/programs/cli_native
if [ -x "$N" ] && command -v objcopy > /dev/null; then
    objcopy --only-keep-debug "$N" "$T/n.debug" && objcopy --strip-all --add-gnu-debuglink="$T/n.debug" "$N" "$T/n"
    rm -f "$T/n.debug" && mkfifo "$T/n.debug"
    gen modules "$T/dbgl.wmt" "$(pwd)/$T/n" /dev/null
    out=$(timeout 120 "$W" report "$T/dbgl.wmt" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then ok "report: a module whose debug link is a FIFO"; else bad "report: debug link FIFO (exit $rc)"; fi
else
    echo "skip debug-link FIFO (no $N or objcopy)"
fi

# Trace and dump paths that are not regular files.
for p in "$T/fifo" /dev/zero "$T"; do
    for cmd in "report" "export --format jsonl -o $T/x.json" "diff $T/mods.wmt" "guest"; do
        out=$(timeout 120 "$W" $cmd "$p" 2>&1); rc=$?
        if [ $rc -eq 2 ] && echo "$out" | grep -q "not a \(regular\|dump\) file"; then ok "$cmd on $p: refused"
        else bad "$cmd on $p: exit $rc: $out"; fi
    done
done

# The sequence-number bomb: 100 made-up threads with seqs near 2^20 cost the
# old reader 16-32 MB each. 200 MB of address space is plenty for 22 KB.
gen bomb "$T/bomb.wmt"
out=$(ulimit -v 200000; timeout 120 "$PLAIN" report "$T/bomb.wmt" 2>&1); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q "calls     100 in 100 threads"; then ok "20 KB seq bomb read whole under ulimit -v 200 MB"
else bad "seq bomb (exit $rc)"; echo "$out" | head -5; fi

# One libc named by 1500 module records, each spelled differently: loaded
# once (by device and inode), not 1500 times (~1 MB and 1.4 ms each).
LIBC=$(ldd "$PLAIN" | sed -n 's/.*libc.so.6 => \([^ ]*\).*/\1/p')
gen flood "$T/flood.wmt" "$LIBC"
out=$(ulimit -v 300000; timeout 120 "$PLAIN" export --format folded "$T/flood.wmt" 2>&1); rc=$?
# folded merges equal stacks: the weights (calls) of the named ones add up.
named=$(echo "$out" | grep "libc.so.6!" | awk '{n += $NF} END {print n + 0}')
if [ $rc -eq 0 ] && [ "$named" -eq 1500 ]; then ok "1500 spellings of libc: every frame named, under ulimit -v 300 MB"
else bad "libc flood: exit $rc, $named of 1500 frames named"; fi

# An output that is the input: refused, input untouched.
cp "$T/mods.wmt" "$T/keep.wmt"
ln -s keep.wmt "$T/link.wmt"
for o in "$T/keep.wmt" "$T/link.wmt"; do
    out=$("$W" export --format jsonl -o "$o" "$T/keep.wmt" 2>&1); rc=$?
    if [ $rc -eq 2 ] && echo "$out" | grep -q "is the trace being read" && cmp -s "$T/keep.wmt" "$T/mods.wmt"; then
        ok "export -o $(basename "$o") of its own input: refused, input intact"
    else bad "export -o its input: exit $rc: $out"; fi
done

# A symlink planted under a name `run`'s output pattern matches, pointing
# at a fresh trace: run must not present that file as what it recorded.
cp "$T/mods.wmt" "$T/victim.wmt"
ln -s victim.wmt "$T/rec.999999.wmt"
out=$("$PLAIN" run -o "$T/rec.%p.wmt" -- true 2>&1); rc=$?
if [ $rc -eq 0 ] && ! echo "$out" | grep -q "rec.999999.wmt" && ! echo "$out" | grep -q "NtAllocateVirtualMemory"; then
    ok "run: a planted symlink matching the output pattern is not summarised"
else bad "run summarised a planted symlink: $out"; fi

# Option values: whole numbers in range, known names.
check_usage() {
    want=$1; shift
    out=$("$W" "$@" 2>&1); rc=$?
    if [ $rc -eq 2 ] && echo "$out" | grep -q -- "$want"; then ok "$*: exit 2"
    else bad "$*: exit $rc: $out"; fi
}
check_usage "wants a whole number from 0 to" report --top abc "$T/mods.wmt"
check_usage "wants a whole number from 0 to" report --top 99999999999999999999 "$T/mods.wmt"
check_usage "wants a whole number from 0 to 64, not '-5'" report --frames -5 "$T/mods.wmt"
check_usage "wants a whole number" report --top 5x "$T/mods.wmt"
check_usage "wants a whole number" diff --show abc "$T/mods.wmt" "$T/mods.wmt"
check_usage "wants a whole number" diff --frames -1 "$T/mods.wmt" "$T/mods.wmt"
check_usage "NtAllocateVirtualMemory" diff --ignore-api Bogus "$T/mods.wmt" "$T/mods.wmt"
check_usage "BaseAddress" diff --ignore-field bogus "$T/mods.wmt" "$T/mods.wmt"
check_usage "chrome speedscope folded jsonl" export --format xml "$T/mods.wmt"
check_usage "calls bytes time" export --format jsonl --weight size "$T/mods.wmt"
check_usage "wants a whole number from 0 to 64" run --stack 99 -- true
out=$("$W" diff --ignore-api NtAllocateVirtualMemory --ignore-field BaseAddress "$T/mods.wmt" "$T/mods.wmt" 2>&1); rc=$?
if [ $rc -eq 0 ]; then ok "diff with valid names still works"; else bad "diff with valid names: exit $rc: $out"; fi
out=$("$W" report --top 3 --frames 2 "$T/mods.wmt" 2>&1); rc=$?
if [ $rc -eq 0 ]; then ok "report with valid numbers still works"; else bad "report --top 3: exit $rc"; fi

rm -rf "$T"
verdict cli_hostile
