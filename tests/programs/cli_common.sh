# tests/programs/cli_common.sh — sourced by the CLI's end-to-end scripts
# (tests/e2e/cli_*.sh, diff_noisy.sh) from the top of the tree: the winmem
# under test (the ASan build unless WINMEM names another), ok/bad/check
# bookkeeping and the closing verdict. The shim's scripts have their own
# (shim_common.sh): they also run inside the Debian 13 root.
set -u
B=${BUILD:-build}
W=${WINMEM:-$B/san/winmem}
unset DEBUGINFOD_URLS                       # symbolizers must not reach for the network
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
fails=0
ok()    { echo "ok   $*"; }
bad()   { echo "FAIL $*"; fails=$((fails + 1)); }
# check "what" 'shell condition': passes when the condition holds
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
# wine_prefix DIR: a throw-away Wine prefix of the script's own, quiet
wine_prefix() { export WINEPREFIX="$PWD/$1" WINEDEBUG=-all DISPLAY=; }
# need FILE...: stop at once when something the script runs was not built
need() { for f; do [ -e "$f" ] || { echo "FAIL missing $f (make check-e2e builds it)"; exit 1; }; done; }
# verdict NAME: the last line and the script's exit status
verdict() { echo "$1: $fails failed"; [ "$fails" -eq 0 ]; }
