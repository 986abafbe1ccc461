#!/bin/sh
# The recording path against hosts that are hard on it (issues 12 and 14):
# the header always comes first; a program that closes or replaces the
# trace's descriptor keeps its own files intact and the trace says why it
# stopped; a tight RLIMIT_NOFILE costs the program nothing; a full disk and
# a size limit are reported as such; a killed or hung program loses no
# record; `winmem run` hands the program an unchanged environment and
# reports exactly this run's traces, warns when Wine ran another program
# than the one named, and records a winelib program started through its
# launcher script; reused thread ids stay apart.
. tests/programs/shim_common.sh
work_in_out
rep() { "$W" report "$1" 2>&1; }

# ---- A: 16 threads start at once, no stacks: the file starts with its header.
bad=0
i=0
while [ $i -lt 300 ]; do
    WINMEM_STACK=0 WINMEM_OUTPUT="$OUT/a-$i.trace" LD_PRELOAD="$SHIM" $H burst 16 || bad=$((bad + 1))
    [ "$(head -c 8 "a-$i.trace" 2>/dev/null)" = WMTRACE1 ] || bad=$((bad + 1))
    $DUMP "a-$i.trace" | grep -q "^end reason=exit calls=16 " || bad=$((bad + 1))
    rm -f "a-$i.trace"
    i=$((i + 1))
done
check "16 threads at once, 300 runs: every trace starts with its header and holds 16 calls ($bad bad)" [ $bad = 0 ]

# ---- B: descriptors.
$H closeall "$OUT/plain.dat"
WINMEM_OUTPUT="$OUT/ca.trace" LD_PRELOAD="$SHIM" $H closeall "$OUT/shim.dat" 2>ca.err; rc=$?
check "closeall: the program exits 0 under the shim ($rc)" [ $rc = 0 ]
cat plain.dat.* > plain.all; cat shim.dat.* > shim.all
check "closeall: its 8 data files are byte-identical to a run without the shim" cmp -s plain.all shim.all
rep ca.trace > ca.rep
check "closeall: the report says the descriptor was taken away and the program exited" \
    grep -q "the program exited normally, but could not write its END record; recording stopped early: the program closed or replaced the trace's descriptor" ca.rep
# calls: VirtualQuery lines' counts; lost: the WARNING's count. Together
# they must be every call the program made: nothing vanishes uncounted.
calls_lost() {
    c=$(sed -n 's/^  calls *\([0-9]*\) in.*/\1/p' "$1")
    l=$(sed -n 's/.*WARNING *\([0-9]*\) records lost.*/\1/p' "$1")
    echo $((c + ${l:-0}))
}
check "closeall: recorded + counted lost = the 3400 calls made ($(calls_lost ca.rep))" [ "$(calls_lost ca.rep)" = 3400 ]
check "closeall: one line on stderr says recording stopped and why" grep -q "recording stopped: the program closed or replaced the trace's descriptor" ca.err

WINMEM_OUTPUT="$OUT/d2.trace" LD_PRELOAD="$SHIM" $H dup2 25000 2>d2.err; rc=$?
check "dup2 over the trace: the program exits 0 ($rc)" [ $rc = 0 ]
rep d2.trace > d2.rep
check "dup2: the report says the descriptor was replaced, not that the program was killed" \
    sh -c "grep -q 'recording stopped early: the program closed or replaced' d2.rep && ! grep -qi killed d2.rep"
check "dup2: recorded + counted lost = the 25010 calls made ($(calls_lost d2.rep))" [ "$(calls_lost d2.rep)" = 25010 ]

# The shim's descriptors, counted while the program sleeps: those a run
# with the shim has and a run without has not. They sit at or above the
# soft limit when it can be raised for the instant of the dup, else in its
# top 64 (soft == hard without CAP_SYS_RESOURCE).
fds() {
    "$@" > fd.out &
    pid=$!
    n=0; while ! grep -q ready fd.out 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    ls /proc/$pid/fd | sort
    kill -9 $pid; wait $pid 2>/dev/null
}
fds $H calls 5 > fd-plain.txt
WINMEM_OUTPUT="$OUT/fd-%p.trace" LD_PRELOAD="$SHIM" fds $H calls 5 > fd-shim.txt
soft=$(ulimit -Sn)
shimfds=$(comm -13 fd-plain.txt fd-shim.txt | tr '\n' ' ')
mine=$(comm -13 fd-plain.txt fd-shim.txt | wc -l)
high=$(comm -13 fd-plain.txt fd-shim.txt | awk -v s=$soft '$1 >= s - 64' | wc -l)
check "the shim holds $mine descriptors ($shimfds: trace, .live, libunwind's pipe)" [ "$mine" = 4 ]
check "... all of them at the top of or above the soft limit $soft ($high)" [ "$high" = 4 ]
check "... and it took none the program had ($(comm -23 fd-plain.txt fd-shim.txt | wc -l) gone)" [ -z "$(comm -23 fd-plain.txt fd-shim.txt)" ]

# A tight limit: soft 8 (hard higher: the shim's descriptors go above 8),
# and soft = hard = 8 (no number the program could not want: it declines).
plain=$(sh -c "ulimit -Sn 8; $H nofile")
shim=$(sh -c "ulimit -Sn 8; WINMEM_OUTPUT='$OUT/nf-%p.trace' LD_PRELOAD='$SHIM' $H nofile")
check "soft RLIMIT_NOFILE=8: the program opens as many files as without the shim ($plain / $shim)" [ "$plain" = "$shim" ]
check "... and is recorded" sh -c "$DUMP nf-*.trace | grep -q '^end reason=exit calls=1 '"
plain=$(sh -c "ulimit -n 8; $H nofile")
shim=$(sh -c "ulimit -n 8; WINMEM_OUTPUT='$OUT/nh-%p.trace' LD_PRELOAD='$SHIM' $H nofile" 2>nh.err)
if grep -q "cannot be raised" nh.err; then
    check "RLIMIT_NOFILE=8 (soft and hard): the program opens as many files as without the shim ($plain / $shim)" [ "$plain" = "$shim" ]
    check "... the shim declines to record, says so, and writes nothing" sh -c "grep -q 'RLIMIT_NOFILE is 8 and cannot be raised.*recording off' nh.err && ! ls nh-* >/dev/null 2>&1"
else   # CAP_SYS_RESOURCE: it can raise the hard limit for the instant
    check "RLIMIT_NOFILE=8 (soft and hard, CAP_SYS_RESOURCE): the program opens as many files ($plain / $shim)" [ "$plain" = "$shim" ]
fi
mkdir -p "$OUT/nobody" && chmod 777 "$OUT/nobody"
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    plain=$(setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "ulimit -n 8; $H nofile")
    shim=$(setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \
        "ulimit -n 8; WINMEM_OUTPUT='$OUT/nobody/nf-%p.trace' LD_PRELOAD='$SHIM' $H nofile" 2>nobody.err)
    check "RLIMIT_NOFILE=8, not root: the program opens as many files as without the shim ($plain / $shim)" [ "$plain" = "$shim" ]
    check "... the shim declines to record and says so" grep -q "RLIMIT_NOFILE is 8 and cannot be raised.*recording off" nobody.err
fi

# ---- C: a 200 KiB disk fills up; a size limit.
unshare -m sh -c "mkdir -p '$OUT/small' && mount -t tmpfs -o size=200k tmpfs '$OUT/small' &&
    WINMEM_OUTPUT='$OUT/small/full.trace' LD_PRELOAD='$SHIM' $P/shim_native threads 8 > full.out 2>full.err; echo \$? > full.rc;
    cp '$OUT/small/full.trace' '$OUT/full.trace'; ls '$OUT/small' > full.ls"
check "disk full: the program exits 0" [ "$(cat full.rc)" = 0 ]
rep full.trace > full.rep
check "disk full: the report says the program exited and the disk was full" \
    grep -q "the program exited normally; recording stopped early: the disk was full" full.rep
check "disk full: the trace is readable to its end (no torn chunk)" sh -c "! grep -q 'WARNING *trace cut' full.rep"

"$W" run --max-size 64K -o "$OUT/ms.wmt" -- $P/shim_native threads 8 > ms.out 2>ms.err
sz=$(stat -c %s ms.wmt)
check "--max-size 64K: the trace stays under it ($sz bytes)" [ "$sz" -le 65536 ]
check "--max-size: run's summary says the size limit stopped it" grep -q "recording stopped early: the trace reached its size limit" ms.err
check "--max-size: the lost calls are counted" grep -q "WARNING *[1-9][0-9]* records lost" ms.err

# ---- G: memory per thread is bounded (libunwind's 256 KiB frame cache for
# at most 64 live threads; the shim's own buffers are touched as they fill).
r0=$($H hold 1000 | sed -n 's/^rss //p')
r1=$(WINMEM_OUTPUT="$OUT/mem-%p.trace" LD_PRELOAD="$SHIM" $H hold 1000 | sed -n 's/^rss //p')
check "1,000 live threads with stacks: the shim adds $(( (r1 - r0) / 1024 )) MB (bound: 64 MB)" [ $((r1 - r0)) -lt 65536 ]
check "... and records all 1,000 calls" sh -c "$DUMP mem-*.trace | grep -q '^end reason=exit calls=1000 '"

# ---- D: kill -9 of an idle program, native and under Wine; SIGTERM to run.
"$W" run -o "$OUT/k9.wmt" -- $H calls 51 > k9.out 2>k9.err &
rp=$!
n=0; while ! grep -q ready k9.out 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
sleep 1
kill -9 $(pgrep -P $rp); wait $rp
check "native, kill -9 after 51 calls: run reports all 51" grep -q "^  VirtualQuery  *51 " k9.err
check "... and says the program died without END, its buffers salvaged" grep -q "no END record from the program: it was killed or died; its unwritten records were saved" k9.err

wine_prefix
for how in kill term; do
    # Plain Wine 10.0 (Debian 13) aborts at start-up ("free(): invalid
    # pointer", status 134) whenever TMPDIR is set, shim or not: not for Wine.
    env -u TMPDIR "$W" run -o "$OUT/w$how.wmt" -- wine $P/rec_idle.exe calls 51 > w$how.out 2>w$how.err &
    rp=$!
    n=0; while ! grep -q ready w$how.out 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    sleep 1
    if [ $how = kill ]; then kill -9 $(pgrep -P $rp); else kill -TERM $rp; fi
    wait $rp
    got=$($DUMP w$how.wmt | grep -c "^call api=NtQueryVirtualMemory .*frames=.*rec_idle.exe+")
    check "Wine program, $how after 51 VirtualQuery calls: all 51 are in the trace ($got)" [ "$got" = 51 ]
done
check "SIGTERM to run: the program was stopped and run reported it" grep -q "rec_idle.exe exited with status" wterm.err

# ---- E: the environment the program sees; exactly this run's traces.
env -u TMPDIR wine $P/rec_idle.exe env 2>/dev/null | tr -d '\r' | sort > wenv-plain.txt
env -u TMPDIR "$W" run --no-summary -- wine $P/rec_idle.exe env 2>/dev/null | tr -d '\r' | sort > wenv-run.txt
check "Windows environment block: the program printed it ($(wc -l < wenv-plain.txt) lines)" [ -s wenv-plain.txt ]
check "Windows environment block: run adds no WINMEM_* variable" sh -c "! diff wenv-plain.txt wenv-run.txt | grep -q '^> WINMEM_'"
d=$(diff wenv-plain.txt wenv-run.txt | grep '^[<>]' | grep -v '^> LD_PRELOAD=' | wc -l)
check "... nothing but LD_PRELOAD differs from plain Wine ($d other lines)" [ "$d" = 0 ]
$H env | grep -v '^_=' | sort > nenv-plain.txt
"$W" run -- $H env 2>/dev/null | grep -v '^_=' | sort > nenv-run.txt
d=$(diff nenv-plain.txt nenv-run.txt | grep '^[<>]' | grep -v '^> LD_PRELOAD=' | wc -l)
check "native environ: only LD_PRELOAD added ($d other lines differ)" [ "$d" = 0 ]

"$W" run -o "$OUT/re.wmt" -- $H burst 1 > /dev/null 2>re1.err
"$W" run -o "$OUT/re.wmt" -- $H burst 3 > /dev/null 2>re2.err
check "rerun with the same -o: run says the old trace moved aside" grep -q "re.wmt existed: moved to .*re.wmt.old" re2.err
check "... and reports the new trace (3 calls)" grep -q "calls     3 in 3 threads" re2.err
check "... which is the file named re.wmt" sh -c "$DUMP re.wmt | grep -q '^end reason=exit calls=3 '"
"$W" diff re.wmt.old re.wmt > re.diff 2>&1
check "winmem diff old new compares against the new trace (B has 3 calls)" grep -q "B = re.wmt (3 calls, 3 threads)" re.diff
touch -d '1 minute' "$OUT/stray.1.wmt"
"$W" run -o "$OUT/stray.%p.wmt" -- $H burst 1 > /dev/null 2>st.err
check "a stray file matching the pattern with a fresh mtime is not reported" sh -c "! grep -q 'stray.1.wmt' st.err && grep -q 'trace: .*stray.[0-9]*.wmt' st.err"

# A program that changes directory before its first call: the trace is
# where -o said (relative to where run started), and run reports it.
mkdir -p elsewhere
"$W" run -o cd.wmt -- $H chdir "$OUT/elsewhere" 5 > /dev/null 2>cd.err
check "chdir before the first call: the trace is ./cd.wmt, with its 5 calls, and run names it" \
    sh -c "$DUMP cd.wmt | grep -q '^end reason=exit calls=5 ' && grep -q 'trace: cd.wmt' cd.err && ! ls elsewhere | grep -q ."

# Glob characters in -o are a file name, not a pattern (run reads its manifest).
touch 'g[1]x.wmt.old-stray' 'g1x.wmt'
"$W" run -o 'g[1]*.wmt' -- $H burst 2 > /dev/null 2>g.err
check "-o 'g[1]*.wmt': the trace is that very file, and run names it (not g1x.wmt)" \
    sh -c "$DUMP 'g[1]*.wmt' | grep -q '^end reason=exit calls=2 ' && grep -q 'trace: g\[1\]\*.wmt$' g.err && [ ! -s g1x.wmt ]"

# The name and .1 to .99 all taken: the shim records nothing, says so once,
# and touches none of them; the program runs as without it.
mkdir -p taken && touch taken/t.trace && i=1 && while [ $i -le 99 ]; do touch taken/t.trace.$i; i=$((i + 1)); done
WINMEM_OUTPUT="$OUT/taken/t.trace" LD_PRELOAD="$SHIM" $H burst 2 > /dev/null 2>taken.err; rc=$?
check "name and .1-.99 taken: the program exits 0 ($rc), one line says recording is off" \
    sh -c "[ $rc = 0 ] && [ \$(grep -c 'and .1 to .99 exist: recording off' taken.err) = 1 ]"
check "... and every one of the 100 files is still empty, none added" \
    sh -c "[ \$(ls taken | wc -l) = 100 ] && [ -z \"\$(find taken -type f -size +0)\" ]"

# The wrong program: Wine runs its start.exe to report an .exe it cannot
# find, under the name asked for. run says so; a real program gets no warning.
env -u TMPDIR "$W" run --no-summary -- wine nosuch.exe > /dev/null 2>ns.err
check "wine nosuch.exe: run warns that Wine ran start.exe, not nosuch.exe" \
    grep -q "warning: Wine did not run nosuch.exe: the process recorded ran .*start.exe" ns.err
env -u TMPDIR "$W" run --no-summary -- wine $P/rec_idle.exe env > /dev/null 2>ok.err
check "wine rec_idle.exe: no such warning" sh -c "grep -q 'trace:' ok.err && ! grep -q warning ok.err"
# A winelib program started through the launcher script winegcc writes
# (./prog.exe runs `wine prog.exe.so`): recorded as prog.exe, its frames
# named from its .so with source lines.
(cd $P && env -u TMPDIR "$W" run -o "$OUT/wl.wmt" -- ./shim_probe_wl.exe > /dev/null 2>"$OUT/wl.err"); rc=$?
check "winelib launcher: run records it (exit $rc)" sh -c "[ $rc = 0 ] && grep -q 'trace: .*wl.wmt' wl.err"
check "... under the program's name, shim_probe_wl.exe" sh -c "$DUMP wl.wmt | grep -q '^header .*prog=shim_probe_wl.exe$'"
check "... its calls' call site is its own function with its source line" \
    sh -c "'$W' report wl.wmt | grep -q ' all (shim_probe.c:[0-9]*)$'"
check "... and no frame is named after the launcher script" sh -c "! '$W' report --frames 16 wl.wmt | grep -q 'shim_probe_wl.exe+0x'"

# ---- F: reused thread ids (a pid namespace where ns_last_pid hands the
# same tid to the next thread): calls of two threads never merge.
unshare --pid --fork --mount-proc sh -c "WINMEM_OUTPUT='$OUT/tid.trace' LD_PRELOAD='$SHIM' $H tidreuse 50" > tid.out 2>&1
check "tid reuse: 50 pairs of threads really shared their tid ($(cat tid.out))" grep -q " reused 50$" tid.out
th=$(sed -n 's/^threads \([0-9]*\) .*/\1/p' tid.out)
rep tid.trace > tid.rep
check "tid reuse: the report shows $((2 * th)) calls in $th threads" grep -q "calls     $((2 * th)) in $th threads" tid.rep

finish
