/*
 * VirtualLock and VirtualUnlock (memory.h) on mlock/munlock.
 *
 * Linux does not say which pages a process locked, but Windows' VirtualUnlock
 * must fail with ERROR_NOT_LOCKED on pages that are not, so the locked ranges
 * are kept here: sorted, disjoint, merged intervals of page addresses, under
 * wm_alloc_lock (decommit and release forget theirs through wm_lock_forget).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"
#include "registry.h"

typedef struct range { uint64_t s, e; } range;
static range *locked;
static size_t nlocked, caplocked;

static bool grow(size_t need)
{
    if (need <= caplocked)
        return true;
    size_t nc = caplocked ? caplocked * 2 : 16;
    while (nc < need)
        nc *= 2;
    range *p = realloc(locked, nc * sizeof(*p));
    if (!p)
        return false;
    locked = p;
    caplocked = nc;
    return true;
}

/* First interval whose end is above a. */
static size_t first_after(uint64_t a)
{
    size_t lo = 0, hi = nlocked;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (locked[mid].e <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool covered(uint64_t s, uint64_t e)
{
    size_t i = first_after(s);
    return i < nlocked && locked[i].s <= s && e <= locked[i].e;
}

static bool add(uint64_t s, uint64_t e)
{
    if (!grow(nlocked + 1))
        return false;
    /* Every interval touching [s, e] merges into one. */
    size_t i = s ? first_after(s - 1) : 0, j = i;
    while (j < nlocked && locked[j].s <= e) {
        if (locked[j].s < s)
            s = locked[j].s;
        if (locked[j].e > e)
            e = locked[j].e;
        j++;
    }
    memmove(&locked[i + 1], &locked[j], (nlocked - j) * sizeof(*locked));
    nlocked = nlocked - (j - i) + 1;
    locked[i] = (range){ s, e };
    return true;
}

void wm_lock_forget(uint64_t s, uint64_t e)
{
    size_t i = first_after(s);
    while (i < nlocked && locked[i].s < e) {
        range r = locked[i];
        if (r.s < s && r.e > e) {               /* split in two */
            if (!grow(nlocked + 1)) {
                locked[i].e = s;                /* over-forgetting is the safe side */
                return;
            }
            memmove(&locked[i + 2], &locked[i + 1], (nlocked - i - 1) * sizeof(*locked));
            locked[i] = (range){ r.s, s };
            locked[i + 1] = (range){ e, r.e };
            nlocked++;
            return;
        }
        if (r.s < s) {
            locked[i++].e = s;
        } else if (r.e > e) {
            locked[i].s = e;
            return;
        } else {
            memmove(&locked[i], &locked[i + 1], (nlocked - i - 1) * sizeof(*locked));
            nlocked--;
        }
    }
}

/* Windows probes every page before locking: winmem pages must be committed
 * and accessible, and the first armed guard page fails the call once and
 * loses its guard (STATUS_GUARD_PAGE_VIOLATION), as on Windows. */
static NTSTATUS probe(uint64_t start, uint64_t end)
{
    wm_region r;
    for (uint64_t a = start; a < end;) {
        if (!wm_registry_query(a, &r)) {
            a = (a | (wm_page_size() - 1)) + 1;   /* not ours: mlock decides */
            continue;
        }
        if (r.state != MEM_COMMIT || wm_prot_base(r.protect) == PAGE_NOACCESS)
            return STATUS_ACCESS_VIOLATION;
        if (r.protect & PAGE_GUARD) {
            wm_guard_disarm_page(a);
            return STATUS_GUARD_PAGE_VIOLATION;
        }
        a = r.base + r.size;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS range_of(LPVOID addr, SIZE_T size, uint64_t *s, uint64_t *e)
{
    /* The pages holding a byte of the range; size 0 at a page boundary is
     * an empty range, which succeeds doing nothing (as NT rounds it). */
    return wm_page_range((uint64_t)addr, size, s, e);
}

WM_EXPORT BOOL WINMEM_API VirtualLock(LPVOID lpAddress, SIZE_T dwSize)
{
    uint64_t s, e;
    NTSTATUS st = range_of(lpAddress, dwSize, &s, &e);
    if (st != STATUS_SUCCESS)
        return wm_fail_status(st), FALSE;
    if (s == e)
        return TRUE;
    wm_alloc_lock();
    st = probe(s, e);
    if (st == STATUS_SUCCESS && !grow(nlocked + 1))
        st = STATUS_NO_MEMORY;
    if (st == STATUS_SUCCESS && mlock((void *)s, e - s) != 0) {
        /* msync tells an unmapped hole (ENOMEM) from a refused lock. */
        if (errno == ENOMEM && msync((void *)s, e - s, MS_ASYNC) != 0)
            st = STATUS_ACCESS_VIOLATION;
        else
            st = STATUS_WORKING_SET_QUOTA;
    }
    if (st == STATUS_SUCCESS)
        add(s, e);   /* cannot fail: room was made above */
    wm_alloc_unlock();
    if (st != STATUS_SUCCESS)
        return wm_fail_status(st), FALSE;
    return TRUE;
}

WM_EXPORT BOOL WINMEM_API VirtualUnlock(LPVOID lpAddress, SIZE_T dwSize)
{
    uint64_t s, e;
    NTSTATUS st = range_of(lpAddress, dwSize, &s, &e);
    if (st != STATUS_SUCCESS)
        return wm_fail_status(st), FALSE;
    if (s == e)
        return TRUE;
    wm_alloc_lock();
    if (!covered(s, e)) {
        st = STATUS_NOT_LOCKED;
    } else {
        munlock((void *)s, e - s);
        wm_lock_forget(s, e);
    }
    wm_alloc_unlock();
    if (st != STATUS_SUCCESS)
        return wm_fail_status(st), FALSE;
    return TRUE;
}
