#!/bin/sh
# End to end: `winmem diff` on a real multi-threaded Windows program under
# Wine (tests/programs/noisy.c: a thread pool, a heap growing by timing, a
# collector thread, random sleeps), recorded by the real shim.
#  - identical runs pairwise diff as the same (exit 0) with the default rules;
#  - each build variant with one injected change is reported exactly once,
#    with the right severity, and the exit status is 1;
#  - --baseline, --explain, --json; the winelib build of the same source runs.
# Uses the ASan build of winmem, a Wine prefix under build/, bounded time.
. tests/programs/cli_common.sh
P=$B/tests/programs
D=$B/tests/diff-e2e
RUNS=${DIFF_RUNS:-4}   # identical runs here; 10 measured once (docs/regression-testing.md)
wine_prefix "$D/prefix"
mkdir -p "$D"
rm -f "$D"/*.wmt "$D"/*.out "$D"/*.json
need "$W" "$P/noisy.exe" "$P/noisy_wl.exe.so" "$B/libwinmem-shim.so"

rec() {  # rec OUT EXE
    timeout 300 "$W" run -o "$D/$1.wmt" --no-summary -- wine "$2" > "$D/$1.out" 2>&1
}

# --- identical runs: same ---
i=1
while [ $i -le $RUNS ]; do
    rec "base$i" "$P/noisy.exe" || bad "run $i of noisy.exe"
    i=$((i + 1))
done
check "noisy.exe ran its 96 tasks on its thread pool" 'grep -q "noisy done: 96 tasks" "$D/base1.out"'
same=0 pairs=0
i=1
while [ $i -le $RUNS ]; do
    j=$((i + 1))
    while [ $j -le $RUNS ]; do
        "$W" diff "$D/base$i.wmt" "$D/base$j.wmt" > "$D/same-$i-$j.out" 2>&1; rc=$?
        pairs=$((pairs + 1))
        if [ $rc -eq 0 ] && grep -q "^same: 0 differences" "$D/same-$i-$j.out"; then same=$((same + 1)); else cat "$D/same-$i-$j.out"; fi
        j=$((j + 1))
    done
    i=$((i + 1))
done
check "identical runs: all $pairs pairs diff as the same (exit 0)" '[ $same -eq $pairs ]'
"$W" diff --exact "$D/base1.wmt" "$D/base2.wmt" > "$D/exact.out" 2>&1; rc=$?
check "... while --exact (call by call) sees the scheduling noise (exit 1)" '[ $rc -eq 1 ]'

# --- one injected change per variant: reported once, ranked ---
variant() {  # variant NAME LABEL PATTERN
    v=$1 label=$2 pat=$3
    rec "$v" "$P/noisy-$v/noisy.exe" || bad "run of the $v variant"
    "$W" diff "$D/base1.wmt" "$D/$v.wmt" > "$D/$v-diff.out" 2>&1; rc=$?
    n=$(grep -c "^  [0-9]*\. \[" "$D/$v-diff.out")
    check "$v: exit 1, exactly one difference" '[ $rc -eq 1 ] && [ $n -eq 1 ] && grep -q "^different: 1 difference$" "$D/$v-diff.out"'
    check "$v: it is [$label] $pat" 'grep -q "^  1\. \[$label\] $pat" "$D/$v-diff.out"'
    [ $rc -eq 1 ] && [ $n -eq 1 ] || cat "$D/$v-diff.out"
}
variant site "call site" "noisy.exe!probe_self: new call site: NtQueryVirtualMemory(class=0 address=image)"
variant fail "failure" "noisy.exe!heap_grow: new failure STATUS_NO_MEMORY"
variant prot "protection" "noisy.exe!config_seal: request changed: A asked protect=PAGE_READONLY .*B asks protect=PAGE_READWRITE"
variant rwx "NEW WRITABLE+EXECUTABLE MEMORY" "noisy.exe!jit_new: new call site: NtAllocateVirtualMemory(protect=PAGE_EXECUTE_READWRITE"
variant leak "leak at exit" "noisy.exe!cache_new: still allocated at exit: 1 region, 128 KiB"
variant grow "calls/bytes" "noisy.exe!arena_new: bytes 256 KiB -> 2560 KiB (x10.0)"
check "the difference shows both stacks down to the program" \
    '[ $(grep -c "noisy.exe!config_seal+0x" "$D/prot-diff.out") -eq 2 ] && [ $(grep -c "noisy.exe!main+0x" "$D/prot-diff.out") -eq 2 ]'
check "summary first, by severity" 'sed -n 3,4p "$D/rwx-diff.out" | grep -q "1 new writable+executable memory"'

"$W" diff --ignore-field protect "$D/base1.wmt" "$D/prot.wmt" > /dev/null 2>&1; rc=$?
check "--ignore-field protect: the protection variant is the same" '[ $rc -eq 0 ]'

# --- baselines ---
"$W" diff --baseline "$D/base1.wmt" "$D/base2.wmt" -- "$D/rwx.wmt" > /dev/null 2>&1; rc=$?
check "--baseline A1 A2 -- B: the RWX variant is still different (exit 1)" '[ $rc -eq 1 ]'
"$W" diff --baseline $(i=1; while [ $i -lt $RUNS ]; do echo "$D/base$i.wmt"; i=$((i + 1)); done) -- "$D/base$RUNS.wmt" > "$D/baseline.out" 2>&1; rc=$?
check "--baseline of $((RUNS - 1)) identical runs -- another: same (exit 0)" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || cat "$D/baseline.out"
"$W" diff --explain "$D/base1.wmt" "$D/base2.wmt" > "$D/explain.out" 2>&1
check "--explain names the rule that hid the noise" 'grep -q "^Hidden by the noise rules" "$D/explain.out" && grep -q "tolerance (x4.0" "$D/explain.out"'
"$W" diff --tolerance 1 --slack 0 "$D/base1.wmt" "$D/base2.wmt" > /dev/null 2>&1; rc=$?
check "without a tolerance the same two runs differ (the noise is real)" '[ $rc -eq 1 ]'
"$W" diff --json "$D/base1.wmt" "$D/leak.wmt" > "$D/leak.json" 2>&1; rc=$?
check "--json: valid, verdict, one leak item with both sides and a stack" '[ $rc -eq 1 ] && python3 - "$D/leak.json" <<PY
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "different" and d["differences"] == 1, d
it = d["items"][0]
assert it["kind"] == "leak" and it["where"] == "noisy.exe!cache_new", it
assert it["b"]["live_at_exit"] == 1 and it["a"]["live_at_exit"] == 0, it
assert any("cache_new" in f for f in it["stack_b"]), it
PY'
"$W" diff --json "$D/base1.wmt" "$D/base2.wmt" > "$D/same.json" 2>&1; rc=$?
check "--json of identical runs: verdict same, exit 0" '[ $rc -eq 0 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d[\"verdict\"]==\"same\" and d[\"items\"]==[]" "$D/same.json"'

# --- no unwind data for the program's functions: no made-up frames ---
rec nu1 "$P/noisy-nounwind/noisy.exe"; rc1=$?
rec nu2 "$P/noisy-nounwind/noisy.exe"; rc2=$?
"$W" report --top 40 --frames 16 "$D/nu1.wmt" > "$D/nu-report.out" 2>&1
check "no unwind data: stacks reach the program's functions" '[ $rc1 -eq 0 ] && grep -q "^      #2  noisy.exe!heap_grow+0x" "$D/nu-report.out"'
check "no unwind data: no frame outside a known module, none at a module's start" \
    '! grep -E "^      #[0-9]+ +(0x[0-9a-f]+|[^ ]+\.(dll|exe)\+0x[0-9a-f]{1,3})$" "$D/nu-report.out"'
"$W" diff "$D/nu1.wmt" "$D/nu2.wmt" > "$D/nu-diff.out" 2>&1; rc=$?
check "no unwind data: two runs diff as the same" '[ $rc2 -eq 0 ] && [ $rc -eq 0 ]'
[ $rc -eq 0 ] || cat "$D/nu-diff.out"

# --- the same source as a winelib program: recorded with its threads,
# its sites named from its .so, and two runs diff as the same ---
rec wl1 "$P/noisy_wl.exe.so"; rc=$?
rec wl2 "$P/noisy_wl.exe.so"; rc2=$?
check "winelib build: runs its pool under the shim, trace reads" \
    '[ $rc -eq 0 ] && grep -q "noisy done: 96 tasks" "$D/wl1.out" && "$W" report "$D/wl1.wmt" 2>/dev/null | grep -q "NtQueryVirtualMemory"'
check "winelib build: its own functions are the call sites, with source lines" \
    '"$W" report "$D/wl1.wmt" 2>/dev/null | grep -q " heap_grow (noisy.c:[0-9]*)"'
"$W" diff "$D/wl1.wmt" "$D/wl2.wmt" > "$D/wl-diff.out" 2>&1; rc=$?
check "winelib build: two runs diff as the same" '[ $rc2 -eq 0 ] && [ $rc -eq 0 ]'
[ $rc -eq 0 ] || cat "$D/wl-diff.out"

timeout 60 wineserver -k 2>/dev/null
verdict diff_noisy
