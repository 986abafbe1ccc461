/*
 * cli/diff_load.c — one side of `winmem diff`: a trace replayed in time
 * order, keeping the set of live allocations, into either model of diff.h.
 *
 * An address inside an allocation the trace saw being made becomes
 * "alloc T<thread>#<n>+offset" (the n-th allocation of that thread in time
 * order); inside a module "module+offset"; pointers to the caller's own
 * buffers, section handles and fds are left out; any other address is
 * "addr?" (memory made before recording or by Wine's unix side). Calls of all
 * threads are replayed in time order, so an address resolves to the
 * allocation another thread made before it.
 *
 * Every allocation counts: MEM_RESERVE, and MEM_COMMIT alone too when it
 * lands outside any known allocation (it reserves implicitly), taken from
 * the call's own result (base and size after the call).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "winmem/memory.h"
#include "calls.h"
#include "diff.h"
#include "maps.h"
#include "table.h"

static bool listed(const char *s, const char **v, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcasecmp(s, v[i]))
            return true;
    return false;
}

/* Through the reader's hash: a walk over the threads per call made a
 * crafted trace of 100,000 threads cost minutes. */
static int thread_index(side *s, uint32_t tid)
{
    const tr_thread *th = tr_thread_find(&s->t, tid);
    return th && s->tmap ? s->tmap[th - s->t.threads] : -1;
}

/* Live allocations are kept sorted by base (no overlaps), so resolving an
 * address is a binary search even in traces with many thousands of them. */
static size_t first_above(const side *s, uint64_t a)   /* index of the first base > a */
{
    size_t lo = 0, hi = s->nal;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->al[mid].base <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

alloc *diff_alloc_at(side *s, uint64_t a)
{
    size_t i = first_above(s, a);
    return i && a - s->al[i - 1].base < s->al[i - 1].size ? &s->al[i - 1] : NULL;
}

static void fmt_addr(side *s, uint64_t a, bool strict, char *buf, size_t len)
{
    if (a == 0) {
        snprintf(buf, len, "0");
        return;
    }
    if (strict) {
        snprintf(buf, len, "0x%llx", (unsigned long long)a);
        return;
    }
    const alloc *x = diff_alloc_at(s, a);
    if (x) {
        snprintf(buf, len, "alloc T%u#%u+0x%llx", x->thread, x->n, (unsigned long long)(a - x->base));
        return;
    }
    for (size_t i = 0; i < s->t.nmods; i++) {
        const struct wmt_module *m = s->t.mods[i].rec;
        if (a >= m->start && a < m->end) {
            snprintf(buf, len, "%s+0x%llx", tr_basename(s->t.mods[i].path), (unsigned long long)(a - m->start));
            return;
        }
    }
    snprintf(buf, len, "addr?");
}

static void remove_at(side *s, size_t i)
{
    memmove(&s->al[i], &s->al[i + 1], (s->nal - i - 1) * sizeof *s->al);
    s->nal--;
}

static void new_alloc(side *s, const struct wmt_call *c, uint64_t base, uint64_t size, uint32_t bi)
{
    if (!base || !size || base + size < base)
        return;
    /* whatever it overlaps was replaced without a free we saw (MAP_FIXED...) */
    size_t i = first_above(s, base);
    if (i && s->al[i - 1].base + s->al[i - 1].size > base)
        remove_at(s, --i);
    while (i < s->nal && s->al[i].base < base + size)
        remove_at(s, i);
    if (!TABLE_GROW(s->al, s->cap, s->nal + 1, 256))
        return;
    int ti = thread_index(s, c->tid);
    memmove(&s->al[i + 1], &s->al[i], (s->nal - i) * sizeof *s->al);
    s->al[i] = (alloc){ base, size, ti < 0 ? 999 : (unsigned)ti, ti < 0 ? 0 : ++s->allocs_by_thread[ti], bi };
    s->nal++;
}

static void end_alloc(side *s, uint64_t addr)
{
    alloc *x = diff_alloc_at(s, addr);
    if (x)
        remove_at(s, (size_t)(x - s->al));
}

/* An allocating call of this type makes a new allocation at base: it
 * reserves, or it commits where nothing known was (an implicit reserve). */
static bool allocates(side *s, uint64_t type, uint64_t base)
{
    return (type & MEM_RESERVE) || ((type & MEM_COMMIT) && !diff_alloc_at(s, base));
}

/* After the call: what it did to the set of known allocations. bi: the
* behaviour the call was counted in (UINT32_MAX: none). */
static void track(side *s, const struct wmt_call *c, uint32_t bi)
{
    if ((c->flags & WMT_CF_PENDING) || call_failed(c) || (c->flags & WMT_CF_REMOTE))
        return;
    switch (c->api) {
    case WMT_API_NtAllocateVirtualMemory:
        if (allocates(s, c->arg[4], c->out[0]))
            new_alloc(s, c, c->out[0], c->out[1], bi);
        break;
    case WMT_API_NtAllocateVirtualMemoryEx:
        if (allocates(s, c->arg[3], c->out[0]))
            new_alloc(s, c, c->out[0], c->out[1], bi);
        break;
    case WMT_API_VirtualAlloc:
        if (allocates(s, c->arg[2], c->ret))
            new_alloc(s, c, c->ret, c->arg[1], bi);
        break;
    case WMT_API_VirtualAllocEx:
        if (allocates(s, c->arg[3], c->ret))
            new_alloc(s, c, c->ret, c->arg[2], bi);
        break;
    case WMT_API_NtMapViewOfSection:
    case WMT_API_NtMapViewOfSectionEx:
        new_alloc(s, c, c->out[0], c->out[1], bi);
        break;
    case WMT_API_mmap:
        new_alloc(s, c, c->ret, c->arg[1], bi);
        break;
    case WMT_API_NtFreeVirtualMemory:
        if (c->arg[3] & MEM_RELEASE)
            end_alloc(s, c->out[0] ? c->out[0] : c->arg[1]);
        break;
    case WMT_API_VirtualFree:
        if (c->arg[2] & MEM_RELEASE)
            end_alloc(s, c->arg[0]);
        break;
    case WMT_API_VirtualFreeEx:
        if (c->arg[3] & MEM_RELEASE)
            end_alloc(s, c->arg[1]);
        break;
    case WMT_API_NtUnmapViewOfSection:
    case WMT_API_NtUnmapViewOfSectionEx:
        end_alloc(s, c->arg[1]);
        break;
    case WMT_API_munmap:
        end_alloc(s, c->arg[0]);
        break;
    }
}

typedef enum { K_VALUE, K_ADDR, K_PROT, K_SKIP, K_PROCESS } kind;

static kind arg_kind(const char *name)
{
    if (!strcmp(name, "address") || !strcmp(name, "base") || !strcmp(name, "addr") ||
        !strcmp(name, "old_addr") || !strcmp(name, "new_addr"))
        return K_ADDR;
    if (!strcmp(name, "protect") || !strcmp(name, "prot"))
        return K_PROT;
    if (!strcmp(name, "process"))
        return K_PROCESS;
    /* pointers to the caller's buffers and section handles differ every run */
    if (strstr(name, "_ptr") || !strcmp(name, "buffer") || !strcmp(name, "pfns") ||
        !strcmp(name, "params") || !strcmp(name, "section") || !strcmp(name, "fd"))
        return K_SKIP;
    return K_VALUE;
}

/* Names and kinds of out[] by API (see trace.h). */
static int out_layout(const struct wmt_call *c, const char *names[8], kind kinds[8])
{
    unsigned cls = 0;
    switch (c->api) {
    case WMT_API_NtQueryVirtualMemory:
    case WMT_API_ZwQueryVirtualMemory:
        cls = (unsigned)c->arg[2];
        break;
    case WMT_API_QueryVirtualMemoryInformation:
        cls = 3;
        break;
    case WMT_API_QueryWorkingSetEx:
    case WMT_API_K32QueryWorkingSetEx:
        cls = 4;
        break;
    case WMT_API_VirtualQuery:
    case WMT_API_VirtualQueryEx:
        cls = 0;
        break;
    case WMT_API_NtAllocateVirtualMemory: case WMT_API_NtAllocateVirtualMemoryEx:
    case WMT_API_NtFreeVirtualMemory: case WMT_API_NtLockVirtualMemory:
    case WMT_API_NtUnlockVirtualMemory: case WMT_API_NtFlushVirtualMemory:
    case WMT_API_NtMapViewOfSection: case WMT_API_NtMapViewOfSectionEx:
        names[0] = "base", kinds[0] = K_ADDR, names[1] = "size", kinds[1] = K_VALUE;
        return 2;
    case WMT_API_NtProtectVirtualMemory:
        names[0] = "base", kinds[0] = K_ADDR, names[1] = "size", kinds[1] = K_VALUE;
        names[2] = "old", kinds[2] = K_PROT;
        return 3;
    case WMT_API_VirtualProtect: case WMT_API_VirtualProtectEx:
        names[0] = "old", kinds[0] = K_PROT;
        return -2;   /* out[2] only */
    case WMT_API_NtReadVirtualMemory: case WMT_API_NtWriteVirtualMemory:
        names[0] = "done", kinds[0] = K_VALUE;
        return 1;
    default:
        return 0;
    }
    static const char *const mbi[8] = { "BaseAddress", "AllocationBase", "AllocationProtect", "RegionSize",
                                        "State", "Protect", "Type", "ReturnLength" };
    static const kind mbik[8] = { K_ADDR, K_ADDR, K_PROT, K_VALUE, K_VALUE, K_PROT, K_VALUE, K_VALUE };
    if (cls == 0) {
        for (int i = 0; i < 8; i++)
            names[i] = mbi[i], kinds[i] = mbik[i];
        return 8;
    }
    if (cls == 3) {
        static const char *const r[5] = { "AllocationBase", "AllocationProtect", "RegionType", "RegionSize", "CommitSize" };
        static const kind rk[5] = { K_ADDR, K_PROT, K_VALUE, K_VALUE, K_VALUE };
        for (int i = 0; i < 5; i++)
            names[i] = r[i], kinds[i] = rk[i];
        return 5;
    }
    if (cls == 4) {
        names[0] = "VirtualAddress", kinds[0] = K_ADDR, names[1] = "Attributes", kinds[1] = K_VALUE;
        names[2] = "Entries", kinds[2] = K_VALUE;
        return 3;
    }
    if (cls == 2) {
        names[0] = "NameLength", kinds[0] = K_VALUE;
        return 1;
    }
    return 0;
}

static void put(char **p, char *end, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char **p, char *end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*p, (size_t)(end - *p), fmt, ap);
    va_end(ap);
    if (n > 0)
        *p += n < end - *p ? n : end - *p - 1;
}

static void fmt_value(side *s, kind k, uint64_t v, const opts *o, char *buf, size_t len)
{
    if (k == K_ADDR)
        fmt_addr(s, v, o->strict, buf, len);
    else if (k == K_PROT && v && !(v & ~0xffull) && strcmp(wm_protect_name((uint32_t)v), "0"))
        snprintf(buf, len, "%s", wm_protect_name((uint32_t)v));
    else
        snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

static char *normalize(side *s, const struct wmt_call *c, const opts *o)
{
    char buf[1024], *p = buf, *end = buf + sizeof buf, v[160], nb[256];
    const char *names[10];
    int n = call_arg_names(c->api, nb, sizeof nb, names);
    put(&p, end, "%s(", call_api_name(c->api));
    bool first = true;
    for (int i = 0; i < n; i++) {
        kind k = arg_kind(names[i]);
        if (k == K_SKIP || listed(names[i], o->ignore_field, o->n_ignore_field))
            continue;
        if (k == K_PROCESS)
            snprintf(v, sizeof v, "%s", c->arg[i] == UINT64_MAX ? "self" : "handle");
        else
            fmt_value(s, k, c->arg[i], o, v, sizeof v);
        put(&p, end, "%s%s=%s", first ? "" : ", ", names[i], v);
        first = false;
    }
    put(&p, end, ")");
    if (c->flags & WMT_CF_PENDING) {
        put(&p, end, " never returned");
        return strdup(buf);
    }
    if (!listed("ret", o->ignore_field, o->n_ignore_field)) {
        if (call_is_nt(c->api)) {
            const char *sn = status_name(c->status);
            put(&p, end, " = %s", sn ? sn : "");
            if (!sn)
                put(&p, end, "0x%08x", c->status);
        } else {
            bool addr_ret = c->api == WMT_API_VirtualAlloc || c->api == WMT_API_VirtualAllocEx ||
                            c->api == WMT_API_mmap || c->api == WMT_API_mremap;
            fmt_value(s, addr_ret ? K_ADDR : K_VALUE, c->ret, o, v, sizeof v);
            put(&p, end, " = %s", v);
        }
    }
    bool failed = call_failed(c);
    if (failed && !call_is_nt(c->api) && !listed("error", o->ignore_field, o->n_ignore_field)) {
        char code[96];
        call_code_name(c, code, sizeof code);
        put(&p, end, " error %s", code);
    }
    if (!failed && !listed("out", o->ignore_field, o->n_ignore_field)) {
        const char *on[8];
        kind ok[8];
        int no = out_layout(c, on, ok), from = 0;
        if (no == -2)   /* VirtualProtect: the old protection is out[2] */
            no = 1, from = 2;
        for (int i = 0; i < no; i++) {
            if (listed(on[i], o->ignore_field, o->n_ignore_field))
                continue;
            fmt_value(s, ok[i], c->out[i + from], o, v, sizeof v);
            put(&p, end, "%s%s=%s", i ? " " : "; ", on[i], v);
        }
    }
    return strdup(buf);
}

static bool from_module(side *s, const struct wmt_call *c, const char *mod)
{
    const struct wmt_stack *st = tr_stack(&s->t, c->stack);
    if (!st)
        return false;
    for (unsigned i = 0; i < st->nframes; i++) {
        const tr_module *m = tr_module_by_id(&s->t, tr_frames(st)[i].module);
        if (m && !strcasecmp(tr_basename(*m->path ? m->path : s->t.exe), mod))
            return true;
    }
    return false;
}

static int by_first(const void *a, const void *b)
{
    const tr_thread *x = *(tr_thread *const *)a, *y = *(tr_thread *const *)b;
    return x->first_ns != y->first_ns ? (x->first_ns < y->first_ns ? -1 : 1) : (x->tid > y->tid) - (x->tid < y->tid);
}

/* Is call x before call y in time (ties: by thread id, then seq)? */
static bool before(const struct wmt_call *x, const struct wmt_call *y)
{
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns;
    return x->tid != y->tid ? x->tid < y->tid : x->seq < y->seq;
}

typedef struct head { const struct wmt_call *c; uint32_t th; uint64_t k; } head;

static void sift(head *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && before(h[l].c, h[m].c))
            m = l;
        if (l + 1 < n && before(h[l + 1].c, h[m].c))
            m = l + 1;
        if (m == i)
            return;
        head t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
}

/* Every thread's calls are already in order: merged through a heap of the
 * threads' next calls, all[] gets them in time order and th[] the index of
 * each one's thread — n log(threads), not the n log n of a sort. */
static size_t time_order(side *s, const struct wmt_call **all, uint32_t *th)
{
    head *h = malloc((s->nthreads + 1) * sizeof *h);
    size_t nh = 0, n = 0;
    if (!h)
        return SIZE_MAX;
    for (size_t i = 0; i < s->nthreads; i++)
        for (uint64_t k = 0; k < s->threads[i]->ncalls; k++)
            if (s->threads[i]->calls[k]) {
                h[nh++] = (head){ s->threads[i]->calls[k], (uint32_t)i, k };
                break;
            }
    for (size_t i = nh; i-- > 0;)
        sift(h, nh, i);
    while (nh) {
        const tr_thread *t = s->threads[h[0].th];
        all[n] = h[0].c, th[n++] = h[0].th;
        uint64_t k = h[0].k + 1;
        while (k < t->ncalls && !t->calls[k])
            k++;
        if (k < t->ncalls)
            h[0].c = t->calls[k], h[0].k = k;
        else
            h[0] = h[--nh];
        sift(h, nh, 0);
    }
    free(h);
    return n;
}

/* Reads one trace and builds its normalized per-thread sequences. */
int diff_load(side *s, const char *path, const opts *o)
{
    memset(s, 0, sizeof *s);
    char err[512];
    if (tr_open(&s->t, path, true, err, sizeof err)) {
        fprintf(stderr, "winmem diff: %s\n", err);
        return -1;
    }
    tr_trace *t = &s->t;
    s->threads = calloc(t->nthreads + 1, sizeof *s->threads);
    s->allocs_by_thread = calloc(t->nthreads + 1, sizeof *s->allocs_by_thread);
    s->evs = calloc(t->nthreads + 1, sizeof *s->evs);
    s->nevs = calloc(t->nthreads + 1, sizeof *s->nevs);
    const struct wmt_call **all = malloc((t->ncalls + 1) * sizeof *all);
    uint32_t *th = malloc((t->ncalls + 1) * sizeof *th);
    if (!s->threads || !s->allocs_by_thread || !s->evs || !s->nevs || !all || !th) {
        free(all);
        free(th);
        fprintf(stderr, "winmem diff: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].ncalls)
            s->threads[s->nthreads++] = &t->threads[i];
    qsort(s->threads, s->nthreads, sizeof *s->threads, by_first);
    if (!(s->tmap = malloc((t->nthreads + 1) * sizeof *s->tmap))) {
        free(all);
        free(th);
        return -1;
    }
    for (size_t i = 0; i < t->nthreads; i++)
        s->tmap[i] = -1;
    for (size_t i = 0; i < s->nthreads; i++)
        s->tmap[s->threads[i] - t->threads] = (int)i;
    for (size_t i = 0; i < s->nthreads; i++) {
        s->evs[i] = o->exact ? calloc(s->threads[i]->ncalls + 1, sizeof **s->evs) : NULL;
        if (o->exact && !s->evs[i]) {
            free(all);
            free(th);
            return -1;
        }
    }
    /* Time order across threads, so an address used by one thread resolves
     * to the allocation another made before it. */
    size_t n = time_order(s, all, th);
    for (size_t i = 0; i < n && n != SIZE_MAX; i++) {
        const struct wmt_call *c = all[i];
        int ti = (int)th[i];
        bool keep = ti >= 0 && !listed(call_api_name(c->api), o->ignore_api, o->n_ignore_api) &&
                    (!o->only_from || from_module(s, c, o->only_from));
        uint32_t bi = UINT32_MAX;
        if (keep && o->exact) {
            ev *e = &s->evs[ti][s->nevs[ti]++];
            e->c = c;
            e->text = normalize(s, c, o);
        } else if (keep) {
            bi = beh_add(s, c, o);
        }
        track(s, c, bi);
    }
    free(all);
    free(th);
    if (n == SIZE_MAX) {
        fprintf(stderr, "winmem diff: out of memory\n");
        return -1;
    }
    if (!o->exact)
        beh_finish(s);
    return 0;
}

void diff_unload(side *s)
{
    for (size_t i = 0; i < s->nthreads; i++) {
        for (size_t k = 0; k < s->nevs[i]; k++)
            free(s->evs[i][k].text);
        free(s->evs[i]);
    }
    free(s->evs);
    free(s->nevs);
    free(s->threads);
    free(s->al);
    free(s->tmap);
    free(s->allocs_by_thread);
    free(s->beh);
    hindex_free(&s->bindex);
    free(s->stk_id);
    free(s->stk_site);
    if (s->t.map)
        tr_close(&s->t);
}

size_t diff_field_names(const char **names, size_t max)
{
    static char bufs[WMT_API_MAX][256];
    size_t n = 0;
    const char *fixed[3] = { "ret", "error", "out" };
    for (int i = 0; i < 3 && n < max; i++)
        names[n++] = fixed[i];
    for (unsigned a = 0; a < WMT_API_MAX; a++) {
        const char *got[10 + 8 * 9];
        int k = call_arg_names(a, bufs[a], sizeof bufs[a], got);
        /* Output names depend on the API and, for queries, the class. */
        for (uint64_t cls = 0; cls < 9; cls++) {
            struct wmt_call c = { .api = (uint16_t)a };
            c.arg[2] = cls;
            const char *on[8];
            kind ok[8];
            int no = out_layout(&c, on, ok);
            for (int i = 0; i < (no == -2 ? 1 : no); i++)
                got[k++] = on[i];
        }
        for (int i = 0; i < k; i++) {
            size_t j = 0;
            while (j < n && strcmp(names[j], got[i]))
                j++;
            if (j == n && n < max)
                names[n++] = got[i];
        }
    }
    return n;
}
