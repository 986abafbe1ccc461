/*
 * common/names.h — names the shim and the CLI both read or write: a path's
 * base name, the names Wine's loader goes by, the name a program is known
 * by, the recording modes, trace file patterns ("%p" = the recording
 * process's pid), and Windows' UTF-16 names as UTF-8.
 *
 * common/ holds what the shim (inside other people's programs) and the CLI
 * both need, compiled into each (never into libwinmem). Everything here is
 * safe in the shim: no allocation, no stdio, no locks.
 */
#ifndef WINMEM_COMMON_NAMES_H
#define WINMEM_COMMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The part of path after its last '/' or '\' (Unix and Windows paths). */
const char *wm_base_name(const char *path);

/* true when base names one of Wine's loader programs or launchers: wine,
 * wine64, their -preloader builds, and Debian's wine-stable,
 * wine64-stable and wine-development. */
bool wm_is_wine_name(const char *base);

/* The name a program is known by (the filter's name, the trace's program):
 * path's base name, without the ".so" of a winelib program ("prog.exe.so",
 * what winegcc's launcher hands to Wine, is the program "prog.exe" — the
 * name Wine itself gives it). Written to out, cut to out_size (>= 1). */
void wm_program_name(const char *path, char *out, size_t out_size);

/* UTF-16 (n code units, surrogate pairs joined; a lone surrogate becomes
 * U+FFFD) as NUL-terminated UTF-8 in out, cut at a whole character to fit
 * out_size (>= 1). Returns the bytes written, NUL excluded. */
size_t wm_utf16_to_utf8(const uint16_t *w, size_t n, char *out, size_t out_size);

/* "trace", "check", "native" for WMT_MODE_*; "?" for another value. */
const char *wm_mode_name(uint32_t mode);
/* The WMT_MODE_* named name, or -1 when it names none. */
int wm_mode_parse(const char *name);

/* pattern with every "%p" replaced by with (a pid, or "*" to glob for any
 * pid), cut to fit out_size bytes (NUL included). Pre: out_size >= 1. */
void wm_pattern_fill(const char *pattern, const char *with, char *out, size_t out_size);

#endif
