#!/bin/sh
# Check mode's second oracle (shim/check.c, shim/model.c): Wine's answers
# are compared with what the calls through its door set.
# - a program that allocates, commits and queries normally: no divergence;
# - the same with the model skewed on purpose (WINMEM_TEST_MODEL_SKEW=1:
#   commits recorded PAGE_EXECUTE_READ): a "model" divergence, Wine saying
#   committed PAGE_READWRITE where the calls (as skewed) said 0x20 — the
#   oracle can fire;
# - native mode on the conformance programs and the thread stress runs in
#   the matrix (make check-conformance), not here.
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"

WINMEM_MODE=check WINMEM_OUTPUT="$OUT/ok-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe > ok.out 2>/dev/null
t=$(one_trace "ok-*.trace")
[ -n "$t" ] && $DUMP "$t" > ok.txt
check "check mode, model fed: the program's allocations were recorded" grep -q "^call api=NtAllocateVirtualMemory " ok.txt
check "check mode, model fed: no divergence" sh -c "! grep -q '^div' ok.txt"

WINMEM_TEST_MODEL_SKEW=1 WINMEM_MODE=check WINMEM_OUTPUT="$OUT/sk-%p.trace" LD_PRELOAD="$SHIM" \
    timeout 120 wine $P/shim_probe.exe > sk.out 2>/dev/null; rc=$?
t=$(one_trace "sk-*.trace")
[ -n "$t" ] && $DUMP "$t" > sk.txt
check "skewed model: the program still runs (rc $rc)" [ $rc = 0 ]
check "skewed model: Wine's committed PAGE_READWRITE contradicts the calls as recorded (0x20)" \
    grep -q "^div api=NtQueryVirtualMemory kind=model .*wine_state=0x1000 wine_protect=0x4 .*native_state=0x1000 native_protect=0x20" sk.txt
check "skewed model: output unchanged (check mode changes no answer)" cmp -s ok.out sk.out
finish
