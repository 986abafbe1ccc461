#!/bin/sh
# The public headers compile on their own (gcc) and after Wine's <windows.h>
# (winegcc) with no redefinition; the layouts are asserted at compile time.
set -eu
out=${BUILD:-build}/e2e/headers
mkdir -p "$out"
gcc -std=gnu11 -Wall -Werror -Iinclude -c tests/headers/standalone.c -o "$out/standalone.o"
echo "ok - winmem headers compile standalone with -Werror"
winegcc -m64 -Wall -Werror -Iinclude -c tests/headers/with_windows_h.c -o "$out/with_windows_h.o"
echo "ok - winmem headers compile after Wine's <windows.h> with -Werror"
