/*
 * cli/maps_api.c — `winmem maps --api`: the regions of a process as winmem's
 * own Windows API reports them, walked the way a Windows tool walks another
 * process: OpenProcess, then VirtualQueryEx from address 0, region after
 * region, with NtQueryVirtualMemory(MemoryMappedFilenameInformation) naming
 * images and views. Slower than cli/maps.c (a query per region) but it is
 * the core's answer, with what the core knows beyond the maps text.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "winmem/memory.h"
#include "common/names.h"
#include "maps.h"
#include "table.h"

/* "\??\unix/usr/lib/x.so" (UTF-16) → "/usr/lib/x.so" (UTF-8). */
static char *name_of(HANDLE h, uint64_t addr)
{
    union { MEMORY_SECTION_NAME n; uint8_t b[sizeof(MEMORY_SECTION_NAME) + 8200]; } u;
    SIZE_T ret = 0;
    if (NtQueryVirtualMemory(h, (LPCVOID)(uintptr_t)addr, MemoryMappedFilenameInformation, &u, sizeof u, &ret) != 0)
        return NULL;
    const WCHAR *w = u.n.SectionFileName.Buffer;
    size_t n = u.n.SectionFileName.Length / sizeof(WCHAR), i = 0;
    static const char prefix[] = "\\??\\unix";
    if (n >= 8) {
        bool same = true;
        for (size_t k = 0; k < 8; k++)
            same &= w[k] == (WCHAR)prefix[k];
        if (same)
            i = 8;
    }
    char *s = malloc((n - i) * 4 + 1);
    if (!s)
        return NULL;
    wm_utf16_to_utf8(w + i, n - i, s, (n - i) * 4 + 1);
    for (char *o = s; *o; o++)
        if (*o == '\\')
            *o = '/';   /* the core writes unix paths with NT separators */
    return s;
}

static int keep(wm_maps *m, char *s)
{
    char **nb = realloc(m->blocks, (m->nblocks + 1) * sizeof *nb);
    if (!nb)
        return -ENOMEM;
    m->blocks = nb;
    m->blocks[m->nblocks++] = s;
    return 0;
}

int wm_maps_read_api(pid_t pid, wm_maps *m)
{
    memset(m, 0, sizeof *m);
    HANDLE h = pid ? OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, FALSE, (DWORD)pid) : GetCurrentProcess();
    if (!h)
        return GetLastError() == ERROR_ACCESS_DENIED ? -EACCES : -ESRCH;
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    uint64_t max = (uint64_t)(uintptr_t)si.lpMaximumApplicationAddress;
    int rc = 0;
    uint64_t name_base = UINT64_MAX;
    const char *name = "";
    for (uint64_t a = 0; a <= max && !rc;) {
        MEMORY_BASIC_INFORMATION mbi;
        if (VirtualQueryEx(h, (LPCVOID)(uintptr_t)a, &mbi, sizeof mbi) != sizeof mbi) {
            rc = GetLastError() == ERROR_ACCESS_DENIED ? -ESRCH : -EIO;   /* exited while walked */
            break;
        }
        uint64_t base = (uint64_t)(uintptr_t)mbi.BaseAddress, size = mbi.RegionSize;
        uint64_t ab = (uint64_t)(uintptr_t)mbi.AllocationBase;
        if (mbi.Type == MEM_IMAGE || mbi.Type == MEM_MAPPED) {
            if (ab != name_base) {   /* one name per allocation: one query */
                char *s = name_of(h, base);
                name_base = ab;
                name = s ? s : "";
                if (s && (rc = keep(m, s)))
                    free(s);
            }
        } else if (mbi.State != MEM_FREE) {
            name_base = UINT64_MAX;
            name = "";
        }
        if (!TABLE_GROW(m->r, m->cap, m->n + 1, 1024)) {
            rc = -ENOMEM;
            break;
        }
        m->r[m->n++] = (wm_mregion){ base, size, ab, mbi.AllocationProtect, mbi.State, mbi.Protect, mbi.Type,
                                     mbi.Type == MEM_IMAGE || mbi.Type == MEM_MAPPED ? name : "", 0 };
        if (size == 0 || base + size <= a)
            break;   /* no progress: never loop forever on a bad answer */
        a = base + size;
    }
    if (pid)
        CloseHandle(h);
    if (rc)
        wm_maps_free(m);
    return rc;
}
