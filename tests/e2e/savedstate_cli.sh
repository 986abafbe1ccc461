#!/bin/sh
# `winmem guest` on the QEMU fixtures: the summary shows QEMU's own register
# values, --read shows the bytes the fixture script wrote, --va2pa follows the
# ROM's page tables, and bad input exits 2.
set -u
BUILD=${BUILD:-build}
W=$BUILD/winmem
F=${WM_DUMP_FIXTURES:-$BUILD/fixtures}
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
# make check-e2e builds both first; run alone, a missing one is a failure, not a skip.
[ -x "$W" ] && [ -f "$F/lm16.elf" ] || { echo "FAIL needs $W and $F/lm16.elf (make dump-fixtures)"; exit 1; }

rip=$(sed -n '/^CPU#0/,/^CPU#1/p' "$F/lm16.regs" | sed -n 's/^RIP=\([0-9a-f]*\).*/\1/p')
for f in lm16.elf lm16.kdump-zlib lm16.kdump; do
    out=$($W guest "$F/$f")
    check "$f: rip is QEMU's ($rip)" 'echo "$out" | grep -q "rip    $rip"'
    check "$f: two chunks, second at the BIOS" 'echo "$out" | grep -q "GPA 0x0000ffff0000-0x0001007fffff      2064 pages"'
    check "$f: 2 processors, vp0 long mode" 'echo "$out" | grep -q "vp 0:.*x64, paging long"'
done
out=$($W guest "$F/lm16.lime")
check "lime: no processors" 'echo "$out" | grep -q "processors:  0"'
check "--read shows the pattern" '$W guest "$F/lm16.kdump-zlib" --read 0x7ff010 16 | grep -q "^00000000007ff010  50 41 54 54 45 52 4e 21 10 f0 7f"'
check "--va2pa 2 MiB page onto high RAM" '[ "$($W guest "$F/lm16.elf" --va2pa 0 0xffffffffc0000010)" = "0xffffffffc0000010 -> 0x100000010" ]'
$W guest "$F/lm16.elf" --va2pa 0 0x5000 >/dev/null; rc=$?
check "--va2pa unmapped exits 1" '[ $rc -eq 1 ]'
$W guest "$F/lm16.elf" --read 0xa0000000 16 2>/dev/null; rc=$?
check "--read in a hole exits 1" '[ $rc -eq 1 ]'
$W guest "$F/lm16.rawcat" 2>/dev/null; rc=$?
check "raw without --raw exits 2" '[ $rc -eq 2 ]'
check "--layout" '$W guest --layout "$F/lm16.layout" "$F/lm16.rawcat" | grep -q "format:      raw+layout"'
check "--help" '$W guest --help | grep -q "usage: winmem guest"'
exit $fail
