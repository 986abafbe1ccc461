/*
 * cli/options.h — the checks every command applies to its option values, so
 * `--top abc`, `--top 99999999999999999999`, `--frames -5` or an unknown API
 * name are refused with one clear message (exit status 2) instead of being
 * read as 0, as a wrapped number, or ignored.
 */
#ifndef WINMEM_CLI_OPTIONS_H
#define WINMEM_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

/* arg is a whole decimal number in [min, max] with nothing after it (no
 * sign unless min < 0, no overflow). Else prints "winmem CMD: --OPT wants a
 * whole number from MIN to MAX, not 'ARG'" on stderr and returns false. */
bool opt_int(const char *cmd, const char *opt, const char *arg, long min, long max, int *out);

/* arg is one of names[0..n). Else prints the valid names on stderr and
 * returns false. */
bool opt_choice(const char *cmd, const char *opt, const char *arg, const char *const *names, size_t n);

/* The API names a trace can hold (wmt_api_name), for --ignore-api. */
size_t opt_api_names(const char **names, size_t max);

#endif
