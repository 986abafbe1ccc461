/*
 * winmem/awe.h — Address Windowing Extensions on Linux: page frames the
 * program holds and maps into windows reserved with
 * VirtualAlloc(MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE).
 *
 * Frames are pages of one per-process memfd, locked in RAM (mlock). A frame
 * number is an opaque ULONG_PTR, never 0 (0 means "unmap" in
 * MapUserPhysicalPagesScatter). Mapping a frame is mmap(MAP_SHARED|MAP_FIXED)
 * of its page of the memfd into the window; unmapping puts an inaccessible
 * reservation (PROT_NONE) back. docs/awe.md has the whole mapping and the
 * privilege story (SeLockMemoryPrivilege = CAP_IPC_LOCK or RLIMIT_MEMLOCK).
 *
 * Only the calling process is supported: another process's handle gives
 * ERROR_NOT_SUPPORTED. All functions are thread-safe.
 */
#ifndef WINMEM_AWE_H
#define WINMEM_AWE_H

#include "wintypes.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* With <windows.h> first, its own (identical) prototypes are used. */
#if !WINMEM_HAVE_WINDOWS_H

/* Allocates up to *NumberOfPages locked frames and writes their numbers, in
 * order, to PageArray. *NumberOfPages receives how many were allocated (may
 * be fewer: RLIMIT_MEMLOCK or RAM ran short). *NumberOfPages == 0: TRUE,
 * nothing done. Errors: ERROR_PRIVILEGE_NOT_HELD (no CAP_IPC_LOCK and
 * RLIMIT_MEMLOCK below one page), ERROR_NO_SYSTEM_RESOURCES (not one frame
 * could be locked), ERROR_NOACCESS (bad pointers), ERROR_INVALID_PARAMETER
 * (count too large), ERROR_INVALID_HANDLE. On failure no frame is allocated
 * and *NumberOfPages is unchanged. */
BOOL WINMEM_API AllocateUserPhysicalPages(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                          PULONG_PTR PageArray);

/* As AllocateUserPhysicalPages; nndPreferred is accepted and ignored (the
 * kernel places the pages; see docs/awe.md). */
BOOL WINMEM_API AllocateUserPhysicalPagesNuma(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                              PULONG_PTR PageArray, DWORD nndPreferred);

/* Maps NumberOfPages frames from PageArray at the page-aligned
 * VirtualAddress onwards, replacing (and unmapping) whatever was mapped
 * there; PageArray NULL unmaps the range. All or nothing. Errors:
 * ERROR_INVALID_PARAMETER (count 0 or too large, range not inside one
 * MEM_PHYSICAL window, no frame ever allocated, a frame already mapped
 * anywhere or listed twice), ERROR_INVALID_ADDRESS (a frame this process
 * does not hold), ERROR_NOACCESS (unreadable PageArray). */
BOOL WINMEM_API MapUserPhysicalPages(PVOID VirtualAddress, ULONG_PTR NumberOfPages,
                                     PULONG_PTR PageArray);

/* Maps PageArray[i] at the page of VirtualAddresses[i]; a 0 entry (or a NULL
 * PageArray) unmaps that page. Addresses may lie in different windows.
 * Errors as MapUserPhysicalPages; NumberOfPages 0 succeeds. */
BOOL WINMEM_API MapUserPhysicalPagesScatter(PVOID *VirtualAddresses, ULONG_PTR NumberOfPages,
                                            PULONG_PTR PageArray);

/* Frees the frames in PageArray, unmapping any that are mapped. Frames are
 * freed in order until one is not held (ERROR_INVALID_ADDRESS); on return
 * *NumberOfPages is the number freed. Also ERROR_INVALID_PARAMETER (count 0,
 * no frame ever allocated), ERROR_NOACCESS, ERROR_INVALID_HANDLE. */
BOOL WINMEM_API FreeUserPhysicalPages(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                      PULONG_PTR PageArray);

#endif /* !WINMEM_HAVE_WINDOWS_H */

#ifdef __cplusplus
}
#endif
#endif
