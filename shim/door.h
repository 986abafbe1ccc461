/*
 * shim/door.h — what the Wine door (shim/wine_calls.c) and the native door
 * (shim/native.c) share: turning a table line into a CALL record, and
 * calling a function in either x86_64 convention. Not installed.
 */
#ifndef WINMEM_SHIM_DOOR_H
#define WINMEM_SHIM_DOOR_H

#include "shim.h"

typedef uint64_t wm_u64;

/* Fills trace slots from a call's arguments a[] by a spec, two characters a
 * slot: an operation and an argument number.
 *   A  the argument itself        I  its low 32 bits (a ULONG/DWORD argument:
 *                                    the register's upper half is undefined)
 *   D  the 64-bit value it points to
 *   O  same, 0 for a NULL pointer  L  the 32-bit value it points to, 0 for NULL
 *   -  leave the slot alone (its digit is ignored)
 * Precondition: a D pointer is one the callee reads too (a bad one faults
 * there as well, see the doors' comments). Inline, with the doors' bodies
 * inlined into each wrapper: the table line is then known where it is used
 * (a call of this and of the body cost ~10 ns a recorded call, measured). */
static inline __attribute__((always_inline)) void wm_door_fill(uint64_t *slots, const char *spec, const wm_u64 *a)
{
    for (int k = 0; spec[2 * k]; k++) {
        if (spec[2 * k] == '-')
            continue;
        wm_u64 v = a[spec[2 * k + 1] - '0'];
        switch (spec[2 * k]) {
        case 'D': v = *(const wm_u64 *)(uintptr_t)v; break;
        case 'O': v = v ? *(const wm_u64 *)(uintptr_t)v : 0; break;
        case 'L': v = v ? *(const uint32_t *)(uintptr_t)v : 0; break;
        case 'I': v = (uint32_t)v; break;
        default: break;
        }
        slots[k] = v;
    }
}

/* Calls fn with a[0..9] as ms_abi / System V arguments. Functions taking
 * fewer ignore the rest (in both conventions the caller owns the stack
 * arguments). Returns rax as is: the caller narrows it to the real type. */
long wm_call_ms(void *fn, const wm_u64 *a) WM_HIDDEN;
long wm_call_sysv(void *fn, const wm_u64 *a) WM_HIDDEN;

/* Decodes a successful NtQueryVirtualMemory-style answer of class cls into
 * out[] (slots as include/winmem/trace.h lists them); retlen may be NULL.
 * min_region: the smallest buffer the class-3 layout is read from (40 for
 * MEMORY_REGION_INFORMATION, 32 for WIN32_MEMORY_REGION_INFORMATION). */
void wm_door_decode_query(uint64_t *out, int cls, const void *buf, size_t len, const size_t *retlen,
                          size_t min_region) WM_HIDDEN;

#endif
