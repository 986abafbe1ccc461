#!/bin/sh
# The live map: `winmem maps PID` of a Wine program running under the shim
# in native and check mode shows the shim's model, region by region what
# the program's own VirtualQuery walk printed (tests/programs/live_map.c: a
# partial commit in two protections, a guard page, a MEM_COMMIT-only block,
# a written copy-on-write view, a thread stack), read while a worker thread
# allocates and frees; without the shim, and in trace mode (which keeps no
# model), it is the kernel's view and says so. Runs on Wine 8.0 here and on
# Wine 10.0 in the Debian 13 root (tools/wine10-check.sh).
. tests/programs/shim_common.sh
wine_prefix
cd "$OUT"

# start MODE: live_map.exe under `winmem run --mode MODE` (plain Wine for
# "plain") until it printed its walk; sets pid
start() {
    rm -f "$OUT/release" "$1.out"
    flag="Z:$(echo "$OUT/release" | tr / '\\')"
    if [ "$1" = plain ]; then
        timeout 120 wine $P/live_map.exe "$flag" > "$1.out" 2>/dev/null &
    else
        timeout 120 "$W" run --mode "$1" --no-summary -o "$OUT/$1.wmt" -- wine $P/live_map.exe "$flag" > "$1.out" 2>"$1.err" &
    fi
    runner=$!
    i=0
    while ! grep -q '^ready' "$1.out" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    pid=$(pgrep -n -x live_map.exe)
}
stop() { touch "$OUT/release"; wait $runner; }

# same_regions OUT JSON [WALKS]: every region the program printed (of the
# walks named, comma-separated) ends where a region of the map ends and
# agrees with it field by field, and comes from the model (a walk that
# starts inside a region, as the stack's does, begins with its tail)
same_regions() {
    python3 - "$@" <<'PY'
import json, sys
walk = [l.split()[1:] for l in open(sys.argv[1]) if l.startswith("region ")]
only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else None   # which walks (# lines) to compare
if only:
    walk, keep = [], False
    for l in open(sys.argv[1]):
        if l.startswith("# "):
            keep = l[2:].strip() in only
        elif l.startswith("region ") and keep:
            walk.append(l.split()[1:])
d = json.load(open(sys.argv[2]))
regions = [(int(r["BaseAddress"], 16), r) for r in d["regions"]]
def containing(a):
    # a walk that starts inside a region begins with its tail: same end, same fields
    for b, r in regions:
        if b <= a < b + r["RegionSize"]:
            return r
by_base = {}
names = {"MEM_COMMIT": 0x1000, "MEM_RESERVE": 0x2000, "MEM_FREE": 0x10000, "MEM_PRIVATE": 0x20000,
         "MEM_MAPPED": 0x40000, "MEM_IMAGE": 0x1000000, "0": 0}
prot = {"PAGE_NOACCESS": 1, "PAGE_READONLY": 2, "PAGE_READWRITE": 4, "PAGE_WRITECOPY": 8, "PAGE_EXECUTE": 0x10,
        "PAGE_EXECUTE_READ": 0x20, "PAGE_EXECUTE_READWRITE": 0x40, "PAGE_EXECUTE_WRITECOPY": 0x80, "0": 0}
def p(s):
    v = 0
    for part in s.split("|"):
        v |= prot.get(part, {"PAGE_GUARD": 0x100, "PAGE_NOCACHE": 0x200, "PAGE_WRITECOMBINE": 0x400}.get(part, -1 << 40))
    return v
bad = 0
for base, size, state, protect, ab, ap, typ in walk:
    r = containing(int(base, 16))
    want = (int(base, 16) + int(size, 16), int(state, 16), int(protect, 16), int(ab, 16), int(ap, 16), int(typ, 16), "model")
    got = r and (int(r["BaseAddress"], 16) + r["RegionSize"], names.get(r["State"]), p(r["Protect"]),
                 int(r["AllocationBase"], 16), p(r["AllocationProtect"]), names.get(r["Type"]), r["Source"])
    if got != want:
        print(f"  region {base}: the program's VirtualQuery says {want}, winmem maps {got}")
        bad += 1
print(f"  {len(walk)} regions compared, {bad} different")
sys.exit(1 if bad or len(walk) < (3 if only else 10) else 0)
PY
}

# Native mode answers the program's queries from the model, so the map must
# show all of them; check mode answers from Wine and feeds the model only
# with the program's calls, so its own VirtualAlloc'ed memory is compared.
for mode in native check; do
    walks=
    [ $mode = check ] && walks=reservation,commit-only
    start $mode
    check "$mode: the program printed its walk and runs (pid ${pid:-none})" [ -n "$pid" ]
    [ -n "$pid" ] || { stop; continue; }
    ok=0
    for i in 1 2 3 4 5; do     # while the worker allocates and frees
        "$W" maps "$pid" --json > $mode-$i.json 2>$mode-$i.err && same_regions $mode.out $mode-$i.json $walks > $mode-$i.cmp && ok=$((ok + 1))
    done
    cat $mode-1.cmp
    check "$mode: winmem maps matches the program's own VirtualQuery walk, 5 reads of 5 during churn" [ $ok = 5 ]
    check "$mode: the JSON says where the regions come from" \
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['source']=='model+kernel' and d['model_allocations']>=4 and d['model_partial'] is False, d['source']" $mode-1.json
    "$W" maps "$pid" > $mode.txt 2>&1
    check "$mode: the text header names the model as the source" grep -q "^Source: the shim's model for the [0-9]* allocations it knows" $mode.txt
    stop
    check "$mode: the program ended normally" grep -q '^done' $mode.out
done

for mode in plain trace; do
    start $mode
    check "$mode: the program runs (pid ${pid:-none})" [ -n "$pid" ]
    [ -n "$pid" ] || { stop; continue; }
    "$W" maps "$pid" --json > $mode.json 2>$mode.err
    "$W" maps "$pid" > $mode.txt 2>&1
    stop
    check "$mode: the kernel's view, and why" \
        python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['source']=='kernel' and 'no winmem shim model' in d['why'] and all(r['Source']=='kernel' for r in d['regions'])" $mode.json
    check "$mode: the text header says so" grep -q "^Source: the kernel's view: no winmem shim model in this process" $mode.txt
done
finish
