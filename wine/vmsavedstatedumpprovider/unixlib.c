/*
 * The Unix half of vmsavedstatedumpprovider.dll: Wine 8 loads this .so for
 * the PE half (it looks for x86_64-unix/<dll>.so beside x86_64-windows/<dll>.dll)
 * and dispatches __wine_unix_call codes to __wine_unix_call_funcs. Each entry
 * unpacks the arguments and calls winmem; winmem's functions are ms_abi, and
 * the compiler handles the switch from this file's System V code.
 */
#include <stdint.h>
#include "winmem/vmsavedstatedump.h"
#include "unixlib.h"

typedef NTSTATUS (*unixlib_entry_t)(void *args);

#define P(i) ((void *)(uintptr_t)c->a[i])
#define U32(i) ((UINT32)c->a[i])
#define ENTRY(name, call) \
    static NTSTATUS name(void *args) { struct wm_ssd_args *c = args; c->hr = call; return 0; }

ENTRY(load, winmem_LoadSavedStateFileUtf8(P(0), P(1)))
ENTRY(load_pair, winmem_LoadSavedStateFilesUtf8(P(0), P(1), P(2)))
ENTRY(release, ReleaseSavedStateFiles(P(0)))
ENTRY(chunks, GetGuestPhysicalMemoryChunks(P(0), P(1), P(2), P(3)))
ENTRY(raw_size, GetGuestRawSavedMemorySize(P(0), P(1)))
ENTRY(read_raw, ReadGuestRawSavedMemory(P(0), c->a[1], P(2), U32(3), P(4)))
ENTRY(pa_to_raw, GuestPhysicalAddressToRawSavedMemoryOffset(P(0), c->a[1], P(2)))
ENTRY(read_pa, ReadGuestPhysicalAddress(P(0), c->a[1], P(2), U32(3), P(4)))
ENTRY(vp_count, GetVpCount(P(0), P(1)))
ENTRY(get_arch, GetArchitecture(P(0), U32(1), P(2)))
ENTRY(force_arch, ForceArchitecture(P(0), U32(1), (VIRTUAL_PROCESSOR_ARCH)c->a[2]))
ENTRY(reg, GetRegisterValue(P(0), U32(1), U32(2), P(3)))
ENTRY(get_paging, GetPagingMode(P(0), U32(1), P(2)))
ENTRY(force_paging, ForcePagingMode(P(0), U32(1), (PAGING_MODE)c->a[2]))
ENTRY(in_kernel, InKernelSpace(P(0), U32(1), P(2)))
ENTRY(va_to_pa, GuestVirtualAddressToPhysicalAddress(P(0), U32(1), c->a[2], P(3), P(4)))
ENTRY(set_cache, SetMemoryBlockCacheLimit(P(0), c->a[1]))
ENTRY(get_cache, GetMemoryBlockCacheLimit(P(0), P(1)))

__attribute__((visibility("default")))
const unixlib_entry_t __wine_unix_call_funcs[wm_ssd_count] = {
    [wm_ssd_LoadUtf8] = load,         [wm_ssd_LoadPairUtf8] = load_pair, [wm_ssd_Release] = release,
    [wm_ssd_Chunks] = chunks,         [wm_ssd_RawSize] = raw_size,       [wm_ssd_ReadRaw] = read_raw,
    [wm_ssd_PaToRaw] = pa_to_raw,     [wm_ssd_ReadPa] = read_pa,         [wm_ssd_VpCount] = vp_count,
    [wm_ssd_GetArch] = get_arch,      [wm_ssd_ForceArch] = force_arch,   [wm_ssd_Register] = reg,
    [wm_ssd_GetPaging] = get_paging,  [wm_ssd_ForcePaging] = force_paging, [wm_ssd_InKernel] = in_kernel,
    [wm_ssd_VaToPa] = va_to_pa,       [wm_ssd_SetCache] = set_cache,     [wm_ssd_GetCache] = get_cache,
};
