#!/bin/sh
# The shim under real Wine 8.0: every hooked Nt* call of a PE and a winelib
# program is recorded with the right arguments, results and a stack that
# reaches the program; the program behaves exactly as without the shim;
# threads, a child process, a bad pointer, kill -9, an ntdll it refuses.
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"

APIS="NtQueryVirtualMemory NtAllocateVirtualMemory NtAllocateVirtualMemoryEx NtFreeVirtualMemory
NtProtectVirtualMemory NtMapViewOfSection NtMapViewOfSectionEx NtUnmapViewOfSection
NtUnmapViewOfSectionEx NtReadVirtualMemory NtWriteVirtualMemory NtLockVirtualMemory
NtUnlockVirtualMemory NtFlushVirtualMemory"

# addr KEY FILE: the hex address the probe printed as KEY=... (lowercase, no leading zeros)
addr() { tr -d '\r' < "$2" | sed -n "s/^$1=0*\([0-9a-fA-Fx]*\)$/\1/p" | sed 's/^x//; s/^0x//' | tr A-F a-f | head -1; }
hexadd() { printf '%x' $((0x$1 + $2)); }

for kind in pe winelib; do
    # A winelib program is "shim_probe_wl.exe" to Wine and the filter; its
    # frames are in its ELF object, shim_probe_wl.exe.so.
    if [ $kind = pe ]; then prog=$P/shim_probe.exe; name=shim_probe.exe; mod=shim_probe.exe
    else prog=$P/shim_probe_wl.exe.so; name=shim_probe_wl.exe; mod=shim_probe_wl.exe.so; fi
    timeout 120 wine "$prog" > $kind-plain.out 2>/dev/null; rc0=$?
    WINMEM_OUTPUT="$OUT/$kind-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine "$prog" > $kind.out 2>$kind.err; rc1=$?
    check "$kind: exit status unchanged ($rc0 = $rc1)" [ $rc0 = $rc1 ]
    check "$kind: output unchanged" cmp -s $kind-plain.out $kind.out
    check "$kind: xmm6-15 survive a hooked call (ms_abi wrappers)" grep -q "^xmm6-15 preserved yes" $kind.out
    t=$(one_trace "$kind-*.trace")
    check "$kind: exactly one trace file, the program's (not wineserver, services, ...)" [ -n "$t" ]
    [ -n "$t" ] || continue
    $DUMP "$t" > $kind.txt
    check "$kind: header names the program" grep -q "^header .*prog=$name" $kind.txt
    check "$kind: PROCESS record names the image Wine ran ($name)" grep -qi "^process image=.*\\\\$name\(\.so\)\?$" $kind.txt
    check "$kind: trace ends with END" grep -q "^end reason=exit" $kind.txt
    for api in $APIS; do
        check "$kind: $api recorded, returned, stack reaches $mod" \
            grep -q "^call api=$api door=wine .*pending=0 .*frames=.*$mod+" $kind.txt
    done
    a=$(addr alloc $kind.err)
    check "$kind: NtAllocateVirtualMemory(size 0x30000, MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE) -> 0x$a" \
        grep -q "^call api=NtAllocateVirtualMemory .*status=0x0 .*args=0xffffffffffffffff,0x0,0x0,0x30000,0x3000,0x4,.* out=0x$a,0x30000," $kind.txt
    q=$(hexadd "$a" 0x1000)
    check "$kind: VirtualQuery(alloc+0x1000) answer: committed RW private, 0x2f000 bytes" \
        grep -q "^call api=NtQueryVirtualMemory .*args=0xffffffffffffffff,0x$q,0x0,.* out=0x$q,0x$a,0x4,0x2f000,0x1000,0x4,0x20000,0x30 .*frames=.*$mod+" $kind.txt
    r=$(hexadd "$a" 0x2000)
    check "$kind: VirtualProtect(alloc+0x2000, PAGE_READONLY) -> old PAGE_READWRITE" \
        grep -q "^call api=NtProtectVirtualMemory .*status=0x0 .*args=0xffffffffffffffff,0x$r,0x1000,0x2,.* out=0x$r,0x1000,0x4," $kind.txt
    check "$kind: NtReadVirtualMemory read 16 bytes at alloc+0x10" \
        grep -q "^call api=NtReadVirtualMemory .*args=0xffffffffffffffff,0x$(hexadd "$a" 0x10),.*,0x10,.* out=0x10," $kind.txt
    check "$kind: Wine-private query classes pass through" grep -q "^call api=NtQueryVirtualMemory .*args=[^,]*,[^,]*,0x3e8," $kind.txt
done

# 8 threads: each thread's calls are recorded, none lost.
timeout 120 wine $P/shim_probe.exe threads 8 > th-plain.out 2>/dev/null
WINMEM_OUTPUT="$OUT/th-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe threads 8 > th.out 2>/dev/null
check "threads: output unchanged" cmp -s th-plain.out th.out
t=$(one_trace "th-*.trace")
if [ -n "$t" ]; then
    $DUMP "$t" > th.txt
    n=$(grep "^call api=NtAllocateVirtualMemory .*frames=.*shim_probe.exe+" th.txt | sed 's/.* tid=\([0-9]*\) .*/\1/' | sort | uniq -c | awk '$1 >= 100' | wc -l)
    check "threads: 8 threads with 100 recorded allocations each (got $n)" [ "$n" -ge 8 ]
    check "threads: nothing lost" sh -c "! grep -q '^lost' th.txt"
else fail "threads: one trace file"; fi

# A child process (CreateProcess): it gets a trace of its own.
timeout 120 wine $P/shim_probe.exe child > ch-plain.out 2>/dev/null; rc0=$?
WINMEM_OUTPUT="$OUT/ch-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe child > ch.out 2>/dev/null; rc1=$?
check "child: exit status and output unchanged" sh -c "[ $rc0 = $rc1 ] && cmp -s ch-plain.out ch.out"
n=0; for f in ch-*.trace; do $DUMP "$f" | grep -q "^call .*frames=.*shim_probe.exe+" && n=$((n + 1)); done
check "child: parent and child each recorded (traces with program calls: $n)" [ $n -eq 2 ]

# A bad pointer: VirtualQuery into a read-only buffer. Wine aborts the
# system call; the program goes on; the call is in the trace, flagged.
timeout 60 wine $P/shim_probe.exe badptr > bp-plain.out 2>/dev/null
WINMEM_OUTPUT="$OUT/bp-%p.trace" LD_PRELOAD="$SHIM" timeout 60 wine $P/shim_probe.exe badptr > bp.out 2>bp.err; rc=$?
check "badptr: no crash, output unchanged" sh -c "[ $rc = 0 ] && cmp -s bp-plain.out bp.out"
b=$(addr badbuf bp.err)
t=$(one_trace "bp-*.trace")
[ -n "$t" ] && $DUMP "$t" > bp.txt
check "badptr: the call is recorded and marked as aborted by Wine" \
    grep -q "^call api=NtQueryVirtualMemory .*pending=1 aborted=1 .*args=0xffffffffffffffff,0x$b,0x0,0x$b," bp.txt

# kill -9 in the middle: the trace reads up to the cut.
WINMEM_OUTPUT="$OUT/k9-%p.trace" LD_PRELOAD="$SHIM" wine $P/shim_probe.exe forever > /dev/null 2>&1 &
pid=$!
sleep 3; kill -9 $pid; wait $pid 2>/dev/null
t=$(one_trace "k9-*.trace")
if [ -n "$t" ]; then
    $DUMP "$t" > k9.txt; rc=$?
    n=$(grep -c "^call api=NtQueryVirtualMemory .*frames=.*shim_probe.exe+" k9.txt)
    check "kill -9: trace readable, $n calls up to the cut, no END" sh -c "[ $rc = 0 ] && [ $n -gt 100 ] && ! grep -q '^end' k9.txt"
else fail "kill -9: one trace file"; fi
rm -f k9-*.trace

# An ntdll.so the shim does not recognise (simulated): one line, nothing patched.
WINMEM_TEST_CORRUPT_NTDLL=1 WINMEM_OUTPUT="$OUT/bad-%p.trace" LD_PRELOAD="$SHIM" timeout 120 \
    wine $P/shim_probe.exe > bad.out 2>bad.err; rc=$?
check "unknown ntdll: program runs as without the shim" sh -c "[ $rc = 0 ] && cmp -s pe-plain.out bad.out"
check "unknown ntdll: exactly one stderr line says so" [ "$(grep -c 'unrecognised Wine ntdll.so' bad.err)" = 1 ]
check "unknown ntdll: no Wine call recorded" sh -c "! cat bad-*.trace 2>/dev/null | $DUMP /dev/stdin 2>/dev/null | grep -q 'door=wine'"

# WINMEM_ONLY names another program: nothing is recorded.
WINMEM_ONLY=other.exe WINMEM_OUTPUT="$OUT/only-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe > /dev/null 2>&1
check "WINMEM_ONLY=other.exe: no trace file" sh -c "! ls only-*.trace >/dev/null 2>&1"
finish
