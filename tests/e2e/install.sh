#!/bin/sh
# `make install` as a package would run it: PREFIX and DESTDIR honoured by
# every install rule, winmem.pc regenerated when PREFIX changes, nothing
# written outside the prefix, all of it done by an unprivileged user
# (uid 65534 through setpriv) into a temporary prefix, and README.md's C
# example built from the README text with pkg-config and run.
#
# The tree is built first by the caller (check-e2e runs after `all`); the
# .pc for each PREFIX is made here as the tree's owner, then the install
# itself runs as nobody, which needs nothing but read access to build/.
. tests/programs/cli_common.sh
ROOT=$PWD
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv > /dev/null; then
    echo "skipped: needs root and setpriv to install as an unprivileged user"
    exit 0
fi
mkdir -p "$B/tests"
T=$(mktemp -d "$ROOT/$B/tests/install.XXXXXX")   # nobody writes only in the subdirectories given to it
chmod 755 "$T"
trap 'rm -rf "$T"; make -s -C "$ROOT" PREFIX=/usr/local BUILD=$B $B/winmem.pc > /dev/null 2>&1' EXIT
as_nobody() { setpriv --reuid 65534 --regid 65534 --clear-groups env -i PATH=/usr/bin:/bin HOME="$T" "$@"; }

# 1. a staged install (DESTDIR) for PREFIX=/opt/wm
make -s PREFIX=/opt/wm BUILD=$B all > /dev/null 2>&1
mkdir -p "$T/stage" && chown 65534:65534 "$T/stage"
as_nobody make -s -C "$ROOT" BUILD=$B PREFIX=/opt/wm DESTDIR="$T/stage" install > "$T/stage.log" 2>&1; rc=$?
check "make install DESTDIR=... PREFIX=/opt/wm as uid 65534: exit 0" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || tail -5 "$T/stage.log"
S=$T/stage/opt/wm
for f in bin/winmem lib/libwinmem.so.0 lib/libwinmem.a lib/libwinmem-shim.so lib/pkgconfig/winmem.pc \
         include/winmem/winmem.h share/man/man1/winmem.1 \
         lib/winmem/wine/x86_64-windows/vmsavedstatedumpprovider.dll lib/winmem/wine/x86_64-unix/vmsavedstatedumpprovider.so; do
    check "staged: $f under DESTDIR/PREFIX" '[ -e "$S/$f" ]'
done
check "staged: nothing outside DESTDIR/PREFIX" '[ "$(ls "$T/stage")" = opt ] && [ "$(ls "$T/stage/opt")" = wm ]'
check "staged winmem.pc says prefix=/opt/wm (regenerated for this PREFIX)" 'grep -qx "prefix=/opt/wm" "$S/lib/pkgconfig/winmem.pc"'

# 2. a real install into a prefix nobody owns, then the README example
P=$T/prefix
mkdir -p "$P" && chown 65534:65534 "$P"
make -s PREFIX="$P" BUILD=$B all > /dev/null 2>&1
as_nobody make -s -C "$ROOT" BUILD=$B PREFIX="$P" install > "$T/install.log" 2>&1; rc=$?
check "make install PREFIX=<temp> as uid 65534: exit 0" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || tail -5 "$T/install.log"
check "installed winmem.pc names the new prefix" 'grep -qx "prefix=$P" "$P/lib/pkgconfig/winmem.pc"'
# the first ```c block of README.md, exactly as written
W=$T/work
mkdir -p "$W" && chown 65534:65534 "$W"
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' README.md > "$W/app.c"
chmod 644 "$W/app.c"
check "README has a C example" '[ -s "$W/app.c" ] && grep -q "int main" "$W/app.c"'
as_nobody sh -c "cd '$W' && PKG_CONFIG_PATH='$P/lib/pkgconfig' && export PKG_CONFIG_PATH && \
    cc -Wall -Werror -o app app.c \$(pkg-config --cflags --libs winmem) -Wl,-rpath,\$(pkg-config --variable=libdir winmem)" \
    > "$T/cc.log" 2>&1; rc=$?
check "README example compiles as written against the installed prefix (pkg-config)" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || cat "$T/cc.log"
out=$(as_nobody "$W/app" 2>&1); rc=$?
check "README example runs: the reservation is MEM_RESERVE, 0x10000" '[ $rc -eq 0 ] && [ "$out" = "MEM_RESERVE 0x10000" ]'
check "it uses the installed library" 'as_nobody env LD_TRACE_LOADED_OBJECTS=1 "$W/app" | grep -q "libwinmem.so.0 => $P/lib/"'
as_nobody "$P/bin/winmem" run -o "$T/true.wmt" --no-summary -- /bin/true > "$T/run.log" 2>&1; rc=$?
check "installed winmem run finds the installed shim" '[ $rc -eq 0 ] && ! grep -qi "cannot find" "$T/run.log"'

verdict install
