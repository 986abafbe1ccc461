#!/bin/sh
# The shim's check and native modes under Wine, and the native door:
# - check mode on a program that allocates and queries normally: no divergence;
# - a winelib program that mprotects a page behind Wine's back: exactly that
#   divergence (Wine: PAGE_READWRITE, kernel: read-only);
# - native mode: basic queries answered by winmem's core, program still works;
# - native door (a Linux program linked with libwinmem): calls recorded with
#   ELF stacks, output unchanged; 8 threads; fork; exec; C++ exceptions;
#   the unix layer; wrong configuration values; a full disk.
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"

# ---- check mode ----
WINMEM_MODE=check WINMEM_OUTPUT="$OUT/ck-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe > ck.out 2>/dev/null
t=$(one_trace "ck-*.trace")
[ -n "$t" ] && $DUMP "$t" > ck.txt
check "check mode: header says check" grep -q "^header .* mode=1 " ck.txt
check "check mode: normal program, no divergence" sh -c "! grep -q '^div' ck.txt"
check "check mode: queries were made" grep -q "^call api=NtQueryVirtualMemory .*frames=.*shim_probe.exe+" ck.txt

WINMEM_MODE=check WINMEM_OUTPUT="$OUT/mp-%p.trace" LD_PRELOAD="$SHIM" timeout 120 \
    wine $P/shim_probe_wl.exe.so mprotect > mp.out 2>mp.err
page=$(tr -d '\r' < mp.err | sed -n 's/^page=0x0*\([0-9a-f]*\)$/\1/p')
t=$(one_trace "mp-*.trace")
[ -n "$t" ] && $DUMP "$t" > mp.txt
check "mprotect behind Wine's back: Wine still says PAGE_READWRITE" grep -q "protect=0x4" mp.out
check "mprotect behind Wine's back: exactly one divergence" [ "$(grep -c '^div' mp.txt)" = 1 ]
check "... at that page: Wine RW committed, kernel read-only" \
    grep -q "^div api=NtQueryVirtualMemory kind=protect .*addr=0x$page wine_state=0x1000 wine_protect=0x4 .*vma_prot=1 kernel_protect=0x2" mp.txt

# ---- native mode ----
WINMEM_MODE=native WINMEM_OUTPUT="$OUT/nm-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe > nm.out 2>/dev/null; rc=$?
t=$(one_trace "nm-*.trace")
[ -n "$t" ] && $DUMP "$t" > nm.txt
check "native mode: program runs (rc $rc)" [ $rc = 0 ]
check "native mode: the program's basic queries were answered by winmem" \
    grep -q "^call api=NtQueryVirtualMemory door=wine .*served=1 .*args=[^,]*,[^,]*,0x0,.*frames=.*shim_probe.exe+" nm.txt
check "native mode: VirtualQuery still reports committed RW" grep -q "^VirtualQuery 48 state=0x1000 protect=0x4" nm.out
check "native mode: Wine-private classes still go to Wine" grep -q "^call api=NtQueryVirtualMemory .*served=0 .*args=[^,]*,[^,]*,0x3e8," nm.txt
# ---- the unix layer under Wine: what VirtualAlloc became ----
WINMEM_UNIX=1 WINMEM_OUTPUT="$OUT/wu-%p.trace" LD_PRELOAD="$SHIM" timeout 120 wine $P/shim_probe.exe > wu.out 2>wu.err; rc=$?
t=$(one_trace "wu-*.trace")
[ -n "$t" ] && $DUMP "$t" > wu.txt
a=$(tr -d '\r' < wu.err | sed -n 's/^alloc=0*\([0-9A-Fa-f]*\)$/\1/p' | tr A-F a-f)
check "unix layer under Wine: program unaffected" sh -c "[ $rc = 0 ] && grep -q 'VirtualFree 1' wu.out"
check "unix layer under Wine: VirtualAlloc's mmap(0x$a, 0x30000, RW) recorded with the Windows caller's stack" \
    grep -q "^call api=mmap door=unix .*args=0x$a,0x30000,0x3,.*frames=.*shim_probe.exe+" wu.txt
timeout 60 wineserver -w >/dev/null 2>&1  # not -k: another test run may share the prefix

# ---- native door ----
N=$P/shim_native
$N > na-plain.out 2>/dev/null; rc0=$?
WINMEM_OUTPUT="$OUT/na-%p.trace" LD_PRELOAD="$SHIM" $N > na.out 2>na.err; rc1=$?
check "native door: exit status and output unchanged" sh -c "[ $rc0 = $rc1 ] && cmp -s na-plain.out na.out"
t=$(one_trace "na-*.trace")
[ -n "$t" ] && $DUMP "$t" > na.txt
a=$(sed -n 's/^alloc=0x\([0-9a-f]*\)$/\1/p' na.err)
for api in VirtualAlloc VirtualQuery VirtualQueryEx NtQueryVirtualMemory VirtualProtect VirtualLock VirtualUnlock QueryWorkingSetEx VirtualFree; do
    check "native door: $api recorded with an ELF stack through main" \
        grep -q "^call api=$api door=native .*served=1 .*frames=shim_native+0x[0-9a-f]*;shim_native+" na.txt
done
check "native door: VirtualAlloc(0x30000, MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE) -> 0x$a" \
    grep -q "^call api=VirtualAlloc .*ret=0x$a .*args=0x0,0x30000,0x3000,0x4," na.txt
check "native door: bad buffer recorded with ERROR_NOACCESS" grep -q "^call api=VirtualQuery .*ret=0x0 .*error=998 .*args=0x$a,0x10,0x30," na.txt

WINMEM_OUTPUT="$OUT/nt-%p.trace" LD_PRELOAD="$SHIM" $N threads 8 > nt.out 2>/dev/null
t=$(one_trace "nt-*.trace")
[ -n "$t" ] && $DUMP "$t" > nt.txt
n=$(grep "^call api=VirtualAlloc " nt.txt | sed 's/.* tid=\([0-9]*\) .*/\1/' | sort | uniq -c | awk '$1 == 100' | wc -l)
check "native door: 8 threads x 100 allocations recorded (threads: $n)" [ "$n" = 8 ]

WINMEM_OUTPUT="$OUT/fk-%p.trace" LD_PRELOAD="$SHIM" $N fork > fk.out 2>/dev/null
n=0; c=0
for f in fk-*.trace; do
    $DUMP "$f" > "$f.txt"
    grep -q "^end reason=exit calls=10 " "$f.txt" && n=$((n + 1))
    grep -q "^header .*flags=0x18" "$f.txt" && c=$((c + 1))
done
check "fork: parent and child each have their own complete trace ($n, child $c)" sh -c "[ $n = 2 ] && [ $c = 1 ]"

WINMEM_OUTPUT="$OUT/ex-%p.trace" LD_PRELOAD="$SHIM" $N exec > ex.out 2>/dev/null
first=$(one_trace "ex-*.trace")
second=$(one_trace "ex-*.trace.1")
check "exec: the first image's trace ends with END(exec)" sh -c "$DUMP '$first' | grep -q '^end reason=exec calls=1 '"
check "exec: the new image (same pid) records into its own file" sh -c "$DUMP '$second' | grep -q '^end reason=exit calls=10 '"

WINMEM_OUTPUT="$OUT/vf-%p.trace" LD_PRELOAD="$SHIM" $N vfork > vf.out 2>/dev/null
check "vfork children (_exit, exec) leave the parent's trace intact" \
    sh -c "[ \$(ls vf-*.trace | wc -l) = 1 ] && $DUMP vf-*.trace | grep -q '^end reason=exit calls=10 '"

$N dlopen > dl-plain.out 2>/dev/null
WINMEM_OUTPUT="$OUT/dl-%p.trace" LD_PRELOAD="$SHIM" $N dlopen > dl.out 2>/dev/null
check "dlopen by bare name still uses the program's RUNPATH" sh -c "grep -q '^dlopen ok' dl-plain.out && cmp -s dl-plain.out dl.out"
check "... and after dlopen/dlclose stacks still resolve" sh -c "$DUMP dl-*.trace | grep -q '^call api=VirtualQuery .*frames=shim_native+'"

WINMEM_OUTPUT="$OUT/cx-%p.trace" LD_PRELOAD="$SHIM" $P/shim_cxx > cx.out 2>&1; rc=$?
check "C++ exceptions unwind under the preload (libunwind loaded RTLD_LOCAL)" sh -c "[ $rc = 0 ] && grep -q 'caught 100 backtrace ok' cx.out"
check "... and the calls between them were recorded with stacks" sh -c "$DUMP cx-*.trace | grep -c '^call api=VirtualQuery .*frames=shim_cxx+' | grep -qx 100"

WINMEM_UNIX=1 WINMEM_OUTPUT="$OUT/ux-%p.trace" LD_PRELOAD="$SHIM" $N > ux.out 2>/dev/null
t=$(one_trace "ux-*.trace")
[ -n "$t" ] && $DUMP "$t" > ux.txt
check "unix layer: the mmap under VirtualAlloc is recorded" grep -q "^call api=mmap door=unix .*args=0x[0-9a-f]*,0x[0-9a-f]*,0x0," ux.txt
check "unix layer: mprotect recorded" grep -q "^call api=mprotect door=unix" ux.txt
check "unix layer off by default" sh -c "! grep -q 'door=unix' na.txt"

WINMEM_MODE=bogus WINMEM_STACK=many WINMEM_OUTPUT="$OUT/cf-%p.trace" LD_PRELOAD="$SHIM" $N > cf.out 2>cf.err
check "wrong WINMEM_MODE: one clear line" [ "$(grep -c 'WINMEM_MODE=bogus is not trace|check|native; using trace' cf.err)" = 1 ]
check "wrong WINMEM_STACK: one clear line" [ "$(grep -c 'WINMEM_STACK=many is not a number' cf.err)" = 1 ]
check "... and the defaults are used" sh -c "$DUMP cf-*.trace | grep -q '^header .* mode=0 flags=0x10 depth=16 '"
check "WINMEM_QUIET=1 silences it" sh -c "WINMEM_QUIET=1 WINMEM_MODE=bogus WINMEM_OUTPUT='$OUT/q-%p.trace' LD_PRELOAD='$SHIM' $N 2>&1 >/dev/null | grep -vq '^alloc=' && exit 1 || exit 0"
check "trace files are created with mode 0600" sh -c "[ \"\$(stat -c %a na-*.trace)\" = 600 ]"

# A full disk: the file size limit stands in for it (SIGXFSZ ignored, so
# write() fails with EFBIG exactly like ENOSPC). Recording stops, the
# program goes on and its output is unchanged.
( trap '' XFSZ; ulimit -f 300; WINMEM_OUTPUT="$OUT/df-%p.trace" LD_PRELOAD="$SHIM" $N threads 8 > df.out 2>/dev/null ); rc=$?
check "disk full: program unaffected" sh -c "[ $rc = 0 ] && grep -q 'threads 8 failed 0' df.out"
check "disk full: the trace reads up to where it stopped" sh -c "$DUMP df-*.trace | grep -q '^call api='"
finish
