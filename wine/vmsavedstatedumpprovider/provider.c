/*
 * vmsavedstatedumpprovider.dll for Wine: the PE half. Windows programs load
 * it like Microsoft's DLL; every export passes its arguments to the Unix half
 * (unixlib.c, which calls winmem) through Wine 8's unix-call interface, so
 * the dump is read by native Linux code. Only the two loaders do more: they
 * turn the Windows paths they get (C:\..., Z:\...) into Unix paths with
 * Wine's wine_get_unix_file_name.
 */
#include <stdarg.h>
#include <windef.h>
#include <winbase.h>
#include <winternl.h>
#include "winmem/vmsavedstatedump.h"
#include "unixlib.h"

/* Wine 8.0's unix-call interface (libwinecrt0; no header ships in Debian's libwine-dev). */
typedef UINT64 unixlib_handle_t;
extern unixlib_handle_t __wine_unixlib_handle;
extern NTSTATUS (WINAPI *__wine_unix_call_dispatcher)(unixlib_handle_t, unsigned int, void *);
extern NTSTATUS WINAPI __wine_init_unix_call(void);

static NTSTATUS unix_ready = STATUS_DLL_NOT_FOUND;

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, void *reserved)
{
    if (reason == DLL_PROCESS_ATTACH) {
        DisableThreadLibraryCalls(inst);
        unix_ready = __wine_init_unix_call();
    }
    return TRUE;
}

static HRESULT call(enum wm_ssd_call code, UINT64 a0, UINT64 a1, UINT64 a2, UINT64 a3, UINT64 a4)
{
    struct wm_ssd_args args = { { a0, a1, a2, a3, a4 }, E_FAIL };
    if (unix_ready)      /* the Unix half is missing: nothing can be read */
        return E_NOTIMPL;
    __wine_unix_call_dispatcher(__wine_unixlib_handle, code, &args);
    return args.hr;
}

#define PTR(p) ((UINT64)(ULONG_PTR)(p))

static HRESULT unix_path(LPCWSTR dos, char **out)
{
    *out = NULL;
    if (!dos)
        return S_OK;
    *out = wine_get_unix_file_name(dos);
    return *out ? S_OK : HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND);
}

HRESULT WINAPI LoadSavedStateFile(LPCWSTR file, VM_SAVED_STATE_DUMP_HANDLE *h)
{
    char *p;
    if (!file || !h)
        return E_POINTER;
    HRESULT hr = unix_path(file, &p);
    if (SUCCEEDED(hr))
        hr = call(wm_ssd_LoadUtf8, PTR(p), PTR(h), 0, 0, 0);
    HeapFree(GetProcessHeap(), 0, p);
    return hr;
}

HRESULT WINAPI LoadSavedStateFiles(LPCWSTR bin, LPCWSTR vsv, VM_SAVED_STATE_DUMP_HANDLE *h)
{
    char *b = NULL, *v = NULL;
    if (!bin || !h)
        return E_POINTER;
    HRESULT hr = unix_path(bin, &b);
    if (SUCCEEDED(hr))
        hr = unix_path(vsv, &v);
    if (SUCCEEDED(hr))
        hr = call(wm_ssd_LoadPairUtf8, PTR(b), PTR(v), PTR(h), 0, 0);
    HeapFree(GetProcessHeap(), 0, b);
    HeapFree(GetProcessHeap(), 0, v);
    return hr;
}

HRESULT WINAPI ReleaseSavedStateFiles(VM_SAVED_STATE_DUMP_HANDLE h)
{
    return call(wm_ssd_Release, PTR(h), 0, 0, 0, 0);
}

HRESULT WINAPI GetGuestPhysicalMemoryChunks(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 *ps, GPA_MEMORY_CHUNK *c, UINT64 *n)
{
    return call(wm_ssd_Chunks, PTR(h), PTR(ps), PTR(c), PTR(n), 0);
}

HRESULT WINAPI GetGuestRawSavedMemorySize(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 *s)
{
    return call(wm_ssd_RawSize, PTR(h), PTR(s), 0, 0, 0);
}

HRESULT WINAPI ReadGuestRawSavedMemory(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 off, LPVOID b, UINT32 n, UINT32 *r)
{
    return call(wm_ssd_ReadRaw, PTR(h), off, PTR(b), n, PTR(r));
}

HRESULT WINAPI GuestPhysicalAddressToRawSavedMemoryOffset(VM_SAVED_STATE_DUMP_HANDLE h, GUEST_PHYSICAL_ADDRESS pa, UINT64 *o)
{
    return call(wm_ssd_PaToRaw, PTR(h), pa, PTR(o), 0, 0);
}

HRESULT WINAPI ReadGuestPhysicalAddress(VM_SAVED_STATE_DUMP_HANDLE h, GUEST_PHYSICAL_ADDRESS pa, LPVOID b, UINT32 n, UINT32 *r)
{
    return call(wm_ssd_ReadPa, PTR(h), pa, PTR(b), n, PTR(r));
}

HRESULT WINAPI GetVpCount(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 *n)
{
    return call(wm_ssd_VpCount, PTR(h), PTR(n), 0, 0, 0);
}

HRESULT WINAPI GetArchitecture(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, VIRTUAL_PROCESSOR_ARCH *a)
{
    return call(wm_ssd_GetArch, PTR(h), vp, PTR(a), 0, 0);
}

HRESULT WINAPI ForceArchitecture(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, VIRTUAL_PROCESSOR_ARCH a)
{
    return call(wm_ssd_ForceArch, PTR(h), vp, (UINT64)a, 0, 0);
}

HRESULT WINAPI GetRegisterValue(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, DWORD id, VIRTUAL_PROCESSOR_REGISTER *r)
{
    return call(wm_ssd_Register, PTR(h), vp, id, PTR(r), 0);
}

HRESULT WINAPI GetPagingMode(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, PAGING_MODE *m)
{
    return call(wm_ssd_GetPaging, PTR(h), vp, PTR(m), 0, 0);
}

HRESULT WINAPI ForcePagingMode(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, PAGING_MODE m)
{
    return call(wm_ssd_ForcePaging, PTR(h), vp, (UINT64)m, 0, 0);
}

HRESULT WINAPI InKernelSpace(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, BOOL *k)
{
    return call(wm_ssd_InKernel, PTR(h), vp, PTR(k), 0, 0);
}

HRESULT WINAPI GuestVirtualAddressToPhysicalAddress(VM_SAVED_STATE_DUMP_HANDLE h, UINT32 vp, const GUEST_VIRTUAL_ADDRESS va,
                                                    GUEST_PHYSICAL_ADDRESS *pa, GUEST_VIRTUAL_ADDRESS *u)
{
    return call(wm_ssd_VaToPa, PTR(h), vp, va, PTR(pa), PTR(u));
}

HRESULT WINAPI SetMemoryBlockCacheLimit(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 l)
{
    return call(wm_ssd_SetCache, PTR(h), l, 0, 0, 0);
}

HRESULT WINAPI GetMemoryBlockCacheLimit(VM_SAVED_STATE_DUMP_HANDLE h, UINT64 *l)
{
    return call(wm_ssd_GetCache, PTR(h), PTR(l), 0, 0, 0);
}
