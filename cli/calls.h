/*
 * cli/calls.h — what the readers of CALL records (report, export, diff)
 * share: did a call fail, the name of its error code, argument names.
 */
#ifndef WINMEM_CLI_CALLS_H
#define WINMEM_CLI_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "winmem/trace.h"

/* Failure by the API's own convention: NTSTATUS < 0 for Nt*, a zero return
 * for the Win32 calls, -1 (MAP_FAILED) for the unix layer. PENDING calls are
 * neither failed nor succeeded. */
bool call_failed(const struct wmt_call *c);
/* The code that says why ("STATUS_CONFLICTING_ADDRESSES", "ERROR_INVALID_ADDRESS",
 * "ENOMEM"), as a number and a name; buf receives "NAME (0x...)". */
uint32_t call_code(const struct wmt_call *c);
void call_code_name(const struct wmt_call *c, char *buf, size_t len);
const char *status_name(uint32_t st);     /* NULL if unknown */
const char *win32_error_name(uint32_t e); /* NULL if unknown */

/* API name ("api#77" for an unknown id, in a static buffer per call). */
const char *call_api_name(unsigned api);
/* Argument names of an API: fills names[] (pointers into buf), returns count. */
int call_arg_names(unsigned api, char *buf, size_t len, const char *names[10]);

/* Is a module (its file name: "msvcrt.dll", "libc.so.6") Wine's, the
 * system's or the C runtime's rather than the program's? By name alone;
 * pe: a PE module (else an ELF one). */
bool call_module_is_system(const char *module, bool pe);

static inline unsigned call_door(const struct wmt_call *c) { return c->flags & WMT_CF_DOOR_MASK; }
static inline bool call_is_nt(unsigned api) { return (api >= 1 && api <= 14) || api == WMT_API_ZwQueryVirtualMemory; }
static inline bool call_is_unix(unsigned api) { return api >= 64 && api <= 68; }

#endif
