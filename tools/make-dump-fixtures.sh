#!/bin/sh
# Makes the saved-state dump fixtures with QEMU (TCG, no disk) into OUTDIR:
#   lm16: 16 MiB, RAM split at 8 MiB, 2 vCPUs; the lm16 ROM puts vCPU0 in long
#         mode with known registers (tools/fixtures/lm16.S).
#   pae16, pse16: like lm16 with 1 vCPU stopped in 32-bit protected mode with
#         PAE or 4 MiB-page paging (tools/fixtures/pm32.S): QEMU writes EM_386.
#   t24:  24 MiB, RAM split at 12 MiB, 1 vCPU at reset, a ROM of known bytes.
# Formats: ELF (paging false and true), kdump-zlib (QEMU 7.2 writes the
# flattened stream; makedumpfile -R reassembles it when installed), LiME, the
# chunks concatenated with a layout file, and a flat image from GPA 0 (pmemsave).
# Also <name>.regs: QEMU's own `info registers -a`, the register oracle.
# With --pack, writes xz copies into tests/fixtures/ for machines without QEMU.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py="python3 $here/fixtures/dumpfix.py"
out=${1:-build/fixtures}
pack=${2:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d /tmp/wm-dumpfix.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Known bytes: one page of records at each GPA; 4 GiB is the start of high RAM.
pat() { $py pattern "$1" "${2:-0x1000}" > "$tmp/pat-$1"; echo "-device loader,file=$tmp/pat-$1,addr=$1,force-raw=on"; }

run() { # name mem below smp rom cpu runsecs loaders...
    name=$1 mem=$2 below=$3 smp=$4 rom=$5 cpu=$6 secs=$7; shift 7
    sock=$tmp/$name.qmp
    rm -f "$out/$name".*  "$out/$name"-*
    qemu-system-x86_64 -machine pc,accel=tcg,max-ram-below-4g=$below -cpu "$cpu" -m "$mem" -smp "$smp" \
        -nodefaults -display none -monitor none -serial none -S -bios "$rom" \
        -qmp unix:$sock,server=on,wait=off -daemonize -pidfile "$tmp/$name.pid" "$@" 2>"$tmp/$name.err" \
        || { cat "$tmp/$name.err" >&2; exit 1; }
    cmds=
    [ "$secs" != 0 ] && cmds='{"execute":"cont"} sleep:'$secs' {"execute":"stop"}'
    # shellcheck disable=SC2086
    $py qmp "$sock" $cmds \
        '{"execute":"dump-guest-memory","arguments":{"paging":false,"protocol":"file:'$out/$name.elf'"}}' \
        '{"execute":"dump-guest-memory","arguments":{"paging":true,"protocol":"file:'$out/$name-paging.elf'"}}' \
        '{"execute":"dump-guest-memory","arguments":{"paging":false,"format":"kdump-zlib","protocol":"file:'$out/$name.kdump-zlib'"}}' \
        '{"execute":"pmemsave","arguments":{"val":0,"size":'$((below))',"filename":"'$out/$name.raw'"}}' \
        hmp:"info registers -a" > "$out/$name.regs"
    $py qmp "$sock" '{"execute":"quit"}' 2>/dev/null || true
    $py derive "$out/$name.elf" "$out/$name"
    if command -v makedumpfile >/dev/null; then
        makedumpfile -R "$out/$name.kdump" < "$out/$name.kdump-zlib" >/dev/null
    fi
}

# lm16: the long-mode ROM, its page tables at 0x10000.
as --64 -o "$tmp/lm16.o" "$here/fixtures/lm16.S"
objcopy -O binary -j .text "$tmp/lm16.o" "$tmp/lm16.rom"
$py padrom "$tmp/lm16.rom"
$py pagetables > "$tmp/pt"
run lm16 16M 0x800000 2 "$tmp/lm16.rom" max 0.1 \
    -device loader,file=$tmp/pt,addr=0x10000,force-raw=on \
    $(pat 0x1000) $(pat 0x7ff000) $(pat 0x100000000) $(pat 0x1007ff000)

# pae16 / pse16: 32-bit protected mode with PAE or PSE paging (tools/fixtures/pm32.S).
for kind in pae pse; do
    defs=; [ $kind = pae ] && defs="--defsym PAE=1"
    # shellcheck disable=SC2086
    as --32 $defs -o "$tmp/$kind.o" "$here/fixtures/pm32.S"
    objcopy -O binary -j .text "$tmp/$kind.o" "$tmp/$kind.rom"
    $py padrom "$tmp/$kind.rom"
    $py pagetables $kind > "$tmp/pt-$kind"
    run ${kind}16 16M 0x800000 1 "$tmp/$kind.rom" max 0.1 \
        -device loader,file=$tmp/pt-$kind,addr=0x10000,force-raw=on $(pat 0x1000) $(pat 0x100000000)
done

# t24: a ROM that is only known bytes; the vCPU never runs.
$py rombytes 0x10000 > "$tmp/t24.rom"
run t24 24M 0xc00000 1 "$tmp/t24.rom" qemu64 0 \
    $(pat 0x1000) $(pat 0xbff000) $(pat 0x100000000) $(pat 0x100bff000)

if [ "$pack" = --pack ]; then
    dest=$here/../tests/fixtures
    mkdir -p "$dest"
    for f in "$out"/*; do
        case $f in *.regs|*.layout) cp "$f" "$dest/";; *) xz -9 -T1 -c "$f" > "$dest/$(basename "$f").xz";; esac
    done
fi
echo "fixtures in $out"
