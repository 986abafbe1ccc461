/*
 * The registry of what winmem allocated (see registry.h).
 *
 * Layout: a sorted array of reservation bases (searched by binary search,
 * kept apart from the entries so the search walks one dense array), each
 * entry holding its pages as runs: (first page, state+protect) sorted by
 * page, adjacent runs always different. A query is two binary searches, so
 * its cost depends on neither the number of pages nor (much) on the number
 * of reservations.
 *
 * Locking: one rwlock, writer-preferring so queries from many threads cannot
 * starve VirtualAlloc. The SIGSEGV handler takes the write lock too; that is
 * safe for the synchronous faults it handles because no registry code ever
 * touches the memory it describes, so the faulting thread cannot be inside
 * the lock. For the same reason, run arrays that outgrow their inline space
 * come from mmap (async-signal-safe), never malloc: the handler may have to
 * split a run when it disarms one page.
 *
 * Memory: entries come from a slab of mmap'd pages and the two arrays from
 * mmap too, never malloc. In a Wine process the shim's model (shim/model.c)
 * feeds the registry from inside Wine's system calls, where the program's
 * heap is not ours to take locks in.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "internal.h"
#include "registry.h"
#include "registry_pub.h"

/* A run is one word: first page index (relative to the base) << 12 | info,
 * info = RUN_COMMIT | PAGE_* (at most 0x7ff), or 0 for reserved pages. One
 * word keeps the common reservation (one or two runs) inside the entry's
 * first cache line, which is what a query at 10,000 allocations pays for. */
typedef uint64_t run;
#define RUN_COMMIT 0x800u
#define RUN_INFO_MASK 0xfffu
#define RUN(start, info) (((uint64_t)(start) << 12) | (info))
#define RUN_START(v) ((v) >> 12)
#define RUN_INFO(v) ((uint32_t)((v) & RUN_INFO_MASK))
#define INLINE_RUNS 6

typedef struct res {
    uint64_t base, size;
    uint64_t committed;          /* committed pages */
    uint32_t alloc_protect, kind;
    uint32_t nruns, cap;
    run *runs;                   /* inl, or an mmap of cap runs */
    uint32_t type, rtype;        /* MEM_* type (0: MEM_PRIVATE), RegionType bits (0: derived) */
    uint32_t slot;               /* in the published copy + 1 (0: none) */
    run inl[INLINE_RUNS];
} __attribute__((aligned(64))) res;

static pthread_rwlock_t lock;
static uint64_t generation;      /* bumped by every change (under the write lock) */
static res *free_list;           /* entries to reuse, linked through ->runs */
static uint64_t *bases;          /* sorted; bases[i] == ents[i]->base */
static res **ents;
static size_t count, capacity;
static unsigned page_shift = 12;

static void init_lock(void)
{
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock, &a);
    pthread_rwlockattr_destroy(&a);
}

__attribute__((constructor)) static void registry_init(void)
{
    init_lock();
    page_shift = (unsigned)__builtin_ctzl(wm_page_size());
}

void wm_registry_fork_lock(void) { pthread_rwlock_wrlock(&lock); }

void wm_registry_fork_unlock(bool in_child)
{
    if (in_child)
        init_lock();
    else
        pthread_rwlock_unlock(&lock);
}

/* Index of the last base <= addr, or -1. */
static ptrdiff_t find_le(uint64_t addr)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bases[mid] <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static res *find_res(uint64_t addr)
{
    ptrdiff_t i = find_le(addr);
    if (i < 0)
        return NULL;
    res *r = ents[i];
    return addr - r->base < r->size ? r : NULL;
}

/* Index of the run containing page p. Pre: p below the page count. */
static uint32_t find_run(const res *r, uint64_t p)
{
    uint32_t lo = 0, hi = r->nruns;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (RUN_START(r->runs[mid]) <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

static uint64_t run_end(const res *r, uint32_t i)
{
    return i + 1 < r->nruns ? RUN_START(r->runs[i + 1]) : r->size >> page_shift;
}

/* Makes room for `need` runs. mmap only: may run inside the signal handler. */
static bool ensure_cap(res *r, uint32_t need)
{
    if (need <= r->cap)
        return true;
    size_t bytes = ((size_t)need * 2 * sizeof(run) + 4095) & ~(size_t)4095;
    run *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return false;
    memcpy(p, r->runs, r->nruns * sizeof(run));
    if (r->runs != r->inl)
        munmap(r->runs, r->cap * sizeof(run));
    r->runs = p;
    r->cap = (uint32_t)(bytes / sizeof(run));
    return true;
}

/* Pre: write lock held. A slab of 64 KiB of entries at a time. */
static res *new_res(void)
{
    if (!free_list) {
        size_t bytes = 65536, n = bytes / sizeof(res);
        res *slab = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (slab == MAP_FAILED)
            return NULL;
        for (size_t i = 0; i < n; i++) {
            slab[i].runs = (run *)free_list;
            free_list = &slab[i];
        }
    }
    res *r = free_list;
    free_list = (res *)r->runs;
    memset(r, 0, sizeof *r);
    return r;
}

/* Pre: write lock held. */
static void free_res(res *r)
{
    if (r->runs != r->inl)
        munmap(r->runs, r->cap * sizeof(run));
    r->runs = (run *)free_list;
    free_list = r;
}

/* Pre: write lock held. Doubles both arrays (mmap: see the top). */
static bool grow_arrays(void)
{
    size_t nc = capacity ? capacity * 2 : 512;
    uint64_t *nb = mmap(NULL, nc * sizeof *nb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    res **ne = mmap(NULL, nc * sizeof *ne, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (nb == MAP_FAILED || ne == MAP_FAILED) {
        if (nb != MAP_FAILED)
            munmap(nb, nc * sizeof *nb);
        if (ne != MAP_FAILED)
            munmap(ne, nc * sizeof *ne);
        return false;
    }
    if (capacity) {
        memcpy(nb, bases, count * sizeof *nb);
        memcpy(ne, ents, count * sizeof *ne);
        munmap(bases, capacity * sizeof *bases);
        munmap(ents, capacity * sizeof *ents);
    }
    bases = nb, ents = ne, capacity = nc;
    return true;
}

/* Pre: write lock held. Inserts a fresh all-reserved entry; NULL when out
 * of memory or when it would overlap another. */
static res *insert_locked(uint64_t base, uint64_t size, uint32_t alloc_protect, uint32_t kind)
{
    ptrdiff_t i = count ? find_le(base + size - 1) : -1;
    if (i >= 0 && ents[i]->base + ents[i]->size > base)
        return NULL;
    if (count == capacity && !grow_arrays())
        return NULL;
    res *r = new_res();
    if (!r)
        return NULL;
    r->base = base;
    r->size = size;
    r->alloc_protect = alloc_protect;
    r->kind = kind;
    r->runs = r->inl;
    r->cap = INLINE_RUNS;
    r->nruns = 1;
    r->inl[0] = RUN(0, 0);
    size_t at = (size_t)(find_le(base) + 1);
    memmove(&bases[at + 1], &bases[at], (count - at) * sizeof(*bases));
    memmove(&ents[at + 1], &ents[at], (count - at) * sizeof(*ents));
    bases[at] = base;
    ents[at] = r;
    count++;
    generation++;
    return r;
}

/* Pre: write lock held and wm_pub_begin'd. The entry as it now stands into
 * the published copy, if there is one. */
static void publish(res *r)
{
    wm_pub_put(&r->slot, r->base, r->size, r->alloc_protect, r->type ? r->type : MEM_PRIVATE, r->kind, r->runs,
               r->nruns);
}

/* Pre: write lock held (and wm_pub_begin'd). */
static void remove_at(size_t i)
{
    res *r = ents[i];
    wm_pub_drop(&r->slot);
    memmove(&bases[i], &bases[i + 1], (count - i - 1) * sizeof(*bases));
    memmove(&ents[i], &ents[i + 1], (count - i - 1) * sizeof(*ents));
    count--;
    generation++;
    free_res(r);
}

/* Pre: write lock held. Removes every foreign entry overlapping [lo, hi);
 * *own (optional): set when one of winmem's own overlaps. */
static size_t remove_range_locked(uint64_t lo, uint64_t hi, bool *own)
{
    size_t n = 0;
    ptrdiff_t i = count ? find_le(hi - 1) : -1;
    while (i >= 0 && ents[i]->base + ents[i]->size > lo) {
        if (WM_KIND_IS_FOREIGN(ents[i]->kind)) {
            remove_at((size_t)i);
            n++;
        } else if (own) {
            *own = true;
        }
        i--;
    }
    return n;
}

/* Gives pages [p0, p1) the value info, keeping runs sorted and coalesced and
 * the committed count exact. Pre: p0 < p1 <= page count; write lock held.
 * Returns false (nothing changed) only if no memory for the runs. */
static bool set_range(res *r, uint64_t p0, uint64_t p1, uint32_t info)
{
    if (!ensure_cap(r, r->nruns + 2))
        return false;
    uint32_t i0 = find_run(r, p0), i1 = find_run(r, p1 - 1);

    uint64_t old = 0;
    for (uint32_t i = i0; i <= i1; i++) {
        if (!(RUN_INFO(r->runs[i]) & RUN_COMMIT))
            continue;
        uint64_t s = RUN_START(r->runs[i]) > p0 ? RUN_START(r->runs[i]) : p0;
        uint64_t e = run_end(r, i) < p1 ? run_end(r, i) : p1;
        old += e - s;
    }
    r->committed = r->committed - old + ((info & RUN_COMMIT) ? p1 - p0 : 0);

    uint32_t tail_info = RUN_INFO(r->runs[i1]);
    bool has_tail = run_end(r, i1) > p1;
    uint32_t keep = RUN_START(r->runs[i0]) < p0 ? i0 + 1 : i0;   /* runs before p0 */
    uint32_t after = r->nruns - i1 - 1;                     /* runs after i1 */
    uint32_t dst = keep + 1 + (has_tail ? 1 : 0);
    memmove(&r->runs[dst], &r->runs[i1 + 1], after * sizeof(run));
    r->runs[keep] = RUN(p0, info);
    if (has_tail)
        r->runs[keep + 1] = RUN(p1, tail_info);
    r->nruns = dst + after;

    /* Coalesce around the rewritten span only: elsewhere runs already differ. */
    uint32_t lo = keep ? keep - 1 : 0, hi = dst < r->nruns ? dst : r->nruns - 1;
    uint32_t w = lo;
    for (uint32_t i = lo + 1; i <= hi; i++)
        if (RUN_INFO(r->runs[i]) != RUN_INFO(r->runs[w]))
            r->runs[++w] = r->runs[i];
    if (w != hi) {
        memmove(&r->runs[w + 1], &r->runs[hi + 1], (r->nruns - hi - 1) * sizeof(run));
        r->nruns -= hi - w;
    }
    return true;
}

bool wm_registry_query(uint64_t addr, wm_region *out)
{
    bool found = false;
    pthread_rwlock_rdlock(&lock);
    res *r = count ? find_res(addr) : NULL;
    if (r) {
        uint64_t p = (addr - r->base) >> page_shift;
        uint32_t i = find_run(r, p);
        uint32_t info = RUN_INFO(r->runs[i]);
        out->base = r->base + (p << page_shift);
        out->size = (run_end(r, i) - p) << page_shift;
        out->alloc_base = r->base;
        out->alloc_size = r->size;
        out->commit_size = r->committed << page_shift;
        out->alloc_protect = r->alloc_protect;
        out->state = (info & RUN_COMMIT) ? MEM_COMMIT : MEM_RESERVE;
        out->protect = info & ~RUN_COMMIT;
        out->type = r->type ? r->type : MEM_PRIVATE;
        out->rtype = r->rtype;
        out->kind = r->kind;
        found = true;
    }
    pthread_rwlock_unlock(&lock);
    return found;
}

bool wm_registry_add(uint64_t base, uint64_t size, uint32_t alloc_protect, uint32_t kind)
{
    if (!size || base + size < base)
        return false;
    pthread_rwlock_wrlock(&lock);
    wm_pub_begin();
    remove_range_locked(base, base + size, NULL);
    res *r = insert_locked(base, size, alloc_protect, kind);
    if (r)
        publish(r);
    wm_pub_end();
    pthread_rwlock_unlock(&lock);
    return r != NULL;
}

bool wm_registry_remove(uint64_t base)
{
    bool found = false;
    pthread_rwlock_wrlock(&lock);
    wm_pub_begin();
    ptrdiff_t i = count ? find_le(base) : -1;
    if (i >= 0 && bases[i] == base) {
        remove_at((size_t)i);
        found = true;
    }
    wm_pub_end();
    pthread_rwlock_unlock(&lock);
    return found;
}

size_t wm_registry_remove_range(uint64_t addr, uint64_t size)
{
    if (!size || addr + size < addr)
        return 0;
    pthread_rwlock_wrlock(&lock);
    wm_pub_begin();
    size_t n = remove_range_locked(addr, addr + size, NULL);
    wm_pub_end();
    generation++;                 /* even if nothing was there: see registry.h */
    pthread_rwlock_unlock(&lock);
    return n;
}

uint64_t wm_registry_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
}

bool wm_registry_replace(const wm_alloc_desc *d, const wm_page_run *runs, size_t n, uint64_t gen)
{
    uint64_t mask = ((uint64_t)1 << page_shift) - 1;
    if (!d->size || (d->base & mask) || (d->size & mask) || d->base + d->size < d->base)
        return false;
    bool ok = false;
    pthread_rwlock_wrlock(&lock);
    wm_pub_begin();
    bool own = false;
    if ((gen && generation != gen) || !WM_KIND_IS_FOREIGN(d->kind))
        goto out;
    remove_range_locked(d->base, d->base + d->size, &own);
    if (own)
        goto out;
    res *r = insert_locked(d->base, d->size, d->alloc_protect, d->kind);
    if (!r)
        goto out;
    r->type = d->type;
    r->rtype = d->rtype;
    ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        uint64_t a = runs[i].addr & ~mask, e = (runs[i].addr + runs[i].size + mask) & ~mask;
        if (a < d->base || e > d->base + d->size || a >= e)
            continue;
        uint32_t info = runs[i].state == MEM_COMMIT ? (RUN_COMMIT | (runs[i].protect & 0x7ff)) : 0;
        ok = set_range(r, (a - d->base) >> page_shift, (e - d->base) >> page_shift, info);
    }
    if (!ok) {
        ptrdiff_t i = find_le(d->base);
        remove_at((size_t)i);
    } else {
        publish(r);
    }
out:
    wm_pub_end();
    pthread_rwlock_unlock(&lock);
    return ok;
}

bool wm_registry_set_pages(uint64_t addr, uint64_t size, uint32_t state, uint32_t protect)
{
    uint64_t mask = ((uint64_t)1 << page_shift) - 1;
    if (!size || (state != MEM_COMMIT && state != MEM_RESERVE))
        return false;
    uint64_t end = (addr + size + mask) & ~mask;
    if (end < addr)
        return false;
    addr &= ~mask;
    uint32_t info = state == MEM_COMMIT ? (RUN_COMMIT | (protect & 0x7ff)) : 0;
    bool ok = false;
    pthread_rwlock_wrlock(&lock);
    res *r = count ? find_res(addr) : NULL;
    if (r && end - r->base <= r->size)
        ok = set_range(r, (addr - r->base) >> page_shift, (end - r->base) >> page_shift, info);
    if (ok) {
        generation++;
        wm_pub_begin();
        publish(r);
        wm_pub_end();
    }
    pthread_rwlock_unlock(&lock);
    return ok;
}

bool wm_registry_disarm_guard(uint64_t addr, uint32_t *protect)
{
    bool cleared = false;
    pthread_rwlock_wrlock(&lock);
    res *r = count ? find_res(addr) : NULL;
    if (r) {
        uint64_t p = (addr - r->base) >> page_shift;
        uint32_t info = RUN_INFO(r->runs[find_run(r, p)]);
        if ((info & RUN_COMMIT) && (info & PAGE_GUARD) &&
            set_range(r, p, p + 1, info & ~(uint32_t)PAGE_GUARD)) {
            *protect = info & ~(RUN_COMMIT | PAGE_GUARD);
            cleared = true;
            generation++;
            wm_pub_begin();
            publish(r);
            wm_pub_end();
        }
    }
    pthread_rwlock_unlock(&lock);
    return cleared;
}

bool wm_registry_publish(void *area, uint64_t bytes)
{
    pthread_rwlock_wrlock(&lock);
    for (size_t i = 0; i < count; i++)
        ents[i]->slot = 0;
    bool ok = wm_pub_attach(area, bytes, page_shift);
    wm_pub_begin();
    for (size_t i = 0; ok && area && i < count; i++)
        publish(ents[i]);
    wm_pub_end();
    pthread_rwlock_unlock(&lock);
    return ok;
}

void wm_registry_unpublish_in_child(void)
{
    wm_pub_attach(NULL, 0, page_shift);
}
