/*
 * shim/model.c — the model of a Wine program's address space that native
 * mode answers from (model.h).
 *
 * Where it lives: winmem's core registry (core/registry.h), the same
 * structure that describes winmem's own allocations exactly. Each Windows
 * allocation is one registry entry with its AllocationProtect, type
 * (MEM_PRIVATE / MEM_MAPPED / MEM_IMAGE), RegionType and per-page state and
 * protection (PAGE_GUARD and PAGE_WRITECOPY included). The core's queries
 * then answer from it; query_model.c applies what only the kernel can tell
 * at the moment of the query (a written copy-on-write page is the process's
 * own PAGE_READWRITE copy: pagemap).
 *
 * Two feeds:
 *  - the door: every successful allocation, free, protection change, view
 *    map and unmap of this process is applied as Windows records it
 *    (wm_model_apply). A map only forgets what was there: the view's pages
 *    are learned from Wine at the next query (Wine alone knows which pages
 *    of a SEC_RESERVE view are committed and how an image's sections are
 *    protected).
 *  - Wine's own query, for what the door never sees: the images and stacks
 *    Wine maps itself, new threads' stacks, Wine's internal frees. Before an
 *    address the model does not know is answered, the allocation holding it
 *    is walked with Wine's real NtQueryVirtualMemory and recorded whole
 *    (learn). Where Wine 8 differs from Windows the recording takes the
 *    Windows value (a thread stack's bottom is MEM_RESERVE, not committed
 *    PAGE_NOACCESS).
 *
 * Staleness: Wine changes memory without a call the door sees (a guard page
 * fires, a stack's guard moves down, a thread's stack is freed at its exit).
 * Each such change is visible to the kernel, because Wine maps exactly the
 * accessible pages: committed, not guard, not PAGE_NOACCESS. So before the
 * model answers about a guard page or Wine's own private memory, the
 * kernel's mappings over the region it is about to report are compared with
 * that rule, and on a contradiction the allocation is learned again from
 * Wine. (One ioctl; what the program allocated through the door is trusted
 * without it.)
 *
 * Memory Wine calls free but the kernel has mapped accessible (Wine's unix
 * side: ELF libraries, glibc's heap, its own areas) is not the program's.
 * It is reported MEM_RESERVE, Protect 0, AllocationProtect PAGE_NOACCESS,
 * MEM_PRIVATE: occupied (an allocation there would fail, as it does under
 * Wine), and never committed writable memory a conservative garbage
 * collector would scan as roots. Wine's own reserved areas (PROT_NONE,
 * anonymous) are free to Windows, as Wine says.
 *
 * Rules of the shim: no malloc (the registry takes mmap'd memory; the walk's
 * buffer is static under one mutex), caller memory is never touched (only
 * the call record), Wine is asked with no registry lock held.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "model.h"
#include "prim.h"
#include "query.h"
#include "registry.h"
#include "wine_abi.h"
#include "winview.h"

#define SELF ((void *)(intptr_t)-1)
#define PAGE 4096ULL
#define MAX_RUNS 4096
#define MAX_WALK 200000
#define MEM_RESERVE_T 0x2000u
#define MEM_COMMIT_T 0x1000u
#define MEM_DECOMMIT_T 0x4000u
#define MEM_RELEASE_T 0x8000u


static pthread_mutex_t learn_lock = PTHREAD_MUTEX_INITIALIZER;
/* WINMEM_TEST_MODEL_SKEW=1 (tests only): commits are recorded
 * PAGE_EXECUTE_READ whatever was asked, so check mode's second oracle has
 * something to find (tests/e2e/shim_model.sh). */
static bool skew;
static wm_page_run runs[MAX_RUNS];      /* the walk's result, under learn_lock */

static bool feeding(void)
{
    return wm_cfg.wine && (wm_cfg.mode == WMT_MODE_NATIVE || wm_cfg.mode == WMT_MODE_CHECK);
}

/* ---- the door ---- */

static void forget(uint64_t addr, uint64_t size)
{
    if (size)
        wm_registry_remove_range(addr & ~(PAGE - 1), ((addr & (PAGE - 1)) + size + PAGE - 1) & ~(PAGE - 1));
}

/* Pages changed inside one allocation; if the model cannot follow (it does
 * not hold them in one entry), it forgets them and learns them again. */
static void set_or_forget(uint64_t addr, uint64_t size, uint32_t state, uint32_t prot)
{
    wm_region r;
    if (!size) {                      /* nothing to go by: learn it again */
        if (wm_registry_query(addr, &r))
            forget(r.alloc_base, r.alloc_size);
    } else if (!wm_registry_set_pages(addr, size, state, prot)) {
        forget(addr, size);
    }
}

/* asked: the base the caller asked for (0: anywhere). MEM_COMMIT alone
 * with no base reserves too, as on Windows. */
static void apply_alloc(uint64_t asked, uint64_t base, uint64_t size, uint32_t type, uint32_t prot)
{
    if ((type & MEM_RESERVE_T) || ((type & MEM_COMMIT_T) && !asked)) {
        wm_alloc_desc d = { base, size, prot, MEM_PRIVATE, 0,
                            WM_KIND_FED };
        wm_page_run r = { base, size, MEM_COMMIT, skew ? PAGE_EXECUTE_READ : prot };
        if (!wm_registry_replace(&d, &r, (type & MEM_COMMIT_T) ? 1 : 0, 0))
            forget(base, size);
    } else if (type & MEM_COMMIT_T) {
        set_or_forget(base, size, MEM_COMMIT, skew ? PAGE_EXECUTE_READ : prot);
    }
}

static void apply_free(uint64_t base, uint64_t size, uint32_t type)
{
    wm_region r;
    if (type & MEM_RELEASE_T) {
        if (wm_registry_query(base, &r)) {
            forget(r.alloc_base, r.alloc_size);
            if (base >= r.alloc_base && base + size <= r.alloc_base + r.alloc_size)
                return;               /* the common case: one lookup, one removal */
        }
        forget(base, size);
    } else if (type & MEM_DECOMMIT_T) {
        /* Size 0 at the allocation's base decommits all of it (Wine hands
         * the 0 back). */
        if (!size && wm_registry_query(base, &r))
            size = r.alloc_base + r.alloc_size - base;
        set_or_forget(base, size, MEM_RESERVE, 0);
    }
}

static void apply_unmap(uint64_t addr)
{
    wm_region r;
    if (wm_registry_query(addr, &r))
        forget(r.alloc_base, r.alloc_size);
}

void wm_model_apply(const struct wmt_call *c)
{
    if (!feeding())
        return;
    wm_snapshot_start();
    bool self = c->arg[0] == (uint64_t)(intptr_t)-1;
    switch (c->api) {
    case WMT_API_NtAllocateVirtualMemory:
    case WMT_API_NtAllocateVirtualMemoryEx: {
        if (c->status != 0)
            return;
        bool ex = c->api == WMT_API_NtAllocateVirtualMemoryEx;
        uint32_t type = (uint32_t)c->arg[ex ? 3 : 4], prot = (uint32_t)c->arg[ex ? 4 : 5];
        if (self)
            apply_alloc(c->arg[1], c->out[0], c->out[1], type, prot);
        else
            forget(c->out[0], c->out[1]);   /* a real handle may name us: learn again */
        return;
    }
    case WMT_API_NtFreeVirtualMemory:
        if (c->status != 0)
            return;
        if (self)
            apply_free(c->out[0], c->out[1], (uint32_t)c->arg[3]);
        else
            forget(c->out[0], c->out[1]);
        return;
    case WMT_API_NtProtectVirtualMemory:
        if (c->status != 0)
            return;
        if (self)
            set_or_forget(c->out[0], c->out[1], MEM_COMMIT, (uint32_t)c->arg[3]);
        else
            forget(c->out[0], c->out[1]);
        return;
    case WMT_API_NtMapViewOfSection:
    case WMT_API_NtMapViewOfSectionEx:
        /* STATUS_IMAGE_NOT_AT_BASE and friends are successes. The view's
         * pages are learned from Wine at the next query. */
        if ((int32_t)c->status >= 0)
            forget(c->out[0], c->out[1]);
        return;
    case WMT_API_NtUnmapViewOfSection:
    case WMT_API_NtUnmapViewOfSectionEx:
        if (c->status == 0)
            apply_unmap(c->arg[1]);
        return;
    default:
        return;
    }
}

/* ---- learning from Wine ---- */

/* Wine 8 commits a thread stack's bottom page PAGE_NOACCESS right below its
 * guard page; Windows leaves the bottom reserved. Pre: n >= 2. */
static void windows_stack(const struct wm_mbi *first, size_t n)
{
    if (first->type == MEM_PRIVATE && first->alloc_prot == PAGE_READWRITE &&
        runs[0].state == MEM_COMMIT && runs[0].protect == PAGE_NOACCESS &&
        runs[1].state == MEM_COMMIT && runs[1].protect == (PAGE_READWRITE | PAGE_GUARD) && n >= 3)
        runs[0].state = MEM_RESERVE, runs[0].protect = 0;
}

/* RegionType of a view: Wine backs a pagefile section with shared memory or
 * a temporary file of its own ("tmpmap-..."). */
static uint32_t view_rtype(uint64_t base)
{
    char name[512];
    wm_vma v;
    if (wm_vma_find(wm_space_self(), base, &v, name, sizeof name) != 0 || v.start > base || !v.inode)
        return WM_RT_MAPPED_PAGEFILE;
    if ((v.dev_major == 0 && v.dev_minor == 1) || wm_wine_tmpmap(name))
        return WM_RT_MAPPED_PAGEFILE;
    return WM_RT_MAPPED_DATAFILE;
}

/* The last walk (under learn_lock): what to answer from when it could not
 * be recorded. */
static size_t walked_n;
static wm_alloc_desc walked;

/* Pre: learn_lock held, a walk in runs[0..walked_n). The answer for page
 * from it, as the registry would give it (without the copy-on-write
 * refinement, which needs a recorded view). */
static int answer_walk(uint64_t page, bool whole, wm_query *q)
{
    uint64_t commit = 0;
    const wm_page_run *hit = NULL;
    for (size_t i = 0; i < walked_n; i++) {
        if (runs[i].state == MEM_COMMIT)
            commit += runs[i].size;
        if (runs[i].addr <= page && page - runs[i].addr < runs[i].size)
            hit = &runs[i];
    }
    if (!hit)
        return WM_ORACLE_NONE;
    q->base = page;
    q->size = hit->addr + hit->size - page;
    q->alloc_base = walked.base;
    q->alloc_protect = walked.alloc_protect;
    q->state = hit->state;
    q->protect = hit->state == MEM_COMMIT ? hit->protect : 0;
    q->type = walked.type;
    q->region_type = walked.rtype ? walked.rtype
                     : walked.type == MEM_IMAGE ? WM_RT_MAPPED_IMAGE
                     : walked.type == MEM_MAPPED ? WM_RT_MAPPED_DATAFILE : WM_RT_PRIVATE;
    if (whole)
        q->alloc_size = walked.size, q->commit_size = commit;
    return WM_ORACLE_ANSWERED;
}

/* Pre: learn_lock held; m is Wine's answer at an allocated address. Walks
 * the allocation from its base and records it whole. */
static bool learn_allocation(const struct wm_mbi *m)
{
    walked_n = 0;
    uint64_t gen = wm_registry_generation();
    struct wm_mbi first, cur;
    if (!wm_wine_query_self(m->alloc_base, 0, &first, sizeof first) || first.alloc_base != m->alloc_base || first.state == MEM_FREE)
        return false;
    size_t n = 0;
    uint64_t a = m->alloc_base;
    cur = first;
    for (int guard = 0; guard < MAX_WALK && n < MAX_RUNS; guard++) {
        if (cur.state == MEM_FREE || cur.alloc_base != m->alloc_base || !cur.size || cur.base + cur.size <= a)
            break;
        runs[n++] = (wm_page_run){ cur.base, cur.size, cur.state, cur.state == MEM_COMMIT ? cur.prot : 0 };
        a = cur.base + cur.size;
        if (!wm_wine_query_self(a, 0, &cur, sizeof cur))
            break;
    }
    if (n == MAX_RUNS)
        return false;                 /* too fragmented to hold: the kernel answers */
    if (n >= 2)
        windows_stack(&first, n);
    wm_alloc_desc d = { m->alloc_base, a - m->alloc_base, first.alloc_prot, first.type, 0, WM_KIND_LEARNED };
    if (first.type == MEM_MAPPED)
        d.rtype = view_rtype(m->alloc_base);
    walked = d, walked_n = n;
    return wm_registry_replace(&d, runs, n, gen);
}

static bool ordinary_free(const wm_vma *v)
{
    return !(v->flags & (WM_VMA_READ | WM_VMA_WRITE | WM_VMA_EXEC | WM_VMA_SHARED)) && !v->inode;
}

/* Wine says [m->base, +m->size) is free. What the kernel maps there that is
 * not Wine's reserved PROT_NONE space belongs to Wine's unix side (or the
 * host): occupied, not the program's. */
static int answer_free(uint64_t page, const struct wm_mbi *m, bool whole, wm_query *q)
{
    wm_space *sp = wm_space_self();
    uint64_t end = m->base + m->size, a = page;
    wm_vma v;
    bool host = wm_vma_find(sp, page, &v, NULL, 0) == 0 && v.start <= page && !ordinary_free(&v);
    uint64_t alloc_base = host ? v.start : 0;
    for (int i = 0; i < 64 && a < end; i++) {
        if (wm_vma_find(sp, a, &v, NULL, 0) != 0 || v.start >= end) {
            a = host ? a : end;
            break;
        }
        if (v.start > a) {            /* a gap: free */
            if (host)
                break;
            a = v.start;
            continue;
        }
        if (ordinary_free(&v) == host)
            break;
        a = v.end < end ? v.end : end;
    }
    if (a <= page)
        a = page + PAGE;
    q->base = page;
    q->size = a - page;
    if (host) {
        q->alloc_base = alloc_base;
        q->alloc_protect = PAGE_NOACCESS;
        q->state = MEM_RESERVE;
        q->type = MEM_PRIVATE;
        q->region_type = WM_RT_PRIVATE;
        if (whole)
            q->alloc_size = a - alloc_base;
    } else {
        q->state = MEM_FREE;
        q->protect = PAGE_NOACCESS;
    }
    return WM_ORACLE_ANSWERED;
}

/* ---- the kernel as a witness ---- */

/* Reserved pages of a view: committing through another view of the same
 * SEC_RESERVE section commits them here too, without a call about this
 * view. Only Wine knows; asked again each time (a rare query). */
static bool ask_wine_again(const wm_region *r)
{
    return r->type == MEM_MAPPED && r->state == MEM_RESERVE;
}

/* Which answers the kernel must confirm: a guard page (it fires without a
 * call), and what the model learned of Wine's own private memory (stacks
 * whose guard moves down, Wine's internal frees). What the program
 * allocated, protected and freed through the door, and the images and views
 * Wine mapped (changed only through the door: the loader's
 * NtProtectVirtualMemory), change no other way. */
static bool needs_witness(const wm_region *r)
{
    return (r->protect & PAGE_GUARD) || (r->kind == WM_KIND_LEARNED && r->type == MEM_PRIVATE);
}

/* Wine maps a page accessible exactly when it is committed, not a guard
 * page and not PAGE_NOACCESS. Does the kernel agree over the region the
 * model is about to report (at most a few mappings: a longer region is
 * trusted past them)? Reserved pages of a view are not judged: Wine maps a
 * SEC_RESERVE view whole. */
static bool kernel_agrees(const wm_region *r)
{
    if (!needs_witness(r))
        return true;
    bool want = r->state == MEM_COMMIT && !(r->protect & PAGE_GUARD) && (r->protect & 0xff) != PAGE_NOACCESS;
    if (!want && r->type == MEM_MAPPED)
        return true;
    wm_space *sp = wm_space_self();
    uint64_t a = r->base, end = r->base + r->size;
    for (int i = 0; i < 4 && a < end; i++) {
        wm_vma v;
        if (wm_vma_find(sp, a, &v, NULL, 0) != 0 || v.start > a)
            return false;            /* Wine maps all it holds: the model is stale */
        bool has = (v.flags & (WM_VMA_READ | WM_VMA_WRITE | WM_VMA_EXEC)) != 0;
        if (has != want)
            return false;
        a = v.end;
    }
    return true;
}

/* The oracle (core/query.h): make the registry hold the page, or answer. */
static int oracle(uint64_t page, bool whole, wm_query *q, wm_region *r)
{
    if (!wm_nt_real[WM_NT_QUERY] || page < 0x10000)
        return WM_ORACLE_NONE;
    if (wm_registry_query(page, r) &&
        (!WM_KIND_IS_FOREIGN(r->kind) || (!ask_wine_again(r) && kernel_agrees(r))))
        return WM_ORACLE_REGISTRY;
    struct wm_mbi m;
    if (!wm_wine_query_self(page, 0, &m, sizeof m))
        return WM_ORACLE_NONE;
    if (m.state == MEM_FREE) {
        forget(m.base, m.size);       /* whatever the model held there is gone */
        return answer_free(page, &m, whole, q);
    }
    /* The picture is recorded only if no call changed the registry while
     * Wine was walked (wm_registry_replace's generation). Under a storm of
     * calls from other threads that may never happen: then this walk,
     * Wine's answer a moment ago, answers this query unrecorded. */
    pthread_mutex_lock(&learn_lock);
    int verdict = WM_ORACLE_NONE;
    for (int tries = 0; tries < 4 && verdict == WM_ORACLE_NONE; tries++)
        if (learn_allocation(&m) && wm_registry_query(page, r))
            verdict = WM_ORACLE_REGISTRY;
    if (verdict == WM_ORACLE_NONE)
        verdict = answer_walk(page, whole, q);
    pthread_mutex_unlock(&learn_lock);
    return verdict;
}

uint32_t wm_model_windows_old(const struct wmt_call *c)
{
    uint32_t old = (uint32_t)c->out[2], base = old & 0xff;
    uint64_t pm = 0;
    if (c->status != 0 || (base != PAGE_WRITECOPY && base != PAGE_EXECUTE_WRITECOPY) ||
        wm_pagemap_read(wm_space_self(), c->out[0] & ~(PAGE - 1), 1, &pm) != 0)
        return old;
    return wm_view_page_copied(pm) ? wm_view_copied_protect(old) : old;
}

void wm_model_init(void)
{
    const char *t = getenv("WINMEM_TEST_MODEL_SKEW");   /* start-up: getenv is safe here */
    skew = t && t[0] == '1';
    if (wm_cfg.wine && wm_cfg.mode == WMT_MODE_NATIVE) {
        wm_query_set_oracle(oracle);
        /* Served queries run inside Wine's system call, which Wine ends
         * with STATUS_ACCESS_VIOLATION when a buffer faults, as its own
         * query does: no need to pay process_vm_writev for the copy. */
        wm_query_set_direct_io(true);
    }
}

void wm_model_after_fork(void)
{
    pthread_mutex_init(&learn_lock, NULL);
    wm_snapshot_after_fork();
}

bool wm_model_called_state(uint64_t addr, uint32_t *state, uint32_t *protect)
{
    wm_region r;
    if (!wm_registry_query(addr, &r) || r.kind != WM_KIND_FED)
        return false;
    *state = r.state;
    *protect = r.protect;
    return true;
}
