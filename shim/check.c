/*
 * shim/check.c — check mode: after Wine answered a basic query about this
 * process, ask the kernel about the same page and record a DIVERGENCE when
 * Wine's answer contradicts what the kernel knows.
 *
 * Only contradictions count. Wine keeps its own view of memory and Linux
 * cannot know reserved vs committed-no-access, allocation boundaries,
 * PAGE_GUARD (Wine arms it with PROT_NONE) or write-watch state (Wine
 * write-protects watched pages; the reservations are remembered below), so
 * those are never reported. What the kernel does know: whether the page is mapped
 * at all, and whether it is readable / writable.
 *
 * The second oracle is what Wine was asked to do: the model (shim/model.c)
 * records every allocation, protection change and free of the program
 * through Wine's door. Where it holds the page from those calls, Wine's
 * state must be the state they set, and a committed page's protection the
 * one they set — except PAGE_GUARD, which a touch clears without a call
 * (the model keeps it armed). A contradiction is a WMT_DIV_MODEL record.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <string.h>
#include "shim.h"
#include "internal.h"
#include "model.h"

/* Write-watch reservations of this process: a fixed lock-free table, since
 * this runs inside Wine's system calls (no malloc, no locks). A slot is free
 * when base is 0. If the table ever overflows, write-only differences can no
 * longer be judged and are not reported (never a false divergence). */
#define WW_SLOTS 256
static struct { _Atomic uint64_t base, end; } ww[WW_SLOTS];
static _Atomic bool ww_overflow;
static _Atomic bool ww_used;          /* a write-watch reservation was ever noted */

void wm_check_note_alloc(uint64_t base, uint64_t size, uint32_t type)
{
    if (!(type & MEM_WRITE_WATCH) || !size)
        return;
    atomic_store(&ww_used, true);
    for (int i = 0; i < WW_SLOTS; i++) {
        uint64_t expect = 0;
        if (atomic_compare_exchange_strong(&ww[i].base, &expect, UINT64_MAX)) {
            atomic_store(&ww[i].end, base + size);
            atomic_store(&ww[i].base, base);   /* published last: readers never see a half entry */
            return;
        }
    }
    atomic_store(&ww_overflow, true);
}

void wm_check_note_free(uint64_t base, uint32_t type)
{
    /* Every free of every mode comes here: a plain load per slot first (a
     * locked compare-exchange on all 256 cost ~5 us a free), and nothing at
     * all before the first write-watch reservation. */
    if (!(type & MEM_RELEASE) || !base || !atomic_load_explicit(&ww_used, memory_order_relaxed))
        return;
    for (int i = 0; i < WW_SLOTS; i++) {
        uint64_t expect = base;
        if (atomic_load_explicit(&ww[i].base, memory_order_relaxed) == base &&
            atomic_compare_exchange_strong(&ww[i].base, &expect, UINT64_MAX)) {
            atomic_store(&ww[i].end, 0);
            atomic_store(&ww[i].base, 0);
            return;
        }
    }
}

static bool write_watched(uint64_t page)
{
    if (atomic_load(&ww_overflow))
        return true;
    for (int i = 0; i < WW_SLOTS; i++) {
        uint64_t b = atomic_load(&ww[i].base);
        if (b && b != UINT64_MAX && b <= page && page < atomic_load(&ww[i].end))
            return true;
    }
    return false;
}

static uint32_t protect_of(uint32_t vma_flags)
{
    return wm_prot_from_vma(vma_flags, false);
}

static void record(uint16_t api, uint16_t kind, uint64_t seq, uint64_t page, const MEMORY_BASIC_INFORMATION *m,
                   struct wmt_divergence *d)
{
    d->h.type = WMT_REC_DIVERGENCE;
    d->h.size = sizeof *d;
    d->api = api;
    d->kind = kind;
    d->tid = wm_gettid();
    d->call_seq = seq;
    d->address = page;
    d->wine_base = (uintptr_t)m->BaseAddress;
    d->wine_size = m->RegionSize;
    d->wine_state = m->State;
    d->wine_protect = m->Protect;
    d->wine_type = m->Type;
    wm_append(d, sizeof *d);
}

/* Does Wine's answer contradict the calls it was given? */
static bool model_check(uint16_t api, uint64_t seq, uint64_t page, const MEMORY_BASIC_INFORMATION *m)
{
    uint32_t state, prot;
    if (!wm_model_called_state(page, &state, &prot))
        return false;
    bool differs = m->State != state;
    if (!differs && state == MEM_COMMIT) {
        uint32_t wine = m->Protect;
        differs = (wine & ~(uint32_t)PAGE_GUARD) != (prot & ~(uint32_t)PAGE_GUARD) ||
                  ((wine & PAGE_GUARD) && !(prot & PAGE_GUARD));
    }
    if (!differs)
        return false;
    struct wmt_divergence d;
    memset(&d, 0, sizeof d);
    d.native_state = state;
    d.native_protect = state == MEM_COMMIT ? prot : 0;
    record(api, WMT_DIV_MODEL, seq, page, m, &d);
    return true;
}

void wm_check_basic(uint16_t api, uint64_t seq, uint64_t addr, const void *answer)
{
    MEMORY_BASIC_INFORMATION m;
    memcpy(&m, answer, sizeof m);      /* Wine just wrote it: valid, and copied before anything else */
    if (model_check(api, seq, addr & ~0xfffULL, &m))
        return;
    if (m.State != MEM_COMMIT || (m.Protect & PAGE_GUARD) || !wm_prot_base(m.Protect))
        return;
    uint64_t page = addr & ~0xfffULL;
    int want = wm_prot_to_unix(m.Protect);
    wm_vma v;
    int r = wm_vma_find(wm_space_self(), page, &v, NULL, 0);
    bool mapped = r == 0 && v.start <= page && page < v.end;
    uint16_t kind = 0;
    int have = 0;
    if (!mapped) {
        kind = WMT_DIV_NO_MAPPING;
    } else {
        have = (v.flags & WM_VMA_READ ? PROT_READ : 0) | (v.flags & WM_VMA_WRITE ? PROT_WRITE : 0) |
               (v.flags & WM_VMA_EXEC ? PROT_EXEC : 0);
        /* Write access must agree exactly. Read: an execute-only page may be
         * readable on x86, so only "Wine says readable, kernel says not"
         * counts. Execute is not compared (Wine may add it for old code). */
        bool w_differs = (want & PROT_WRITE) != (have & PROT_WRITE);
        bool r_missing = (want & PROT_READ) && !(have & PROT_READ);
        /* Writable to Wine, not to the kernel, on a write-watched page:
         * that is Wine's watch armed, not a contradiction. */
        bool watch_armed = w_differs && (want & PROT_WRITE) && !r_missing && write_watched(page);
        if ((w_differs && !watch_armed) || r_missing)
            kind = WMT_DIV_PROTECT;
    }
    if (!kind)
        return;
    struct wmt_divergence d;
    memset(&d, 0, sizeof d);
    if (mapped) {
        d.vma_start = v.start, d.vma_end = v.end;
        d.vma_prot = (uint32_t)have;
        d.kernel_protect = protect_of(v.flags);
    }
    MEMORY_BASIC_INFORMATION n;
    size_t ret;
    if (wm_core_query((void *)(intptr_t)-1, (const void *)page, 0, &n, sizeof n, &ret) == 0)
        d.native_state = n.State, d.native_protect = n.Protect;
    record(api, kind, seq, page, &m, &d);
}
