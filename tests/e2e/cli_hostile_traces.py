#!/usr/bin/env python3
"""Writes crafted winmem traces for tests/e2e/cli_hostile.sh:
   trace.py bomb OUT           ~20 KB: 100 CALLs, each of its own thread, huge seqs
   trace.py modules OUT A B    ELF modules at paths A and B, a stack in each, a call
   trace.py records OUT        bare records (module, stack, call, lost, end), no framing:
                               the fuzzer reads them as one chunk
   trace.py flood OUT LIB      1500 modules naming the ELF file LIB, each spelled
                               differently (/lib//x, /lib///x, ...), a frame in each
   trace.py short-module OUT   bare records ending in an 8-byte MODULE record (the
                               reader once read its fields past the end of the file)
   trace.py defang IN OUT      a real trace whose module and program paths name no
                               file (first '/' becomes '!'), CRCs redone: a fuzzer
                               seed that does not spend its time loading libc's symbols
The layout is include/winmem/trace.h's (docs/trace-format.md)."""
import struct, sys, zlib

def header(exe=b"/bin/x", prog=b"x"):
    size = (56 + len(exe) + len(prog) + 7) & ~7
    h = b"WMTRACE1" + struct.pack("<HHBBHIIQQIIHHHH", 1, size, 8, 1, 1, 1, 1, 1000, 2000, 0, 0, 16,
                                  len(exe), len(prog), 0)
    assert len(h) == 56
    return (h + exe + prog).ljust(size, b"\0")

def chunk(tid, seq, recs):
    body = b"".join(recs)
    return struct.pack("<IIQII", 0x4b43574d, tid, seq, len(body), zlib.crc32(body)) + body

def call(tid, seq, stack=0, api=2):
    r = struct.pack("<HHHHIIQQQQII", 4, 200, api, 1, tid, stack, seq, 100 + seq % 1000, 10, 0, 0, 0)
    return r + b"\0" * (200 - len(r))

def module(mid, path, start):
    p = path.encode()
    size = (80 + len(p) + 7) & ~7
    r = struct.pack("<HHHHIBBHI4xQQQ", 1, size, 1, len(p), mid, 0, 0, 0, 0, start, start, start + 0x100000)
    return (r + b"\0" * 32 + p).ljust(size, b"\0")

def stack(sid, frames):
    r = struct.pack("<HHIHHI", 3, 16 + 16 * len(frames), sid, len(frames), 0, 0)
    return r + b"".join(struct.pack("<IIQ", m, 0, off) for m, off in frames)

def defang(src, dst):
    b = bytearray(open(src, "rb").read())
    hsize, = struct.unpack_from("<H", b, 10)
    b[56:hsize] = bytes(b[56:hsize]).replace(b"/", b"!", 1)
    off = hsize
    while off + 24 <= len(b):
        magic, tid, seq, length, crc = struct.unpack_from("<IIQII", b, off)
        if magic != 0x4b43574d or off + 24 + length > len(b):
            break
        at = off + 24
        while at + 4 <= off + 24 + length:
            typ, size = struct.unpack_from("<HH", b, at)
            if size < 8:
                break
            if typ == 1:
                plen, = struct.unpack_from("<H", b, at + 6)
                nseg = b[at + 13]
                p = at + 80 + 24 * nseg
                b[p:p + plen] = bytes(b[p:p + plen]).replace(b"/", b"!", 1).replace(b"\\", b"!", 1)
            at += size
        struct.pack_into("<I", b, off + 20, zlib.crc32(bytes(b[off + 24:off + 24 + length])))
        off += 24 + length
    open(dst, "wb").write(b)

def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "defang":
        defang(out, sys.argv[3])
        return
    data = header()
    if kind == "records":
        open(out, "wb").write(stack(1, [(1, 0x10)]) + call(7, 1, stack=1) +
                              struct.pack("<HHIIIQ", 6, 24, 3, 2, 0, 5) +
                              struct.pack("<HHIIIQQ", 7, 32, 1, 0, 0, 1, 5) + module(1, "/nonexistent/m.so", 0x1000))
        return
    if kind == "flood":
        lib = sys.argv[3]
        mods = [module(i + 1, lib.replace("/", "/" * (i + 2), 1), 0x1000000 * (i + 1)) for i in range(1500)]
        for k in range(0, 1500, 100):
            data += chunk(0, k, mods[k:k + 100])
        recs = []
        for i in range(1500):
            recs += [stack(i + 1, [(i + 1, 0x2724a)]), call(7, i + 1, stack=i + 1)]
        for k in range(0, len(recs), 600):
            data += chunk(7, k, recs[k:k + 600])
        open(out, "wb").write(data)
        return
    if kind == "short-module":
        open(out, "wb").write(call(7, 1) + struct.pack("<HHI", 1, 8, 0))
        return
    if kind == "bomb":
        # Just under the old reader's "damage" limit (size/8 + 2^20): it
        # allocated a table of 2^21+ pointers for every made-up thread.
        for i in range(100):
            data += chunk(5000 + i, 0, [call(5000 + i, 1_050_000 + i)])
    else:
        a, b = sys.argv[3], sys.argv[4]
        data += chunk(0, 0, [module(1, a, 0x1000000), module(2, b, 0x2000000)])
        data += chunk(7, 0, [stack(1, [(1, 0x10), (2, 0x20)]), call(7, 1, stack=1)])
    open(out, "wb").write(data)

main()
