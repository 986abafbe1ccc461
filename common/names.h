/*
 * common/names.h — names the shim and the CLI both read or write: a path's
 * base name, the names Wine's loader goes by, the recording modes, and trace
 * file patterns ("%p" = the recording process's pid).
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

/* "trace", "check", "native" for WMT_MODE_*; "?" for another value. */
const char *wm_mode_name(uint32_t mode);
/* The WMT_MODE_* named name, or -1 when it names none. */
int wm_mode_parse(const char *name);

/* pattern with every "%p" replaced by with (a pid, or "*" to glob for any
 * pid), cut to fit out_size bytes (NUL included). Pre: out_size >= 1. */
void wm_pattern_fill(const char *pattern, const char *with, char *out, size_t out_size);

#endif
