/*
 * core/internal.h — small helpers every API family in core/ shares:
 * last-error plumbing, NTSTATUS → Win32 error mapping, protection
 * conversion, and process-handle resolution. Not installed.
 */
#ifndef WINMEM_CORE_INTERNAL_H
#define WINMEM_CORE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include "winmem/memory.h"
#include "prim.h"
#include "winview.h"

/* Public entry points are exported; everything else in core/ is hidden. */
#define WM_EXPORT __attribute__((visibility("default")))

/* ---- core/errors.c ---- */
/* The calling thread's last error (GetLastError). */
void wm_set_last_error(DWORD err);
DWORD wm_get_last_error(void);
/* RtlNtStatusToDosError for the statuses winmem returns; unknown → ERROR_MR_MID_NOT_FOUND (317). */
DWORD wm_status_to_error(NTSTATUS st);
/* Sets the last error from st and returns st, for `return wm_fail(st);`. */
NTSTATUS wm_fail_status(NTSTATUS st);

/* ---- core/process.c ---- */
/* The address space behind a process handle: GetCurrentProcess() (-1) or a
 * handle from OpenProcess. Returns NULL and *status STATUS_INVALID_HANDLE for
 * anything else. A space from here stays valid until wm_space_put(). */
wm_space *wm_handle_get(HANDLE h, NTSTATUS *status);
void wm_space_put(wm_space *sp);
/* true when h names this process (pseudo-handle, or an OpenProcess of getpid()). */
bool wm_handle_is_self(HANDLE h);

/* ---- protection ---- */
/* The base protection (no GUARD/NOCACHE/WRITECOMBINE) of a PAGE_* value, or 0
 * if it is not exactly one of the eight base values. */
static inline uint32_t wm_prot_base(uint32_t prot)
{
    uint32_t b = prot & 0xff;
    return (b && !(b & (b - 1))) ? b : 0;
}

/* PAGE_* → PROT_*; PAGE_GUARD maps to PROT_NONE (the guard is armed by
 * removing access). Pre: wm_prot_base(prot) != 0. */
static inline int wm_prot_to_unix(uint32_t prot)
{
    if (prot & PAGE_GUARD)
        return PROT_NONE;
    switch (prot & 0xff) {
    case PAGE_READONLY:          return PROT_READ;
    case PAGE_READWRITE:
    case PAGE_WRITECOPY:         return PROT_READ | PROT_WRITE;
    case PAGE_EXECUTE:           return PROT_EXEC;
    case PAGE_EXECUTE_READ:      return PROT_READ | PROT_EXEC;
    case PAGE_EXECUTE_READWRITE:
    case PAGE_EXECUTE_WRITECOPY: return PROT_READ | PROT_WRITE | PROT_EXEC;
    default:                     return PROT_NONE;
    }
}

/* wm_prot_from_vma (VMA access → PAGE_*) is one of the rules in winview.h. */

#define WM_ALLOC_GRANULARITY 0x10000ULL

/* ---- core/alloc.c, core/guard.c ---- */
/* Serialises every change to winmem's own allocations, so the kernel's
 * protection and the registry change together and never disagree. The guard
 * handler takes it too: code holding it must not touch allocated memory. */
void wm_alloc_lock(void);
void wm_alloc_unlock(void);
/* The guard handler's way in: false (lock not taken) when the faulting thread
 * already holds the lock, i.e. a nested signal interrupted winmem itself. */
bool wm_alloc_lock_in_handler(void);
/* Installs the PAGE_GUARD SIGSEGV handler once. Returns false when it may
 * not be installed (wm_guard_forbid_handler); guards are then recorded but
 * never fire (see docs/allocation.md). */
bool wm_guard_enable(void);
/* Clears an armed guard on addr's page: kernel protection and registry
 * together, or neither. Async-signal-safe. Pre: wm_alloc_lock held. */
bool wm_guard_disarm_page(uint64_t addr);
/* Forbids installing the handler from now on: for the shim inside a Wine
 * process, where Wine owns SIGSEGV. Call before the first PAGE_GUARD use. */
void wm_guard_forbid_handler(void);
/* STATUS_SUCCESS if prot is a valid PAGE_* value: one base, at most one of
 * GUARD/NOCACHE/WRITECOMBINE, no modifier with PAGE_NOACCESS; the WRITECOPY
 * bases only where private_memory is false (file views). */
NTSTATUS wm_check_prot(uint32_t prot, bool private_memory);
/* core/alloc.c: the pages holding a byte of [addr, addr+size) as
 * [*start, *end) (empty when size is 0 at a page boundary, as NT rounds).
 * STATUS_INVALID_PARAMETER when the range reaches past the user half or
 * wraps past 2^64 (NT: "region size" beyond the highest user address),
 * so no rounded end can wrap to an empty range. */
NTSTATUS wm_page_range(uint64_t addr, uint64_t size, uint64_t *start, uint64_t *end);
/* core/protect_foreign.c: VirtualProtect on committed memory winmem did not
 * allocate, pages [start, end) (empty: report only). Pre: wm_alloc_lock held,
 * wm_check_prot(prot, false) passed. */
NTSTATUS wm_protect_foreign(uint64_t start, uint64_t end, uint32_t prot, uint32_t *old);
/* core/vlock.c: forgets VirtualLock's record of pages in [start, end), for
 * memory being decommitted or released. Pre: wm_alloc_lock held. */
void wm_lock_forget(uint64_t start, uint64_t end);

#endif
