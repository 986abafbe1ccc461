/*
 * cli/report_ledger.c — the memory ledger: replays the calls that change
 * the address space, in the order they returned, over a model of the
 * process's regions (see report_stats.h).
 *
 * The model is a sorted array of pieces [start, end) with a state (reserved
 * or committed), a protection, the allocation they belong to and who made
 * them. A range operation splits the pieces at its two ends and walks the
 * ones between: O(pieces touched + log n) plus the shift of an insert,
 * fine for the thousands of allocations a program keeps.
 *
 * Only calls that succeeded and named the own process change the model.
 * Memory made before recording started (or by Wine's unix side, which the
 * Nt calls do not see) is unknown; a commit into it counts as a new
 * allocation by the committing site.
 */
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "report_stats.h"
#include "winmem/memory.h"
#include "table.h"

#define PG 4096ull
#define RESERVED 1
#define COMMITTED 2

typedef struct lg_piece {
    uint64_t start, end, base;
    uint32_t protect;
    uint8_t state;
    bool mapped;
    int asite, csite;   /* allocated by / committed by */
} lg_piece;

typedef struct ledger {
    lg_piece *v;
    size_t n, cap;
    uint64_t dropped;   /* address space the last release removed */
} ledger;

/* One decoded change. */
enum { OP_NONE, OP_ALLOC, OP_VIEW, OP_FREE_RANGE, OP_RELEASE_AT, OP_DECOMMIT, OP_PROTECT, OP_UNMAP_AT };
typedef struct lg_ev { int op; uint64_t start, end; uint32_t type, protect; } lg_ev;

static uint64_t up(uint64_t v) { return (v + PG - 1) & ~(PG - 1); }
static uint64_t down(uint64_t v) { return v & ~(PG - 1); }
static bool is_wx(uint32_t p) { return (p & 0xff) == PAGE_EXECUTE_READWRITE || (p & 0xff) == PAGE_EXECUTE_WRITECOPY; }

/* First piece whose end is above a. */
static size_t lower(const ledger *l, uint64_t a)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].end <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int insert_at(ledger *l, size_t i, lg_piece p)
{
    if (!TABLE_GROW(l->v, l->cap, l->n + 1, 256))
        return -1;
    if (l->n > i)
        memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof *l->v);
    l->v[i] = p;
    l->n++;
    return 0;
}

/* Makes a a piece boundary (when a falls inside a piece). */
static int split(ledger *l, uint64_t a)
{
    size_t i = lower(l, a);
    if (i == l->n || l->v[i].start >= a)
        return 0;
    lg_piece tail = l->v[i];
    tail.start = a;
    l->v[i].end = a;
    return insert_at(l, i + 1, tail);
}

static void add_wx(report_stats *s, int site, const char *w32, uint32_t prot, uint64_t bytes)
{
    for (size_t i = 0; i < s->nwx; i++)
        if (s->wx[i].site == site && s->wx[i].w32 == w32 && s->wx[i].protect == prot) {
            s->wx[i].bytes += bytes, s->wx[i].n++;
            return;
        }
    if (!TABLE_GROW(s->wx, s->cap_wx, s->nwx + 1, 16))
        return;
    s->wx[s->nwx++] = (rs_wx){ site, w32, prot, bytes, 1 };
}

/* Removes pieces [i, j) from the model, returning committed bytes freed. */
static uint64_t drop(ledger *l, report_stats *s, size_t i, size_t j)
{
    uint64_t freed = 0;
    for (size_t k = i; k < j; k++) {
        lg_piece *p = &l->v[k];
        uint64_t len = p->end - p->start;
        s->reserved -= len;
        l->dropped += len;
        if (p->mapped)
            s->mapped -= len;
        else if (p->state == COMMITTED)
            s->committed -= len, freed += len;
    }
    if (j > i) {
        memmove(l->v + i, l->v + j, (l->n - j) * sizeof *l->v);
        l->n -= j - i;
    }
    return freed;
}

static uint64_t release_range(ledger *l, report_stats *s, uint64_t a, uint64_t b)
{
    if (split(l, a) || split(l, b))
        return 0;
    size_t i = lower(l, a), j = i;
    while (j < l->n && l->v[j].start < b)
        j++;
    return drop(l, s, i, j);
}

/* The whole allocation containing a (all contiguous pieces of its base). */
static uint64_t release_alloc(ledger *l, report_stats *s, uint64_t a, bool need_base)
{
    size_t i = lower(l, a);
    if (i == l->n || l->v[i].start > a || (need_base && l->v[i].base != a))
        return 0;
    uint64_t base = l->v[i].base;
    size_t j = i + 1;
    while (i > 0 && l->v[i - 1].base == base && l->v[i - 1].end == l->v[i].start)
        i--;
    while (j < l->n && l->v[j].base == base && l->v[j].start == l->v[j - 1].end)
        j++;
    return drop(l, s, i, j);
}

/* Sets [a, b) to state (committing or decommitting) or to a protection;
 * returns the bytes that changed state. Gaps are filled when committing. */
static uint64_t set_range(ledger *l, report_stats *s, uint64_t a, uint64_t b, int state, uint32_t prot, int site)
{
    if (split(l, a) || split(l, b))
        return 0;
    uint64_t changed = 0, at = a;
    size_t i = lower(l, a);
    while (at < b) {
        if (state == COMMITTED && (i == l->n || l->v[i].start > at)) {   /* unknown memory */
            uint64_t e = i < l->n && l->v[i].start < b ? l->v[i].start : b;
            if (insert_at(l, i, (lg_piece){ at, e, at, prot, COMMITTED, false, site, site }))
                return changed;
            s->reserved += e - at, s->committed += e - at, changed += e - at;
        } else if (i == l->n || l->v[i].start >= b) {
            break;
        } else {
            lg_piece *p = &l->v[i];
            if (state == COMMITTED && p->state == RESERVED && !p->mapped)
                p->state = COMMITTED, p->csite = site, s->committed += p->end - p->start, changed += p->end - p->start;
            else if (state == RESERVED && p->state == COMMITTED && !p->mapped)
                p->state = RESERVED, s->committed -= p->end - p->start, changed += p->end - p->start;
            if (state != RESERVED)
                p->protect = prot;
        }
        at = l->v[i].end;
        i++;
    }
    return changed;
}

/* What a successful call did to the own address space. */
static lg_ev decode(const struct wmt_call *c)
{
    lg_ev e = { OP_NONE, 0, 0, 0, 0 };
    if (c->api < WMT_API_NtAllocateVirtualMemory || c->api > WMT_API_VirtualProtectEx)
        return e;
    const uint64_t *a = c->arg, *o = c->out;
    if (c->flags & (WMT_CF_PENDING | WMT_CF_REMOTE) || call_failed(c))
        return e;
    switch (c->api) {
    case WMT_API_NtAllocateVirtualMemory:
    case WMT_API_NtAllocateVirtualMemoryEx: {
        bool ex = c->api == WMT_API_NtAllocateVirtualMemoryEx;
        e = (lg_ev){ OP_ALLOC, o[0], o[0] + o[1], (uint32_t)a[ex ? 3 : 4], (uint32_t)a[ex ? 4 : 5] };
        break;
    }
    case WMT_API_VirtualAlloc:
    case WMT_API_VirtualAllocEx: {
        int k = c->api == WMT_API_VirtualAllocEx;
        uint64_t from = a[k] ? a[k] : c->ret;
        e = (lg_ev){ OP_ALLOC, down(c->ret), up(from + a[k + 1]), (uint32_t)a[k + 2], (uint32_t)a[k + 3] };
        if (e.type & MEM_RESERVE)
            e.end = down(c->ret) + up(a[k + 1]);
        break;
    }
    case WMT_API_NtFreeVirtualMemory: {
        uint32_t type = (uint32_t)a[3];
        e = (lg_ev){ type & MEM_RELEASE ? OP_FREE_RANGE : OP_DECOMMIT, o[0], o[0] + o[1], type, 0 };
        break;
    }
    case WMT_API_VirtualFree:
    case WMT_API_VirtualFreeEx: {
        int k = c->api == WMT_API_VirtualFreeEx;
        uint32_t type = (uint32_t)a[k + 2];
        if (type & MEM_RELEASE)
            e = (lg_ev){ OP_RELEASE_AT, a[k], a[k], type, 0 };
        else
            e = (lg_ev){ OP_DECOMMIT, down(a[k]), a[k + 1] ? up(a[k] + a[k + 1]) : UINT64_MAX, type, 0 };
        break;
    }
    case WMT_API_NtProtectVirtualMemory:
        e = (lg_ev){ OP_PROTECT, o[0], o[0] + o[1], 0, (uint32_t)a[3] };
        break;
    case WMT_API_VirtualProtect:
    case WMT_API_VirtualProtectEx: {
        int k = c->api == WMT_API_VirtualProtectEx;
        e = (lg_ev){ OP_PROTECT, down(a[k]), up(a[k] + a[k + 1]), 0, (uint32_t)a[k + 2] };
        break;
    }
    case WMT_API_NtMapViewOfSection:
        e = (lg_ev){ OP_VIEW, o[0], o[0] + up(o[1]), (uint32_t)a[8], (uint32_t)a[9] };
        break;
    case WMT_API_NtMapViewOfSectionEx:
        e = (lg_ev){ OP_VIEW, o[0], o[0] + up(o[1]), (uint32_t)a[5], (uint32_t)a[6] };
        break;
    case WMT_API_NtUnmapViewOfSection:
    case WMT_API_NtUnmapViewOfSectionEx:
        e = (lg_ev){ OP_UNMAP_AT, a[1], a[1], 0, 0 };
        break;
    }
    if (e.op != OP_NONE && e.op != OP_RELEASE_AT && e.op != OP_UNMAP_AT && e.end <= e.start)
        e.op = OP_NONE;
    return e;
}

bool rs_decode(const struct wmt_call *c, rs_mem *m)
{
    lg_ev e = decode(c);
    if (e.op == OP_NONE)
        return false;
    *m = (rs_mem){ .end = c->start_ns + c->dur_ns, .start_addr = e.start, .end_addr = e.end, .type = e.type,
                   .protect = e.protect, .op = e.op, .c = c };
    return true;
}

/* A decommit with size 0 runs to the end of the allocation. */
static uint64_t alloc_end(const ledger *l, uint64_t a)
{
    size_t i = lower(l, a);
    if (i == l->n || l->v[i].start > a)
        return a;
    uint64_t base = l->v[i].base;
    while (i + 1 < l->n && l->v[i + 1].base == base && l->v[i + 1].start == l->v[i].end)
        i++;
    return l->v[i].end;
}

/* Applies one call; x is its site's record when the call is counted. */
static void apply(ledger *l, report_stats *s, const lg_ev *e, int site, rs_site *x, const char *w32)
{
    uint64_t n;
    switch (e->op) {
    case OP_ALLOC:
        if (e->type & MEM_RESERVE) {
            release_range(l, s, e->start, e->end);   /* stale knowledge: the kernel says it was free */
            if (!insert_at(l, lower(l, e->start), (lg_piece){ e->start, e->end, e->start, e->protect, RESERVED, false, site, site })) {
                s->reserved += e->end - e->start;
                if (x)
                    x->reserved += e->end - e->start;
            }
        }
        if (e->type & MEM_COMMIT) {
            n = set_range(l, s, e->start, e->end, COMMITTED, e->protect, site);
            if (x)
                x->committed += n;
            if (is_wx(e->protect)) {
                add_wx(s, site, w32, e->protect, e->end - e->start);
                if (x)
                    x->wx += e->end - e->start;
            }
        }
        break;
    case OP_VIEW:
        release_range(l, s, e->start, e->end);
        if (!insert_at(l, lower(l, e->start), (lg_piece){ e->start, e->end, e->start, e->protect, COMMITTED, true, site, site })) {
            s->reserved += e->end - e->start, s->mapped += e->end - e->start;
            if (x)
                x->mapped += e->end - e->start;
        }
        break;
    case OP_FREE_RANGE:
    case OP_RELEASE_AT:
    case OP_UNMAP_AT:
        l->dropped = 0;
        n = e->op == OP_FREE_RANGE ? release_range(l, s, e->start, e->end)
                                   : release_alloc(l, s, e->start, e->op == OP_RELEASE_AT);
        if (x)
            x->freed += n, x->released += l->dropped;
        break;
    case OP_DECOMMIT:
        n = set_range(l, s, e->start, e->end == UINT64_MAX ? alloc_end(l, e->start) : e->end, RESERVED, 0, site);
        if (x)
            x->freed += n;
        break;
    case OP_PROTECT:
        set_range(l, s, e->start, e->end, 0, e->protect, site);
        if (is_wx(e->protect)) {
            add_wx(s, site, w32, e->protect, e->end - e->start);
            if (x)
                x->wx += e->end - e->start;
        }
        break;
    }
}

static void add_point(report_stats *s, uint64_t t)
{
    if (s->npoints && s->points[s->npoints - 1].t_ns == t) {
        s->points[s->npoints - 1] = (rs_point){ t, s->committed, s->reserved, s->mapped };
        return;
    }
    if (!TABLE_GROW(s->points, s->cap_points, s->npoints + 1, 256))
        return;
    s->points[s->npoints++] = (rs_point){ t, s->committed, s->reserved, s->mapped };
}

static bool before(const rs_mem *a, const rs_mem *b)
{
    if (a->end != b->end)
        return a->end < b->end;
    return a->c->tid != b->c->tid ? a->c->tid < b->c->tid : a->c->seq < b->c->seq;
}

static int by_return(const void *a, const void *b)
{
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

/* The runs (one per thread) merged through a heap of run heads:
 * O(n log threads). A thread's calls return in seq order (one after the
 * other), so a run is sorted already; one that is not (a generated trace,
 * a clock step) is sorted first. */
static rs_mem *merge(rs_mem *v, size_t n, const size_t *seg, size_t nseg)
{
    for (size_t r = 0; r < nseg; r++) {
        size_t a = seg[r], b = r + 1 < nseg ? seg[r + 1] : n, k = a + 1;
        while (k < b && !before(&v[k], &v[k - 1]))
            k++;
        if (k < b)
            qsort(v + a, b - a, sizeof *v, by_return);
    }
    rs_mem *out = malloc((n ? n : 1) * sizeof *out);
    size_t *cur = malloc((nseg + 1) * sizeof *cur), *heap = malloc((nseg + 1) * sizeof *heap), nh = 0;
    if (!out || !cur || !heap) {
        free(out), free(cur), free(heap);
        return NULL;
    }
#define END(r) (r + 1 < nseg ? seg[r + 1] : n)
#define LESS(a, b) before(&v[cur[a]], &v[cur[b]])
    for (size_t r = 0; r < nseg; r++) {
        cur[r] = seg[r];
        if (cur[r] == END(r))
            continue;
        size_t i = nh++;   /* sift up */
        for (heap[i] = r; i && LESS(heap[i], heap[(i - 1) / 2]); i = (i - 1) / 2) {
            size_t x = heap[i];
            heap[i] = heap[(i - 1) / 2], heap[(i - 1) / 2] = x;
        }
    }
    for (size_t k = 0; nh; k++) {
        size_t r = heap[0];
        out[k] = v[cur[r]++];
        if (cur[r] == END(r))
            heap[0] = heap[--nh];
        for (size_t i = 0;;) {   /* sift down */
            size_t a = 2 * i + 1, b = a + 1, m = i;
            if (a < nh && LESS(heap[a], heap[m]))
                m = a;
            if (b < nh && LESS(heap[b], heap[m]))
                m = b;
            if (m == i)
                break;
            size_t x = heap[i];
            heap[i] = heap[m], heap[m] = x, i = m;
        }
    }
#undef LESS
#undef END
    free(cur);
    free(heap);
    return out;
}

/* The address space at the end, one entry per allocation; held bytes per site. */
static int summarize(const ledger *l, report_stats *s)
{
    s->regions = calloc(l->n ? l->n : 1, sizeof *s->regions);
    if (!s->regions)
        return -1;
    uint64_t prev_base = 0;
    for (size_t i = 0; i < l->n; i++) {
        const lg_piece *p = &l->v[i];
        uint64_t len = p->end - p->start;
        rs_region *r = s->nregions ? &s->regions[s->nregions - 1] : NULL;
        if (!r || p->base != prev_base || r->base + r->size != p->start || r->mapped != p->mapped) {
            r = &s->regions[s->nregions++];
            *r = (rs_region){ p->start, 0, 0, 0, p->mapped, false, p->asite };
        }
        prev_base = p->base;
        r->size += len;
        if (p->state == COMMITTED) {
            r->committed += len;
            if (!r->protect)
                r->protect = p->protect;
            if (is_wx(p->protect))
                r->wx = true, s->wx_held += len;
            if (p->csite >= 0)
                s->sites[p->csite].held_commit += len;
        } else if (p->asite >= 0) {
            s->sites[p->asite].held_reserve += len;
        }
    }
    return 0;
}

int rs_ledger_replay(tr_trace *t, report_stats *s, call_filter *f, rs_mem *v, size_t n, const size_t *seg, size_t nseg)
{
    ledger l = { 0 };
    rs_mem *sorted = merge(v, n, seg, nseg);
    if (!sorted)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const struct wmt_call *c = sorted[i].c;
        lg_ev e = { sorted[i].op, sorted[i].start_addr, sorted[i].end_addr, sorted[i].type, sorted[i].protect };
        int site = sorted[i].site;
        bool counted = site >= 0 && (!f || filter_match(f, t, c, sorted[i].w32));
        apply(&l, s, &e, site, counted ? &s->sites[site] : NULL, sorted[i].w32);
        s->mem_calls++;
        uint64_t rel = sorted[i].end > s->t0 ? sorted[i].end - s->t0 : 0;
        if (s->committed > s->peak_commit)
            s->peak_commit = s->committed, s->peak_ns = rel;
        add_point(s, rel);
    }
    free(sorted);
    int rc = summarize(&l, s);
    free(l.v);
    return rc;
}

uint64_t rs_call_bytes(const struct wmt_call *c)
{
    lg_ev e = decode(c);
    return e.op == OP_ALLOC || e.op == OP_VIEW ? e.end - e.start : 0;
}
