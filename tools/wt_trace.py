"""wt_trace: what the conformance runner needs from the shim's trace files
(format: include/winmem/trace.h, docs/trace-format.md) — written from the
format description, independent of the shim's and the CLI's own readers, so
it is a second opinion on both."""
import glob, os, struct, zlib


def read_trace(path):
    """Header and DIVERGENCE records of one shim trace (include/winmem/trace.h,
    docs/trace-format.md): header, then chunks {magic, tid, seq, length, crc}
    of records {type, size}. Stops at a torn or corrupt chunk, as the format
    allows. Returns (mode, flags, [divergence dicts], calls)."""
    data = open(path, "rb").read()
    if len(data) < 56 or data[:8] != b"WMTRACE1":
        raise ValueError("not a winmem trace")
    hsize = struct.unpack_from("<H", data, 10)[0]
    mode, flags = struct.unpack_from("<II", data, 40)
    off, divs, calls = hsize, [], 0
    while off + 24 <= len(data):
        magic, tid, seq, length, crc = struct.unpack_from("<IIQII", data, off)
        body = data[off + 24: off + 24 + length]
        if magic != 0x4b43574d or len(body) < length or zlib.crc32(body) != crc:
            break
        r = 0
        while r + 4 <= length:
            rtype, rsize = struct.unpack_from("<HH", body, r)
            if rsize < 4:
                break
            if rtype == 4:
                calls += 1
            elif rtype == 5 and rsize >= 96:
                api, kind, rtid, _, call_seq, addr, wbase, wsize, wstate, wprot, wtype, _, \
                    vstart, vend, vprot, kprot = struct.unpack_from("<HHIIQQQQIIIIQQII", body, r + 4)
                divs.append(dict(api=api, kind=kind, address=addr, wine_state=wstate, wine_protect=wprot,
                                 vma_start=vstart, vma_end=vend, kernel_protect=kprot))
            r += rsize
        off += 24 + length
    return mode, flags, divs, calls


def shim_evidence(traces, prog, mode):
    """The shim must have hooked the program (or the shim columns prove
    nothing), and in check mode must have found no divergence: every page a
    test program touches is memory Wine itself manages."""
    files = glob.glob(os.path.join(traces, "%s.%s.*.trace" % (prog, mode)))
    if not files:
        return ["no trace written (%s.%s.<pid>.trace): the shim did not record this program" % (prog, mode)]
    problems, hooked, total_calls = [], False, 0
    for f in files:
        try:
            m, flags, divs, calls = read_trace(f)
        except (ValueError, OSError, struct.error) as e:
            problems.append("%s: unreadable trace: %s" % (os.path.basename(f), e))
            continue
        hooked |= bool(flags & 2)
        total_calls += calls
        for d in divs:
            problems.append("divergence at %#x (%s): Wine said State %#x Protect %#x; kernel VMA %#x-%#x means "
                            "Protect %#x" % (d["address"], {1: "no mapping", 3: "against the calls"}.get(d["kind"], "protection"),
                                             d["wine_state"], d["wine_protect"], d["vma_start"], d["vma_end"],
                                             d["kernel_protect"]))
    if not hooked:
        problems.append("trace says Wine's syscall table was not hooked (WMT_HF_WINE_HOOKED unset)")
    elif total_calls == 0:
        problems.append("trace holds no CALL record, yet every test program queries memory")
    return problems
