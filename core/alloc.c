/*
 * VirtualAlloc, VirtualFree, VirtualProtect and their Ex forms (memory.h),
 * with Windows' semantics on top of mmap/mprotect/madvise.
 *
 * A reservation is one PROT_NONE, MAP_NORESERVE mapping whose base is 64 KiB
 * aligned; committing is mprotect (untouched or decommitted pages read as
 * zero, so "zero on first commit" needs no work), decommitting is PROT_NONE
 * plus MADV_DONTNEED. The kernel cannot tell reserved from committed, so the
 * registry (registry.h) holds the Windows state.
 *
 * Every change happens under wm_alloc_lock: the kernel is changed first, then
 * the registry; if either step fails the kernel is put back from a snapshot
 * of the registry taken before, so a failed call changes nothing. Output
 * parameters are written only after the lock is dropped: they may point at
 * guard pages, and the guard handler takes the same lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"
#include "registry.h"

/* Error-checking, so the guard handler can see that its own thread holds it. */
static pthread_mutex_t space_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
void wm_alloc_lock(void) { pthread_mutex_lock(&space_lock); }
void wm_alloc_unlock(void) { pthread_mutex_unlock(&space_lock); }
bool wm_alloc_lock_in_handler(void) { return pthread_mutex_lock(&space_lock) == 0; }

/* fork() while another thread is inside winmem must not leave the child with
 * a lock nobody will release: hold both locks across it (allocation lock
 * first, the order every path takes them in). The child's thread is not the
 * owner the mutex recorded, so the child starts with fresh locks instead. */
static void fork_prepare(void) { wm_alloc_lock(); wm_registry_fork_lock(); }
static void fork_parent(void) { wm_registry_fork_unlock(false); wm_alloc_unlock(); }
static void fork_child(void)
{
    wm_registry_fork_unlock(true);
    pthread_mutex_t fresh = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
    space_lock = fresh;
    wm_lock_forget(0, UINT64_MAX);   /* a child inherits no mlock */
}
static uint64_t pmask = 0xfff;
static inline uint64_t page_mask(void) { return pmask; }

__attribute__((constructor)) static void alloc_init(void)
{
    pmask = (uint64_t)wm_page_size() - 1;
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Windows refuses allocations outside the user range GetSystemInfo reports. */
#define USER_MIN wm_user_min()
#define USER_END wm_user_max()

#define ALLOC_TYPES (MEM_COMMIT | MEM_RESERVE | MEM_RESET | MEM_RESET_UNDO | MEM_TOP_DOWN | \
                     MEM_WRITE_WATCH | MEM_PHYSICAL | MEM_LARGE_PAGES)

NTSTATUS wm_check_prot(uint32_t prot, bool private_memory)
{
    uint32_t base = wm_prot_base(prot), mods = prot & ~0xffu;
    if (!base || (mods & ~(uint32_t)(PAGE_GUARD | PAGE_NOCACHE | PAGE_WRITECOMBINE)))
        return STATUS_INVALID_PAGE_PROTECTION;
    /* Copy-on-write needs a file view; private memory cannot have it. */
    if (private_memory && (base == PAGE_WRITECOPY || base == PAGE_EXECUTE_WRITECOPY))
        return STATUS_INVALID_PAGE_PROTECTION;
    /* The modifiers exclude each other and PAGE_NOACCESS (Memory Protection
     * Constants: "cannot be used with"). */
    if ((mods & (mods - 1)) || (mods && base == PAGE_NOACCESS))
        return STATUS_INVALID_PAGE_PROTECTION;
    return STATUS_SUCCESS;
}

static NTSTATUS check_private_prot(uint32_t prot) { return wm_check_prot(prot, true); }

/* PAGE_TARGETS_INVALID / PAGE_TARGETS_NO_UPDATE (one value) only steer
 * Control Flow Guard, which Linux does not have: valid with an executable
 * base, and dropped there, so the rest of winmem never sees them. */
#define PAGE_TARGETS_CFG 0x40000000u
static uint32_t without_cfg(uint32_t prot)
{
    uint32_t base = prot & 0xff;
    bool exec = base == PAGE_EXECUTE || base == PAGE_EXECUTE_READ || base == PAGE_EXECUTE_READWRITE ||
                base == PAGE_EXECUTE_WRITECOPY;
    return (prot & PAGE_TARGETS_CFG) && exec ? prot & ~PAGE_TARGETS_CFG : prot;
}

/* The kernel protection for a Windows one. A guard is PROT_NONE only while
 * the handler can disarm it; otherwise the guard is recorded but inert. */
static int unix_prot(uint32_t prot)
{
    if ((prot & PAGE_GUARD) && !wm_guard_enable())
        return wm_prot_to_unix(prot & ~(uint32_t)PAGE_GUARD);
    return wm_prot_to_unix(prot);
}

/* ---- snapshots: the registry's runs over a range, to undo a change ---- */
typedef struct span { uint64_t start, end; uint32_t state, protect; } span;
typedef struct snap { span *v; size_t n; span small[8]; uint64_t alloc_base, alloc_end; uint32_t kind; } snap;

/* Fills s with the runs of [start, end). Returns STATUS_SUCCESS, or
 * STATUS_MEMORY_NOT_ALLOCATED when start is not winmem memory,
 * STATUS_CONFLICTING_ADDRESSES when the range leaves its reservation. */
static NTSTATUS take_snapshot(uint64_t start, uint64_t end, snap *s)
{
    wm_region r;
    size_t cap = 8;
    s->v = s->small;
    s->n = 0;
    if (!wm_registry_query(start, &r))
        return STATUS_MEMORY_NOT_ALLOCATED;
    s->alloc_base = r.alloc_base;
    s->alloc_end = r.alloc_base + r.alloc_size;
    s->kind = r.kind;
    if (end > s->alloc_end || end < start)
        return STATUS_CONFLICTING_ADDRESSES;
    for (uint64_t a = start; a < end; a = r.base + r.size) {
        if (a != start && !wm_registry_query(a, &r))
            return STATUS_MEMORY_NOT_ALLOCATED;
        if (s->n == cap) {
            span *nv = malloc(cap * 2 * sizeof(*nv));
            if (!nv)
                return STATUS_NO_MEMORY;
            for (size_t i = 0; i < s->n; i++)
                nv[i] = s->v[i];
            if (s->v != s->small)
                free(s->v);
            s->v = nv;
            cap *= 2;
        }
        uint64_t e = r.base + r.size < end ? r.base + r.size : end;
        s->v[s->n++] = (span){ a, e, r.state, r.protect };
    }
    return STATUS_SUCCESS;
}

static void drop_snapshot(snap *s)
{
    if (s->v != s->small)
        free(s->v);
}

static void restore_kernel(const snap *s)
{
    for (size_t i = 0; i < s->n; i++) {
        const span *p = &s->v[i];
        mprotect((void *)p->start, p->end - p->start,
                 p->state == MEM_COMMIT ? unix_prot(p->protect) : PROT_NONE);
    }
}

static bool all_committed(const snap *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].state != MEM_COMMIT)
            return false;
    return true;
}

/* Gives committed or reserved state to [start, end) of one reservation. */
static NTSTATUS set_state(uint64_t start, uint64_t end, uint32_t state, uint32_t prot, snap *s)
{
    int up = state == MEM_COMMIT ? unix_prot(prot) : PROT_NONE;
    if (mprotect((void *)start, end - start, up) != 0) {
        restore_kernel(s);
        return state == MEM_COMMIT ? STATUS_COMMITMENT_LIMIT : STATUS_NO_MEMORY;
    }
    if (!wm_registry_set_pages(start, end - start, state, state == MEM_COMMIT ? prot : 0)) {
        restore_kernel(s);
        return STATUS_NO_MEMORY;
    }
    return STATUS_SUCCESS;
}

/* ---- reserve ---- */
static NTSTATUS reserve(uint64_t want, uint64_t size, uint32_t type, uint32_t prot, uint64_t *out)
{
    uint64_t gran = WM_ALLOC_GRANULARITY;
    bool commit = type & MEM_COMMIT;
    uint32_t kind = (type & MEM_PHYSICAL) ? WM_KIND_PHYSICAL : WM_KIND_PLAIN;
    int first = commit ? unix_prot(prot) : PROT_NONE;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    uint64_t base;

    if (want) {
        /* The base is rounded down to the granularity, the end up to a page. */
        base = want & ~(gran - 1);
        uint64_t end = (want + size + page_mask()) & ~page_mask();
        if (end < want || end > USER_END + 1 || base < USER_MIN)
            return STATUS_INVALID_PARAMETER;
        size = end - base;
        void *p = mmap((void *)base, size, first, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED)
            return errno == EEXIST ? STATUS_CONFLICTING_ADDRESSES : STATUS_NO_MEMORY;
        if ((uint64_t)p != base) {   /* a kernel without NOREPLACE took it as a hint */
            munmap(p, size);
            return STATUS_CONFLICTING_ADDRESSES;
        }
    } else {
        if (size > USER_END - USER_MIN)
            return STATUS_INVALID_PARAMETER;   /* larger than the user range */
        size = (size + page_mask()) & ~page_mask();
        /* Linux places mappings top-down, so the aligned spot just below the
         * last reservation is usually free: one mmap. Otherwise over-map by
         * the granularity and trim both ends to get an aligned base. */
        static uint64_t below;   /* under wm_alloc_lock */
        uint64_t cand = (below - size) & ~(gran - 1);
        void *p = MAP_FAILED;
        if (below > size && cand >= USER_MIN)
            p = mmap((void *)cand, size, first, flags | MAP_FIXED_NOREPLACE, -1, 0);
        if (p != MAP_FAILED && (uint64_t)p == cand) {
            base = cand;
        } else {
            if (p != MAP_FAILED)
                munmap(p, size);
            uint64_t span_len = size + gran - (page_mask() + 1);
            p = mmap(NULL, span_len, first, flags, -1, 0);
            if (p == MAP_FAILED)
                return STATUS_NO_MEMORY;
            uint64_t raw = (uint64_t)p;
            base = (raw + gran - 1) & ~(gran - 1);
            if (base > raw)
                munmap(p, base - raw);
            if (raw + span_len > base + size)
                munmap((void *)(base + size), raw + span_len - (base + size));
        }
        below = base;
    }

    if (!wm_registry_add(base, size, prot, kind)) {
        munmap((void *)base, size);
        return STATUS_NO_MEMORY;
    }
    if (commit && !wm_registry_set_pages(base, size, MEM_COMMIT, prot)) {
        wm_registry_remove(base);
        munmap((void *)base, size);
        return STATUS_NO_MEMORY;
    }
    *out = base;
    return STATUS_SUCCESS;
}

/* ---- commit / reset on an existing reservation ---- */
static NTSTATUS commit(uint64_t start, uint64_t end, uint32_t prot)
{
    snap s;
    NTSTATUS st = take_snapshot(start, end, &s);
    if (st == STATUS_SUCCESS && s.kind == WM_KIND_PHYSICAL)
        st = STATUS_CONFLICTING_ADDRESSES;   /* AWE windows hold frames, not commit */
    if (st == STATUS_SUCCESS)
        st = set_state(start, end, MEM_COMMIT, prot, &s);
    drop_snapshot(&s);
    /* Windows says "not reserved" as STATUS_CONFLICTING_ADDRESSES too. */
    return st == STATUS_MEMORY_NOT_ALLOCATED ? STATUS_CONFLICTING_ADDRESSES : st;
}

static NTSTATUS reset(uint64_t start, uint64_t end, bool undo)
{
    snap s;
    NTSTATUS st = take_snapshot(start, end, &s);
    if (st == STATUS_SUCCESS && !undo) {
        /* Contents of committed pages may be discarded; state stays. */
        for (size_t i = 0; i < s.n; i++)
            if (s.v[i].state == MEM_COMMIT)
                madvise((void *)s.v[i].start, s.v[i].end - s.v[i].start, MADV_FREE);
    }
    drop_snapshot(&s);
    return st == STATUS_MEMORY_NOT_ALLOCATED ? STATUS_CONFLICTING_ADDRESSES : st;
}

NTSTATUS wm_page_range(uint64_t addr, uint64_t size, uint64_t *start, uint64_t *end)
{
    /* The end of the user half is page aligned, so rounding a range that
     * stays below it cannot wrap. */
    uint64_t top = wm_task_size();
    if (size > top || addr > top - size)
        return STATUS_INVALID_PARAMETER;
    *start = addr & ~page_mask();
    *end = (addr + size + page_mask()) & ~page_mask();
    return STATUS_SUCCESS;
}

static NTSTATUS do_alloc(uint64_t addr, uint64_t size, uint32_t type, uint32_t prot, uint64_t *out)
{
    prot = without_cfg(prot);
    if (!size || (type & ~(uint32_t)ALLOC_TYPES))
        return STATUS_INVALID_PARAMETER;
    if (type & (MEM_RESET | MEM_RESET_UNDO)) {
        /* Each must come alone; the protection is ignored. */
        if ((type & ~(uint32_t)MEM_TOP_DOWN) != MEM_RESET &&
            (type & ~(uint32_t)MEM_TOP_DOWN) != MEM_RESET_UNDO)
            return STATUS_INVALID_PARAMETER;
        uint64_t start, end;
        if (!addr || wm_page_range(addr, size, &start, &end) != STATUS_SUCCESS)
            return STATUS_INVALID_PARAMETER;
        wm_alloc_lock();
        NTSTATUS st = reset(start, end, type & MEM_RESET_UNDO);
        wm_alloc_unlock();
        *out = start;
        return st;
    }
    if (!(type & (MEM_COMMIT | MEM_RESERVE)))
        return STATUS_INVALID_PARAMETER;
    NTSTATUS st = check_private_prot(prot);
    if (st != STATUS_SUCCESS)
        return st;
    if (type & MEM_PHYSICAL) {
        /* AWE windows: reserve only, read/write only. */
        if ((type & ~(uint32_t)MEM_TOP_DOWN) != (MEM_RESERVE | MEM_PHYSICAL) || prot != PAGE_READWRITE)
            return STATUS_INVALID_PARAMETER;
    }
    if ((type & MEM_WRITE_WATCH) && !(type & MEM_RESERVE) && addr)
        return STATUS_INVALID_PARAMETER;
    if (type & MEM_LARGE_PAGES)
        return STATUS_PRIVILEGE_NOT_HELD;   /* needs SeLockMemoryPrivilege */

    wm_alloc_lock();
    if ((type & MEM_RESERVE) || !addr) {
        st = reserve(addr, size, type | MEM_RESERVE, prot, out);
    } else {
        uint64_t start = 0, end = 0;
        st = wm_page_range(addr, size, &start, &end);
        if (st == STATUS_SUCCESS)
            st = end <= start ? STATUS_INVALID_PARAMETER : commit(start, end, prot);
        *out = start;
    }
    wm_alloc_unlock();
    return st;
}

/* ---- free ---- */
static NTSTATUS do_free(uint64_t addr, uint64_t size, uint32_t type)
{
    wm_region r;
    NTSTATUS st;
    if (type != MEM_DECOMMIT && type != MEM_RELEASE)
        return STATUS_INVALID_PARAMETER;
    if (type == MEM_RELEASE && size)
        return STATUS_INVALID_PARAMETER;

    wm_alloc_lock();
    if (!wm_registry_query(addr, &r)) {
        st = STATUS_MEMORY_NOT_ALLOCATED;
    } else if (type == MEM_RELEASE) {
        if (addr != r.alloc_base) {
            st = STATUS_FREE_VM_NOT_AT_BASE;
        } else if (mmap((void *)r.alloc_base, r.alloc_size, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
            st = STATUS_NO_MEMORY;   /* the kernel could not split a VMA */
        } else {
            /* The range stays mapped (PROT_NONE, contents gone) until the
             * registry forgets it: were it unmapped first, another thread's
             * mmap could land there while VirtualQuery still gave winmem's
             * stale answer for that foreign memory. */
            wm_lock_forget(r.alloc_base, r.alloc_base + r.alloc_size);
            wm_registry_remove(r.alloc_base);
            munmap((void *)r.alloc_base, r.alloc_size);
            st = STATUS_SUCCESS;
        }
    } else {
        uint64_t start = addr & ~page_mask(), end = 0;
        bool range_ok = true;
        if (!size && addr == r.alloc_base)
            end = r.alloc_base + r.alloc_size;
        else
            range_ok = wm_page_range(addr, size, &start, &end) == STATUS_SUCCESS;
        snap s;
        if (!range_ok)
            st = STATUS_INVALID_PARAMETER;   /* past the user half: never reaches the snapshot */
        else if (!size && addr != r.alloc_base)
            st = STATUS_FREE_VM_NOT_AT_BASE;
        else if ((st = take_snapshot(start, end, &s)) == STATUS_CONFLICTING_ADDRESSES)
            st = STATUS_UNABLE_TO_FREE_VM;
        else if (st == STATUS_SUCCESS && s.kind == WM_KIND_PHYSICAL)
            st = STATUS_INVALID_PARAMETER;   /* AWE windows are only released */
        else if (st == STATUS_SUCCESS && (st = set_state(start, end, MEM_RESERVE, 0, &s)) == STATUS_SUCCESS) {
            wm_lock_forget(start, end);
            munlock((void *)start, end - start);   /* DONTNEED refuses locked pages */
            madvise((void *)start, end - start, MADV_DONTNEED);
        }
        if (range_ok && (size || addr == r.alloc_base))
            drop_snapshot(&s);
    }
    wm_alloc_unlock();
    return st;
}

/* ---- protect ---- */
static NTSTATUS do_protect(uint64_t addr, uint64_t size, uint32_t prot, uint32_t *old)
{
    prot = without_cfg(prot);
    NTSTATUS st = wm_check_prot(prot, false);
    if (st != STATUS_SUCCESS)
        return st;
    /* Pages holding a byte of [addr, addr+size): none when size is 0 at a
     * page boundary, which changes nothing but still reports the old value. */
    uint64_t start, end;
    if ((st = wm_page_range(addr, size, &start, &end)) != STATUS_SUCCESS)
        return st;
    snap s;
    wm_alloc_lock();
    st = take_snapshot(start, end > start ? end : start + 1, &s);
    if (st == STATUS_MEMORY_NOT_ALLOCATED) {
        drop_snapshot(&s);
        st = wm_protect_foreign(start, end, prot, old);
        wm_alloc_unlock();
        return st;
    }
    if (st == STATUS_SUCCESS)
        st = check_private_prot(prot);
    if (end == start && st == STATUS_SUCCESS && all_committed(&s)) {
        *old = s.v[0].protect;
        drop_snapshot(&s);
        wm_alloc_unlock();
        return STATUS_SUCCESS;
    }
    if (st == STATUS_SUCCESS && s.kind == WM_KIND_PHYSICAL)
        st = STATUS_INVALID_PAGE_PROTECTION;   /* AWE windows stay read/write */
    else if (st == STATUS_SUCCESS && !all_committed(&s))
        st = STATUS_NOT_COMMITTED;
    if (st == STATUS_SUCCESS) {
        *old = s.v[0].protect;
        st = set_state(start, end, MEM_COMMIT, prot, &s);
    }
    drop_snapshot(&s);
    wm_alloc_unlock();
    return st;
}

/* Another process: Linux offers no way to map or protect memory in it, so
 * winmem answers as Windows does for a handle without PROCESS_VM_OPERATION. */
static NTSTATUS check_process(HANDLE h)
{
    if (h == (HANDLE)-1 || wm_handle_is_self(h))
        return STATUS_SUCCESS;
    NTSTATUS st = STATUS_INVALID_HANDLE;
    wm_space *sp = wm_handle_get(h, &st);
    if (!sp)
        return st;
    wm_space_put(sp);
    return STATUS_ACCESS_DENIED;
}

WM_EXPORT LPVOID WINMEM_API VirtualAllocEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize,
                                           DWORD flAllocationType, DWORD flProtect)
{
    uint64_t out = 0;
    NTSTATUS st = check_process(hProcess);
    if (st == STATUS_SUCCESS)
        st = do_alloc((uint64_t)lpAddress, dwSize, flAllocationType, flProtect, &out);
    if (st != STATUS_SUCCESS) {
        wm_fail_status(st);
        return NULL;
    }
    return (LPVOID)out;
}

WM_EXPORT LPVOID WINMEM_API VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType, DWORD flProtect)
{
    return VirtualAllocEx((HANDLE)-1, lpAddress, dwSize, flAllocationType, flProtect);
}

WM_EXPORT BOOL WINMEM_API VirtualFreeEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType)
{
    NTSTATUS st = check_process(hProcess);
    if (st == STATUS_SUCCESS)
        st = do_free((uint64_t)lpAddress, dwSize, dwFreeType);
    if (st != STATUS_SUCCESS) {
        wm_fail_status(st);
        return FALSE;
    }
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType)
{
    return VirtualFreeEx((HANDLE)-1, lpAddress, dwSize, dwFreeType);
}

WM_EXPORT BOOL WINMEM_API VirtualProtectEx(HANDLE hProcess, LPVOID lpAddress, SIZE_T dwSize,
                                           DWORD flNewProtect, PDWORD lpflOldProtect)
{
    uint32_t old = 0;
    NTSTATUS st = check_process(hProcess);
    /* Checked before anything changes: a bad pointer must not leave the
     * protection changed and the old value lost. */
    if (st == STATUS_SUCCESS && (!lpflOldProtect || !wm_self_writable(lpflOldProtect, sizeof(*lpflOldProtect))))
        st = STATUS_ACCESS_VIOLATION;
    if (st == STATUS_SUCCESS)
        st = do_protect((uint64_t)lpAddress, dwSize, flNewProtect, &old);
    if (st != STATUS_SUCCESS) {
        wm_fail_status(st);
        return FALSE;
    }
    /* Through the fault-safe path even after the probe: another thread may
     * have unmapped the page meanwhile (Windows answers with the fault then). */
    if (!wm_self_write(lpflOldProtect, &old, sizeof old)) {
        wm_fail_status(STATUS_ACCESS_VIOLATION);
        return FALSE;
    }
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API VirtualProtect(LPVOID lpAddress, SIZE_T dwSize, DWORD flNewProtect, PDWORD lpflOldProtect)
{
    return VirtualProtectEx((HANDLE)-1, lpAddress, dwSize, flNewProtect, lpflOldProtect);
}
