#!/bin/sh
# End to end: `--help` on every winmem command, usage errors exit 2, and the
# man page renders without warnings.
. tests/programs/cli_common.sh
out=$("$W" --help); rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q "^  maps "; then ok "winmem --help"; else bad "winmem --help"; fi
for c in run report export diff maps; do
    out=$("$W" $c --help 2>&1); rc=$?
    if [ $rc -eq 0 ] && echo "$out" | grep -q "^usage: winmem $c"; then ok "winmem $c --help"; else bad "winmem $c --help ($rc)"; fi
    "$W" $c > /dev/null 2>&1; rc=$?
    if [ $rc -eq 2 ]; then ok "winmem $c without arguments: exit 2"; else bad "winmem $c without arguments: exit $rc"; fi
done
"$W" frobnicate > /dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "unknown command: exit 2"; else bad "unknown command: exit $rc"; fi
"$W" export --format xml /dev/null > /dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "export --format xml: exit 2"; else bad "export --format xml: exit $rc"; fi
"$W" run --mode fast -- true > /dev/null 2>&1; rc=$?
if [ $rc -eq 2 ]; then ok "run --mode fast: exit 2"; else bad "run --mode fast: exit $rc"; fi
warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l docs/winmem.1 2>&1 >/dev/null)
page=$(MANWIDTH=80 man -l docs/winmem.1 2>/dev/null)
if [ -z "$warn" ] && echo "$page" | grep -q "EXIT STATUS"; then ok "man page renders without warnings"; else bad "man page: $warn"; fi
for c in run report export diff maps; do
    if echo "$page" | grep -q "winmem $c"; then ok "man page documents $c"; else bad "man page lacks $c"; fi
done
verdict cli_help
