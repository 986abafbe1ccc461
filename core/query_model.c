/*
 * core/query_model.c — what is at an address, in Windows terms (query.h).
 *
 * Sources in priority order: the registry (exact, this process only) → the
 * kernel's VMAs → pagemap (copy-on-write state) → the loaded images.
 * The rules that turn a VMA into Windows fields (docs/query.md) live in
 * winview.h, shared with `winmem maps`; this file adds what one address
 * needs beyond them: the registry, pagemap's copied pages, the loader's image
 * spans, and how far a region runs.
 */
#include <errno.h>
#include <string.h>
#include "query.h"
#include "registry.h"

#define PG(x) ((x) & ~(uint64_t)(wm_page_size() - 1))
enum { MAX_STEPS = 256, PM_CHUNK = 512, MAX_COW_SCAN = 65536 };

bool wm_wine_tmpmap(const char *path)
{
    const char *b = strrchr(path, '/');
    return b && strncmp(b + 1, "tmpmap-", 7) == 0 && strstr(path, "wine") != NULL;
}

/* In a private writable file VMA, the end of the run of pages from p whose
 * copied state equals p's (returned in *copied). Bounded scan: a shorter run
 * only makes a walker ask again. */
static uint64_t cow_run(wm_space *sp, uint64_t p, uint64_t end, bool *copied)
{
    uint64_t pm[PM_CHUNK], pg = wm_page_size();
    uint64_t stop = end - p > (uint64_t)MAX_COW_SCAN * pg ? p + (uint64_t)MAX_COW_SCAN * pg : end;
    bool first = true;
    while (p < stop) {
        size_t n = (size_t)((stop - p) / pg);
        if (n > PM_CHUNK)
            n = PM_CHUNK;
        if (wm_pagemap_read(sp, p, n, pm) != 0)
            return first ? (*copied = false, end) : p;
        for (size_t i = 0; i < n; i++, p += pg) {
            bool c = wm_view_page_copied(pm[i]);
            if (first) {
                *copied = c;
                first = false;
            } else if (c != *copied) {
                return p;
            }
        }
    }
    return stop;
}

static NTSTATUS errno_status(int r)
{
    return r == -ESRCH ? STATUS_PROCESS_IS_TERMINATING : STATUS_ACCESS_DENIED;
}

static wm_query_oracle_fn oracle;

void wm_query_set_oracle(wm_query_oracle_fn fn)
{
    __atomic_store_n(&oracle, fn, __ATOMIC_RELEASE);
}

static int ask_oracle(uint64_t p, bool whole, wm_query *q, wm_region *r)
{
    wm_query_oracle_fn fn = __atomic_load_n(&oracle, __ATOMIC_ACQUIRE);
    return fn ? fn(p, whole, q, r) : WM_ORACLE_NONE;
}

static uint32_t rtype_of(const wm_region *r)
{
    if (r->rtype)
        return r->rtype;
    uint32_t t = r->type == MEM_IMAGE ? WM_RT_MAPPED_IMAGE : r->type == MEM_MAPPED ? WM_RT_MAPPED_DATAFILE : WM_RT_PRIVATE;
    return t | (r->kind == WM_KIND_PHYSICAL ? WM_RT_MAPPED_PHYSICAL : 0);
}

/* A copy-on-write page of a view or image that was written is the
 * process's own copy: Windows reports it PAGE_READWRITE (EXECUTE_READWRITE)
 * and splits the region there. pagemap tells which pages were copied. */
static void cow_fixup(wm_space *sp, wm_query *q)
{
    uint32_t base = q->protect & 0xff;
    if (q->state != MEM_COMMIT || (base != PAGE_WRITECOPY && base != PAGE_EXECUTE_WRITECOPY))
        return;
    bool copied = false;
    q->size = cow_run(sp, q->base, q->base + q->size, &copied) - q->base;
    if (copied)
        q->protect = wm_view_copied_protect(q->protect);
}

static void from_registry(const wm_region *r, wm_query *q)
{
    q->base = r->base;
    q->size = r->size;
    q->alloc_base = r->alloc_base;
    q->alloc_size = r->alloc_size;
    q->commit_size = r->commit_size;
    q->alloc_protect = r->alloc_protect;
    q->state = r->state;
    q->protect = r->state == MEM_COMMIT ? r->protect : 0;
    q->type = r->type ? r->type : MEM_PRIVATE;
    q->region_type = rtype_of(r);
    q->from_registry = true;
}

/* The start of the run of VMAs mapping one file at consistent offsets that
 * ends with v (a mapped view split by mprotect is still one view). */
static void file_run(wm_space *sp, const wm_vma *v, wm_vma *first, uint64_t *end)
{
    wm_vma cur = *v, p;
    for (int n = 0; n < MAX_STEPS && cur.start > 0; n++) {
        if (wm_vma_find(sp, cur.start - 1, &p, NULL, 0) != 0 || !wm_view_same_view(&p, &cur))
            break;
        cur = p;
    }
    *first = cur;
    if (!end)
        return;
    cur = *v;
    for (int n = 0; n < MAX_STEPS; n++) {
        if (wm_vma_find(sp, cur.end, &p, NULL, 0) != 0 || !wm_view_same_view(&cur, &p))
            break;
        cur = p;
    }
    *end = cur.end;
}

/* Committed bytes of [lo, hi): for private memory every committed page; for
 * views and images only what carries a private commit charge (writable
 * private pages), which is what Windows charges a view with. */
static uint64_t commit_of(wm_space *sp, uint64_t lo, uint64_t hi, bool view)
{
    uint64_t sum = 0, a = lo;
    wm_vma v;
    for (int n = 0; n < MAX_STEPS && a < hi; n++) {
        if (wm_vma_find(sp, a, &v, NULL, 0) != 0 || v.start >= hi)
            break;
        uint64_t s = v.start > a ? v.start : a, e = v.end < hi ? v.end : hi;
        bool priv_w = !(v.flags & WM_VMA_SHARED) && (v.flags & WM_VMA_WRITE);
        if (view ? priv_w : wm_view_of(&v, false, false).state == MEM_COMMIT)
            sum += e - s;
        a = v.end;
    }
    return sum;
}

/* The registry knows this allocation exactly (winmem's own, or one the shim
 * learned at the Wine door): its answer, with a view's copy-on-write pages
 * and charge read from the kernel. */
static void describe_registered(wm_space *sp, const wm_region *r, bool whole, wm_query *q)
{
    from_registry(r, q);
    if (r->type == MEM_PRIVATE || !r->type)
        return;
    cow_fixup(sp, q);
    /* A view's charge is its private copy-on-write pages (docs of
     * WIN32_MEMORY_REGION_INFORMATION), not its committed pages. */
    if (whole)
        q->commit_size = commit_of(sp, r->alloc_base, r->alloc_base + r->alloc_size, true);
}

/* An address the kernel shows mapped: its VMA, and the image span it lies
 * in when it lies in one. */
struct spot {
    wm_vma v;
    uint64_t p, is, ie;       /* page; image start and end when img */
    bool img;
};

/* Where the region of like pages that starts at p in VMA v ends: on through
 * adjacent VMAs of the same allocation with the same attributes (an image's
 * copied .data and its .bss, a view split by protection), never past the
 * image's end ie. Anonymous memory is one VMA per allocation, and the kernel
 * merges adjacent read-only pieces of one file itself, so those skip the
 * extra ioctl (~0.4 µs). */
static uint64_t region_end(wm_space *sp, const struct spot *at, wm_view_attr *attr)
{
    const wm_vma *v = &at->v;
    uint64_t p = at->p, ie = at->ie;
    bool img = at->img;
    bool copied = false;
    uint64_t end = wm_view_cow_capable(v) ? cow_run(sp, p, v->end, &copied) : v->end;
    wm_view_attr a = wm_view_of(v, img, copied);
    bool may_extend = img ? (v->flags & WM_VMA_WRITE) : v->inode != 0;
    wm_vma cur = *v;
    for (int n = 0; may_extend && n < MAX_STEPS && end == cur.end && (!img || end < ie); n++) {
        wm_vma w;
        if (wm_vma_find(sp, end, &w, NULL, 0) != 0 || w.start != end)
            break;
        if (!img && !wm_view_same_view(&cur, &w))
            break;
        bool c2 = false;
        uint64_t e2 = wm_view_cow_capable(&w) ? cow_run(sp, w.start, w.end, &c2) : w.end;
        wm_view_attr b = wm_view_of(&w, img, c2);
        if (memcmp(&a, &b, sizeof a) != 0)
            break;
        cur = w;
        end = e2;
    }
    *attr = a;
    return img && end > ie ? ie : end;
}

/* The allocation the region at at->p belongs to, from the kernel's view: an
 * image's span, a file view's run of VMAs, or the anonymous VMA itself
 * (clipped to winmem reservations it may have merged with). Sets the
 * allocation fields of q; returns the allocation's end (0 when unknown and
 * not asked for) and may pull *end in. */
static uint64_t describe_allocation(wm_space *sp, bool self, const struct spot *at,
                                    const wm_view_attr *a, bool whole, uint64_t *end, wm_query *q)
{
    const wm_vma *v = &at->v;
    wm_region r;
    if (at->img) {
        q->alloc_base = at->is;
        q->alloc_protect = wm_view_alloc_protect(v, a, true);
        q->region_type = WM_RT_MAPPED_IMAGE;
        return at->ie;
    }
    if (v->inode) {
        wm_vma first;
        uint64_t alloc_end = 0;
        file_run(sp, v, &first, whole ? &alloc_end : NULL);
        q->alloc_base = first.start;
        q->alloc_protect = wm_view_alloc_protect(&first, a, false);
        q->region_type = wm_view_pagefile_backed(v) ? WM_RT_MAPPED_PAGEFILE : WM_RT_MAPPED_DATAFILE;
        return alloc_end;
    }
    uint64_t alloc_end = v->end;
    q->alloc_base = v->start;
    q->alloc_protect = wm_view_alloc_protect(v, a, false);
    q->region_type = WM_RT_PRIVATE;
    /* A foreign anonymous mapping may have merged with a winmem
     * reservation next to it (same protection): stop at its edges. */
    if (self && wm_registry_query(v->start, &r) && r.alloc_base + r.alloc_size <= at->p)
        q->alloc_base = r.alloc_base + r.alloc_size;
    if (self && wm_registry_query(*end - 1, &r) && r.alloc_base > at->p)
        *end = alloc_end = r.alloc_base;
    return alloc_end;
}

NTSTATUS wm_query_describe(wm_space *sp, bool self, uint64_t addr, bool whole, wm_query *q)
{
    uint64_t p = PG(addr);
    wm_region r;
    memset(q, 0, sizeof *q);
    int said = self ? ask_oracle(p, whole, q, &r) : WM_ORACLE_NONE;
    if (said == WM_ORACLE_ANSWERED)
        return STATUS_SUCCESS;
    memset(q, 0, sizeof *q);
    if (said == WM_ORACLE_REGISTRY || (self && wm_registry_query(p, &r))) {
        describe_registered(sp, &r, whole, q);
        return STATUS_SUCCESS;
    }
    struct spot at = {.p = p};
    int e = wm_vma_find(sp, p, &at.v, NULL, 0);
    if (e != 0 && e != -ENOENT)
        return errno_status(e);
    q->base = p;
    if (e == -ENOENT || at.v.start > p) {
        uint64_t top = wm_view_user_end();
        q->size = (e == 0 && at.v.start < top ? at.v.start : top) - p;
        q->state = MEM_FREE;
        q->protect = PAGE_NOACCESS;
        return STATUS_SUCCESS;
    }
    at.img = wm_image_find(sp, p, &at.is, &at.ie, NULL, 0) == 0;
    wm_view_attr a;
    uint64_t end = region_end(sp, &at, &a);
    q->state = a.state;
    q->protect = a.protect;
    q->type = a.type;
    uint64_t alloc_end = describe_allocation(sp, self, &at, &a, whole, &end, q);
    q->size = wm_view_clip(end) - p;
    if (whole) {
        q->alloc_size = alloc_end - q->alloc_base;
        q->commit_size = commit_of(sp, q->alloc_base, alloc_end, at.img || at.v.inode);
    }
    return STATUS_SUCCESS;
}

NTSTATUS wm_query_ws_page(wm_space *sp, bool self, uint64_t addr, uint64_t *flags)
{
    uint64_t p = PG(addr), pm = 0;
    uint32_t prot = 0, page_size = (uint32_t)wm_page_size();
    wm_region r;
    *flags = 0;
    if (p > wm_user_max())
        return STATUS_SUCCESS;
    bool private_reg = false;
    wm_query oq;
    memset(&oq, 0, sizeof oq);
    int said = self ? ask_oracle(p, false, &oq, &r) : WM_ORACLE_NONE;
    if (said == WM_ORACLE_ANSWERED)
        return STATUS_SUCCESS;        /* free, or not the program's: not valid */
    if (said == WM_ORACLE_REGISTRY || (self && wm_registry_query(p, &r))) {
        if (r.state != MEM_COMMIT || (r.protect & PAGE_GUARD))
            return STATUS_SUCCESS;
        prot = r.protect;
        private_reg = r.type == MEM_PRIVATE;
    } else {
        wm_vma v;
        int e = wm_vma_find(sp, p, &v, NULL, 0);
        if (e == -ENOENT || (e == 0 && v.start > p))
            return STATUS_SUCCESS;
        if (e != 0)
            return errno_status(e);
        if (wm_pagemap_read(sp, p, 1, &pm) != 0)
            return STATUS_SUCCESS;
        uint64_t is, ie;
        wm_view_attr a = wm_view_of(&v, wm_image_find(sp, p, &is, &ie, NULL, 0) == 0, wm_view_page_copied(pm));
        if (a.state != MEM_COMMIT)
            return STATUS_SUCCESS;
        prot = a.protect;
        page_size = v.page_size;
    }
    if (!pm && wm_pagemap_read(sp, p, 1, &pm) != 0)
        return STATUS_SUCCESS;
    if ((prot & 0xff) == PAGE_NOACCESS || !(pm & WM_PM_PRESENT) || (pm & WM_PM_GUARD))
        return STATUS_SUCCESS;
    /* Shared: a file page or shared anonymous page, or one still shared
     * copy-on-write with a fork relative (not "mapped exactly once"). Linux
     * tells 1 from more than 1 mappings, not the count: >1 reads as 2. */
    bool shared = (pm & WM_PM_FILE_SHARED) || !(pm & WM_PM_EXCLUSIVE);
    /* Private memory a Windows program allocated is never shared (no fork):
     * a page only read maps the kernel's zero page, which is not exclusive. */
    if (private_reg)
        shared = false;
    uint64_t share_count = shared ? ((pm & WM_PM_EXCLUSIVE) ? 1 : 2) : 0;
    bool large = page_size > wm_page_size() || wm_pagemap_huge(sp, p);
    *flags = 1 | share_count << 1 | (uint64_t)(prot & 0x7ff) << 4 | (uint64_t)shared << 15 |
             (uint64_t)large << 23;
    return STATUS_SUCCESS;
}

int wm_query_filename(wm_space *sp, bool self, uint64_t addr, char *path, size_t size)
{
    uint64_t p = PG(addr), is, ie;
    wm_region r;
    wm_query oq;
    memset(&oq, 0, sizeof oq);
    if (self && ask_oracle(p, false, &oq, &r) == WM_ORACLE_ANSWERED)
        return -ENOENT;
    if (self && wm_registry_query(p, &r) && r.type == MEM_PRIVATE)
        return -ENOENT;
    if (self && wm_registry_query(p, &r) && (r.rtype & WM_RT_MAPPED_PAGEFILE))
        return -ENXIO;
    if (wm_image_find(sp, p, &is, &ie, path, size) == 0)
        return path[0] == '/' ? 0 : -ENOENT;
    wm_vma v;
    int e = wm_vma_find(sp, p, &v, path, size);
    if (e != 0)
        return e;
    if (v.start > p || !v.inode || path[0] != '/')
        return -ENOENT;
    if (wm_view_pagefile_backed(&v) || wm_wine_tmpmap(path))
        return -ENXIO;
    size_t n = strlen(path), k = strlen(" (deleted)");
    if (n > k && strcmp(path + n - k, " (deleted)") == 0)
        path[n - k] = 0;
    return 0;
}
