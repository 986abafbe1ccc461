#!/bin/sh
# `winmem run`'s writer (cli/run_writer.c): it appends the buffers the
# program fills, so the program's threads do not; and nothing depends on
# it. A run with the writer records exactly what a run without it does; a
# program whose winmem run is killed, or stopped, still ends with a whole
# trace; a program killed while the writer holds its buffers loses none.
. tests/programs/shim_common.sh
work_in_out
# end_calls TRACE: the END record's call count, "" without END
end_calls() { $DUMP "$1" 2>/dev/null | sed -n 's/^end reason=exit calls=\([0-9]*\) lost=0$/\1/p'; }
# pid_of_child RUNPID: the program winmem run started
pid_of_child() { n=0; while [ -z "$(pgrep -P "$1")" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done; pgrep -P "$1"; }
# wait_gone PID: it ended within 60 s (a zombie has: its parent may be stopped)
running() { [ -e /proc/$1 ] && ! grep -q '^State:.*[ZX]' /proc/$1/status 2>/dev/null; }
wait_gone() { n=0; while running "$1" && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done; ! running "$1"; }

# ---- the writer appends, the program does not; same records either way.
"$W" run --no-summary -o "$OUT/w.wmt" -- $H spin 1 200000 > w.out 2>w.err
"$W" run --no-writer --no-summary -o "$OUT/nw.wmt" -- $H spin 1 200000 > nw.out 2>nw.err
check "with the writer: END says 200000 calls, none lost" [ "$(end_calls w.wmt)" = 200000 ]
check "without it (--no-writer): the same" [ "$(end_calls nw.wmt)" = 200000 ]
size=$(stat -c %s w.wmt); own=$(sed -n 's/^wchar //p' w.out)
check "with the writer the program wrote $own of the trace's $size bytes itself (under 90%)" \
    [ -n "$own" ] && [ "$own" -lt $((size * 9 / 10)) ]
own=$(sed -n 's/^wchar //p' nw.out); size=$(stat -c %s nw.wmt)
check "without it the program wrote the trace itself ($own of $size bytes)" [ -n "$own" ] && [ "$own" -ge "$size" ]
"$W" report w.wmt > w.rep 2>&1
check "the report finds no call missing" sh -c "! grep -q '[1-9][0-9]* call numbers missing' w.rep"
check "no .live is left behind" [ ! -e w.wmt.live ]
check "run's directory (the writer's page) is removed" sh -c "[ -z \"\$(ls -A '$TMPDIR')\" ]"

# ---- 4 threads, more than one writer can keep up with: the threads append the rest.
"$W" run --no-summary -o "$OUT/w4.wmt" -- $H spin 4 100000 > w4.out 2>w4.err
check "4 busy threads: END says 400000 calls, none lost" [ "$(end_calls w4.wmt)" = 400000 ]

# ---- kill -9 of winmem run (and so of its writer) while the program records.
"$W" run --no-summary -o "$OUT/kw.wmt" -- $H spin 2 300000 2000 > kw.out 2>kw.err &
rp=$!
cp=$(pid_of_child $rp)
sleep 0.3
kill -9 $rp; wait $rp 2>/dev/null
check "writer killed: the program goes on and ends" wait_gone "$cp"
check "... with a whole trace: END says 600000 calls, none lost" [ "$(end_calls kw.wmt)" = 600000 ]

# ---- winmem run stopped (SIGSTOP) while the program records: the program
# does not wait for it (not even when run was stopped inside an append,
# holding the file); run, continued, has every call that was not counted
# lost. Four times: where run stops is a matter of timing.
# all_calls TRACE: the calls in it plus those its LOST records count
all_calls() { c=$($DUMP "$1" | grep -c '^call '); l=$($DUMP "$1" | sed -n 's/^lost reason=[0-9]* count=//p' | awk '{s+=$1} END {print s+0}')
              echo $((c + l)); }
bad=0 slow=0
for i in 1 2 3 4; do
    "$W" run --no-summary -o "$OUT/st$i.wmt" -- $H spin 2 300000 2000 > st$i.out 2>st$i.err &
    rp=$!
    cp=$(pid_of_child $rp)
    sleep 0.$((i + 1))
    kill -STOP $rp
    wait_gone "$cp" || slow=$((slow + 1))
    kill -CONT $rp; wait $rp
    [ "$(all_calls st$i.wmt)" = 600000 ] || bad=$((bad + 1))
    grep -q "recording stopped" st$i.err && bad=$((bad + 1))
done
check "writer stopped, 4 times: the program still ends ($slow did not)" [ $slow = 0 ]
check "... and every one of its 600000 calls is in the trace or counted lost, recording never stopped ($bad bad)" [ $bad = 0 ]
# The same with run stopped while it holds the trace's lock: it holds it
# 30 ms after each append here (WINMEM_TEST_WRITER_HOLD_MS), so it is.
WINMEM_TEST_WRITER_HOLD_MS=30 "$W" run --no-summary -o "$OUT/sl.wmt" -- $H spin 2 300000 2000 > sl.out 2>sl.err &
rp=$!
cp=$(pid_of_child $rp)
sleep 0.5
kill -STOP $rp
check "writer stopped holding the file: the program still ends" wait_gone "$cp"
kill -CONT $rp; wait $rp
n=$(all_calls sl.wmt)
check "... every one of its 600000 calls is in the trace or counted lost ($n)" [ "$n" = 600000 ]
check "... and recording never stopped" sh -c "! grep -q 'recording stopped' sl.err"

# ---- kill -9 of the busy program: what the writer held and what the
# threads were filling both reach the trace, every call up to the last.
"$W" run -o "$OUT/kp.wmt" -- $H spin 2 1000000 2000 > kp.out 2>kp.err &
rp=$!
cp=$(pid_of_child $rp)
sleep 0.5
kill -9 $cp; wait $rp
check "program killed while busy: run salvages its buffers" grep -q "its unwritten records were saved" kp.err
"$W" report kp.wmt > kp.rep 2>&1
n=$($DUMP kp.wmt | grep -c '^call ')
check "... $n calls recorded, and no call is missing between them" sh -c "[ $n -gt 1000 ] && ! grep -q '[1-9][0-9]* call numbers missing' kp.rep"

finish
