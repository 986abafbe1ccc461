#!/bin/sh
# End to end: `winmem maps` of real processes — a Wine program holding known
# allocations (checked region by region), itself, a missing pid, and a process
# of another user (the permission message). ASan build of winmem (WINMEM).
. tests/programs/cli_common.sh
T=$B/tests/programs/cli_target.exe
D=$B/tests/cli-e2e-maps
wine_prefix "$B/tests/cli-e2e/prefix"
mkdir -p "$D"
rm -f "$D"/*
# A fresh clone has no prefix yet: make it first, so the program's start-up
# below is not also wineboot's (which can outlast the wait on a busy machine).
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    mkdir -p "$WINEPREFIX"
    timeout 180 wineboot -i >/dev/null 2>&1
    timeout 60 wineserver -w >/dev/null 2>&1
fi

# --- a Wine program with a known layout: 1 MiB reserved, 4 pages committed,
#     page 0 read-only, pages 1-3 read-write ---
flag="$D/release"
timeout 120 wine "$T" --hold "$(winepath -w "$flag" 2>/dev/null || echo "Z:$PWD/$flag" | tr / '\\')" > "$D/hold.out" 2>&1 &
holder=$!
i=0
while ! grep -q region= "$D/hold.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
addr=$(sed -n 's/^region=\(0x\)\{0,1\}\([0-9A-Fa-f]*\).*/\2/p' "$D/hold.out")
pid=$(pgrep -n -x cli_target.exe)
check "the Wine program is holding its allocation" '[ -n "$addr" ] && [ -n "$pid" ]'
if [ -n "$addr" ] && [ -n "$pid" ]; then
    "$W" maps "$pid" --json > "$D/wine.json"; rc=$?
    check "maps of the Wine process: exit 0" '[ $rc -eq 0 ]'
    check "maps: the known allocation, region by region, in Windows terms" 'python3 - "$D/wine.json" "$addr" <<PY
import json, sys
d = json.load(open(sys.argv[1])); a = int(sys.argv[2], 16)
r = {int(x["BaseAddress"], 16): x for x in d["regions"]}
def at(p):
    for b, x in r.items():
        if b <= p < b + x["RegionSize"]: return b, x
    raise SystemExit("no region at %x" % p)
b, x = at(a)
assert b == a and x["RegionSize"] == 4096, (hex(b), x)
assert x["State"] == "MEM_COMMIT" and x["Protect"] == "PAGE_READONLY" and x["Type"] == "MEM_PRIVATE", x
b, x = at(a + 4096)
assert b == a + 4096 and x["RegionSize"] == 3 * 4096 and x["Protect"] == "PAGE_READWRITE", x
assert int(x["AllocationBase"], 16) == a, x   # one VirtualAlloc: one AllocationBase
b, x = at(a + 4 * 4096)
assert b == a + 4 * 4096 and x["State"] == "MEM_RESERVE" and x["Protect"] == "0", x
assert int(x["AllocationBase"], 16) == a, x
assert b + x["RegionSize"] >= a + (1 << 20), (hex(b), x["RegionSize"])
assert d["name"] == "cli_target.exe", d["name"]
t = d["totals"]
assert t["MEM_IMAGE"]["regions"] > 0 and t["MEM_PRIVATE"]["reserved"] >= (1 << 20) - 4 * 4096
assert any(x["Name"].endswith("ntdll.so") and x["Type"] == "MEM_IMAGE" for x in d["regions"])
PY'
    "$W" maps "$pid" --api --json > "$D/wine-api.json"; rc=$?
    check "maps --api (winmem's OpenProcess + VirtualQueryEx) agrees on State and Type everywhere" 'python3 - "$D/wine.json" "$D/wine-api.json" "$addr" <<PY
import json, sys
t = json.load(open(sys.argv[1])); a = json.load(open(sys.argv[2])); p = int(sys.argv[3], 16)
tr = [(int(r["BaseAddress"], 16), r) for r in t["regions"]]
def at(x):
    for b, r in tr:
        if b <= x < b + r["RegionSize"]: return r
bad = [(r["BaseAddress"], f, r[f], at(int(r["BaseAddress"], 16))[f]) for r in a["regions"]
       for f in ("State", "Type") if r[f] != at(int(r["BaseAddress"], 16))[f]]
assert not bad, bad[:5]
assert len(a["regions"]) > 50
# the core sees the program allocation the same way
r = [x for x in a["regions"] if int(x["BaseAddress"], 16) == p][0]
assert r["State"] == "MEM_COMMIT" and r["Protect"] == "PAGE_READONLY" and r["RegionSize"] == 4096, r
PY'
    "$W" maps "$pid" > "$D/wine.txt"; rc=$?
    check "maps text: header, rows and totals per type" \
        '[ $rc -eq 0 ] && grep -q "^BaseAddress " "$D/wine.txt" && grep -q "^MEM_IMAGE " "$D/wine.txt" && grep -q "^MEM_PRIVATE " "$D/wine.txt" && grep -q "Reserve  Private" "$D/wine.txt"'
fi
touch "$flag"
wait $holder 2>/dev/null

# --- itself, and a missing process ---
"$W" maps self --json > "$D/self.json"; rc=$?
check "maps self --json: valid JSON naming the winmem binary as an image" \
    '[ $rc -eq 0 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert any(r[\"Name\"].endswith(\"/winmem\") and r[\"Type\"]==\"MEM_IMAGE\" for r in d[\"regions\"])" "$D/self.json"'
"$W" maps 999999999 > /dev/null 2> "$D/missing.err"; rc=$?
check "maps of a missing pid: exit 2, 'no process'" '[ $rc -eq 2 ] && grep -q "no process" "$D/missing.err"'
"$W" maps notapid > /dev/null 2>&1; rc=$?
check "maps of a non-number: exit 2" '[ $rc -eq 2 ]'

# --- another user's process: run winmem as uid 65534 against this (root) shell ---
if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid 65534 --regid 65534 --clear-groups "$W" maps $$ > "$D/perm.out" 2> "$D/perm.err"; rc=$?
    check "maps of another user's process: exit 2 with the permission named" \
        '[ $rc -eq 2 ] && grep -q "permission denied" "$D/perm.err" && grep -q "ptrace read access" "$D/perm.err" && grep -q "CAP_SYS_PTRACE" "$D/perm.err" && [ ! -s "$D/perm.out" ]'
    setpriv --reuid 65534 --regid 65534 --clear-groups "$W" maps $$ --api > /dev/null 2> "$D/perm-api.err"; rc=$?
    check "maps --api of another user's process: the same permission message" \
        '[ $rc -eq 2 ] && grep -q "CAP_SYS_PTRACE" "$D/perm-api.err"'
    # and the other way round: root may read a process that dropped to 65534
    setpriv --reuid 65534 --regid 65534 --clear-groups sleep 30 &
    sp=$!
    sleep 0.2
    "$W" maps $sp --no-free > "$D/nobody.txt"; rc=$?
    check "root (CAP_SYS_PTRACE) reads a uid-65534 process" '[ $rc -eq 0 ] && grep -q "sleep" "$D/nobody.txt"'
    kill $sp 2>/dev/null
else
    echo "skip other-user checks: not root"
fi
verdict cli_maps
