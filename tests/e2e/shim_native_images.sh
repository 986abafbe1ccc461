#!/bin/sh
# The shim's native mode on PE images and real handles (shim/pe_core.c):
# winmem's core answers about the program's own .exe like Windows (and
# Wine) do — MEM_IMAGE, AllocationBase = the module base, AllocationProtect
# PAGE_EXECUTE_WRITECOPY, .text PAGE_EXECUTE_READ, header PAGE_READONLY —
# also through a real handle from OpenProcess(own pid), and for a DLL loaded
# after the first query; a freed DLL is no image any more.
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"

timeout 120 wine $P/shim_probe.exe image > plain.out 2>/dev/null; rc0=$?
WINMEM_MODE=native WINMEM_OUTPUT="$OUT/ni-%p.trace" LD_PRELOAD="$SHIM" timeout 120 \
    wine $P/shim_probe.exe image > ni.out 2>ni.err; rc=$?
t=$(one_trace "ni-*.trace")
[ -n "$t" ] && $DUMP "$t" > ni.txt
text=$(tr -d '\r' < ni.err | sed -n 's/^module=0*[0-9a-fA-F]* text=0*\([0-9A-Fa-f]*\)$/\1/p' | tr A-F a-f)

check "native images: program runs (rc $rc, plain Wine $rc0)" sh -c "[ $rc = 0 ] && [ $rc0 = 0 ]"
check "native images: .text is MEM_IMAGE, AllocationBase = module base, EXECUTE_WRITECOPY, EXECUTE_READ" \
    grep -q "^text 48 state=0x1000 type=0x1000000 allocbase_is_module=1 allocprotect=0x80 protect=0x20" ni.out
check "native images: the header page is PAGE_READONLY in the same allocation" \
    grep -q "^header 48 state=0x1000 type=0x1000000 allocbase_is_module=1 allocprotect=0x80 protect=0x2" ni.out
check "native images: the same through a real handle to the own process" \
    grep -q "^text-by-handle 48 state=0x1000 type=0x1000000 allocbase_is_module=1 allocprotect=0x80 protect=0x20" ni.out
check "native images: a DLL loaded after the first query is an image too" \
    grep -q "^dll-text 48 state=0x1000 type=0x1000000 allocbase_is_module=1" ni.out
check "native images: every answer equals plain Wine's" cmp -s plain.out ni.out
check "native images: the .text query (0x$text) was answered by winmem" \
    grep -q "^call api=NtQueryVirtualMemory door=wine .*served=1 .*args=0xffffffffffffffff,0x$text,0x0," ni.txt
check "native images: ... and the one through the real handle too" \
    grep -q "^call api=NtQueryVirtualMemory door=wine .*served=1 .*args=0x[0-9a-e][0-9a-f]\{0,7\},0x$text,0x0," ni.txt
finish
