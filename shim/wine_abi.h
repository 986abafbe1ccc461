/*
 * shim/wine_abi.h — what the shim reads of Wine's and Windows' per-thread
 * structures, named once, each with the builds it was checked on.
 *
 * The Windows-defined TEB/PEB fields are the documented x64 layout (stable
 * since NT); the Wine-private ones are facts of a Wine build, checked by
 * reading Wine's source (dlls/ntdll/unix/signal_x86_64.c) and by running the
 * shim's stack tests on: Debian 12 wine-8.0 (8.0~repack-4) and Debian 13
 * wine-10.0 (10.0~repack-6). A build whose dispatcher the shim does not
 * recognise (shim/wine.c) is never hooked, so these are only read on those.
 */
#ifndef WINMEM_SHIM_WINE_ABI_H
#define WINMEM_SHIM_WINE_ABI_H

#include <stdint.h>

/* ---- Windows x64 TEB / PEB (documented layout) ---- */
#define WM_TEB_STACK_BASE   0x08   /* NT_TIB.StackBase */
#define WM_TEB_STACK_LIMIT  0x10   /* NT_TIB.StackLimit */
#define WM_TEB_SELF         0x30   /* NT_TIB.Self: %gs:0x30 is the TEB's address */
#define WM_TEB_CLIENT_PID   0x40   /* ClientId.UniqueProcess */
#define WM_TEB_PEB          0x60   /* ProcessEnvironmentBlock */
#define WM_TEB_LAST_ERROR   0x68   /* LastErrorValue */
#define WM_PEB_LDR          0x18   /* PEB_LDR_DATA * */
#define WM_LDR_LOAD_ORDER   0x10   /* InLoadOrderModuleList head */
#define WM_LDR_ENTRY_BASE   0x30   /* LDR_DATA_TABLE_ENTRY.DllBase */
#define WM_PEB_PARAMS       0x20   /* RTL_USER_PROCESS_PARAMETERS * */
#define WM_PARAMS_FLAGS     0x08   /* bit 0: normalized (pointers, not offsets) */
#define WM_PARAMS_IMAGE     0x60   /* ImagePathName (UNICODE_STRING) */

/* MEMORY_BASIC_INFORMATION (x64), what the shim's unrecorded queries of
 * Wine (wm_wine_query_self, class 0) return. */
struct wm_mbi {
    uint64_t base, alloc_base;
    uint32_t alloc_prot, pad;
    uint64_t size;
    uint32_t state, prot, type, pad2;
};
#define WM_MEM_COMMIT       0x1000
#define WM_MEM_IMAGE        0x1000000

/* ---- Wine's syscall frame (struct syscall_frame), x86_64 ----
 * Its address is in the TEB while a system call runs (amd64_thread_data()->
 * syscall_frame). Same offsets on 8.0 and 10.0 (10.0 moved restore_flags,
 * which the shim does not read). */
#define WM_TEB_WINE_FRAME   0x328
#define WM_FRAME_RBX        0x08
#define WM_FRAME_RSI        0x20
#define WM_FRAME_RDI        0x28
#define WM_FRAME_R12        0x50   /* r13..r15 follow, 8 bytes apart */
#define WM_FRAME_RIP        0x70
#define WM_FRAME_RSP        0x88
#define WM_FRAME_RBP        0x98

/* The TEB of the calling thread. Precondition: a Wine thread (in a door
 * call); elsewhere %gs is not a TEB and the read may fault. */
static inline uint64_t wm_teb(void)
{
    uint64_t teb;
    __asm__ volatile("mov %%gs:0x30, %0" : "=r"(teb));
    return teb && !(teb & 0xfff) ? teb : 0;
}

#endif
