#!/usr/bin/env python3
"""Prints how many distinct colours a PNG has in a region, and how many of
its pixels are not the most common colour (tests/e2e/cli_viewers.sh: is a
screenshot of a viewer showing something?). Decodes 8-bit RGB/RGBA PNGs,
as Chromium writes them, with zlib only.

usage: png_stats.py FILE [TOP]   (rows from TOP down)
"""
import struct, sys, zlib
from collections import Counter


def rows(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, out = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out.append(bytes(line))
        prev = line
    return out, w, bpp


def main():
    lines, w, bpp = rows(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    px = Counter(l[i:i + 3] for l in lines[top:] for i in range(0, w * bpp, bpp))
    total = sum(px.values())
    print(len(px), total - px.most_common(1)[0][1])


main()
