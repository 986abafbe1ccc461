/*
 * core/awe_internal.h — AWE entry points for the rest of winmem (not
 * installed). The Win32 functions in winmem/awe.h set winmem's own last
 * error; these return the NTSTATUS instead, so a caller with another notion
 * of "last error" (the Wine shim writes the PE thread's TEB) can use the
 * same code. Implemented in core/awe.c.
 */
#ifndef WINMEM_CORE_AWE_INTERNAL_H
#define WINMEM_CORE_AWE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "winmem/wintypes.h"

NTSTATUS wm_awe_allocate(HANDLE process, ULONG_PTR *count, ULONG_PTR *frames);
NTSTATUS wm_awe_map(void *va, ULONG_PTR count, const ULONG_PTR *frames);
NTSTATUS wm_awe_map_scatter(void **vas, ULONG_PTR count, const ULONG_PTR *frames);
NTSTATUS wm_awe_free(HANDLE process, ULONG_PTR *count, const ULONG_PTR *frames);

/* The AWE window [base, base+size) is about to be released (VirtualFree
 * MEM_RELEASE): forget every frame mapped in it. The frames stay allocated;
 * the caller releases the address range itself. Safe to call for a range
 * that holds no window. */
void wm_awe_forget_window(uint64_t base, uint64_t size);

/* true when this process holds at least one frame or ever did (then the
 * map functions validate instead of failing with STATUS_INVALID_PARAMETER). */
bool wm_awe_pool_exists(void);

#endif
