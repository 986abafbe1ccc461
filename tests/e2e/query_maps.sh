#!/bin/sh
# VirtualQueryEx on a real, unrelated process (coreutils sleep) against the
# kernel's own text, /proc/PID/maps: the regions tile the user range, every
# mapped byte is MEM_COMMIT/MEM_RESERVE with the protection its maps line
# says, every unmapped byte is MEM_FREE, and sleep's own ELF file and libc
# are MEM_IMAGE with one AllocationBase each.
set -eu
out=${BUILD:-build}/e2e/query
mkdir -p "$out"
walk=${BUILD:-build}/tests/programs/query_walk   # built by tests/module.mk
sleep 30 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 0.2
cp /proc/$pid/maps "$out/maps.txt"
"$walk" $pid > "$out/walk.txt"
kill $pid
python3 - "$out/maps.txt" "$out/walk.txt" <<'PY'
import sys
USER_TOP = 0x7fffffff0000
maps = []
for line in open(sys.argv[1]):
    f = line.split()
    lo, hi = (int(x, 16) for x in f[0].split('-'))
    if lo >= USER_TOP:
        continue            # [vsyscall]
    maps.append((lo, hi, f[1], f[5] if len(f) > 5 else ''))
walk = [tuple(int(x, 16) for x in l.split()) for l in open(sys.argv[2])]
fail = 0
def bad(msg):
    global fail
    fail += 1
    print("not ok -", msg)

# The regions tile [0, USER_TOP) with no gap or overlap.
at = 0
for base, size, *_ in walk:
    if base != at:
        bad("region at %#x, expected %#x" % (base, at))
    at = base + size
if at != USER_TOP:
    bad("walk ends at %#x, expected %#x" % (at, USER_TOP))

def covering(a):
    for lo, hi, perm, name in maps:
        if lo <= a < hi:
            return perm, name
    return None

PROT = {'---': 0, 'r--': 0x02, 'rw-': 0x04, '--x': 0x10, 'r-x': 0x20, 'rwx': 0x40, '-w-': 0x04}
images = {}
for base, size, state, prot, typ, abase, aprot in walk:
    for a in range(base, base + size, max(0x1000, size // 4 // 0x1000 * 0x1000) or 0x1000):
        c = covering(a)
        if state == 0x10000:
            if c: bad("%#x is mapped (%s %s) but reported MEM_FREE" % (a, c[0], c[1]))
            continue
        if not c:
            bad("%#x is unmapped but reported State %#x" % (a, state)); continue
        perm, name = c
        base_prot = prot & 0xff
        if perm[:3] == '---':
            if not (state == 0x2000 or base_prot == 0x01):
                bad("%#x (---) reported State %#x Protect %#x" % (a, state, prot))
            continue
        want = PROT[perm[:3]]
        # A private writable file page may be WRITECOPY until copied.
        ok = base_prot == want or (perm[1] == 'w' and perm[3] == 'p' and base_prot in (0x08, 0x80))
        if state != 0x1000 or not ok:
            bad("%#x (%s %s) reported State %#x Protect %#x" % (a, perm, name, state, prot))
        if typ == 0x1000000 and name.startswith('/'):
            images.setdefault(name, set()).add(abase)

for lib in ('sleep', 'libc.so'):
    hits = [n for n in images if lib in n.rsplit('/', 1)[-1]]
    if not hits:
        bad("no MEM_IMAGE region for %s" % lib)
    for n in hits:
        if len(images[n]) != 1:
            bad("%s has %d AllocationBases, expected 1" % (n, len(images[n])))
print("ok - %d regions against %d maps lines, %d failures" % (len(walk), len(maps), fail) if not fail else
      "%d failures" % fail)
sys.exit(1 if fail else 0)
PY
echo "ok - VirtualQueryEx of a running sleep agrees with /proc/PID/maps"
