/*
 * cli/args.h — a recorded call's arguments and outputs by name, decoded the
 * way the Windows headers spell them (MEM_COMMIT|MEM_RESERVE,
 * PAGE_READWRITE|PAGE_GUARD, MemoryBasicInformation), for export.
 */
#ifndef WINMEM_CLI_ARGS_H
#define WINMEM_CLI_ARGS_H

#include <stdio.h>
#include "winmem/trace.h"

/* "MEM_COMMIT|MEM_RESERVE" (unknown bits as hex), into buf. */
const char *args_mem_flags(uint32_t v, char *buf, size_t len);
/* "PAGE_READWRITE|PAGE_GUARD". */
const char *args_protect(uint32_t v, char *buf, size_t len);
/* "MemoryBasicInformation" or "class#N". */
const char *args_info_class(uint32_t v, char *buf, size_t len);

/* The members "api", "ret", "status"/"error", "failed", "pending",
 * "args":{name: value...} and "out":{name: value...} of one call, with no
 * braces around them: values that are flags, protections, classes or the
 * own process are names, the rest hex strings. */
void args_call_json(FILE *f, const struct wmt_call *c);

#endif
