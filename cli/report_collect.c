/*
 * cli/report_collect.c — the collection step of `winmem report`: one pass
 * over the calls into a report_stats (counters, log-linear latency
 * histograms, failures, counts per stack and per call site), then the
 * memory ledger's replay of the calls that change the address space.
 */
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "report_stats.h"
#include "table.h"

static unsigned hbucket(uint64_t v)
{
    if (v < RS_HSUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    return (msb - 3) * RS_HSUB + (unsigned)((v >> (msb - 4)) & (RS_HSUB - 1));
}

static uint64_t hvalue(unsigned b)   /* the bucket's lower bound */
{
    if (b < RS_HSUB)
        return b;
    unsigned msb = b / RS_HSUB + 3, sub = b % RS_HSUB;
    return ((uint64_t)(RS_HSUB + sub)) << (msb - 4);
}

uint64_t rs_percentile(const rs_api *a, double q)
{
    uint64_t n = a->calls - a->pending;   /* completed calls: those in the histogram */
    uint64_t done = (uint64_t)(q * (double)n);
    if (n && done >= n)
        done = n - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < RS_HBUCKETS; b++) {
        seen += a->hist[b];
        if (seen > done)
            return hvalue(b) > a->max_ns ? a->max_ns : hvalue(b);
    }
    return a->max_ns;
}

static void count_latency(report_stats *s, rs_api *a, const struct wmt_call *c)
{
    if (c->flags & WMT_CF_PENDING) {
        a->pending++;
        s->pending++;
        s->aborted += (c->flags & WMT_CF_ABORTED) != 0;
        return;
    }
    if (!a->hist && !(a->hist = calloc(RS_HBUCKETS, sizeof *a->hist)))
        return;
    a->hist[hbucket(c->dur_ns)]++;
    a->total_ns += c->dur_ns;
    if (c->dur_ns > a->max_ns)
        a->max_ns = c->dur_ns;
    if (a->calls - a->pending == 1 || c->dur_ns < a->min_ns)
        a->min_ns = c->dur_ns;
    if (c->start_ns + c->dur_ns > s->last)
        s->last = c->start_ns + c->dur_ns;
}

static void count_error(report_stats *s, const struct wmt_call *c)
{
    uint32_t code = call_code(c);
    size_t i;
    for (i = 0; i < s->nerr; i++)
        if (s->errs[i].api == c->api && s->errs[i].code == code)
            break;
    if (i == s->nerr) {
        if (!TABLE_GROW(s->errs, s->cap_err, s->nerr + 1, 64))
            return;
        s->errs[s->nerr++] = (rs_err){ c->api, code, 0, c };
    }
    s->errs[i].n++;
}

static uint64_t fail_key(int site, const char *w32, uint16_t api, uint32_t code)
{
    uint64_t h = (uint64_t)(uint32_t)site * 0x9e3779b97f4a7c15ull ^ (uintptr_t)w32 * 0xff51afd7ed558ccdull ^
                 ((uint64_t)api << 32 | code) * 0xc4ceb9fe1a85ec53ull;
    return h ^ h >> 29;
}

static uint64_t fail_hash_of(const void *ctx, size_t i)
{
    const rs_fail *x = &((const report_stats *)ctx)->fails[i];
    return fail_key(x->site, x->w32, x->api, x->code);
}

/* Failures per (site, name called, API, code), through a hash: a trace can
 * fail at thousands of sites. */
static void count_fail_site(report_stats *s, int site, const char *w32, const struct wmt_call *c)
{
    uint32_t code = call_code(c);
    if (!hindex_room(&s->fail_index, s->nfails, fail_hash_of, s))
        return;
    size_t k = hindex_start(&s->fail_index, fail_key(site, w32, c->api, code));
    for (; s->fail_index.slot[k]; k = hindex_next(&s->fail_index, k)) {
        rs_fail *x = &s->fails[s->fail_index.slot[k] - 1];
        if (x->site == site && x->w32 == w32 && x->api == c->api && x->code == code) {
            x->n++;
            return;
        }
    }
    if (!TABLE_GROW(s->fails, s->cap_fails, s->nfails + 1, 16))
        return;
    s->fails[s->nfails] = (rs_fail){ site, w32, c->api, code, 1, c };
    s->fail_index.slot[k] = (uint32_t)++s->nfails;
}

/* Counts one call that passed the filter. */
static void count_call(report_stats *s, size_t ti, const struct wmt_call *c, size_t slot, int site, const char *w32)
{
    rs_api *a = &s->api[c->api < WMT_API_MAX ? c->api : 0];
    a->calls++;
    s->counted++;
    if (c->start_ns < s->first)
        s->first = c->start_ns;
    count_latency(s, a, c);
    bool failed = call_failed(c);
    s->th_calls[ti]++;
    s->th_failed[ti] += failed;
    if (failed) {
        a->failed++;
        count_error(s, c);
        count_fail_site(s, site, w32, c);
    }
    rs_site_count(s, site, c, w32, failed);
    if (slot == SIZE_MAX) {   /* no stack, or its STACK record was lost */
        s->nostack++;
        return;
    }
    rs_stack *k = &s->stacks[slot];
    k->stack = c->stack;
    k->n++;
    k->failed += failed;
    k->top_api = c->api;
    k->own = site >= 0 && s->sites[site].own;
}

static int stack_cmp(const void *a, const void *b)
{
    const rs_stack *x = a, *y = b;
    if (x->own != y->own)
        return x->own ? -1 : 1;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->stack > y->stack) - (x->stack < y->stack);
}

/* Per-slot counts become a sorted list of the stacks seen. */
static void sort_stacks(report_stats *s, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < cap; i++)
        if (s->stacks[i].n)
            s->stacks[k++] = s->stacks[i];
    s->nstacks = k;
    qsort(s->stacks, k, sizeof *s->stacks, stack_cmp);
}

static int alloc_stats(tr_trace *t, report_stats *s)
{
    size_t cap = t->stack_cap ? t->stack_cap : 1;
    s->api = calloc(WMT_API_MAX, sizeof *s->api);
    s->stacks = calloc(cap, sizeof *s->stacks);
    s->slot_site = malloc(cap * sizeof *s->slot_site);
    s->slot_w32 = calloc(cap, sizeof *s->slot_w32);
    s->th_calls = calloc(t->nthreads + 1, sizeof *s->th_calls);
    s->th_failed = calloc(t->nthreads + 1, sizeof *s->th_failed);
    if (!s->api || !s->stacks || !s->slot_site || !s->slot_w32 || !s->th_calls || !s->th_failed)
        return -1;
    for (size_t i = 0; i < cap; i++)
        s->slot_site[i] = -2;
    s->first = UINT64_MAX;
    return 0;
}

static int fail_cmp(const void *a, const void *b)
{
    const rs_fail *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->site > y->site) - (x->site < y->site);
}

/* A growing array of the calls the ledger replays. */
typedef struct mem_list { rs_mem *v; size_t n, cap; size_t *seg; } mem_list;

static int mem_push(mem_list *m, const struct wmt_call *c, int site, const char *w32)
{
    rs_mem e;
    if (!rs_decode(c, &e))
        return 0;
    if (!TABLE_GROW(m->v, m->cap, m->n + 1, 1024))
        return -1;
    e.site = site, e.w32 = w32;
    m->v[m->n++] = e;
    return 0;
}

/* One thread's calls: counted when they pass the filter, kept for the ledger
 * when they may change the address space. */
static int collect_thread(tr_trace *t, call_filter *f, report_stats *s, size_t ti, mem_list *m)
{
    const tr_thread *th = &t->threads[ti];
    for (uint64_t q = 0; q < th->ncalls; q++) {
        const struct wmt_call *c = th->calls[q];
        if (!c) {
            s->missing++;
            continue;
        }
        if (c->start_ns < s->t0)
            s->t0 = c->start_ns;
        const char *w32;
        size_t slot = tr_stack_slot(t, c->stack);
        int site = rs_site_at(t, s, slot, &w32);
        if (mem_push(m, c, site, w32))
            return -1;
        if (!f || filter_match(f, t, c, w32))
            count_call(s, ti, c, slot, site, w32);
    }
    return 0;
}

int report_collect(tr_trace *t, call_filter *f, bool all_frames, report_stats *s)
{
    memset(s, 0, sizeof *s);
    s->all_frames = all_frames;
    mem_list m = { 0 };
    int rc = -1;
    m.seg = malloc((t->nthreads + 1) * sizeof *m.seg);
    if (!m.seg || alloc_stats(t, s) || (f && filter_prepare(f, t)))
        goto out;
    s->missing = t->missing;   /* the reader lists calls without gaps and counts those */
    s->t0 = UINT64_MAX;
    for (size_t ti = 0; ti < t->nthreads; ti++)
        if (t->threads[ti].first_ns && t->threads[ti].first_ns < s->t0)
            s->t0 = t->threads[ti].first_ns;
    for (size_t ti = 0; ti < t->nthreads; ti++) {
        m.seg[ti] = m.n;
        if (collect_thread(t, f, s, ti, &m))
            goto out;
    }
    if (s->t0 == UINT64_MAX)
        s->t0 = 0;
    sort_stacks(s, t->stack_cap);
    if (rs_ledger_replay(t, s, f, m.v, m.n, m.seg, t->nthreads))
        goto out;
    rs_order_sites(s);
    if (s->nfails)   /* most frequent first; the hash is done with */
        qsort(s->fails, s->nfails, sizeof *s->fails, fail_cmp);
    hindex_free(&s->fail_index);
    rc = s->order ? 0 : -1;
out:
    free(m.v);
    free(m.seg);
    return rc;
}

void report_stats_free(report_stats *s)
{
    if (s->api)
        for (unsigned i = 0; i < WMT_API_MAX; i++)
            free(s->api[i].hist);
    free(s->api);
    free(s->errs);
    free(s->th_calls);
    free(s->th_failed);
    free(s->stacks);
    free(s->slot_site);
    free(s->slot_w32);
    for (size_t i = 0; i < s->nsites; i++)
        free(s->sites[i].name);
    free(s->sites);
    hindex_free(&s->site_index);
    free(s->order);
    free(s->fails);
    hindex_free(&s->fail_index);
    free(s->wx);
    free(s->points);
    free(s->regions);
    memset(s, 0, sizeof *s);
}
