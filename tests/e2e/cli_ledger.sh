#!/bin/sh
# End to end: `winmem report`'s memory ledger on a real Windows program
# (tests/programs/ledger.c, a mingw PE with DWARF) recorded under Wine by the
# real shim: its own functions named with file:line as call sites, the calls
# named as it made them, bytes per site, the leak held at exit, the
# writable+executable page, the failing VirtualFree at its site, filters.
. tests/programs/cli_common.sh
P=$B/tests/programs/ledger.exe
D=$B/tests/cli-ledger
wine_prefix "$D/prefix"
need "$W" "$P" "$B/libwinmem-shim.so"
mkdir -p "$D"
rm -f "$D"/*.wmt "$D"/*.out

timeout 300 "$W" run -o "$D/l.wmt" --no-summary -- wine "$P" > "$D/run.out" 2>&1; rc=$?
check "ledger.exe ran under winmem run" '[ $rc -eq 0 ] && grep -q "bad_free=0 error=487" "$D/run.out"'
"$W" report "$D/l.wmt" > "$D/r.out" 2>&1; rc=$?
check "report exits 0" '[ $rc -eq 0 ]'
cat "$D/r.out" | sed -n '/^Memory ledger/,/^Calls per API/p'
row() { grep -E "^ +[0-9]+ .* $1 \(ledger\.c:[0-9]+\)" "$D/r.out"; }
check "report leads with the ledger (before the per-API table)" \
    '[ $(grep -n "^Memory ledger" "$D/r.out" | cut -d: -f1) -lt $(grep -n "^Calls per API" "$D/r.out" | cut -d: -f1) ]'
check "arena_grow: a site with file:line, 16 calls (two threads), 1024 KiB committed" \
    'row arena_grow | grep -Eq "^ +16 +0 +1024 KiB "'
check "arena_grow's calls named as the program made them: VirtualAlloc (NtAllocateVirtualMemory) x16" \
    'grep -A1 -E " arena_grow \(ledger\.c" "$D/r.out" | grep -q "VirtualAlloc (NtAllocateVirtualMemory) x16"'
check "heap_grow: HeapAlloc's heap growth named as such, with the Nt call beside" \
    'row heap_grow | grep -Eq "^ +[1-9]" && grep -A1 -E " heap_grow \(ledger\.c" "$D/r.out" | grep -q "HeapAlloc growth (NtAllocateVirtualMemory)"'
check "map_shared: MapViewOfFile (NtMapViewOfSection), 256 KiB mapped and held" \
    'row map_shared | grep -Eq "^ +1 +0 +256 KiB +0 +0 +256 KiB " && grep -A1 -E " map_shared \(ledger\.c" "$D/r.out" | grep -q "MapViewOfFile (NtMapViewOfSection) x1"'
check "arena_reserve reserved 4096 KiB" 'row arena_reserve | grep -Eq "^ +1 +4096 KiB "'
check "leak_buffer: 192 KiB committed and held at exit" 'row leak_buffer | grep -Eq "^ +1 +192 KiB +192 KiB +0 +0 +192 KiB "'
check "main released the arena (1024 KiB of commit freed, 4096 KiB of address space released)" 'row main | grep -Eq "^ +1 +0 +0 +1024 KiB +4096 KiB "'
check "jit_compile: VirtualProtect named, 4096 B made writable+executable" \
    'row jit_compile | grep -Eq " 4096 B +0 +jit_compile" && grep -A1 -E " jit_compile \(ledger\.c" "$D/r.out" | grep -q "VirtualProtect (NtProtectVirtualMemory) x2"'
check "W+X section names jit_compile and PAGE_EXECUTE_READWRITE through VirtualProtect" \
    'grep -A1 "^Writable and executable" "$D/r.out" | grep -Eq "PAGE_EXECUTE_READWRITE through VirtualProtect by jit_compile \(ledger\.c:[0-9]+\)"'
check "the failing VirtualFree is shown with its call site" \
    'grep -A2 "^Failed calls, by call site" "$D/r.out" | grep -q "VirtualFree (NtFreeVirtualMemory) STATUS_FREE_VM_NOT_AT_BASE" &&
     grep -A2 "^Failed calls, by call site" "$D/r.out" | grep -Eq "from bad_free \(ledger\.c:[0-9]+\)"'
check "held at exit: leak_buffer and jit_compile, not the released arena" \
    'sed -n "/^Still held at exit/,/^$/p" "$D/r.out" | grep -q leak_buffer && ! sed -n "/^Still held at exit/,/^$/p" "$D/r.out" | grep -q arena_grow'
check "peak commit and when" 'grep -Eq "peak commit [0-9.]+ (KiB|MiB) at \+[0-9.]+ ms" "$D/r.out"'
check "Wine's loader is folded away from the own sites (no ntdll site above the program's)" \
    '! sed -n "/call site$/,/^$/p" "$D/r.out" | head -8 | grep -q "\[ntdll.dll\]"'

# filters
tid=$(grep -E "^  [0-9]+ +ledger.exe +4 " "$D/r.out" | awk "{print \$1}")
"$W" report --thread "$tid" "$D/l.wmt" > "$D/t.out" 2>&1
check "--thread (the helper): only its 4 arena_grow calls" \
    '[ -n "$tid" ] && grep -q "counted   4 calls" "$D/t.out" && grep -A1 -E " arena_grow \(ledger" "$D/t.out" | grep -q "x4"'
"$W" report --api VirtualProtect "$D/l.wmt" > "$D/a.out" 2>&1
check "--api VirtualProtect (the Win32 name): only jit_compile's 2 calls" \
    'grep -q "counted   2 calls" "$D/a.out"'
"$W" report --api HeapAlloc "$D/l.wmt" > "$D/h.out" 2>&1
check "--api HeapAlloc: the heap growth calls, at heap_grow" \
    'grep -Eq "counted   [1-9][0-9]* calls" "$D/h.out" && grep -A1 -E " heap_grow \(ledger" "$D/h.out" | grep -q "HeapAlloc growth"'
"$W" report --only-from bad_free "$D/l.wmt" > "$D/o.out" 2>&1
check "--only-from bad_free: one call" 'grep -q "counted   1 calls" "$D/o.out"'
"$W" report --all-frames "$D/l.wmt" > "$D/all.out" 2>&1
check "--all-frames: sites inside kernelbase (VirtualAlloc itself) appear" 'grep -Eq "  VirtualAlloc.* \[kernelbase.dll\]$" "$D/all.out"'
"$W" report --time 5-x "$D/l.wmt" > /dev/null 2> "$D/bad.err"; rc=$?
check "--time with a bad range: exit 2 and says the form" '[ $rc -eq 2 ] && grep -q "FROM-TO" "$D/bad.err"'

# native C++ (ELF): demangled names, file:line and inlined frames from DWARF
X=$B/tests/programs/ledger_cxx
if [ -x "$X" ]; then
    "$W" run -o "$D/cxx.wmt" --no-summary -- "$X" > /dev/null 2>&1; rc=$?
    "$W" report "$D/cxx.wmt" > "$D/cxx.out" 2>&1
    check "C++ site demangled with file:line: pool::Arena::grow(unsigned long) (ledger_cxx.cc:N), 512 KiB held" \
        '[ $rc -eq 0 ] && grep -Eq "^ +8 +0 +512 KiB +0 +0 +512 KiB .* pool::Arena::grow\(unsigned long\) \(ledger_cxx\.cc:[0-9]+\)$" "$D/cxx.out"'
    check "an inlined constructor is shown inlined in main" \
        'grep -Eq "pool::Arena::Arena\(unsigned long\) \(ledger_cxx\.cc:[0-9]+\) inlined in main \(ledger_cxx\.cc:[0-9]+\)" "$D/cxx.out"'
else
    bad "missing $X (make check-e2e builds it)"
fi

timeout 60 wineserver -k 2>/dev/null
verdict cli_ledger
