#!/bin/sh
# A Wine whose system-call dispatcher the shim does not know: a real copy of
# this Wine's ntdll.so with one instruction of the dispatcher's argument
# set-up re-encoded (`mov %r10,%rcx` / `mov %r10,%rdi` written the other way
# x86 allows: same behaviour, other bytes), bind-mounted over the real one in
# a private mount namespace. The program must behave exactly as under plain
# Wine with that ntdll.so, and the shim must say so in one line and record
# no Wine call. Runs on Wine 8.0 here and on Wine 10.0 in the Debian 13 root.
. tests/programs/shim_common.sh
if [ "$(id -u)" != 0 ]; then
    fail "needs root: the copy is bind-mounted over Wine's ntdll.so in a private mount namespace"; finish
fi
wine_prefix
cd "$OUT"
ntdll=/usr/lib/x86_64-linux-gnu/wine/x86_64-unix/ntdll.so
[ -f "$ntdll" ] || { fail "no $ntdll"; finish; }
python3 - "$ntdll" patched.so <<'PY' > patch.txt
import sys
data = bytearray(open(sys.argv[1], "rb").read())
call = bytes.fromhex("4c8b1341ff14c2")          # mov (%rbx),%r10; call *(%r10,%rax,8)
at = data.find(call)
assert at > 0 and data.find(call, at + 1) < 0, "one call through the array"
for old, new, back in ((b"\x4c\x89\xd1", b"\x49\x8b\xca", 7),    # ms_abi: mov %r10,%rcx
                       (b"\x4c\x89\xd7", b"\x49\x8b\xfa", 18)):  # System V: mov %r10,%rdi
    if data[at - back:at - back + 3] == old:
        data[at - back:at - back + 3] = new
        print("patched %s -> %s at %#x" % (old.hex(), new.hex(), at - back))
        break
else:
    sys.exit("dispatcher set-up not found")
open(sys.argv[2], "wb").write(data)
PY
check "a copy of ntdll.so with the dispatcher re-encoded ($(cat patch.txt))" [ -s patched.so ]
under_copy() { unshare --mount --propagation private sh -c 'mount --bind "$0" "$1" && shift && exec "$@"' \
    "$OUT/patched.so" "$ntdll" "$@"; }
under_copy timeout 120 wine $P/shim_probe.exe > plain.out 2>/dev/null; rc0=$?
WINMEM_OUTPUT="$OUT/rf-%p.trace" LD_PRELOAD="$SHIM" under_copy timeout 120 wine $P/shim_probe.exe > shim.out 2>shim.err; rc1=$?
check "unknown dispatcher: the program ran ($rc0)" [ $rc0 = 0 ]
check "unknown dispatcher: exit status and output as plain Wine's" sh -c "[ $rc0 = $rc1 ] && cmp -s plain.out shim.out"
check "unknown dispatcher: exactly one stderr line says so" \
    [ "$(grep -c 'unrecognised Wine ntdll.so of wine-[0-9.]* .*(its system-call dispatcher is not one the shim knows)' shim.err)" = 1 ]
check "unknown dispatcher: no Wine call recorded" sh -c "! cat rf-*.trace 2>/dev/null | $DUMP /dev/stdin 2>/dev/null | grep -q 'door=wine'"
finish
