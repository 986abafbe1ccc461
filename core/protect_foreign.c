/*
 * VirtualProtect on memory winmem did not allocate: a program's own image,
 * its heap, a file view, another library's mmap. Windows lets a process
 * change the protection of any committed page it owns (patching code,
 * write-protecting tables), so winmem does too, with mprotect.
 *
 * No registry entry exists for such memory, so what the pages are is asked
 * of VirtualQuery (the kernel's view in Windows terms): every page must be
 * MEM_COMMIT, and the old protection returned is what VirtualQuery reported.
 * Afterwards VirtualQuery reads the new protection back from the kernel, so
 * the answer stays truthful. PAGE_GUARD, PAGE_NOCACHE and PAGE_WRITECOMBINE
 * would need a record winmem cannot keep for memory it does not own:
 * ERROR_NOT_SUPPORTED (docs/allocation.md).
 */
#include <errno.h>
#include <sys/mman.h>
#include "internal.h"
#include "registry.h"

NTSTATUS wm_protect_foreign(uint64_t start, uint64_t end, uint32_t prot, uint32_t *old)
{
    MEMORY_BASIC_INFORMATION m;
    wm_region r;
    uint32_t first = 0;
    uint32_t base = prot & 0xff;
    uint64_t a = start;
    do {
        if (VirtualQuery((LPCVOID)a, &m, sizeof(m)) != sizeof(m))
            return STATUS_INVALID_PARAMETER;   /* above the user range */
        if (m.State != MEM_COMMIT || wm_registry_query(a, &r))
            return STATUS_CONFLICTING_ADDRESSES;   /* not committed, or runs into winmem's own */
        if (m.Type == MEM_PRIVATE && (base == PAGE_WRITECOPY || base == PAGE_EXECUTE_WRITECOPY))
            return STATUS_INVALID_PAGE_PROTECTION;
        if (a == start)
            first = m.Protect;
        a = (uint64_t)m.BaseAddress + m.RegionSize;
    } while (a < end);
    if (prot & ~0xffu)
        return STATUS_NOT_SUPPORTED;
    if (end > start && mprotect((void *)start, end - start, wm_prot_to_unix(prot)) != 0)
        return errno == EACCES ? STATUS_INVALID_PAGE_PROTECTION : STATUS_NO_MEMORY;
    *old = first;
    return STATUS_SUCCESS;
}
