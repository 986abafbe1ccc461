#!/bin/sh
# End to end: the winmem CLI on real traces of a real Wine program
# (tests/programs/cli_target.exe, built with mingw-w64), recorded by the real
# shim through `winmem run`. Uses the ASan build of winmem (WINMEM), a
# throw-away Wine prefix under build/, and bounded time for every Wine run.
. tests/programs/cli_common.sh
T=$B/tests/programs/cli_target.exe
D=$B/tests/cli-e2e
wine_prefix "$D/prefix"
mkdir -p "$D"
rm -f "$D"/*.wmt "$D"/*.out "$D"/*.json
need "$W" "$T" "$B/libwinmem-shim.so"

# --- record three runs (address randomisation stays on) ---
run() {  # run OUT ARGS...
    out=$1; shift
    timeout 180 "$W" run -o "$D/$out" -- wine "$T" "$@" > "$D/$out.out" 2>&1
}
run a.wmt;             rc_a=$?
run b.wmt;             rc_b=$?
run c.wmt --variant;   rc_c=$?
check "winmem run exits with the program's status (0)" '[ $rc_a -eq 0 ] && [ $rc_b -eq 0 ] && [ $rc_c -eq 0 ]'
check "winmem run says where the trace went" 'grep -q "trace: $D/a.wmt" "$D/a.wmt.out"'
check "winmem run prints a summary with the program's call sites" 'grep -q "calls to NtAllocateVirtualMemory from cli_target.exe!main" "$D/a.wmt.out"'
check "the program's own output passes through" 'grep -q "cli_target done" "$D/a.wmt.out"'

# --- report ---
"$W" report "$D/a.wmt" > "$D/report.out" 2>&1; rc=$?
check "report exits 0 on a whole trace" '[ $rc -eq 0 ]'
for want in "NtProtectVirtualMemory" "STATUS_FREE_VM_NOT_AT_BASE" "STATUS_INVALID_PAGE_PROTECTION" \
            "kernelbase.dll!VirtualAlloc+" "cli_target.exe!main+" "ntdll.dll!NtAllocateVirtualMemory+" \
            "p50" "the program exited normally" "Wine syscalls hooked"; do
    check "report shows $want" 'grep -qF "$want" "$D/report.out"'
done
check "report counts the program's 50-call loop as the top site" \
    'grep -A3 "^Top call sites" "$D/report.out" | grep -q "^  300 calls to NtAllocateVirtualMemory"'

# --- diff: same program twice, then the variant ---
"$W" diff "$D/a.wmt" "$D/b.wmt" > "$D/diff-ab.out" 2>&1; rc=$?
check "diff of two runs with ASLR: exit 0, 'same'" '[ $rc -eq 0 ] && grep -q "^same: 0 differences" "$D/diff-ab.out"'
[ $rc -eq 0 ] || cat "$D/diff-ab.out"
"$W" diff --exact "$D/a.wmt" "$D/c.wmt" > "$D/diff-ac.out" 2>&1; rc=$?
check "diff with the switch: exit 1" '[ $rc -eq 1 ]'
check "diff with the switch: exactly one difference" 'grep -q "^different: 1 difference$" "$D/diff-ac.out"'
check "diff names the changed VirtualProtect (PAGE_READONLY -> PAGE_EXECUTE_READ)" \
    'grep -q "A call.*NtProtectVirtualMemory(.*protect=PAGE_READONLY" "$D/diff-ac.out" && grep -q "B call.*NtProtectVirtualMemory(.*protect=PAGE_EXECUTE_READ" "$D/diff-ac.out"'
check "diff shows both stacks down to the program's main" '[ $(grep -c "cli_target.exe!main+" "$D/diff-ac.out") -eq 2 ]'
"$W" diff --exact --ignore-field protect "$D/a.wmt" "$D/c.wmt" > /dev/null 2>&1; rc=$?
check "diff --ignore-field protect: the variant is the same" '[ $rc -eq 0 ]'
"$W" diff --ignore-api NtProtectVirtualMemory "$D/a.wmt" "$D/c.wmt" > /dev/null 2>&1; rc=$?
check "diff --ignore-api NtProtectVirtualMemory: the variant is the same" '[ $rc -eq 0 ]'
"$W" diff --exact --only-from cli_target.exe "$D/a.wmt" "$D/c.wmt" > "$D/diff-only.out" 2>&1; rc=$?
check "diff --only-from cli_target.exe: still exactly the one difference" '[ $rc -eq 1 ] && grep -q "^different: 1 difference$" "$D/diff-only.out"'
check "diff writes addresses relative to their allocation" 'grep -q "base=alloc T0#[0-9]*+0x1000" "$D/diff-ac.out"'
"$W" diff "$D/a.wmt" "$D/c.wmt" > "$D/diff-ac-beh.out" 2>&1; rc=$?
check "diff (by behaviour) with the switch: exit 1, the one protection change" \
    '[ $rc -eq 1 ] && grep -q "^different: 1 difference$" "$D/diff-ac-beh.out" && grep -q "\[protection\] cli_target.exe!main: new request at this site: protect=PAGE_EXECUTE_READ" "$D/diff-ac-beh.out"'

# --- export ---
"$W" export --format chrome -o "$D/a.json" "$D/a.wmt"; rc=$?
check "export chrome exits 0" '[ $rc -eq 0 ]'
check "chrome JSON: valid, nested B/E slices per thread (the stacks), leaves are the calls, counters" 'python3 - "$D/a.json" <<PY
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
be = [e for e in ev if e["ph"] in "BE"]
leaves = [e for e in be if e["ph"] == "B" and "args" in e]
assert len(leaves) > 100, len(leaves)
assert any(e["name"] == "NtProtectVirtualMemory" and e["args"].get("called_as") == "VirtualProtect" for e in leaves)
assert any(e["args"]["args"].get("protect") == "PAGE_READONLY" for e in leaves)
open_ = {}
for e in be:   # every E closes the innermost open slice of its thread, time never goes back
    st = open_.setdefault(e["tid"], [])
    if e["ph"] == "B":
        assert not st or e["ts"] >= st[-1][1], e
        st.append((e["name"], e["ts"]))
    else:
        n, t0 = st.pop()
        assert n == e["name"] and e["ts"] >= t0, (n, e)
assert all(not st for st in open_.values())
assert any(e["name"] == "cli_target.exe!main" for e in be)
assert any(e["ph"] == "C" and e["args"]["committed"] > 0 for e in ev)
PY'
"$W" export --format folded "$D/a.wmt" > "$D/a.folded"; rc=$?
check "export folded: exit 0, 'frames;...;API count' lines, frames by function (no +0x)" \
    '[ $rc -eq 0 ] && grep -q "^cli_target.exe;.*;cli_target.exe!main;kernelbase.dll!VirtualAlloc;ntdll.dll!NtAllocateVirtualMemory;NtAllocateVirtualMemory [0-9][0-9]*$" "$D/a.folded"'
"$W" export --format jsonl "$D/a.wmt" > "$D/a.jsonl"; rc=$?
check "export jsonl: every line is JSON, call count matches the report" 'python3 - "$D/a.jsonl" "$D/report.out" <<PY
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
calls = [l for l in lines if l["type"] == "call"]
n = int(re.search(r"calls +(\d+) in", open(sys.argv[2]).read()).group(1))
assert len(calls) == n, (len(calls), n)
assert lines[-1]["type"] == "summary" and lines[-1]["cut"] == ""
assert any(c["api"] == "NtFreeVirtualMemory" and c["failed"] for c in calls)
PY'

# --- damaged traces: clear errors, the readable part still reported, no crash (ASan) ---
size=$(stat -c %s "$D/a.wmt")
head -c $((size - 300)) "$D/a.wmt" > "$D/cut.wmt"
"$W" report "$D/cut.wmt" > "$D/cut.out" 2> "$D/cut.err"; rc=$?
check "cut trace: report exits 1 and says how much was readable" \
    '[ $rc -eq 1 ] && grep -q "trace cut at byte" "$D/cut.err" && grep -q "readable" "$D/cut.err"'
check "cut trace: the calls of the chunks before the cut are still reported" \
    'grep -q "WARNING" "$D/cut.out" && grep -Eq "^  NtAllocateVirtualMemory +[1-9]" "$D/cut.out"'
"$W" export --format chrome -o "$D/cut.json" "$D/cut.wmt" 2>/dev/null; rc=$?
check "cut trace: chrome export is still valid JSON (exit 1)" '[ $rc -eq 1 ] && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$D/cut.json"'
python3 - "$D/a.wmt" "$D/flip.wmt" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0x5a
open(sys.argv[2], "wb").write(b)
PY
"$W" report "$D/flip.wmt" > "$D/flip.out" 2> "$D/flip.err"; rc=$?
check "flipped byte: report exits 1 naming the CRC, partial report printed" \
    '[ $rc -eq 1 ] && grep -q "CRC" "$D/flip.err" && grep -q "Calls per API" "$D/flip.out"'
: > "$D/empty.wmt"
"$W" report "$D/empty.wmt" > /dev/null 2> "$D/empty.err"; rc=$?
check "empty file: exit 2, 'empty file'" '[ $rc -eq 2 ] && grep -q "empty file" "$D/empty.err"'
"$W" report "$T" > /dev/null 2> "$D/foreign.err"; rc=$?
check "not a trace (a PE file): exit 2, 'not a winmem trace'" '[ $rc -eq 2 ] && grep -q "not a winmem trace" "$D/foreign.err"'
"$W" diff "$D/a.wmt" "$D/empty.wmt" > /dev/null 2>&1; rc=$?
check "diff against an empty file: exit 2" '[ $rc -eq 2 ]'
"$W" diff "$D/a.wmt" "$D/cut.wmt" > /dev/null 2>&1; rc=$?
check "diff against a cut trace: exit 2 (readable part compared)" '[ $rc -eq 2 ]'

# --- a program killed with SIGKILL while recording: its trace is still readable ---
flag="$D/never"
rm -f "$flag"
timeout 120 "$W" run -o "$D/killed.wmt" --no-summary -- wine "$T" --hold "Z:$(echo "$PWD/$flag" | tr / '\\')" > "$D/killed.out" 2>&1 &
runner=$!
i=0
while ! grep -q region= "$D/killed.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5   # the shim writes a thread's chunk after 100 ms
kill -9 $(pgrep -n -x cli_target.exe) 2>/dev/null
wait $runner; rc=$?
check "winmem run reports the SIGKILL as 128+9" '[ $rc -eq 137 ]'
"$W" report "$D/killed.wmt" > "$D/killed-report.out" 2>&1; rc=$?
check "killed program: its trace reads, says it did not exit normally, has its calls" \
    '[ $rc -le 1 ] && grep -q "no END record" "$D/killed-report.out" && grep -Eq "^  NtProtectVirtualMemory +[1-9]" "$D/killed-report.out"'

# --- check mode ---
timeout 180 "$W" run --mode check -o "$D/check.wmt" --no-summary -- wine "$T" > /dev/null 2>&1; rc=$?
"$W" report "$D/check.wmt" > "$D/check.out" 2>&1
check "check mode: recorded and reported as such" '[ $rc -eq 0 ] && grep -q "mode check" "$D/check.out" && grep -Eq "Check(-| )mode" "$D/check.out"'

# --- a native program on winmem's API (the shim's native door, ELF stacks) ---
N=$B/tests/programs/cli_native
if [ -x "$N" ]; then
    "$W" run -o "$D/n1.wmt" --no-summary -- "$N" > /dev/null 2>&1; rc1=$?
    "$W" run -o "$D/n2.wmt" --no-summary -- "$N" > /dev/null 2>&1; rc2=$?
    "$W" report "$D/n1.wmt" > "$D/native.out" 2>&1
    check "native program: recorded through the native door" '[ $rc1 -eq 0 ] && grep -Eq "^  VirtualAlloc +40 " "$D/native.out"'
    check "native program: ELF frames named (cli_native!reserve_and_commit, libc)" \
        'grep -q "cli_native!reserve_and_commit+0x" "$D/native.out" && grep -q "libc.so.6!__libc_start_main+0x" "$D/native.out"'
    check "native program: frames carry source lines from DWARF (cli_native.c:N)" 'grep -q "cli_native!main+0x[0-9a-f]* (cli_native.c:[0-9]*)" "$D/native.out"'
    check "native program: ERROR_INVALID_ADDRESS counted" 'grep -q "VirtualFree .*ERROR_INVALID_ADDRESS (487)" "$D/native.out"'
    ln -sf "$PWD/$N" "$D/alias"
    "$W" run -o "$D/alias.wmt" --no-summary -- "$D/alias" > "$D/alias.out" 2>&1; rc=$?
    check "winmem run through a symlink records the real executable (--only from realpath)" '[ $rc -eq 0 ] && [ -s "$D/alias.wmt" ]'
    "$W" diff "$D/n1.wmt" "$D/n2.wmt" > "$D/native-diff.out" 2>&1; rc=$?
    check "native program twice (mmap addresses randomised): diff says same" '[ $rc -eq 0 ]'
    [ $rc -eq 0 ] || head -20 "$D/native-diff.out"
    "$W" diff --strict-addresses "$D/n1.wmt" "$D/n2.wmt" > /dev/null 2>&1; rc=$?
    check "... while comparing raw addresses would see the randomisation (exit 1)" '[ $rc -eq 1 ]'
else
    bad "missing $N (make check-e2e builds it)"
fi

# --- a native program: the exit status is passed through ---
"$W" run -o "$D/native.wmt" --no-summary -- sh -c 'exit 3' > /dev/null 2>&1; rc=$?
check "winmem run passes a native program's exit status (3)" '[ $rc -eq 3 ]'

wineserver -k 2>/dev/null
verdict cli_wine
