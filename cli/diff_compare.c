/*
 * cli/diff_compare.c — the default `winmem diff`: behaviours (diff.h)
 * compared as sets, differences ranked by how much a user should care:
 *
 *   0 new writable+executable memory (a new site, or a protection turned W+X)
 *   1 a call site (or the request it makes) that appears or disappears
 *   2 a failure status new at a site, or one that no longer happens
 *   3 a protection requested at a site that changed
 *   4 memory still allocated at exit that the other run freed (or the reverse)
 *   5 calls or bytes at a site beyond the tolerance
 *   6 a different number of threads
 *
 * Each behaviour gives at most one difference (its most severe), so one
 * change in the program reads as one difference. Against one trace A the
 * tolerance is a factor (opts.ratio) plus an absolute floor; against
 * --baseline runs it is the range the baselines span, widened by
 * opts.margin times the spread they showed (factor()), and a site or
 * failure seen in only some baselines is noise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "winmem/memory.h"
#include "calls.h"
#include "diff.h"
#include "diff_compare.h"

static bool key_same(const bkey *a, const bkey *b)
{
    return a->site == b->site && a->api == b->api && a->aclass == b->aclass && a->remote == b->remote &&
           a->prot == b->prot && a->type == b->type && a->cls == b->cls;
}

static uint64_t khash(const bkey *k)
{
    uint64_t h = (k->site * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)k->api << 40) ^ ((uint64_t)k->aclass << 56);
    h ^= (uint64_t)k->prot * 0xff51afd7ed558ccdULL ^ (uint64_t)k->type * 0xc4ceb9fe1a85ec53ULL ^ k->cls ^ (uint64_t)k->remote << 60;
    return h ^ h >> 31;
}

static uint64_t row_hash_of(const void *c, size_t i)
{
    return khash(&((const ctx *)c)->rows[i].k);
}

static row *row_get(ctx *x, const bkey *k)
{
    if (!hindex_room(&x->index, x->n, row_hash_of, x))
        return NULL;
    size_t j = hindex_start(&x->index, khash(k));
    for (; x->index.slot[j]; j = hindex_next(&x->index, j))
        if (key_same(&x->rows[x->index.slot[j] - 1].k, k))
            return &x->rows[x->index.slot[j] - 1];
    if (!TABLE_GROW(x->rows, x->cap, x->n + 1, 512))
        return NULL;
    row *r = &x->rows[x->n];
    memset(r, 0, sizeof *r);
    r->k = *k;
    r->cmin = r->bmin = r->live_min = UINT64_MAX;
    x->index.slot[j] = (uint32_t)x->n + 1;
    x->n++;
    return r;
}

static void hide(ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hide(ctx *x, const char *fmt, ...)
{
    if (!x->o->explain)
        return;
    if (!TABLE_GROW(x->hidden, x->hcap2, x->nh + 1, 64))
        return;
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if ((x->hidden[x->nh] = strdup(buf)))
        x->nh++;
}

static finding *add(ctx *x, int sev, row *a, row *b)
{
    if (!TABLE_GROW(x->f, x->fcap, x->nf + 1, 64))
        return NULL;
    finding *f = &x->f[x->nf++];
    f->sev = sev, f->a = a, f->b = b, f->text[0] = 0;
    if (a)
        a->used = true;
    if (b)
        b->used = true;
    return f;
}

static bool is_wx(const bkey *k)
{
    if (call_is_unix(k->api))
        return (k->prot & 6) == 6;   /* PROT_WRITE|PROT_EXEC */
    uint32_t p = k->prot & 0xff;
    return p == PAGE_EXECUTE_READWRITE || p == PAGE_EXECUTE_WRITECOPY;
}

/* Is v outside [lo/f - slack, hi*f + slack]? */
static bool beyond(uint64_t v, uint64_t lo, uint64_t hi, double f, uint64_t slack)
{
    return (double)v > (double)hi * f + (double)slack || (double)v * f + (double)slack < (double)lo;
}

/* ---- the rules ---- */

/* The tolerance factor for a site whose A side spans lo..hi: against one
 * trace opts.ratio; against baselines opts.margin times the spread the
 * baselines themselves showed (hi/lo, at most opts.ratio). A few runs
 * rarely show a noisy site's whole range: a collector's queries that
 * varied 1.4x among three baselines came out 1.7x below that range in the
 * fourth (tests/e2e/diff_noisy.sh), while a site the baselines agree on
 * keeps the narrow band. */
static double factor(const ctx *x, uint64_t lo, uint64_t hi)
{
    if (x->nbase <= 1)
        return x->o->ratio;
    double spread = lo ? (double)hi / (double)lo : x->o->ratio;
    return x->o->margin * (spread < x->o->ratio ? spread : x->o->ratio);
}

static void check_failures(ctx *x, row *r, char *site)
{
    const beh *b = r->bb;
    char what[300] = "", nb[32];
    size_t n = 0;
    for (int i = 0; i < b->nfail; i++) {
        int k = 0;
        while (k < r->ncode && r->code[k] != b->fail_code[i])
            k++;
        if (k < r->ncode) {
            if (r->code_in[k] < x->nbase)
                hide(x, "baseline: %s at %s also failed with %s in %d of %d baselines", call_api_name(r->k.api), site,
                     diff_code_name(r->k.api, b->fail_code[i], nb, sizeof nb), r->code_in[k], x->nbase);
            continue;
        }
        n += (size_t)snprintf(what + n, n < sizeof what ? sizeof what - n : 0, "%snew failure %s (%u of %llu calls)",
                              n ? "; " : "", diff_code_name(r->k.api, b->fail_code[i], nb, sizeof nb), b->fail_n[i],
                              (unsigned long long)b->n);
    }
    for (int k = 0; k < r->ncode; k++) {
        bool in_b = false;
        for (int i = 0; i < b->nfail; i++)
            in_b |= b->fail_code[i] == r->code[k];
        if (in_b)
            continue;
        if (r->code_in[k] < x->nbase) {
            hide(x, "baseline: %s at %s failed with %s in only %d of %d baselines", call_api_name(r->k.api), site,
                 diff_code_name(r->k.api, r->code[k], nb, sizeof nb), r->code_in[k], x->nbase);
            continue;
        }
        n += (size_t)snprintf(what + n, n < sizeof what ? sizeof what - n : 0, "%sno longer fails with %s",
                              n ? "; " : "", diff_code_name(r->k.api, r->code[k], nb, sizeof nb));
    }
    if (n) {
        finding *f = add(x, S_FAIL, r, r);
        if (f)
            snprintf(f->text, sizeof f->text, "%s", what);
    }
}

static void check_leak(ctx *x, row *r, char *site)
{
    const beh *b = r->bb;
    char h[32];
    if (b->live_n && r->live_max == 0) {
        finding *f = add(x, S_LEAK, r, r);
        diff_human_bytes(b->live_bytes, h, sizeof h);
        if (f)
            snprintf(f->text, sizeof f->text, "still allocated at exit: %llu region%s, %s (A freed all it allocated here)",
                     (unsigned long long)b->live_n, b->live_n == 1 ? "" : "s", h);
    } else if (!b->live_n && r->live_min > 0 && r->live_min != UINT64_MAX) {
        finding *f = add(x, S_LEAK, r, r);
        diff_human_bytes(r->live_min, h, sizeof h);
        if (f)
            snprintf(f->text, sizeof f->text, "now freed before exit (A still held %llu region%s here at exit)",
                     (unsigned long long)r->live_min, r->live_min == 1 ? "" : "s");
    } else if (b->live_n != r->live_max && b->live_n) {
        hide(x, "tolerance: %s at %s still holds %llu regions at exit (A: %llu..%llu)", call_api_name(r->k.api), site,
             (unsigned long long)b->live_n, (unsigned long long)r->live_min, (unsigned long long)r->live_max);
    }
}

static void check_size(ctx *x, row *r, char *site)
{
    const opts *o = x->o;
    const beh *b = r->bb;
    double f = factor(x, r->cmin, r->cmax);
    bool calls = beyond(b->n, r->cmin, r->cmax, f, o->slack_calls);
    bool bytes = beyond(b->bytes, r->bmin, r->bmax, factor(x, r->bmin, r->bmax), o->slack_bytes);
    char h1[32], h2[32], h3[32];
    diff_human_bytes(r->bmin, h1, sizeof h1), diff_human_bytes(r->bmax, h2, sizeof h2), diff_human_bytes(b->bytes, h3, sizeof h3);
    char range_c[64], range_b[80];
    if (r->cmin == r->cmax)
        snprintf(range_c, sizeof range_c, "%llu", (unsigned long long)r->cmin);
    else
        snprintf(range_c, sizeof range_c, "%llu..%llu", (unsigned long long)r->cmin, (unsigned long long)r->cmax);
    if (r->bmin == r->bmax)
        snprintf(range_b, sizeof range_b, "%s", h1);
    else
        snprintf(range_b, sizeof range_b, "%s..%s", h1, h2);
    if (calls || bytes) {
        finding *fd = add(x, S_SIZE, r, r);
        if (!fd)
            return;
        size_t n = 0;
        if (calls)
            n += (size_t)snprintf(fd->text, sizeof fd->text, "calls %s -> %llu", range_c, (unsigned long long)b->n);
        if (bytes)
            snprintf(fd->text + n, sizeof fd->text - n, "%sbytes %s -> %s (x%.1f)", n ? "; " : "", range_b, h3,
                     r->bmax ? (double)b->bytes / (double)r->bmax : 0.0);
        return;
    }
    if (o->explain && (b->n != r->cmax || b->n != r->cmin || b->bytes != r->bmax || b->bytes != r->bmin)) {
        char req[200];
        beh_request(&r->k, req, sizeof req);
        hide(x, "tolerance (x%.1f, +%llu calls, +%llu bytes): %s(%s) at %s: calls %s -> %llu, bytes %s -> %s", f,
             (unsigned long long)o->slack_calls, (unsigned long long)o->slack_bytes, call_api_name(r->k.api), req,
             site, range_c, (unsigned long long)b->n, range_b, h3);
    }
}

/* The same request from the same function of the program (the site's
 * first frame outside the system DLLs), whoever called that function: a
 * collector's work done by whichever thread gets to it first moves between
 * callers from run to run. Sums over every such row in A and in B; true
 * when both have it and the totals are within the tolerance. */
static bool moved_caller(ctx *x, const row *r, char *why, size_t len)
{
    char leaf[300], other[300];
    beh_site_short(x->o, r->k.site, leaf, sizeof leaf);
    uint64_t amin = 0, amax = 0, bn = 0;
    for (size_t i = 0; i < x->n; i++) {
        const row *q = &x->rows[i];
        if (q->k.api != r->k.api || q->k.prot != r->k.prot || q->k.type != r->k.type || q->k.cls != r->k.cls ||
            q->k.aclass != r->k.aclass || q->k.remote != r->k.remote)
            continue;
        if (q->k.site != r->k.site) {
            beh_site_short(x->o, q->k.site, other, sizeof other);
            if (strcmp(leaf, other))
                continue;
        }
        if (q->in_a)
            amin += q->in_a == x->nbase ? q->cmin : 0, amax += q->cmax;
        if (q->bb)
            bn += q->bb->n;
    }
    double f = factor(x, amin, amax);
    if (amin == amax)
        snprintf(why, len, "%s: %llu calls in A, %llu in B", leaf, (unsigned long long)amax, (unsigned long long)bn);
    else
        snprintf(why, len, "%s: %llu..%llu calls in A, %llu in B", leaf, (unsigned long long)amin,
                 (unsigned long long)amax, (unsigned long long)bn);
    return amax && bn && !beyond(bn, amin, amax, f, x->o->slack_calls);
}

/* A row of B's whose (site, API) A had with another request: the request
 * changed there (or, when A's row has a partner still, the site makes a new
 * one). NULL when A has none. */
static row *a_partner(ctx *x, const row *nb, bool unpaired)
{
    for (size_t j = 0; j < x->n; j++) {
        row *g = &x->rows[j];
        if (g->k.site != nb->k.site || g->k.api != nb->k.api)
            continue;
        if (unpaired ? g->in_a == x->nbase && !g->bb && !g->used : g->in_a && g->k.prot != nb->k.prot)
            return g;
    }
    return NULL;
}

/* One row only B has: a changed request, a new request at an old site, a
 * caller that moved (hidden), or a new call site. */
static void new_in_b(ctx *x, row *nb)
{
    char ra[200], rb[200], why[400];
    beh_request(&nb->k, rb, sizeof rb);
    row *old = a_partner(x, nb, true);
    if (old) {
        beh_request(&old->k, ra, sizeof ra);
        bool prot = old->k.prot != nb->k.prot;
        int sev = is_wx(&nb->k) && !is_wx(&old->k) ? S_RWX : prot ? S_PROT : S_SITE;
        finding *f = add(x, sev, old, nb);
        if (f)
            snprintf(f->text, sizeof f->text, "request changed: A asked %s, B asks %s", ra, rb);
        return;
    }
    const row *same = a_partner(x, nb, false);   /* the site still makes its old requests too */
    if (same) {
        beh_request(&same->k, ra, sizeof ra);
        finding *f = add(x, is_wx(&nb->k) && !is_wx(&same->k) ? S_RWX : S_PROT, NULL, nb);
        if (f)
            snprintf(f->text, sizeof f->text, "new request at this site: %s (A asked %s here)", rb, ra);
        return;
    }
    if (!is_wx(&nb->k) && moved_caller(x, nb, why, sizeof why)) {
        hide(x, "caller moved: %s(%s) from a new caller of %s", call_api_name(nb->k.api), rb, why);
        return;
    }
    finding *f = add(x, is_wx(&nb->k) ? S_RWX : S_SITE, NULL, nb);
    if (f)
        snprintf(f->text, sizeof f->text, "new call site: %s(%s), %llu call%s", call_api_name(nb->k.api), rb,
                 (unsigned long long)nb->bb->n, nb->bb->n == 1 ? "" : "s");
}

/* One row only A has (in every baseline): a caller that moved (hidden) or
 * a call site gone. */
static void gone_from_b(ctx *x, row *g)
{
    char ra[256], site[300], why[400];
    beh_request(&g->k, ra, sizeof ra);
    beh_site_short(x->o, g->k.site, site, sizeof site);
    if (g->in_a < x->nbase) {
        hide(x, "baseline: %s(%s) at %s seen in only %d of %d baselines", call_api_name(g->k.api), ra, site,
             g->in_a, x->nbase);
        return;
    }
    if (moved_caller(x, g, why, sizeof why)) {
        hide(x, "caller moved: %s(%s) no longer from one caller of %s", call_api_name(g->k.api), ra, why);
        return;
    }
    finding *f = add(x, S_SITE, g, NULL);
    if (f)
        snprintf(f->text, sizeof f->text, "call site gone: %s(%s), %llu call%s in A", call_api_name(g->k.api), ra,
                 (unsigned long long)g->cmax, g->cmax == 1 ? "" : "s");
}

/* Rows only in A or only in B: paired by (site, API) a changed request
 * (protection first of all), unpaired a site that appears or disappears. */
static void check_sites(ctx *x)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->rows[i].bb && !x->rows[i].in_a && !x->rows[i].used)
            new_in_b(x, &x->rows[i]);
    for (size_t j = 0; j < x->n; j++)
        if (!x->rows[j].bb && !x->rows[j].used && x->rows[j].in_a)
            gone_from_b(x, &x->rows[j]);
}

static int by_sev(const void *p, const void *q)
{
    const finding *a = p, *b = q;
    if (a->sev != b->sev)
        return a->sev - b->sev;
    return strcmp(a->text, b->text);
}

/* ---- the whole comparison ---- */

static int merge(ctx *x, side **base, int nbase, side *b)
{
    for (int i = 0; i < nbase; i++)
        for (size_t k = 0; k < base[i]->nbeh; k++) {
            const beh *e = &base[i]->beh[k];
            row *r = row_get(x, &e->k);
            if (!r)
                return -1;
            if (!r->ba)
                r->sa = base[i], r->ba = e;
            r->in_a++;
            r->cmin = e->n < r->cmin ? e->n : r->cmin, r->cmax = e->n > r->cmax ? e->n : r->cmax;
            r->bmin = e->bytes < r->bmin ? e->bytes : r->bmin, r->bmax = e->bytes > r->bmax ? e->bytes : r->bmax;
            r->live_max = e->live_n > r->live_max ? e->live_n : r->live_max;
            r->live_min = e->live_n < r->live_min ? e->live_n : r->live_min;
            for (int f = 0; f < e->nfail; f++) {
                int c = 0;
                while (c < r->ncode && r->code[c] != e->fail_code[f])
                    c++;
                if (c == r->ncode && c < 8)
                    r->code[r->ncode++] = e->fail_code[f];
                if (c < 8)
                    r->code_in[c]++;
            }
        }
    /* A site absent from some baselines had no live memory there. */
    for (size_t k = 0; k < x->n; k++)
        if (x->rows[k].in_a < nbase)
            x->rows[k].live_min = 0;
    for (size_t k = 0; k < b->nbeh; k++) {
        row *r = row_get(x, &b->beh[k].k);
        if (!r)
            return -1;
        r->sb = b, r->bb = &b->beh[k];
    }
    return 0;
}

long diff_behaviour(side **base, int nbase, side *b, const opts *o)
{
    ctx x = { .nbase = nbase, .o = o };
    long rc = -1;
    if (merge(&x, base, nbase, b))
        goto out;
    check_sites(&x);
    bool ended = b->t.end != NULL;
    for (int i = 0; i < nbase; i++)
        ended &= base[i]->t.end != NULL;
    for (size_t i = 0; i < x.n; i++) {
        row *r = &x.rows[i];
        if (!r->bb || !r->in_a || r->used)
            continue;
        char site[300];
        beh_site_short(o, r->k.site, site, sizeof site);
        size_t before = x.nf;
        check_failures(&x, r, site);
        if (x.nf == before && ended)
            check_leak(&x, r, site);
        if (x.nf == before)
            check_size(&x, r, site);
    }
    size_t tmin = SIZE_MAX, tmax = 0;
    char tbuf[32];
    for (int i = 0; i < nbase; i++) {
        tmin = base[i]->nthreads < tmin ? base[i]->nthreads : tmin;
        tmax = base[i]->nthreads > tmax ? base[i]->nthreads : tmax;
    }
    /* Pool threads that happen to get no work make no calls: a thread or
     * two either way is noise, a pool of a different size is not. */
    if (beyond(b->nthreads, tmin, tmax, 1.5, 1)) {
        finding *f = add(&x, S_THREADS, NULL, NULL);
        if (f && tmin == tmax)
            snprintf(f->text, sizeof f->text, "threads that call memory APIs: %zu in A, %zu in B", tmin, b->nthreads);
        else if (f)
            snprintf(f->text, sizeof f->text, "threads that call memory APIs: %zu..%zu in A, %zu in B", tmin, tmax,
                     b->nthreads);
    } else if (b->nthreads < tmin || b->nthreads > tmax) {
        hide(&x, "tolerance (x1.5, +1): threads that call memory APIs: %zu%s%s in A, %zu in B", tmin,
             tmin == tmax ? "" : "..", tmin == tmax ? "" : (snprintf(tbuf, sizeof tbuf, "%zu", tmax), tbuf), b->nthreads);
    }
    if (x.nf)
        qsort(x.f, x.nf, sizeof *x.f, by_sev);
    unsigned count[S_N] = { 0 };
    for (size_t i = 0; i < x.nf; i++)
        count[x.f[i].sev]++;
    if (o->json)
        diff_print_json(&x, base, b, count);
    else
        diff_print_text(&x, b, count);
    rc = (long)x.nf;
out:
    for (size_t i = 0; i < x.nh; i++)
        free(x.hidden[i]);
    free(x.hidden);
    free(x.rows);
    hindex_free(&x.index);
    free(x.f);
    return rc;
}
