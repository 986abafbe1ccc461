/*
 * core/awe.c — Address Windowing Extensions on Linux (winmem/awe.h).
 *
 * Frames are pages of one memfd per process, held and locked by
 * core/awe_pool.c. Here: windows and the API. Mapping =
 * mmap(MAP_SHARED|MAP_FIXED) of the frames' pages into the window, one call
 * per run of consecutive frames; unmapping = an anonymous PROT_NONE mapping
 * over it again (the window is an inaccessible reservation).
 *
 * Error codes follow the Windows kernel's NtMapUserPhysicalPages & co.:
 * bad count → INVALID_PARAMETER, address outside a MEM_PHYSICAL window or no
 * frame ever allocated → INVALID_PARAMETER, a frame not held →
 * CONFLICTING_ADDRESSES (ERROR_INVALID_ADDRESS), a frame already mapped or
 * listed twice → INVALID_PARAMETER. Validation happens before anything
 * changes, so a failed map changes nothing.
 *
 * One mutex guards everything; it is never held while caller memory is read
 * or written (copies go through process_vm_readv/writev, which report a bad
 * pointer as EFAULT instead of faulting).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "registry.h"
#include "awe_internal.h"
#include "awe_pool.h"
#include "winmem/awe.h"

#define FRAME_BASE  WM_AWE_FRAME_BASE
#define MAX_FRAMES  WM_AWE_MAX_FRAMES
#define STACK_COPY  1024         /* entries copied on the stack, not malloc'd */
#define PENDING     1ULL         /* va[] marker while a map call validates */

#define S wm_awe_S
typedef wm_awe_window window;

/* ---- caller memory ---- */

static NTSTATUS check_process(HANDLE h)
{
    if (h == (HANDLE)(intptr_t)-1)
        return STATUS_SUCCESS;
    if (wm_handle_is_self(h))
        return STATUS_SUCCESS;
    NTSTATUS st = STATUS_INVALID_HANDLE;
    wm_space *sp = wm_handle_get(h, &st);
    if (!sp)
        return STATUS_INVALID_HANDLE;
    wm_space_put(sp);
    return STATUS_NOT_SUPPORTED;   /* frames live in this process only */
}


/* ---- windows (S.lock held) ---- */

/* Drops every record of frames mapped in [base, base+size). */
static void forget_range(uint64_t base, uint64_t size)
{
    for (size_t i = 0; i < S.nwin; i++) {
        window *w = &S.win[i];
        if (w->base < base + size && base < w->base + w->size) {
            uint64_t pages = w->size >> S.shift;
            for (uint64_t p = 0; p < pages; p++)
                if (w->slot[p])
                    S.va[w->slot[p] - 1] = 0;
            free(w->slot);
            *w = S.win[--S.nwin];
            i--;
        }
    }
}

/* The window that holds [va, va+len), found through the registry, or NULL.
 * A record whose base or size no longer matches the registry is stale (the
 * window was released and another reserved) and is rebuilt. */
static window *find_window(uint64_t va, uint64_t len)
{
    wm_region r;
    if (!wm_registry_query(va, &r) || r.kind != WM_KIND_PHYSICAL)
        return NULL;
    if (len > r.alloc_base + r.alloc_size - va)
        return NULL;
    for (size_t i = 0; i < S.nwin; i++)
        if (S.win[i].base == r.alloc_base && S.win[i].size == r.alloc_size)
            return &S.win[i];
    forget_range(r.alloc_base, r.alloc_size);
    if (S.nwin == S.capwin) {
        size_t cap = S.capwin ? S.capwin * 2 : 8;
        window *w = realloc(S.win, cap * sizeof *w);
        if (!w)
            return NULL;
        S.win = w;
        S.capwin = cap;
    }
    uint32_t *slot = calloc(r.alloc_size / S.pg, sizeof *slot);
    if (!slot)
        return NULL;
    S.win[S.nwin] = (window){ r.alloc_base, r.alloc_size, slot };
    return &S.win[S.nwin++];
}

static uint32_t *slot_of(window *w, uint64_t va)
{
    return &w->slot[(va - w->base) >> S.shift];
}

/* Makes pages [va, va+len) of a window inaccessible again. */
static bool unmap_pages(uint64_t va, uint64_t len)
{
    void *p = mmap((void *)va, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return false;
    wm_registry_set_pages(va, len, MEM_RESERVE, 0);
    return true;
}

static bool map_run(uint64_t va, uint32_t idx, uint64_t n)
{
    void *p = mmap((void *)va, n * S.pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                   S.fd, (off_t)((uint64_t)idx * S.pg));
    if (p == MAP_FAILED)
        return false;
    wm_registry_set_pages(va, n * S.pg, MEM_COMMIT, PAGE_READWRITE);
    return true;
}

/* Unmaps whatever frame is at page va of w (records only + the mapping). */
static void clear_page(window *w, uint64_t va)
{
    uint32_t *s = slot_of(w, va);
    if (*s) {
        S.va[*s - 1] = 0;
        *s = 0;
    }
}

/* Is frame idx really still mapped where we recorded it? Not when its
 * window was released (VirtualFree unmaps the range without telling us) and
 * the address reused since. Asks the kernel which file page is there. Only
 * called when a frame looks mapped, so the common paths make no syscall. */
static bool mapped_for_real(uint32_t idx)
{
    uint64_t at = S.va[idx];
    wm_vma v;
    if (wm_vma_find(wm_space_self(), at, &v, NULL, 0) != 0 || v.start > at)
        return false;
    return v.inode == S.ino && v.offset + (at - v.start) == (uint64_t)idx * S.pg;
}

/* Clears S.va[idx] if its record is stale, with every record of the
 * window it was in (they are all stale then). */
static void check_stale(uint32_t idx)
{
    if (S.va[idx] && S.va[idx] != PENDING && !mapped_for_real(idx)) {
        forget_range(S.va[idx], S.pg);
        S.va[idx] = 0;
    }
}

/* Checks frame number f for mapping; marks it PENDING so a second use in
 * the same call is caught. May drop stale window records: callers look
 * their windows up again afterwards. */
static NTSTATUS claim(ULONG_PTR f, uint32_t *idx)
{
    if (f < FRAME_BASE || f - FRAME_BASE >= S.nframes || !S.held[f - FRAME_BASE])
        return STATUS_CONFLICTING_ADDRESSES;
    *idx = (uint32_t)(f - FRAME_BASE);
    check_stale(*idx);
    if (S.va[*idx])
        return STATUS_INVALID_PARAMETER;   /* mapped elsewhere, or listed twice */
    S.va[*idx] = PENDING;
    return STATUS_SUCCESS;
}

/* ---- the API ---- */

bool wm_awe_pool_exists(void)
{
    pthread_mutex_lock(&S.lock);
    bool r = S.nframes != 0;
    pthread_mutex_unlock(&S.lock);
    return r;
}

void wm_awe_forget_window(uint64_t base, uint64_t size)
{
    pthread_mutex_lock(&S.lock);
    if (S.fd >= 0)
        forget_range(base, size);
    pthread_mutex_unlock(&S.lock);
}

NTSTATUS wm_awe_allocate(HANDLE process, ULONG_PTR *count, ULONG_PTR *frames)
{
    ULONG_PTR want;
    if (!count || !wm_self_read(&want, count, sizeof want))
        return STATUS_ACCESS_VIOLATION;
    NTSTATUS st = check_process(process);
    if (st)
        return st;
    if (want == 0)
        return STATUS_SUCCESS;          /* Windows: no privilege check either */
    if (want > UINTPTR_MAX / sizeof(ULONG_PTR) || !frames)
        return want > UINTPTR_MAX / sizeof(ULONG_PTR) ? STATUS_INVALID_PARAMETER : STATUS_ACCESS_VIOLATION;

    pthread_mutex_lock(&S.lock);
    if (!wm_awe_pool_open()) {
        pthread_mutex_unlock(&S.lock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    uint64_t budget;
    st = wm_awe_lock_budget(&budget);
    pthread_mutex_unlock(&S.lock);
    if (st)
        return st;
    if (want > budget)
        want = budget;
    if (want > MAX_FRAMES)
        want = MAX_FRAMES;
    if (want == 0)
        return STATUS_INSUFFICIENT_RESOURCES;

    uint32_t *idx = malloc(want * sizeof *idx);
    ULONG_PTR *out = malloc(want * sizeof *out);
    if (!idx || !out) {
        free(idx);
        free(out);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    pthread_mutex_lock(&S.lock);
    uint64_t got = wm_awe_take_frames(want, idx);
    pthread_mutex_unlock(&S.lock);
    for (uint64_t i = 0; i < got; i++)
        out[i] = FRAME_BASE + idx[i];

    st = STATUS_SUCCESS;
    if (got == 0)
        st = STATUS_INSUFFICIENT_RESOURCES;
    else if (!wm_self_write(frames, out, got * sizeof *out) || !wm_self_write(count, &got, sizeof got))
        st = STATUS_ACCESS_VIOLATION;
    if (st && got) {                    /* failure: no frame stays allocated */
        pthread_mutex_lock(&S.lock);
        for (uint64_t i = 0; i < got; i++)
            wm_awe_give_back(idx[i]);
        pthread_mutex_unlock(&S.lock);
    }
    free(idx);
    free(out);
    return st;
}

/* Copies n caller entries to a stack buffer or a malloc'd one. */
static NTSTATUS capture(const void *src, ULONG_PTR n, ULONG_PTR *stackbuf, ULONG_PTR **out)
{
    *out = stackbuf;
    if (n > STACK_COPY && !(*out = malloc(n * sizeof(ULONG_PTR))))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (!wm_self_read(*out, src, n * sizeof(ULONG_PTR))) {
        if (*out != stackbuf)
            free(*out);
        return STATUS_ACCESS_VIOLATION;
    }
    return STATUS_SUCCESS;
}

/* Claims every frame of list[0..n) (marks it PENDING), idx[i] its index;
 * on failure undoes the marks already made. Pre: S.lock held. */
static NTSTATUS claim_all(const ULONG_PTR *list, uint64_t n, uint32_t *idx)
{
    NTSTATUS st = STATUS_SUCCESS;
    uint64_t i;
    for (i = 0; i < n; i++)
        if ((st = claim(list[i], &idx[i])))
            break;
    if (st)
        while (i--)
            S.va[idx[i]] = 0;
    return st;
}

/* Maps the claimed frames idx[0..n) at va in window w, in runs of
 * consecutive frames. Out of kernel mappings: the whole range is left
 * unmapped and its frames unclaimed, rather than half of it mapped.
 * Pre: S.lock held. */
static NTSTATUS map_claimed(window *w, uint64_t va, uint64_t n, const uint32_t *idx)
{
    uint64_t pg = wm_page_size();
    for (uint64_t i = 0; i < n; i++)
        clear_page(w, va + i * pg);
    for (uint64_t i = 0; i < n;) {
        uint64_t run = 1;
        while (i + run < n && idx[i + run] == idx[i] + run)
            run++;
        if (!map_run(va + i * pg, idx[i], run)) {
            for (uint64_t j = 0; j < n; j++)
                S.va[idx[j]] = 0;
            for (uint64_t j = 0; j < n; j++)
                *slot_of(w, va + j * pg) = 0;
            unmap_pages(va, n * pg);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        for (uint64_t j = i; j < i + run; j++) {
            S.va[idx[j]] = va + j * pg;
            *slot_of(w, va + j * pg) = idx[j] + 1;
        }
        i += run;
    }
    return STATUS_SUCCESS;
}

/* MapUserPhysicalPages' work on n pages at va (list NULL: unmap them).
 * Pre: S.lock held; list, when given, is the caller's copy. */
static NTSTATUS map_locked(uint64_t va, uint64_t n, const ULONG_PTR *list, uint32_t *idx)
{
    uint64_t pg = wm_page_size();
    window *w = S.nframes ? find_window(va, n * pg) : NULL;
    if (!w)
        return STATUS_INVALID_PARAMETER;
    if (!list) {                        /* NULL array: unmap the range */
        for (uint64_t i = 0; i < n; i++)
            clear_page(w, va + i * pg);
        return unmap_pages(va, n * pg) ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    }
    NTSTATUS st = claim_all(list, n, idx);
    if (st)
        return st;
    if (!(w = find_window(va, n * pg))) {   /* claim may have dropped records */
        for (uint64_t i = 0; i < n; i++)
            S.va[idx[i]] = 0;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return map_claimed(w, va, n, idx);
}

NTSTATUS wm_awe_map(void *addr, ULONG_PTR n, const ULONG_PTR *frames)
{
    ULONG_PTR stackbuf[STACK_COPY], *list = NULL;
    uint32_t idxbuf[STACK_COPY], *idx = idxbuf;
    uint64_t pg = wm_page_size();
    uint64_t va = (uint64_t)(uintptr_t)addr & ~(pg - 1);
    if (n == 0 || n > UINTPTR_MAX / pg || va + n * pg < va)
        return STATUS_INVALID_PARAMETER;
    if (frames) {
        NTSTATUS st = capture(frames, n, stackbuf, &list);
        if (st)
            return st;
        if (n > STACK_COPY && !(idx = malloc(n * sizeof *idx))) {
            if (list != stackbuf)
                free(list);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    pthread_mutex_lock(&S.lock);
    NTSTATUS st = map_locked(va, n, list, idx);
    pthread_mutex_unlock(&S.lock);
    if (list && list != stackbuf)
        free(list);
    if (idx != idxbuf)
        free(idx);
    return st;
}

/* Releases the claims of list[j] for j in [from, n) (0 entries claim none). */
static void unclaim_from(const ULONG_PTR *list, const uint32_t *idx, uint64_t from, uint64_t n)
{
    for (uint64_t j = from; j < n && list; j++)
        if (list[j])
            S.va[idx[j]] = 0;
}

/* MapUserPhysicalPagesScatter's work on the caller's copies va[] and
 * list[] (list NULL or an entry 0: unmap that page); w and idx are scratch
 * arrays of n entries. Entries before a failure to map stay done, as on
 * Windows. Pre: S.lock held. */
static NTSTATUS scatter_locked(ULONG_PTR *va, uint64_t n, const ULONG_PTR *list, window **w, uint32_t *idx)
{
    uint64_t pg = wm_page_size(), i;
    NTSTATUS st = STATUS_SUCCESS;
    for (i = 0; i < n; i++) {
        va[i] &= ~(pg - 1);
        if (!S.nframes || !(w[i] = find_window(va[i], pg)))
            return STATUS_INVALID_PARAMETER;
    }
    for (i = 0; i < n && list; i++) {
        idx[i] = UINT32_MAX;
        if (list[i] && (st = claim(list[i], &idx[i])))
            break;
    }
    if (st) {
        while (i--)
            if (idx[i] != UINT32_MAX)
                S.va[idx[i]] = 0;
        return st;
    }
    /* find_window and claim may have moved or dropped records: look the
     * windows up again (they exist: the registry said so above). */
    for (i = 0; i < n; i++)
        if (!(w[i] = find_window(va[i], pg))) {
            unclaim_from(list, idx, 0, n);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
    for (i = 0; i < n; i++) {
        clear_page(w[i], va[i]);
        bool ok = (list && list[i]) ? map_run(va[i], idx[i], 1) : unmap_pages(va[i], pg);
        if (!ok) {
            unclaim_from(list, idx, i, n);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (list && list[i]) {
            S.va[idx[i]] = va[i];
            *slot_of(w[i], va[i]) = idx[i] + 1;
        }
    }
    return STATUS_SUCCESS;
}

NTSTATUS wm_awe_map_scatter(void **vas, ULONG_PTR n, const ULONG_PTR *frames)
{
    ULONG_PTR vbuf[STACK_COPY], fbuf[STACK_COPY], *va = NULL, *list = NULL;
    if (n > UINTPTR_MAX / wm_page_size())
        return STATUS_INVALID_PARAMETER;
    NTSTATUS st = capture(vas, n, vbuf, &va);
    if (st)
        return st;
    if (n == 0)
        return STATUS_SUCCESS;
    if (frames && (st = capture(frames, n, fbuf, &list))) {
        if (va != vbuf)
            free(va);
        return st;
    }
    window **w = malloc(n * sizeof *w);
    uint32_t *idx = malloc(n * sizeof *idx);
    pthread_mutex_lock(&S.lock);
    st = w && idx ? scatter_locked(va, n, list, w, idx) : STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_unlock(&S.lock);
    free(w);
    free(idx);
    if (va != vbuf)
        free(va);
    if (list && list != fbuf)
        free(list);
    return st;
}

NTSTATUS wm_awe_free(HANDLE process, ULONG_PTR *count, const ULONG_PTR *frames)
{
    ULONG_PTR n, zero = 0, stackbuf[STACK_COPY], *list;
    if (!count || !wm_self_read(&n, count, sizeof n) || !wm_self_write(count, &zero, sizeof zero))
        return STATUS_ACCESS_VIOLATION;
    NTSTATUS st = check_process(process);
    if (st)
        return st;
    if (n == 0 || n > UINTPTR_MAX / sizeof(ULONG_PTR))
        return STATUS_INVALID_PARAMETER;
    if ((st = capture(frames, n, stackbuf, &list)))
        return st;

    uint64_t done = 0;
    pthread_mutex_lock(&S.lock);
    if (!S.nframes)
        st = STATUS_INVALID_PARAMETER;
    for (; !st && done < n; done++) {
        ULONG_PTR f = list[done];
        if (f < FRAME_BASE || f - FRAME_BASE >= S.nframes || !S.held[f - FRAME_BASE]) {
            st = STATUS_CONFLICTING_ADDRESSES;
            break;
        }
        uint32_t idx = (uint32_t)(f - FRAME_BASE);
        check_stale(idx);               /* never unmap what is no longer ours */
        if (S.va[idx]) {                /* freed while mapped: unmap first */
            uint64_t at = S.va[idx];
            window *w = find_window(at, S.pg);
            if (w)
                clear_page(w, at);
            S.va[idx] = 0;
            unmap_pages(at, S.pg);
        }
        wm_awe_give_back(idx);
    }
    pthread_mutex_unlock(&S.lock);
    wm_self_write(count, &done, sizeof done);
    if (list != stackbuf)
        free(list);
    return st;
}

/* ---- Win32 ---- */

static BOOL result(NTSTATUS st)
{
    if (st) {
        wm_fail_status(st);
        return FALSE;
    }
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API AllocateUserPhysicalPages(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                                    PULONG_PTR PageArray)
{
    return result(wm_awe_allocate(hProcess, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API AllocateUserPhysicalPagesNuma(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                                        PULONG_PTR PageArray, DWORD nndPreferred)
{
    return result(wm_awe_allocate(hProcess, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API MapUserPhysicalPages(PVOID VirtualAddress, ULONG_PTR NumberOfPages,
                                               PULONG_PTR PageArray)
{
    return result(wm_awe_map(VirtualAddress, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API MapUserPhysicalPagesScatter(PVOID *VirtualAddresses, ULONG_PTR NumberOfPages,
                                                      PULONG_PTR PageArray)
{
    return result(wm_awe_map_scatter(VirtualAddresses, NumberOfPages, PageArray));
}

WM_EXPORT BOOL WINMEM_API FreeUserPhysicalPages(HANDLE hProcess, PULONG_PTR NumberOfPages,
                                                PULONG_PTR PageArray)
{
    return result(wm_awe_free(hProcess, NumberOfPages, PageArray));
}
