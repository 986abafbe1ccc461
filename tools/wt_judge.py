"""wt_judge: the conformance matrix's rules, apart from running anything, so
tools/wt_selftest.py can feed them made-up results and show each one fails.

Cell: one program.section in one run. parse_output() turns a program's
output (wine-tests/wt.h format) into cells; judge() decides every cell
against wine-tests/expected-differences.txt and the hard rules.
"""
import fnmatch, os, re, sys

RUNS = ["native", "wine-pe", "wine-winelib", "shim-trace", "shim-check", "shim-native"]
SHIM_RUNS = {"shim-trace": "trace", "shim-check": "check", "shim-native": "native"}
EXIT = "(exit)"   # per-program pseudo-section: did the program end normally?


class Cell:
    """One program.section in one run: the verdict and the failed checks."""
    def __init__(self, status, checks=0, fails=0):
        self.status, self.checks, self.fails, self.msgs = status, checks, fails, []

    def key(self):
        return (self.status, self.checks, self.fails)

    def __str__(self):
        return "%s (%d checks, %d failed)" % (self.status, self.checks, self.fails)


def parse_output(prog, text, rc, timed_out):
    """Output of one program -> {section: Cell}; EXIT says how it ended."""
    cells, started, summary = {}, None, False
    for line in text.splitlines():
        m = re.match(r"WT (\S+?)\.(\S+) (start|pass|fail|skip)(?: (\d+) (\d+))?$", line)
        if m and m.group(1) == prog:
            sec, verdict = m.group(2), m.group(3)
            if verdict == "start":
                started = sec
                cells.setdefault(sec, Cell("running"))
            else:
                c = cells.setdefault(sec, Cell(verdict))
                c.status, c.checks, c.fails = verdict, int(m.group(4)), int(m.group(5))
                started = None
            continue
        m = re.match(r"\S+:\d+: Test (failed|skipped): \[(\S+)\] (.*)", line)
        if m:
            c = cells.setdefault(m.group(2), Cell("running"))
            c.msgs.append(("skipped: " if m.group(1) == "skipped" else "") + line)
            continue
        if re.match(r"%s \(\w+\): \d+ tests executed" % re.escape(prog), line):
            summary = True
    how = "timeout" if timed_out else "crash"
    for sec, c in cells.items():
        if c.status == "running":   # started, never finished: name where it died
            c.status = how
    if timed_out:
        cells[EXIT] = Cell("timeout")
    elif rc < 0:
        cells[EXIT] = Cell("crash")
        cells[EXIT].msgs.append("killed by signal %d" % -rc)
    elif not summary:
        cells[EXIT] = Cell("crash")
        cells[EXIT].msgs.append("exit status %d without the closing summary line" % rc)
    else:
        cells[EXIT] = Cell("pass")
    if started and started in cells and not timed_out:
        cells[EXIT].msgs.append("last section started: %s" % started)
    return cells


def load_expected(path, wine_major=None):
    """Lines: TEST-GLOB[,...] RUN-GLOB[,...] fail|skip REASON. '#' comments.
    A run may carry '@N' (a Wine major version): then it applies only when
    the Wine under test is version N (wine_major); a line none of whose runs
    applies is left out."""
    entries = []
    if not path or not os.path.exists(path):
        return entries
    for n, line in enumerate(open(path), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 3)
        if len(parts) < 4 or parts[2] not in ("fail", "skip", "supplied"):
            sys.exit("%s:%d: want 'TEST RUNS fail|skip|supplied REASON', got: %s" % (path, n, line))
        runs = []
        for r in parts[1].split(","):
            name, _, ver = r.partition("@")
            if ver and not ver.isdigit():
                sys.exit("%s:%d: '%s': a run's Wine version is '@' and a major number (wine-pe@10)" % (path, n, r))
            if not ver or wine_major is None or int(ver) == wine_major:
                runs.append(name)
        if not runs:
            continue
        if parts[2] == "supplied" and any(not r.startswith("shim-") for r in runs):
            sys.exit("%s:%d: 'supplied' names shim runs only (the shim adds an API Wine lacks)" % (path, n))
        entries.append({"line": n, "test": parts[0], "tests": parts[0].split(","), "runs": runs,
                        "outcome": parts[2], "reason": parts[3], "used": False, "hit": False})
    return entries


def find_expected(entries, test, run):
    for e in entries:
        # A glob never covers the (exit) row: only a line naming it does.
        test_ok = any(fnmatch.fnmatch(test, t) and (EXIT in t or not test.endswith(EXIT)) for t in e["tests"])
        if test_ok and any(fnmatch.fnmatch(run, r) for r in e["runs"]):
            return e
    return None


def judge(res, runs, programs, entries, have_shim, evidence):
    """res: {(run, program): {section: Cell}}. evidence(program, mode) -> list
    of problems the shim's own trace shows (wt_trace.shim_evidence).
    Returns (tests, shown, problems): the rows, {(test, run): cell text} and
    [(test, run, why, messages)] — every problem fails make check."""
    # Rows: every program.section any run reported, plus program.(exit).
    tests = []
    for p in programs:
        secs = []
        for r in runs:
            for s in res[(r, p)]:
                if s != EXIT and s not in secs:
                    secs.append(s)
        tests += ["%s.%s" % (p, s) for s in secs] + ["%s.%s" % (p, EXIT)]

    def cell(run, test):
        p, s = test.split(".", 1)
        cells = res[(run, p)]
        if s in cells:
            return cells[s]
        whole = cells[EXIT].status
        if whole in ("n/a", "no build") or (whole == "timeout" and len(cells) == 1):
            return Cell(whole)   # never ran: every section shows why
        return Cell("missing")   # the program ran but never reached this section

    problems, shown = [], {}
    for t in tests:
        for r in runs:
            c = cell(r, t)
            e = find_expected(entries, t, r)
            st = c.status
            if st == "n/a":
                shown[(t, r)] = "n/a"
                continue
            if e:
                e["used"] = True
            if e and e["outcome"] == "supplied" and st == "pass":
                e["hit"] = True
                shown[(t, r)] = "supplied"      # the shim provides what Wine lacks
            elif e and st == e["outcome"]:
                e["hit"] = True
                shown[(t, r)] = "x" + st        # expected difference, listed
            elif st == "pass":
                shown[(t, r)] = "pass"
                if e:
                    problems.append((t, r, "listed as expected %s (line %d: %s) but it passes now: "
                                     "remove or narrow that line" % (e["outcome"], e["line"], e["reason"]), []))
                    shown[(t, r)] = "XPASS"
            else:
                shown[(t, r)] = st.upper()
                want = "pass"
                if e:
                    want = "%s (line %d)" % ("pass, supplied by the shim," if e["outcome"] == "supplied"
                                             else e["outcome"], e["line"])
                problems.append((t, r, "expected %s, got %s" % (want, c), c.msgs))

    # The hard rules: whatever the list says.
    def raw(r, t):
        return cell(r, t) if r in runs else None
    for t in tests:
        ref = raw("wine-pe", t)
        for r in ("shim-trace", "shim-check"):
            c = raw(r, t)
            e = find_expected(entries, t, r)
            supplied = e is not None and e["outcome"] == "supplied"
            if c and ref and c.status != "n/a" and c.key() != ref.key() and not supplied:
                problems.append((t, r, "%s mode changed the result: wine-pe gave %s, %s gave %s"
                                 % (SHIM_RUNS[r], ref, r, c), c.msgs))
                shown[(t, r)] = "CHANGED"
        n, sn = raw("native", t), raw("shim-native", t)
        wine_agrees = ref and ref.status == "pass"
        # Native mode may do better than the native run (an ELF test there, a
        # PE image here), never worse.
        if (n and sn and wine_agrees and n.status == "pass" and sn.status not in ("n/a", "pass")
                and not find_expected(entries, t, "shim-native")):
            problems.append((t, "shim-native", "native mode differs from the native run "
                             "(Wine agrees with Windows here): native gave %s, shim-native gave %s"
                             % (n, sn), sn.msgs))
    for r in runs:
        if r in SHIM_RUNS and have_shim:
            for p in programs:
                if res[(r, p)][EXIT].status == "no build":
                    continue
                for why in evidence(p, SHIM_RUNS[r]):
                    problems.append(("%s.%s" % (p, EXIT), r, why, []))
                    shown[("%s.%s" % (p, EXIT), r)] = "SHIM?"
    ran = set((r, p) for (r, p), cells in res.items() if cells[EXIT].status not in ("n/a", "no build"))
    for e in entries:
        # A line whose program ran in a run it names but never matched is stale.
        progs = [t.split(".", 1)[0] for t in e["tests"]]
        relevant = any(fnmatch.fnmatch(p, g) and any(fnmatch.fnmatch(r, rg) for rg in e["runs"])
                       for r, p in ran for g in progs)
        if relevant and not e["used"] and not any(
                r.startswith("shim-") and not have_shim for r in e["runs"]):
            problems.append(("%s (line %d)" % (e["test"], e["line"]), ",".join(e["runs"]),
                             "expected-differences line matches no test: remove or fix it", []))

    return tests, shown, problems
