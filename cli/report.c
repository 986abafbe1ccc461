/*
 * cli/report.c — `winmem report FILE`: calls per API, failures by error
 * code, latency percentiles, the top call sites with symbolized stacks, and
 * check-mode divergences.
 *
 * One pass over the calls, constant work each (counters, a log-linear
 * latency histogram, a count per stack slot), so millions of records are
 * summarized in well under a second; only the few stacks shown are
 * symbolized.
 */
#include <getopt.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "maps.h"
#include "report.h"

/* Latency histogram: 16 sub-buckets per power of two (error ≤ 1/16). */
#define HSUB 16
#define HBUCKETS (64 * HSUB)

static unsigned hbucket(uint64_t v)
{
    if (v < HSUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    return (msb - 3) * HSUB + (unsigned)((v >> (msb - 4)) & (HSUB - 1));
}

static uint64_t hvalue(unsigned b)   /* the bucket's lower bound */
{
    if (b < HSUB)
        return b;
    unsigned msb = b / HSUB + 3, sub = b % HSUB;
    return ((uint64_t)(HSUB + sub)) << (msb - 4);
}

typedef struct api_stat {
    uint64_t calls, failed, pending, total_ns, max_ns, min_ns;
    uint32_t *hist;   /* HBUCKETS, allocated on first use */
} api_stat;

typedef struct err_stat { uint16_t api; uint32_t code; uint64_t n; const struct wmt_call *example; } err_stat;

typedef struct site { uint32_t stack; uint64_t n; uint64_t failed; uint16_t top_api; } site;

static uint64_t percentile(const api_stat *a, double q)
{
    uint64_t n = a->calls - a->pending;   /* completed calls: those in the histogram */
    uint64_t done = (uint64_t)(q * (double)n);
    if (n && done >= n)
        done = n - 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HBUCKETS; b++) {
        seen += a->hist[b];
        if (seen > done)
            return hvalue(b) > a->max_ns ? a->max_ns : hvalue(b);
    }
    return a->max_ns;
}

static void fmt_ns(char *b, size_t n, uint64_t ns)
{
    if (ns < 10000)
        snprintf(b, n, "%llu ns", (unsigned long long)ns);
    else if (ns < 10000000)
        snprintf(b, n, "%.1f us", (double)ns / 1e3);
    else
        snprintf(b, n, "%.1f ms", (double)ns / 1e6);
}

static int site_cmp(const void *a, const void *b)
{
    const site *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->stack > y->stack) - (x->stack < y->stack);
}

static int err_cmp(const void *a, const void *b)
{
    const err_stat *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->api > y->api) - (x->api < y->api);
}

static const char *mode_name(uint32_t m)
{
    return m == WMT_MODE_TRACE ? "trace" : m == WMT_MODE_CHECK ? "check" : m == WMT_MODE_NATIVE ? "native" : "?";
}

static void print_stack(tr_trace *t, FILE *f, uint32_t id, int max)
{
    const struct wmt_stack *s = tr_stack(t, id);
    if (!s) {
        fprintf(f, "      (stack %u not in the readable part of the trace)\n", id);
        return;
    }
    const struct wmt_frame *fr = tr_frames(s);
    char name[512], src[300];
    for (int i = 0; i < s->nframes && i < max; i++) {
        tr_frame_name(t, &fr[i], name, sizeof name);
        tr_frame_source(t, &fr[i], src, sizeof src);
        fprintf(f, "      #%-2d %s%s\n", i, name, src);
    }
    if (s->nframes > max)
        fprintf(f, "      ... %d more frames\n", s->nframes - max);
    else if (s->flags & WMT_SF_TRUNCATED)
        fprintf(f, "      ... (cut at WINMEM_STACK=%u frames)\n", t->hdr->stack_depth);
}

/* The frame a reader cares about first: the innermost one outside the
 * system DLLs and the shim (for a Wine program: the program's own code). */
static void origin(tr_trace *t, uint32_t id, char *buf, size_t len)
{
    static const char *const system[] = { "ntdll.dll", "kernelbase.dll", "kernel32.dll", "ntdll.so",
                                          "libwinmem-shim.so", "libwinmem.so.0", "libc.so.6" };
    const struct wmt_stack *s = tr_stack(t, id);
    buf[0] = 0;
    if (!s || !s->nframes)
        return;
    const struct wmt_frame *fr = tr_frames(s);
    int pick = s->nframes > 1;   /* all system: the caller of the stub */
    for (int i = 0; i < s->nframes; i++) {
        const tr_module *m = tr_module_by_id(t, fr[i].module);
        const char *b = m ? tr_basename(*m->path ? m->path : t->exe) : "";
        bool sys = false;
        for (size_t k = 0; k < sizeof system / sizeof *system; k++)
            sys |= !strcasecmp(b, system[k]);
        if (m && !sys) {
            pick = i;
            break;
        }
    }
    tr_frame_name(t, &fr[pick], buf, len);
}

void report_print(tr_trace *t, FILE *f, const report_opts *o)
{
    api_stat *api = calloc(WMT_API_MAX, sizeof *api);
    size_t nerr = 0, cap_err = 64;
    err_stat *errs = malloc(cap_err * sizeof *errs);
    uint64_t *site_n = calloc(t->stack_cap ? t->stack_cap : 1, sizeof *site_n);
    uint64_t *site_fail = calloc(t->stack_cap ? t->stack_cap : 1, sizeof *site_fail);
    uint16_t *site_api = calloc(t->stack_cap ? t->stack_cap : 1, sizeof *site_api);
    uint64_t *th_calls = calloc(t->nthreads + 1, sizeof *th_calls), *th_failed = calloc(t->nthreads + 1, sizeof *th_failed);
    uint64_t first = UINT64_MAX, last = 0, missing = 0, aborted = 0, pending = 0, nostack = 0;
    if (!api || !errs || !site_n || !site_fail || !site_api || !th_calls || !th_failed) {
        fprintf(stderr, "winmem report: out of memory\n");
        goto out;
    }

    for (size_t ti = 0; ti < t->nthreads; ti++) {
        const tr_thread *th = &t->threads[ti];
        for (uint64_t s = 0; s < th->ncalls; s++) {
            const struct wmt_call *c = th->calls[s];
            if (!c) {
                missing++;
                continue;
            }
            api_stat *a = &api[c->api < WMT_API_MAX ? c->api : 0];
            a->calls++;
            if (c->start_ns < first)
                first = c->start_ns;
            if (c->flags & WMT_CF_PENDING) {
                a->pending++;
                pending++;
                aborted += (c->flags & WMT_CF_ABORTED) != 0;
            } else {
                if (!a->hist && !(a->hist = calloc(HBUCKETS, sizeof *a->hist)))
                    continue;
                a->hist[hbucket(c->dur_ns)]++;
                a->total_ns += c->dur_ns;
                if (c->dur_ns > a->max_ns)
                    a->max_ns = c->dur_ns;
                if (a->calls - a->pending == 1 || c->dur_ns < a->min_ns)
                    a->min_ns = c->dur_ns;
                if (c->start_ns + c->dur_ns > last)
                    last = c->start_ns + c->dur_ns;
            }
            bool failed = call_failed(c);
            th_calls[ti]++;
            th_failed[ti] += failed;
            if (failed) {
                a->failed++;
                uint32_t code = call_code(c);
                size_t i;
                for (i = 0; i < nerr; i++)
                    if (errs[i].api == c->api && errs[i].code == code)
                        break;
                if (i == nerr) {
                    if (nerr == cap_err) {
                        err_stat *ne = realloc(errs, (cap_err *= 2) * sizeof *ne);
                        if (!ne)
                            continue;
                        errs = ne;
                    }
                    errs[nerr++] = (err_stat){ c->api, code, 0, c };
                }
                errs[i].n++;
            }
            if (!c->stack || !t->stack_cap) {   /* no stack, or its STACK record was lost */
                nostack++;
                continue;
            }
            /* Count per slot of the trace's stack hash: no second lookup table. */
            size_t h = (c->stack * 2654435761u) & (t->stack_cap - 1);
            while (t->stacks[h] && t->stacks[h]->id != c->stack)
                h = (h + 1) & (t->stack_cap - 1);
            if (t->stacks[h]) {
                site_n[h]++;
                site_fail[h] += failed;
                site_api[h] = c->api;
            }
        }
    }

    /* ---- header ---- */
    const struct wmt_header *h = t->hdr;
    fprintf(f, "winmem report: %s\n", t->path);
    fprintf(f, "  program   %s (pid %u%s), %s\n", *t->prog ? t->prog : tr_basename(t->exe), h->pid,
            h->flags & WMT_HF_FORK_CHILD ? ", fork child" : "", t->exe);
    fprintf(f, "  recorded  mode %s, stacks %u frames%s%s\n", mode_name(h->mode), h->stack_depth,
            h->flags & WMT_HF_WINE ? (h->flags & WMT_HF_WINE_HOOKED ? ", Wine syscalls hooked" : ", Wine NOT hooked (unknown Wine build?)") : "",
            h->flags & WMT_HF_UNIX ? ", unix layer (mmap & co.)" : "");
    char d1[32];
    fmt_ns(d1, sizeof d1, last > first && first != UINT64_MAX ? last - first : 0);
    char endtxt[400];
    fprintf(f, "  calls     %llu in %zu threads over %s; %s\n", (unsigned long long)t->ncalls, t->nthreads, d1,
            tr_end_text(t, endtxt, sizeof endtxt));
    if (t->cut[0])
        fprintf(f, "  WARNING   %s.\n            Everything before that point (%llu of %llu bytes) is reported below.\n",
                t->cut, (unsigned long long)t->good_bytes, (unsigned long long)t->size);
    uint64_t lost = 0;
    for (int i = 0; i < 8; i++)
        lost += t->lost[i];
    if (lost || missing)
        fprintf(f, "  WARNING   %llu records lost by the shim (write %llu, busy %llu, threads %llu, stacks %llu); %llu call numbers missing\n",
                (unsigned long long)lost, (unsigned long long)t->lost[WMT_LOST_WRITE], (unsigned long long)t->lost[WMT_LOST_BUSY],
                (unsigned long long)t->lost[WMT_LOST_THREADS], (unsigned long long)t->lost[WMT_LOST_STACKS],
                (unsigned long long)missing);
    if (pending)
        fprintf(f, "  note      %llu calls never returned through the shim (%llu aborted by a fault in the callee)\n",
                (unsigned long long)pending, (unsigned long long)aborted);
    if (t->skipped)
        fprintf(f, "  note      %llu records skipped (unknown type or damaged)\n", (unsigned long long)t->skipped);

    /* ---- per API ---- */
    fprintf(f, "\nCalls per API                      calls    failed     p50       p90       p99       max     total\n");
    for (unsigned i = 0; i < WMT_API_MAX; i++) {
        api_stat *a = &api[i];
        if (!a->calls)
            continue;
        char p50[16] = "-", p90[16] = "-", p99[16] = "-", mx[16] = "-", tot[16] = "-";
        if (a->hist) {
            fmt_ns(p50, sizeof p50, percentile(a, 0.50));
            fmt_ns(p90, sizeof p90, percentile(a, 0.90));
            fmt_ns(p99, sizeof p99, percentile(a, 0.99));
            fmt_ns(mx, sizeof mx, a->max_ns);
            fmt_ns(tot, sizeof tot, a->total_ns);
        }
        fprintf(f, "  %-30s %9llu %9llu %9s %9s %9s %9s %9s\n", call_api_name(i),
                (unsigned long long)a->calls, (unsigned long long)a->failed, p50, p90, p99, mx, tot);
    }

    /* ---- threads, when there are several ---- */
    if (t->nthreads > 1) {
        fprintf(f, "\nThreads                              calls    failed\n");
        for (size_t i = 0; i < t->nthreads && i < 16; i++)
            fprintf(f, "  %-8u %-24s %9llu %9llu\n", t->threads[i].tid, t->threads[i].name[0] ? t->threads[i].name : "?",
                    (unsigned long long)th_calls[i], (unsigned long long)th_failed[i]);
        if (t->nthreads > 16)
            fprintf(f, "  ... %zu more threads\n", t->nthreads - 16);
    }

    /* ---- failures ---- */
    if (nerr) {
        qsort(errs, nerr, sizeof *errs, err_cmp);
        fprintf(f, "\nFailures by error code\n");
        for (size_t i = 0; i < nerr && (int)i < o->top_errors; i++) {
            char code[96];
            call_code_name(errs[i].example, code, sizeof code);
            fprintf(f, "  %9llu  %-28s %s\n", (unsigned long long)errs[i].n, call_api_name(errs[i].api), code);
        }
        if (nerr > (size_t)o->top_errors)
            fprintf(f, "  ... %zu more (api, code) pairs\n", nerr - (size_t)o->top_errors);
    }

    /* ---- call sites ---- */
    size_t nsites = 0;
    for (size_t i = 0; i < t->stack_cap; i++)
        nsites += site_n[i] != 0;
    if (nsites && o->top_sites > 0) {
        site *sites = malloc(nsites * sizeof *sites);
        if (sites) {
            size_t k = 0;
            for (size_t i = 0; i < t->stack_cap; i++)
                if (site_n[i])
                    sites[k++] = (site){ t->stacks[i]->id, site_n[i], site_fail[i], site_api[i] };
            qsort(sites, nsites, sizeof *sites, site_cmp);
            fprintf(f, "\nTop call sites (%zu distinct stacks%s)\n", nsites,
                    nostack ? "; some calls were recorded without a stack" : "");
            for (size_t i = 0; i < nsites && (int)i < o->top_sites; i++) {
                char from[512];
                origin(t, sites[i].stack, from, sizeof from);
                fprintf(f, "  %llu calls to %s%s%s", (unsigned long long)sites[i].n, call_api_name(sites[i].top_api),
                        from[0] ? " from " : "", from);
                if (sites[i].failed)
                    fprintf(f, ", %llu failed", (unsigned long long)sites[i].failed);
                fputc('\n', f);
                if (!o->brief)
                    print_stack(t, f, sites[i].stack, o->frames);
            }
            free(sites);
        }
    } else if (t->ncalls && !nsites) {
        fprintf(f, "\nNo stacks were recorded (WINMEM_STACK=0, or `winmem run --stack N`).\n");
    }

    /* ---- divergences ---- */
    if (t->ndivs) {
        fprintf(f, "\nCheck-mode divergences: %zu (Wine's answer contradicts the kernel)\n", t->ndivs);
        for (size_t i = 0; i < t->ndivs && i < (o->brief ? 3u : 10u); i++) {
            const struct wmt_divergence *d = t->divs[i];
            fprintf(f, "  %s call %llu (thread %u) at 0x%llx: ", call_api_name(d->api),
                    (unsigned long long)d->call_seq, d->tid, (unsigned long long)d->address);
            if (d->kind == WMT_DIV_NO_MAPPING)
                fprintf(f, "Wine says %s %s, the kernel has nothing mapped\n", wm_state_name(d->wine_state),
                        wm_protect_name(d->wine_protect));
            else
                fprintf(f, "Wine says %s, the kernel's VMA [0x%llx-0x%llx) means %s\n", wm_protect_name(d->wine_protect),
                        (unsigned long long)d->vma_start, (unsigned long long)d->vma_end, wm_protect_name(d->kernel_protect));
            if (d->native_state)
                fprintf(f, "      winmem answers %s %s\n", wm_state_name(d->native_state), wm_protect_name(d->native_protect));
        }
        if (t->ndivs > 10 && !o->brief)
            fprintf(f, "  ... %zu more (winmem export --format jsonl lists them all)\n", t->ndivs - 10);
    } else if (h->mode == WMT_MODE_CHECK) {
        fprintf(f, "\nCheck mode: no divergence between Wine's answers and the kernel.\n");
    }
out:
    free(th_calls);
    free(th_failed);
    if (api)
        for (unsigned i = 0; i < WMT_API_MAX; i++)
            free(api[i].hist);
    free(api);
    free(errs);
    free(site_n);
    free(site_fail);
    free(site_api);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem report [--top N] [--frames N] [--brief] FILE\n\n"
               "Summarizes a trace: calls per API with latency percentiles (p50/p90/p99/max),\n"
               "failures by error code, the top call sites with symbolized stacks, and\n"
               "check-mode divergences. A cut or damaged trace is reported up to the damage,\n"
               "with a warning saying how much was readable (exit status 1 then).\n\n"
               "  --top N      call sites to show (default 10)\n"
               "  --frames N   frames per call site (default 12)\n"
               "  --brief      no stacks\n\n"
               "Frames are named from the files on this machine (ELF symbol tables and debug\n"
               "files under /usr/lib/debug; PE export tables and COFF symbols); never from\n"
               "the network. Set WINEPREFIX to the prefix the program ran in to find its DLLs.\n");
}

int cmd_report(int argc, char **argv)
{
    report_opts o = { .top_sites = 10, .frames = 12, .top_errors = 20 };
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "top", required_argument, 0, 't' },
        { "frames", required_argument, 0, 'f' }, { "brief", no_argument, 0, 'b' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 't': o.top_sites = atoi(optarg); break;
        case 'f': o.frames = atoi(optarg); break;
        case 'b': o.brief = true; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    tr_trace t;
    char err[512];
    if (tr_open(&t, argv[optind], true, err, sizeof err)) {
        fprintf(stderr, "winmem report: %s\n", err);
        return 2;
    }
    report_print(&t, stdout, &o);
    int rc = 0;
    if (t.cut[0]) {
        fprintf(stderr, "winmem report: %s: %s; reported the readable %llu of %llu bytes\n", t.path, t.cut,
                (unsigned long long)t.good_bytes, (unsigned long long)t.size);
        rc = 1;
    }
    tr_close(&t);
    return rc;
}
