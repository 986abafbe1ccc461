#!/usr/bin/env python3
"""wt_selftest: shows that every rule of the conformance matrix can fail, on
made-up program output and made-up shim traces (no Wine needed). Run by
make check-conformance before the real matrix; exits non-zero on the first
rule that does not fire (or fires on a clean input)."""
import os, struct, sys, tempfile, zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wt_judge import RUNS, parse_output, judge, load_expected  # noqa: E402
from wt_trace import shim_evidence  # noqa: E402

FAILED = []


def out(prog, *sections, summary=True):
    """wt.h-style output: sections are (name, verdict, checks, fails[, message])."""
    lines = []
    for s in sections:
        lines.append("WT %s.%s start" % (prog, s[0]))
        if len(s) > 4:
            lines.append("p.c:1: Test failed: [%s] %s" % (s[0], s[4]))
        if s[1] != "died":
            lines.append("WT %s.%s %s %d %d" % (prog, s[0], s[1], s[2], s[3]))
    if summary:
        lines.append("%s (pe): 1 tests executed (0 failures)" % prog)
    return "\n".join(lines)


def entry(line, test, runs, outcome):
    return {"line": line, "test": test, "tests": test.split(","), "runs": runs.split(","),
            "outcome": outcome, "reason": "because", "used": False, "hit": False}


def case(name, res_text, entries, expect, evidence=lambda p, m: []):
    """res_text: {run: output}; expect: substring one problem must contain, or
    None for a clean matrix."""
    res = {}
    for r in RUNS:
        text, rc = res_text.get(r, (None, 0))
        res[(r, "p")] = parse_output("p", text, rc, False) if text is not None else \
            parse_output("p", out("p", ("a", "pass", 1, 0)), 0, False)
    _, _, problems = judge(res, RUNS, ["p"], entries, True, evidence)
    whys = ["%s [%s]: %s" % (t, r, w) for t, r, w, _ in problems]
    if expect is None and whys:
        FAILED.append("%s: expected a clean matrix, got %s" % (name, whys))
    elif expect is not None and not any(expect in w for w in whys):
        FAILED.append("%s: expected a problem containing %r, got %s" % (name, expect, whys))
    else:
        print("selftest %s: ok" % name)


def trace_file(path, hooked=True, divergence=False, calls=1):
    """A minimal trace per include/winmem/trace.h: header, one chunk."""
    hdr = bytearray(64)
    hdr[0:8] = b"WMTRACE1"
    struct.pack_into("<HHBBH", hdr, 8, 1, 64, 8, 1, 1)
    struct.pack_into("<II", hdr, 40, 1, 3 if hooked else 1)
    recs = b""
    for _ in range(calls):   # a CALL record: type 4, 200 bytes (struct wmt_call)
        recs += struct.pack("<HH", 4, 200) + bytes(196)
    if divergence:
        d = struct.pack("<HHHHIIQQQQIIIIQQIIII", 5, 96, 1, 2, 7, 0, 1, 0x10000, 0x10000, 0x1000,
                        0x1000, 4, 0x20000, 0, 0x10000, 0x11000, 1, 2, 0, 0)
        recs += d
    chunk = struct.pack("<IIQII", 0x4b43574d, 7, 0, len(recs), zlib.crc32(recs))
    with open(path, "wb") as f:
        f.write(bytes(hdr) + chunk + recs)


def main():
    good = out("p", ("a", "pass", 3, 0))
    bad = out("p", ("a", "fail", 3, 1, "Protect 0x8, expected PAGE_READWRITE (0x4)"))
    case("clean", {}, [], None)
    case("unexpected fail names run and values", {"wine-pe": (bad, 1), "shim-trace": (bad, 1),
                                                  "shim-check": (bad, 1)}, [],
         "p.a [wine-pe]: expected pass, got fail")
    case("listed fail", {"wine-pe": (bad, 1), "shim-trace": (bad, 1), "shim-check": (bad, 1)},
         [entry(1, "p.a", "wine-pe,shim-trace,shim-check", "fail")], None)
    case("listed fail that passes is XPASS", {}, [entry(1, "p.a", "wine-pe", "fail")], "but it passes now")
    case("trace mode changed a result", {"shim-trace": (bad, 1)},
         [entry(1, "p.a", "shim-trace", "fail")], "trace mode changed the result")
    case("shim-native differs from native", {"shim-native": (bad, 1)}, [], "shim-native")
    case("stale line", {}, [entry(1, "p.nosuch", "native", "fail")], "matches no test")
    case("crash inside a section", {"native": (out("p", ("a", "died", 0, 0), summary=False), -11)}, [],
         "p.a [native]: expected pass, got crash")
    case("unlisted skip", {"native": (out("p", ("a", "skip", 0, 0)), 0)}, [], "got skip")
    case("listed native skip", {"native": (out("p", ("a", "skip", 0, 0)), 0)},
         [entry(1, "p.*", "native", "skip")], None)
    with tempfile.TemporaryDirectory() as d:
        # A line keyed to one Wine version is read only for that version.
        path = os.path.join(d, "expected.txt")
        with open(path, "w") as f:
            f.write("p.a  wine-pe@8,shim-trace@8,shim-check@8  fail  Wine 8.0 only\n")
        wine8, wine10 = load_expected(path, 8), load_expected(path, 10)
        fails = {"wine-pe": (bad, 1), "shim-trace": (bad, 1), "shim-check": (bad, 1)}
        case("line keyed @8, on Wine 8", fails, wine8, None)
        case("line keyed @8 is not read on Wine 10", fails, wine10, "p.a [wine-pe]: expected pass, got fail")
        trace_file(os.path.join(d, "p.check.1.trace"))
        case("hooked trace, no divergence", {}, [], None, lambda p, m: shim_evidence(d, p, "check"))
        trace_file(os.path.join(d, "p.check.1.trace"), divergence=True)
        case("divergence in check mode", {}, [], "divergence at 0x10000",
             lambda p, m: shim_evidence(d, p, "check"))
        trace_file(os.path.join(d, "p.check.1.trace"), hooked=False)
        case("trace without the hook", {}, [], "not hooked", lambda p, m: shim_evidence(d, p, "check"))
        trace_file(os.path.join(d, "p.check.1.trace"), calls=0)
        case("hooked trace without calls", {}, [], "no CALL record", lambda p, m: shim_evidence(d, p, "check"))
        case("no trace at all", {}, [], "no trace written", lambda p, m: shim_evidence(d, p, "trace"))
    for f in FAILED:
        print("selftest FAILED " + f)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
