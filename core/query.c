/*
 * core/query.c — VirtualQuery(Ex), NtQueryVirtualMemory/ZwQueryVirtualMemory,
 * QueryVirtualMemoryInformation, QueryWorkingSetEx: parameter checks, error
 * codes and output layout as Windows documents; the answers come from
 * query_model.c.
 *
 * Output buffers are written with wm_self_write, so a bad pointer gives
 * STATUS_ACCESS_VIOLATION / ERROR_NOACCESS instead of a crash. The Nt
 * functions never touch the last error, as on Windows.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "query.h"

#ifndef STATUS_FILE_INVALID
#define STATUS_FILE_INVALID ((NTSTATUS)0xC0000098)
#endif

static bool direct_io;

void wm_query_set_direct_io(bool on)
{
    __atomic_store_n(&direct_io, on, __ATOMIC_RELAXED);
}

static NTSTATUS put(void *dst, const void *src, size_t len)
{
    if (__atomic_load_n(&direct_io, __ATOMIC_RELAXED)) {
        memcpy(dst, src, len);
        return STATUS_SUCCESS;
    }
    return wm_self_write(dst, src, len) ? STATUS_SUCCESS : STATUS_ACCESS_VIOLATION;
}

static bool get(void *dst, const void *src, size_t len)
{
    if (__atomic_load_n(&direct_io, __ATOMIC_RELAXED)) {
        memcpy(dst, src, len);
        return true;
    }
    return wm_self_read(dst, src, len);
}

static NTSTATUS put_len(SIZE_T *ret, SIZE_T v)
{
    return ret ? put(ret, &v, sizeof v) : STATUS_SUCCESS;
}

static NTSTATUS basic(wm_space *sp, bool self, uint64_t addr, void *buf, SIZE_T len, SIZE_T *ret)
{
    if (len < sizeof(MEMORY_BASIC_INFORMATION))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (addr > wm_user_max())
        return STATUS_INVALID_PARAMETER;
    wm_query q;
    NTSTATUS st = wm_query_describe(sp, self, addr, false, &q);
    if (st != STATUS_SUCCESS)
        return st;
    MEMORY_BASIC_INFORMATION mbi;
    memset(&mbi, 0, sizeof mbi);   /* padding too: callers memcmp answers */
    mbi.BaseAddress = (PVOID)(uintptr_t)q.base;
    mbi.AllocationBase = (PVOID)(uintptr_t)q.alloc_base;
    mbi.AllocationProtect = q.alloc_protect;
    mbi.RegionSize = q.size;
    mbi.State = q.state;
    mbi.Protect = q.protect;
    mbi.Type = q.type;
    if ((st = put(buf, &mbi, sizeof mbi)) != STATUS_SUCCESS)
        return st;
    return put_len(ret, sizeof mbi);
}

/* 64-bit layout: a length that ends before RegionSize is refused; one that
 * holds RegionSize (24) or CommitSize (32) gets the fields that fit. The
 * partition and node fields are left alone: Linux has no value for them.
 * ReturnLength is the whole structure, as Wine reports. */
static NTSTATUS region(wm_space *sp, bool self, uint64_t addr, void *buf, SIZE_T len, SIZE_T *ret)
{
    if (len < offsetof(MEMORY_REGION_INFORMATION, CommitSize))
        return STATUS_INFO_LENGTH_MISMATCH;
    if (addr > wm_user_max())
        return STATUS_INVALID_PARAMETER;
    wm_query q;
    NTSTATUS st = wm_query_describe(sp, self, addr, true, &q);
    if (st != STATUS_SUCCESS)
        return st;
    if (q.state == MEM_FREE)
        return STATUS_INVALID_ADDRESS;
    MEMORY_REGION_INFORMATION ri;
    memset(&ri, 0, sizeof ri);
    ri.AllocationBase = (PVOID)(uintptr_t)q.alloc_base;
    ri.AllocationProtect = q.alloc_protect;
    ri.RegionType = q.region_type;
    ri.RegionSize = q.alloc_size;
    ri.CommitSize = q.commit_size;
    size_t n = len >= offsetof(MEMORY_REGION_INFORMATION, PartitionId)
               ? offsetof(MEMORY_REGION_INFORMATION, PartitionId)
               : offsetof(MEMORY_REGION_INFORMATION, CommitSize);
    if ((st = put(buf, &ri, n)) != STATUS_SUCCESS)
        return st;
    return put_len(ret, sizeof ri);
}

static NTSTATUS working_set(wm_space *sp, bool self, void *buf, SIZE_T len, SIZE_T *ret)
{
    MEMORY_WORKING_SET_EX_INFORMATION e;
    if (len < sizeof e)
        return STATUS_INFO_LENGTH_MISMATCH;
    char *p = buf;
    size_t n = len / sizeof e;   /* a partial trailing entry is ignored */
    for (size_t i = 0; i < n; i++, p += sizeof e) {
        if (!get(&e, p, sizeof e))
            return STATUS_ACCESS_VIOLATION;
        uint64_t flags;
        NTSTATUS st = wm_query_ws_page(sp, self, (uint64_t)(uintptr_t)e.VirtualAddress, &flags);
        if (st != STATUS_SUCCESS)
            return st;
        e.VirtualAttributes.Flags = (ULONG_PTR)flags;
        if ((st = put(p, &e, sizeof e)) != STATUS_SUCCESS)
            return st;
    }
    return put_len(ret, n * sizeof e);
}

/* UTF-8 → UTF-16; invalid bytes become U+FFFD. Returns code units written. */
static size_t utf8_to_utf16(const char *s, WCHAR *out, size_t max)
{
    size_t n = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (*u && n < max) {
        uint32_t c = *u++, need = 0;
        if (c >= 0xf0 && c < 0xf8) { c &= 7; need = 3; }
        else if (c >= 0xe0) { c &= 15; need = 2; }
        else if (c >= 0xc0) { c &= 31; need = 1; }
        else if (c >= 0x80) { c = 0xfffd; }
        for (; need; need--) {
            if ((*u & 0xc0) != 0x80) { c = 0xfffd; break; }
            c = c << 6 | (*u++ & 0x3f);
        }
        if (c == '/')
            c = '\\';
        if (c >= 0x10000 && c <= 0x10ffff) {
            if (n + 2 > max)
                break;
            c -= 0x10000;
            out[n++] = (WCHAR)(0xd800 | (c >> 10));
            out[n++] = (WCHAR)(0xdc00 | (c & 0x3ff));
        } else {
            out[n++] = (WCHAR)(c > 0xffff ? 0xfffd : c);
        }
    }
    return n;
}

/* The name is the Linux path in Wine's NT form for host paths,
 * \??\unix\usr\lib\...: a Windows program can print and compare it, and
 * Wine's own path functions map it back.
 * Order as on Windows: the address is judged first (no file there:
 * STATUS_INVALID_ADDRESS, whatever the length), then the length; a buffer
 * too small for the name gets the size it needs in ReturnLength, with
 * STATUS_INFO_LENGTH_MISMATCH when not even the header fits and
 * STATUS_BUFFER_OVERFLOW otherwise. */
static NTSTATUS filename(wm_space *sp, bool self, uint64_t addr, void *buf, SIZE_T len, SIZE_T *ret)
{
    enum { MAXW = 4096 + 16 };
    if (addr > wm_user_max())
        return STATUS_INVALID_PARAMETER;
    char path[4096 + 32];
    int e = wm_query_filename(sp, self, addr, path, sizeof path);
    if (e == -ESRCH)
        return STATUS_PROCESS_IS_TERMINATING;
    if (e == -ENXIO)
        return STATUS_FILE_INVALID;   /* GetMappedFileName: ERROR_FILE_INVALID */
    if (e != 0)
        return STATUS_INVALID_ADDRESS;
    static WCHAR prefix[] = { '\\', '?', '?', '\\', 'u', 'n', 'i', 'x' };
    WCHAR w[MAXW];
    memcpy(w, prefix, sizeof prefix);
    size_t n = 8 + utf8_to_utf16(path, w + 8, MAXW - 9);
    w[n] = 0;
    SIZE_T need = sizeof(MEMORY_SECTION_NAME) + (n + 1) * sizeof(WCHAR);
    if (len < need) {
        NTSTATUS st = put_len(ret, need);
        if (st != STATUS_SUCCESS)
            return st;
        return len < sizeof(MEMORY_SECTION_NAME) ? STATUS_INFO_LENGTH_MISMATCH : STATUS_BUFFER_OVERFLOW;
    }
    MEMORY_SECTION_NAME h;
    h.SectionFileName.Length = (USHORT)(n * sizeof(WCHAR));
    h.SectionFileName.MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
    h.SectionFileName.Buffer = (PWSTR)((char *)buf + sizeof h);
    NTSTATUS st = put((char *)buf + sizeof h, w, (n + 1) * sizeof(WCHAR));
    if (st == STATUS_SUCCESS)
        st = put(buf, &h, sizeof h);
    if (st == STATUS_SUCCESS)
        st = put_len(ret, need);
    return st;
}

WM_EXPORT NTSTATUS WINMEM_API NtQueryVirtualMemory(HANDLE process, LPCVOID address,
                                                   MEMORY_INFORMATION_CLASS cls, PVOID buf,
                                                   SIZE_T len, SIZE_T *ret)
{
    NTSTATUS st = STATUS_INVALID_HANDLE;
    wm_space *sp = wm_handle_get(process, &st);
    if (!sp)
        return st;
    bool self = wm_space_is_self(sp);
    uint64_t addr = (uint64_t)(uintptr_t)address;
    switch ((int)cls) {
    case MemoryBasicInformation:          st = basic(sp, self, addr, buf, len, ret); break;
    case MemoryRegionInformation:         st = region(sp, self, addr, buf, len, ret); break;
    case MemoryWorkingSetExInformation:   st = working_set(sp, self, buf, len, ret); break;
    case MemoryMappedFilenameInformation: st = filename(sp, self, addr, buf, len, ret); break;
    default:                              st = STATUS_INVALID_INFO_CLASS; break;
    }
    wm_space_put(sp);
    return st;
}

WM_EXPORT NTSTATUS WINMEM_API ZwQueryVirtualMemory(HANDLE process, LPCVOID address,
                                                   MEMORY_INFORMATION_CLASS cls, PVOID buf,
                                                   SIZE_T len, SIZE_T *ret)
{
    return NtQueryVirtualMemory(process, address, cls, buf, len, ret);
}

WM_EXPORT SIZE_T WINMEM_API VirtualQueryEx(HANDLE process, LPCVOID address,
                                           PMEMORY_BASIC_INFORMATION buf, SIZE_T len)
{
    SIZE_T ret = 0;
    NTSTATUS st = NtQueryVirtualMemory(process, address, MemoryBasicInformation, buf, len, &ret);
    if (st != STATUS_SUCCESS) {
        wm_fail_status(st);
        return 0;
    }
    return ret;
}

WM_EXPORT SIZE_T WINMEM_API VirtualQuery(LPCVOID address, PMEMORY_BASIC_INFORMATION buf, SIZE_T len)
{
    return VirtualQueryEx((HANDLE)(intptr_t)-1, address, buf, len);
}

WM_EXPORT BOOL WINMEM_API QueryVirtualMemoryInformation(HANDLE process, const VOID *address,
                                                        WIN32_MEMORY_INFORMATION_CLASS cls,
                                                        PVOID buf, SIZE_T size, PSIZE_T ret)
{
    if (cls != MemoryRegionInfo) {
        wm_fail_status(STATUS_INVALID_INFO_CLASS);
        return FALSE;
    }
    /* WIN32_MEMORY_REGION_INFORMATION is the first 32 bytes of
     * MEMORY_REGION_INFORMATION: same rules, capped at its own size. */
    SIZE_T full = 0;
    SIZE_T n = size < sizeof(WIN32_MEMORY_REGION_INFORMATION) ? size : sizeof(WIN32_MEMORY_REGION_INFORMATION);
    NTSTATUS st = NtQueryVirtualMemory(process, address, MemoryRegionInformation, buf, n, &full);
    if (st == STATUS_SUCCESS)
        st = put_len(ret, n >= sizeof(WIN32_MEMORY_REGION_INFORMATION)
                          ? sizeof(WIN32_MEMORY_REGION_INFORMATION)
                          : offsetof(WIN32_MEMORY_REGION_INFORMATION, CommitSize));
    if (st != STATUS_SUCCESS) {
        wm_fail_status(st);
        return FALSE;
    }
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API QueryWorkingSetEx(HANDLE process, PVOID pv, DWORD cb)
{
    NTSTATUS st = NtQueryVirtualMemory(process, NULL, MemoryWorkingSetExInformation, pv, cb, NULL);
    if (st != STATUS_SUCCESS) {
        wm_fail_status(st);
        return FALSE;
    }
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API K32QueryWorkingSetEx(HANDLE process, PVOID pv, DWORD cb)
{
    return QueryWorkingSetEx(process, pv, cb);
}
