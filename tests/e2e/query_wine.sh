#!/bin/sh
# VirtualQueryEx from outside on a PE program running under Wine: its code is
# MEM_IMAGE with AllocationBase = the module base Windows reports
# (GetModuleHandle), its header page is MEM_IMAGE PAGE_READONLY, and every
# region of the image shares that AllocationBase.
set -eu
out=${BUILD:-build}/e2e/query
mkdir -p "$out"
tp=${BUILD:-build}/tests/programs   # query_walk and query_pe.exe: built by tests/module.mk
[ -x "$tp/query_walk" ] && [ -f "$tp/query_pe.exe" ] || { echo "not ok - $tp/query_walk and query_pe.exe not built (make check-e2e builds them)"; exit 1; }
export WINEPREFIX="${WINEPREFIX_E2E:-$PWD/$out/prefix}" WINEDEBUG=-all
rm -f "$out/pe.out"
wine "$tp/query_pe.exe" > "$out/pe.out" 2>/dev/null &
wpid=$!
trap 'kill $wpid 2>/dev/null || true' EXIT
# The first start of a prefix takes a while.
i=0; while [ ! -s "$out/pe.out" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
read base marker < "$out/pe.out"
pid=$(grep -l "query_pe.exe" /proc/[0-9]*/maps 2>/dev/null | head -1 | cut -d/ -f3)
[ -n "$pid" ] || { echo "not ok - no process maps query_pe.exe"; exit 1; }
"$tp/query_walk" "$pid" > "$out/wine-walk.txt"
python3 - "$out/wine-walk.txt" "$base" "$marker" <<'PY'
import sys
walk = [tuple(int(x, 16) for x in l.split()) for l in open(sys.argv[1])]
base, marker = int(sys.argv[2], 16), int(sys.argv[3], 16)
def at(a):
    for r in walk:
        if r[0] <= a < r[0] + r[1]:
            return r
fail = 0
def check(cond, msg):
    global fail
    print(("ok - " if cond else "not ok - ") + msg)
    fail += not cond
code, hdr = at(marker), at(base)
check(code[4] == 0x1000000, "code Type %#x, expected MEM_IMAGE" % code[4])
check(code[5] == base, "code AllocationBase %#x, expected the module base %#x" % (code[5], base))
check(code[3] in (0x20, 0x40, 0x80), "code Protect %#x, expected executable" % code[3])
check(hdr[4] == 0x1000000 and hdr[3] == 0x02, "header Type %#x Protect %#x, expected MEM_IMAGE PAGE_READONLY" % (hdr[4], hdr[3]))
check(code[6] == 0x80, "AllocationProtect %#x, expected PAGE_EXECUTE_WRITECOPY" % code[6])
img = [r for r in walk if r[5] == base]
check(all(r[4] == 0x1000000 for r in img), "every region with AllocationBase = base is MEM_IMAGE")
sys.exit(1 if fail else 0)
PY
echo "ok - a Wine process's PE image, walked from outside, is one MEM_IMAGE allocation"
