/*
 * cli/json.h — the one JSON writer of the CLI (export, report --html's data,
 * maps --json). Strings come from traces and /proc and may hold any byte:
 * valid UTF-8 passes through, control characters are escaped, and every
 * byte that is not part of valid UTF-8 becomes U+FFFD, so the output is
 * always valid JSON.
 */
#ifndef WINMEM_CLI_JSON_H
#define WINMEM_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

/* Writes the escaped body of s (no quotes) at w and returns the end. Writes
 * at most 6 bytes per byte of s, plus nothing else (no terminator). */
char *json_escape(char *w, const char *s);
/* "s" with quotes, to f. */
void json_str(FILE *f, const char *s);
/* Hex strings ("0x1f") for 64-bit values: JSON numbers lose precision above 2^53. */
void json_hex(FILE *f, uint64_t v);

#endif
