/*
 * shim/awe_wine.c — AWE for PE programs under Wine 8.0.
 *
 * Wine 8.0's kernelbase.dll has stubs for AllocateUserPhysicalPages(Numa),
 * MapUserPhysicalPages and FreeUserPhysicalPages (FALSE,
 * ERROR_CALL_NOT_IMPLEMENTED), does not export MapUserPhysicalPagesScatter,
 * and its ntdll refuses VirtualAlloc(MEM_PHYSICAL). Once kernelbase.dll is
 * loaded and its imports are bound, wm_awe_wine_try_install():
 *   - overwrites the entry of each stub with a jump to an ms_abi function
 *     here that calls winmem's core (core/awe.c);
 *   - points kernelbase's import slots for NtAllocateVirtualMemory,
 *     NtFreeVirtualMemory and NtQueryVirtualMemory at filters: MEM_PHYSICAL
 *     reservations become a plain Wine reservation registered with winmem
 *     as an AWE window; releasing one forgets its frames; queries of a
 *     window report mapped pages as MEM_COMMIT (Wine itself believes the
 *     whole window is reserved; see docs/awe.md). Everything else goes
 *     straight to Wine.
 * MapUserPhysicalPagesScatter is bound later: every AllocateUserPhysicalPages
 * call points the modules' import slots that name it (Wine left them on a
 * "not implemented" stub) at winmem's. A kernelbase that does not look like
 * Wine 8.0's gets one line on stderr and is left alone
 * (WINMEM_TEST_AWE_UNKNOWN=1 makes tests see that path).
 *
 * The replacements run in the PE thread's context (not inside a Wine system
 * call), which is fine for the core: it only uses glibc and system calls.
 * They set the thread's last error in its TEB, where GetLastError reads it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "awe_internal.h"
#include "common/pe.h"
#include "shim.h"
#include "wine_abi.h"

/* ---- PE images, read in place (PE32+ layout) ---- */

#define U32(p) (*(const uint32_t *)(const void *)(p))
#define U64(p) (*(const uint64_t *)(const void *)(p))

/* The headers of the PE32+ image at base, read from its header page. */
static bool pe64_headers(const uint8_t *base, wm_pe *pe)
{
    return wm_pe_read(base, 4096, pe) && pe->magic == WM_PE32PLUS;
}

static bool is_pe64(const uint8_t *base)
{
    wm_pe pe;
    return pe64_headers(base, &pe);
}

static const uint8_t *pe_dir(const uint8_t *base, unsigned i, uint32_t *size)
{
    wm_pe pe;
    uint32_t rva;
    if (!pe64_headers(base, &pe) || !wm_pe_dir(&pe, i, &rva, size))
        return NULL;
    return rva ? base + rva : NULL;
}

/* Address of the exported function name in the image at base, or NULL. */
static uint8_t *pe_export(uint8_t *base, const char *name)
{
    uint32_t size;
    const uint8_t *ed = pe_dir(base, WM_PE_DIR_EXPORT, &size);
    if (!ed)
        return NULL;
    const uint32_t *names = (const uint32_t *)(base + U32(ed + 32));
    const uint16_t *ords = (const uint16_t *)(base + U32(ed + 36));
    const uint32_t *funcs = (const uint32_t *)(base + U32(ed + 28));
    for (uint32_t i = 0; i < U32(ed + 24); i++)
        if (!strcmp((const char *)base + names[i], name))
            return base + funcs[ords[i]];
    return NULL;
}

/* Calls fn for every import by name of the image at base: the name, the
 * import slot, and whether the slot is bound (it no longer holds the
 * name's RVA). Stops when fn returns false. */
typedef bool (*import_fn)(const char *dll, const char *name, uint64_t *slot, bool bound, void *ctx);
static void pe_imports(uint8_t *base, import_fn fn, void *ctx)
{
    uint32_t size;
    const uint8_t *d = pe_dir(base, WM_PE_DIR_IMPORT, &size);
    for (; d && U32(d + 12); d += 20) {
        uint32_t names = U32(d) ? U32(d) : U32(d + 16);
        const uint64_t *in = (const uint64_t *)(base + names);
        uint64_t *slot = (uint64_t *)(base + U32(d + 16));
        for (; *in; in++, slot++)
            if (!(*in >> 63) && !fn((const char *)base + U32(d + 12), (const char *)base + *in + 2,
                                    slot, *slot != *in, ctx))
                return;
    }
}

/* ---- writing into Wine's mappings ---- */

/* Copies len bytes to at, lifting the page protection for the moment (Wine's
 * own record of the protection never changes, so nothing is left behind). */
static bool poke(void *at, const void *src, size_t len)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)at & ~(pg - 1), end = ((uintptr_t)at + len + pg - 1) & ~(pg - 1);
    wm_vma v;
    if (wm_vma_find(wm_space_self(), start, &v, NULL, 0) != 0 || v.start > start || v.end < end)
        return false;
    int prot = ((v.flags & WM_VMA_READ) ? PROT_READ : 0) | ((v.flags & WM_VMA_WRITE) ? PROT_WRITE : 0) |
               ((v.flags & WM_VMA_EXEC) ? PROT_EXEC : 0);
    if (!(prot & PROT_WRITE) && mprotect((void *)start, end - start, prot | PROT_READ | PROT_WRITE) != 0)
        return false;
    if (len == 8 && !((uintptr_t)at & 7))
        __atomic_store_n((uint64_t *)at, *(const uint64_t *)src, __ATOMIC_RELEASE);   /* an import slot in use */
    else
        memcpy(at, src, len);
    if (prot & PROT_EXEC)
        __builtin___clear_cache((char *)at, (char *)at + len);
    if (!(prot & PROT_WRITE))
        mprotect((void *)start, end - start, prot);
    return true;
}

/* jmp *0(%rip); .quad target — 14 bytes, position independent. */
static bool redirect(uint8_t *entry, void *target)
{
    uint8_t code[14] = { 0xff, 0x25, 0, 0, 0, 0 };
    memcpy(code + 6, &target, sizeof target);
    return poke(entry, code, sizeof code);
}

#define LEFT_ALONE "; AWE stays Wine's (not implemented)"
static void note(const char *what, const char *tail)
{
    char line[256];
    size_t n = 0;
    const char *parts[] = { "winmem-shim: AWE: ", what, tail };
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && n < sizeof line - 1; p++)
            line[n++] = *p;
    line[n++] = '\n';
    ssize_t r = write(2, line, n);
    (void)r;
}

/* ---- the PE thread's last error (TEB->LastErrorValue) ---- */

static void set_teb_error(DWORD err)
{
    uint8_t *teb = (uint8_t *)(uintptr_t)wm_teb();
    *(DWORD *)(teb + WM_TEB_LAST_ERROR) = err;
}

static BOOL pe_result(NTSTATUS st)
{
    if (st) {
        set_teb_error(wm_status_to_error(st));
        return FALSE;
    }
    return TRUE;
}

/* ---- MapUserPhysicalPagesScatter imports ---- */

static BOOL WM_MSABI awe_scatter(PVOID *vas, ULONG_PTR n, PULONG_PTR frames)
{
    return pe_result(wm_awe_map_scatter(vas, n, frames));
}

static bool bind_scatter(const char *dll, const char *name, uint64_t *slot, bool bound, void *ctx)
{
    uint64_t want = (uint64_t)(uintptr_t)awe_scatter;
    if (bound && *slot != want && !strcmp(name, "MapUserPhysicalPagesScatter"))
        poke(slot, &want, sizeof want);
    return true;
}

/* ntdll.dll's loader lock, so the module list cannot change under the walk. */
typedef NTSTATUS (WM_MSABI *lock_loader_fn)(ULONG, ULONG *, ULONG_PTR *);
typedef NTSTATUS (WM_MSABI *unlock_loader_fn)(ULONG, ULONG_PTR);
static lock_loader_fn lock_loader;
static unlock_loader_fn unlock_loader;

/* Walks the PEB's module list (TEB+0x60 → PEB, PEB+0x18 → Ldr, in-load-order
 * list at Ldr+0x10, DllBase at entry+0x30) under the loader lock (recursive:
 * fine from DllMain). Runs on a PE thread only. */
static void bind_scatter_everywhere(void)
{
    uint8_t *teb, *peb, *ldr;
    ULONG_PTR magic;
    if (!lock_loader || !unlock_loader || lock_loader(0, NULL, &magic) != STATUS_SUCCESS)
        return;
    teb = (uint8_t *)(uintptr_t)wm_teb();
    if (teb && (peb = *(uint8_t **)(teb + WM_TEB_PEB)) && (ldr = *(uint8_t **)(peb + WM_PEB_LDR))) {
        uint8_t *head = ldr + WM_LDR_LOAD_ORDER;
        for (uint8_t *e = *(uint8_t **)head; e && e != head; e = *(uint8_t **)e) {
            uint8_t *base = *(uint8_t **)(e + WM_LDR_ENTRY_BASE);
            if (base && is_pe64(base))
                pe_imports(base, bind_scatter, NULL);
        }
    }
    unlock_loader(0, magic);
}

/* ---- the stubs' replacements ---- */

static BOOL WM_MSABI awe_allocate(HANDLE h, PULONG_PTR n, PULONG_PTR frames)
{
    bind_scatter_everywhere();
    return pe_result(wm_awe_allocate(h, n, frames));
}

static BOOL WM_MSABI awe_allocate_numa(HANDLE h, PULONG_PTR n, PULONG_PTR frames, DWORD node)
{
    return awe_allocate(h, n, frames);
}

static BOOL WM_MSABI awe_map(PVOID va, ULONG_PTR n, PULONG_PTR frames)
{
    return pe_result(wm_awe_map(va, n, frames));
}

static BOOL WM_MSABI awe_free(HANDLE h, PULONG_PTR n, PULONG_PTR frames)
{
    return pe_result(wm_awe_free(h, n, frames));
}

/* ---- filters on kernelbase's ntdll imports ---- */

#define SELF ((HANDLE)(intptr_t)-1)
typedef NTSTATUS (WM_MSABI *nt_alloc_fn)(HANDLE, PVOID *, ULONG_PTR, SIZE_T *, ULONG, ULONG);
typedef NTSTATUS (WM_MSABI *nt_free_fn)(HANDLE, PVOID *, SIZE_T *, ULONG);
typedef NTSTATUS (WM_MSABI *nt_query_fn)(HANDLE, const void *, int, void *, SIZE_T, SIZE_T *);
static nt_alloc_fn real_alloc;
static nt_free_fn real_free;
static nt_query_fn real_query;
static volatile int windows_made;   /* queries look at the registry only after one */
static uint64_t *free_slot, *query_slot; /* kernelbase's imports the window filters go in */
static void window_filters(void);

/* Every filter is an ms_abi front that only compares and passes on, and a
 * noinline slow part: the compiler saves xmm6-15 (160 bytes) in any ms_abi
 * function that calls System V code, and that would be paid on every
 * query and allocation of the program, not only on those with windows. */
static __attribute__((noinline)) NTSTATUS WM_MSABI alloc_window(HANDLE h, PVOID *addr, ULONG_PTR zero_bits,
                                                                SIZE_T *size, ULONG type, ULONG prot)
{
    /* Windows: MEM_PHYSICAL only with MEM_RESERVE (and MEM_TOP_DOWN), read/write. */
    if ((type & ~(ULONG)MEM_TOP_DOWN) != (MEM_RESERVE | MEM_PHYSICAL))
        return STATUS_INVALID_PARAMETER;
    if (prot != PAGE_READWRITE)
        return STATUS_INVALID_PAGE_PROTECTION;
    NTSTATUS st = real_alloc(h, addr, zero_bits, size, type & ~(ULONG)MEM_PHYSICAL, prot);
    if (st)
        return st;
    if (!wm_registry_add((uint64_t)(uintptr_t)*addr, *size, PAGE_READWRITE, WM_KIND_PHYSICAL)) {
        SIZE_T zero = 0;
        real_free(h, addr, &zero, MEM_RELEASE);
        return STATUS_NO_MEMORY;
    }
    if (!windows_made)
        window_filters();
    windows_made = 1;
    return STATUS_SUCCESS;
}

static NTSTATUS WM_MSABI filter_alloc(HANDLE h, PVOID *addr, ULONG_PTR zero_bits, SIZE_T *size,
                                      ULONG type, ULONG prot)
{
    if (!(type & MEM_PHYSICAL) || h != SELF)
        return real_alloc(h, addr, zero_bits, size, type, prot);
    return alloc_window(h, addr, zero_bits, size, type, prot);
}

static __attribute__((noinline)) NTSTATUS WM_MSABI free_maybe_window(HANDLE h, PVOID *addr, SIZE_T *size, ULONG type)
{
    wm_region r;
    uint64_t a;
    /* The caller's pointer is read without faulting: a bad one is Wine's to
     * report (STATUS_ACCESS_VIOLATION), not a crash here. */
    struct iovec l = { &a, sizeof a }, rv = { addr, sizeof a };
    if (!size || process_vm_readv(getpid(), &l, 1, &rv, 1, 0) != sizeof a)
        return real_free(h, addr, size, type);
    if (!wm_registry_query(a, &r) || r.kind != WM_KIND_PHYSICAL)
        return real_free(h, addr, size, type);
    if (type == MEM_DECOMMIT)
        return STATUS_INVALID_PARAMETER;   /* windows are only ever released whole */
    uint64_t n;
    struct iovec ln = { &n, sizeof n }, rn = { size, sizeof n };
    if (type == MEM_RELEASE && a == r.alloc_base && process_vm_readv(getpid(), &ln, 1, &rn, 1, 0) == sizeof n && !n) {
        /* The whole window: out of winmem's books before Wine has the
         * range back, for once it does another thread may reserve a window
         * there at once, and its registry entry must find the range empty
         * (a stale one made that thread's VirtualAlloc fail). Should Wine
         * still refuse, the window is put back (no frame counted as mapped in it). */
        wm_awe_forget_window(r.alloc_base, r.alloc_size);
        wm_registry_remove(r.alloc_base);
        NTSTATUS st = real_free(h, addr, size, type);
        if (st != STATUS_SUCCESS)
            wm_registry_add(r.alloc_base, r.alloc_size, PAGE_READWRITE, WM_KIND_PHYSICAL);
        return st;
    }
    NTSTATUS st = real_free(h, addr, size, type);
    if (st == STATUS_SUCCESS && type == MEM_RELEASE) {
        wm_awe_forget_window(r.alloc_base, r.alloc_size);
        wm_registry_remove(r.alloc_base);
    }
    return st;
}

static NTSTATUS WM_MSABI filter_free(HANDLE h, PVOID *addr, SIZE_T *size, ULONG type)
{
    if (!windows_made || h != SELF)
        return real_free(h, addr, size, type);
    return free_maybe_window(h, addr, size, type);
}

static __attribute__((noinline)) NTSTATUS WM_MSABI query_maybe_window(const void *addr, int cls, void *buf, SIZE_T len)
{
    NTSTATUS st = STATUS_SUCCESS;
    wm_region r;
    if (!wm_registry_query((uint64_t)(uintptr_t)addr, &r) || r.kind != WM_KIND_PHYSICAL)
        return st;
    if (cls == 0 && len >= 48) {          /* MEMORY_BASIC_INFORMATION */
        uint8_t *m = buf;
        *(uint64_t *)(m + 24) = r.size;
        *(uint32_t *)(m + 32) = r.state;
        *(uint32_t *)(m + 36) = r.protect;
        *(uint32_t *)(m + 40) = MEM_PRIVATE;
    } else if (cls == 3 && len >= 32) {   /* MEMORY_REGION_INFORMATION */
        uint8_t *m = buf;
        *(uint64_t *)(m + 0) = r.alloc_base;   /* the whole window, not Wine's run */
        *(uint32_t *)(m + 12) = 0x11;     /* Private | MappedPhysical */
        *(uint64_t *)(m + 16) = r.alloc_size;
        *(uint64_t *)(m + 24) = r.commit_size;
    }
    return st;
}

static NTSTATUS WM_MSABI filter_query(HANDLE h, const void *addr, int cls, void *buf, SIZE_T len, SIZE_T *ret)
{
    NTSTATUS st = real_query(h, addr, cls, buf, len, ret);
    if (st || !windows_made || h != SELF)
        return st;
    return query_maybe_window(addr, cls, buf, len);
}

/* ---- installation ---- */

/* The free and query filters go in with the first window: until then they
 * would only pass every VirtualFree and VirtualQuery of the program on
 * (~6 ns each, measured). Called under no lock: the first windows of two
 * threads may both get here, and both store the same pointers. */
static void window_filters(void)
{
    uint64_t f_free = (uintptr_t)filter_free, f_query = (uintptr_t)filter_query;
    if (!poke(free_slot, &f_free, 8) || !poke(query_slot, &f_query, 8))
        note("cannot write kernelbase.dll's import table", "; VirtualQuery and VirtualFree see AWE windows as Wine does");
}

static const char *const stub_names[4] = {
    "AllocateUserPhysicalPages", "AllocateUserPhysicalPagesNuma", "MapUserPhysicalPages", "FreeUserPhysicalPages",
};
static void *const stub_targets[4] = { awe_allocate, awe_allocate_numa, awe_map, awe_free };

/* Wine 8.0's stubs: the 8-byte hot-patch prologue, then SetLastError(120). */
static bool is_wine_stub(const uint8_t *p)
{
    static const uint8_t hotpatch[8] = { 0x48, 0x8d, 0xa4, 0x24, 0, 0, 0, 0 };
    static const uint8_t set120[7] = { 0xc7, 0x40, 0x68, 0x78, 0, 0, 0 };
    if (!p || memcmp(p, hotpatch, sizeof hotpatch))
        return false;
    for (int i = 8; i < 0x50; i++)
        if (!memcmp(p + i, set120, sizeof set120))
            return true;
    return false;
}

struct nt_slots { uint64_t *alloc, *free, *query; bool unbound; };
static bool find_nt(const char *dll, const char *name, uint64_t *slot, bool bound, void *ctx)
{
    struct nt_slots *s = ctx;
    if (strcasecmp(dll, "ntdll.dll"))
        return true;
    uint64_t **which = !strcmp(name, "NtAllocateVirtualMemory") ? &s->alloc
                     : !strcmp(name, "NtFreeVirtualMemory")     ? &s->free
                     : !strcmp(name, "NtQueryVirtualMemory")    ? &s->query : NULL;
    if (which) {
        *which = slot;
        s->unbound |= !bound;
    }
    return true;
}

/* A PE module's base: the mapping at offset 0 of the file named /dll. */
static uint8_t *find_module(const char *dll)
{
    wm_vma v;
    char name[512];
    size_t k = strlen(dll);
    for (uint64_t at = 0; wm_vma_find(wm_space_self(), at, &v, name, sizeof name) == 0; at = v.end) {
        size_t n = strlen(name);
        if (v.offset == 0 && n > k && name[n - k - 1] == '/' && !strcasecmp(name + n - k, dll))
            return (uint8_t *)(uintptr_t)v.start;
    }
    return NULL;
}

WM_EXPORTED int wm_awe_wine_try_install(void)
{
    static uint8_t *kb;
    if (!kb && !(kb = find_module("kernelbase.dll")))
        return 0;                           /* not loaded yet: ask again later */
    if (getenv("WINMEM_TEST_AWE_UNKNOWN")) {   /* tests: an unknown Wine build */
        note("kernelbase.dll's AWE functions are not the Wine 8.0 stubs this shim knows", LEFT_ALONE);
        return 1;
    }
    if (!is_pe64(kb)) {
        note("kernelbase.dll has no PE32+ header", LEFT_ALONE);
        return 1;
    }
    struct nt_slots s = { 0 };
    pe_imports(kb, find_nt, &s);
    if (!s.alloc || !s.free || !s.query) {
        note("kernelbase.dll does not import NtAllocateVirtualMemory/NtFreeVirtualMemory/NtQueryVirtualMemory", LEFT_ALONE);
        return 1;
    }
    if (s.unbound)
        return 0;                           /* imports not bound yet */
    uint8_t *entry[4];
    for (int i = 0; i < 4; i++)
        if (!is_wine_stub(entry[i] = pe_export(kb, stub_names[i]))) {
            note("kernelbase.dll's AWE functions are not the Wine 8.0 stubs this shim knows", LEFT_ALONE);
            return 1;
        }
    uint8_t *nt = find_module("ntdll.dll");   /* loaded before kernelbase */
    if (nt && is_pe64(nt)) {
        lock_loader = (lock_loader_fn)(void *)pe_export(nt, "LdrLockLoaderLock");
        unlock_loader = (unlock_loader_fn)(void *)pe_export(nt, "LdrUnlockLoaderLock");
    }
    if (!lock_loader || !unlock_loader)
        note("no LdrLockLoaderLock in ntdll.dll", "; MapUserPhysicalPagesScatter imports stay unbound");
    real_alloc = (nt_alloc_fn)(uintptr_t)*s.alloc;
    real_free = (nt_free_fn)(uintptr_t)*s.free;
    real_query = (nt_query_fn)(uintptr_t)*s.query;
    free_slot = s.free;
    query_slot = s.query;
    uint64_t f_alloc = (uintptr_t)filter_alloc;
    /* The allocation filter goes in first: a stub redirected before it
     * could be handed a window Wine refused. */
    if (!poke(s.alloc, &f_alloc, 8)) {
        note("cannot write kernelbase.dll's import table", LEFT_ALONE);
        return 1;
    }
    for (int i = 0; i < 4; i++)
        if (!redirect(entry[i], stub_targets[i]))
            note("cannot patch a kernelbase.dll stub", "");
    return 1;
}
