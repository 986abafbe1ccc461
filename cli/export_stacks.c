/*
 * cli/export_stacks.c — the stack-aggregating exports: folded stacks and
 * speedscope's own format. Calls are grouped by their stack read as
 * functions (module!function, outermost first) plus the API, so two return
 * addresses in one function are one box.
 */
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "export.h"
#include "json.h"
#include "table.h"

typedef struct agg { char *key; uint64_t calls, bytes, ns; } agg;

static int agg_cmp(const void *a, const void *b)
{
    return strcmp(((const agg *)a)->key, ((const agg *)b)->key);
}

/* "prog;f1;f2;...;API" for a stack and an API (';' separates frames, so
 * it is replaced in names). */
static char *stack_key(exp_ctx *x, uint32_t stack, uint16_t api)
{
    int nf;
    char *const *v = exp_labels(x, stack, &nf);
    if (!v)
        return NULL;
    const char *prog = *x->t->prog ? x->t->prog : tr_basename(x->t->exe);
    size_t len = strlen(prog) + 40;
    for (int i = 0; i < nf; i++)
        len += strlen(v[i]) + 1;
    char *k = malloc(len), *w = k;
    if (!k)
        return NULL;
    w += sprintf(w, "%s", prog);
    for (int i = 0; i < nf; i++)
        w += sprintf(w, ";%s", v[i]);
    sprintf(w, ";%s", call_api_name(api));
    for (char *p = k + strlen(prog); *p; p++)   /* the program name may hold them too */
        if (*p == '\n' || *p == ' ')
            *p = '_';
    for (char *p = k; p < k + strlen(prog); p++)
        if (*p == ';' || *p == '\n' || *p == ' ')
            *p = '_';
    return k;
}

typedef struct pair { uint32_t stack; uint16_t api; uint64_t calls, bytes, ns; } pair;

static int pair_cmp(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    return (x->api > y->api) - (x->api < y->api);
}

/* The wanted calls counted per (stack, api), then per key (two stacks can
 * read the same by function): returns the count, sorted, merged. */
static size_t aggregate(exp_ctx *x, agg **out)
{
    size_t n = 0, cap = 1024;
    pair *p = malloc(cap * sizeof *p);
    for (size_t i = 0; p && i < x->t->nthreads; i++)
        for (uint64_t q = 0; q < x->t->threads[i].ncalls; q++) {
            const struct wmt_call *c = x->t->threads[i].calls[q];
            const char *w32;
            if (!c)
                continue;
            rs_site_of(x->t, &x->s, c, &w32);
            if (x->f && !filter_match(x->f, x->t, c, w32))
                continue;
            if (n == cap) {
                pair *np = realloc(p, (cap *= 2) * sizeof *np);
                if (!np)
                    goto out;
                p = np;
            }
            p[n++] = (pair){ c->stack, c->api, 1, rs_call_bytes(c), c->flags & WMT_CF_PENDING ? 0 : c->dur_ns };
        }
out:;
    agg *v = p ? malloc((n ? n : 1) * sizeof *v) : NULL;
    size_t m = 0;
    if (v) {
        qsort(p, n, sizeof *p, pair_cmp);
        for (size_t i = 0; i < n; i++) {
            if (m && p[i].stack == p[i - 1].stack && p[i].api == p[i - 1].api) {
                v[m - 1].calls += p[i].calls, v[m - 1].bytes += p[i].bytes, v[m - 1].ns += p[i].ns;
                continue;
            }
            char *k = stack_key(x, p[i].stack, p[i].api);
            if (!k)
                break;
            v[m++] = (agg){ k, p[i].calls, p[i].bytes, p[i].ns };
        }
    }
    free(p);
    if (!v)
        return *out = NULL, 0;
    qsort(v, m, sizeof *v, agg_cmp);
    size_t w = 0;
    for (size_t i = 0; i < m; i++) {
        if (w && !strcmp(v[w - 1].key, v[i].key)) {
            v[w - 1].calls += v[i].calls, v[w - 1].bytes += v[i].bytes, v[w - 1].ns += v[i].ns;
            free(v[i].key);
        } else {
            v[w++] = v[i];
        }
    }
    *out = v;
    return w;
}

static void agg_free(agg *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
}

void export_folded(exp_ctx *x, FILE *f, enum exp_weight w)
{
    agg *v;
    size_t n = aggregate(x, &v);
    for (size_t i = 0; i < n; i++) {
        uint64_t val = w == W_BYTES ? v[i].bytes : w == W_TIME ? v[i].ns : v[i].calls;
        if (val)
            fprintf(f, "%s %llu\n", v[i].key, (unsigned long long)val);
    }
    agg_free(v, n);
}

/* Frame index of a name in the shared frame table (linear in the distinct
 * names of one key: the table is built once, keys are few thousand). */
typedef struct ftab { char **names; size_t n, cap; } ftab;

static long frame_index(ftab *ft, const char *name)
{
    for (size_t i = ft->n; i-- > 0;)
        if (!strcmp(ft->names[i], name))
            return (long)i;
    if (!TABLE_GROW(ft->names, ft->cap, ft->n + 1, 256))
        return -1;
    if (!(ft->names[ft->n] = strdup(name)))
        return -1;
    return (long)ft->n++;
}

static void profile(FILE *f, const char *name, const char *unit, const agg *v, size_t n, long **idx, const int *len,
                    int which)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += which ? v[i].bytes : v[i].calls;
    fprintf(f, "{\"type\":\"sampled\",\"name\":");
    json_str(f, name);
    fprintf(f, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%llu,\"samples\":[", unit, (unsigned long long)total);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!(which ? v[i].bytes : v[i].calls))
            continue;
        fprintf(f, "%s[", first ? "" : ",");
        for (int k = 0; k < len[i]; k++)
            fprintf(f, "%s%ld", k ? "," : "", idx[i][k]);
        fputc(']', f);
        first = false;
    }
    fprintf(f, "],\"weights\":[");
    first = true;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = which ? v[i].bytes : v[i].calls;
        if (w)
            fprintf(f, "%s%llu", first ? "" : ",", (unsigned long long)w), first = false;
    }
    fprintf(f, "]}");
}

void export_speedscope(exp_ctx *x, FILE *f)
{
    agg *v;
    size_t n = aggregate(x, &v);
    ftab ft = { 0 };
    long **idx = calloc(n ? n : 1, sizeof *idx);
    int *len = calloc(n ? n : 1, sizeof *len);
    for (size_t i = 0; idx && len && i < n; i++) {
        int parts = 1;
        for (const char *p = v[i].key; *p; p++)
            parts += *p == ';';
        if (!(idx[i] = malloc((size_t)parts * sizeof **idx)))
            break;
        for (char *save = NULL, *tok = strtok_r(v[i].key, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
            idx[i][len[i]++] = frame_index(&ft, tok);
    }
    const char *prog = *x->t->prog ? x->t->prog : tr_basename(x->t->exe);
    char title[300];
    fprintf(f, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":\"winmem\",\"name\":");
    json_str(f, prog);
    fprintf(f, ",\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
    for (size_t i = 0; i < ft.n; i++) {
        fprintf(f, "%s{\"name\":", i ? "," : "");
        json_str(f, ft.names[i]);
        fputc('}', f);
    }
    fprintf(f, "]},\"profiles\":[");
    snprintf(title, sizeof title, "%s: memory calls", prog);
    profile(f, title, "none", v, n, idx, len, 0);
    fputc(',', f);
    snprintf(title, sizeof title, "%s: bytes allocated", prog);
    profile(f, title, "bytes", v, n, idx, len, 1);
    fprintf(f, "]}\n");
    for (size_t i = 0; idx && i < n; i++)
        free(idx[i]);
    for (size_t i = 0; i < ft.n; i++)
        free(ft.names[i]);
    free(ft.names);
    free(idx);
    free(len);
    agg_free(v, n);
}
