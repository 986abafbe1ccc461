/*
 * cli/report.c — `winmem report FILE`: the printers. The collection step
 * (report_collect.c) makes one pass into a report_stats; each section here
 * only reads it:
 *
 *   header          program, mode, calls, damage and loss warnings
 *   ledger          what the program asked for, in Win32 terms, per call
 *                   site in its own code: bytes reserved, committed, freed,
 *                   held at exit, writable+executable, failures
 *   per API         calls, failures and latency percentiles per recorded call
 *   threads, error codes, top stacks (symbolized), check-mode divergences
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common/names.h"
#include "calls.h"
#include "html.h"
#include "maps.h"
#include "report.h"
#include "report_stats.h"
#include "options.h"

static void fmt_ns(char *b, size_t n, uint64_t ns)
{
    if (ns < 10000)
        snprintf(b, n, "%llu ns", (unsigned long long)ns);
    else if (ns < 10000000)
        snprintf(b, n, "%.1f us", (double)ns / 1e3);
    else
        snprintf(b, n, "%.1f ms", (double)ns / 1e6);
}

const char *report_bytes(char *buf, size_t len, uint64_t n)
{
    if (n == 0)
        snprintf(buf, len, "0");
    else if (n < 10 * 1024)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else if (n < 10ull << 20)
        snprintf(buf, len, "%.0f KiB", (double)n / 1024);
    else if (n < 10ull << 30)
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else
        snprintf(buf, len, "%.1f GiB", (double)n / (1 << 30));
    return buf;
}


/* "VirtualAlloc (NtAllocateVirtualMemory)" or just the recorded name. */
static void call_label(char *buf, size_t len, const char *w32, unsigned api)
{
    if (w32 && strcmp(w32, call_api_name(api)))
        snprintf(buf, len, "%s (%s)", w32, call_api_name(api));
    else
        snprintf(buf, len, "%s", call_api_name(api));
}

static const char *site_label(const report_stats *s, int site)
{
    if (site < 0)
        return "(no stack)";
    const rs_site *x = &s->sites[site];
    return x->src[0] ? x->src : x->name;
}

static void print_header(tr_trace *t, FILE *f, const report_stats *s, const report_opts *o)
{
    const struct wmt_header *h = t->hdr;
    fprintf(f, "winmem report: %s\n", t->path);
    fprintf(f, "  program   %s (pid %u%s), %s\n", *t->prog ? t->prog : tr_basename(t->exe), h->pid,
            h->flags & WMT_HF_FORK_CHILD ? ", fork child" : "", t->exe);
    fprintf(f, "  recorded  mode %s, stacks %u frames%s%s\n", wm_mode_name(h->mode), h->stack_depth,
            h->flags & WMT_HF_WINE ? (h->flags & WMT_HF_WINE_HOOKED ? ", Wine syscalls hooked" : ", Wine NOT hooked (unknown Wine build?)") : "",
            h->flags & WMT_HF_UNIX ? ", unix layer (mmap & co.)" : "");
    char d1[32], filt[512] = "", endtxt[400];
    fmt_ns(d1, sizeof d1, s->last > s->first && s->first != UINT64_MAX ? s->last - s->first : 0);
    fprintf(f, "  calls     %llu in %zu threads over %s; %s\n", (unsigned long long)t->ncalls, t->nthreads, d1,
            tr_end_text(t, endtxt, sizeof endtxt));
    if (o->filter && filter_active(o->filter)) {
        filter_describe(o->filter, filt, sizeof filt);
        fprintf(f, "  counted   %llu calls%s\n", (unsigned long long)s->counted, filt);
    }
    if (t->cut[0] && t->resumed)
        fprintf(f, "  WARNING   %s.\n            Everything before that point (%llu of %llu bytes) and in those chunks is reported below.\n",
                t->cut, (unsigned long long)t->good_bytes, (unsigned long long)t->size);
    else if (t->cut[0])
        fprintf(f, "  WARNING   %s.\n            Everything before that point (%llu of %llu bytes) is reported below.\n",
                t->cut, (unsigned long long)t->good_bytes, (unsigned long long)t->size);
    uint64_t lost = 0;
    for (int i = 0; i < 8; i++)
        lost += t->lost[i];
    if (lost || s->missing)
        fprintf(f, "  WARNING   %llu records lost by the shim (write %llu, busy %llu, threads %llu, stacks %llu); %llu call numbers missing\n",
                (unsigned long long)lost, (unsigned long long)t->lost[WMT_LOST_WRITE], (unsigned long long)t->lost[WMT_LOST_BUSY],
                (unsigned long long)t->lost[WMT_LOST_THREADS], (unsigned long long)t->lost[WMT_LOST_STACKS],
                (unsigned long long)s->missing);
    if (s->pending)
        fprintf(f, "  note      %llu calls never returned through the shim (%llu aborted by a fault in the callee)\n",
                (unsigned long long)s->pending, (unsigned long long)s->aborted);
    if (t->skipped)
        fprintf(f, "  note      %llu records skipped (unknown type or damaged)\n", (unsigned long long)t->skipped);
}

/* Totals: own code against Wine and the runtime. */
static void print_ledger_totals(tr_trace *t, FILE *f, const report_stats *s)
{
    uint64_t own_c = 0, own_r = 0, own_held = 0, sys_held = 0;
    for (size_t i = 0; i < s->nsites; i++) {
        const rs_site *x = &s->sites[i];
        if (x->own)
            own_c += x->committed + x->mapped, own_r += x->reserved, own_held += x->held_commit;
        else
            sys_held += x->held_commit;
    }
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(f, "\nMemory ledger: what %s asked for (calls by the names it used; sites are its own functions)\n",
            *t->prog ? t->prog : tr_basename(t->exe));
    fprintf(f, "  its own code reserved %s and committed %s; %s of it still held %s\n", report_bytes(a, sizeof a, own_r),
            report_bytes(b, sizeof b, own_c), report_bytes(c, sizeof c, own_held), t->end ? "at exit" : "when the trace ends");
    fprintf(f, "  peak commit %s at +%.1f ms; at the end %s committed, %s in views, %s of address space (Wine and the runtime hold %s)\n",
            report_bytes(a, sizeof a, s->peak_commit), (double)s->peak_ns / 1e6, report_bytes(b, sizeof b, s->committed),
            report_bytes(c, sizeof c, s->mapped), report_bytes(d, sizeof d, s->reserved), report_bytes(e, sizeof e, sys_held));
}

static void print_site_row(FILE *f, const report_stats *s, int i)
{
    const rs_site *x = &s->sites[i];
    char r[24], c[24], fr[24], rl[24], h[24], w[24], calls[512] = "", one[128];
    size_t n = 0;
    for (int k = 0; k < x->nnamed && n < sizeof calls; k++) {
        call_label(one, sizeof one, x->named[k].w32, x->named[k].api);
        n += (size_t)snprintf(calls + n, sizeof calls - n, "%s%s x%llu", k ? ", " : "", one, (unsigned long long)x->named[k].n);
    }
    fprintf(f, "  %8llu %9s %9s %9s %9s %9s %8s %6llu  %s%s%s%s\n", (unsigned long long)x->calls, report_bytes(r, sizeof r, x->reserved),
            report_bytes(c, sizeof c, x->committed + x->mapped), report_bytes(fr, sizeof fr, x->freed),
            report_bytes(rl, sizeof rl, x->released), report_bytes(h, sizeof h, x->held_commit), report_bytes(w, sizeof w, x->wx), (unsigned long long)x->failed,
            site_label(s, i), x->own ? "" : " [", x->own ? "" : x->module, x->own ? "" : "]");
    fprintf(f, "  %76s%s\n", "", calls);
}

static void print_sites(FILE *f, const report_stats *s, const report_opts *o)
{
    size_t own = 0;
    for (size_t i = 0; i < s->nsites; i++)
        own += s->sites[i].own;
    fprintf(f, "\n     calls  reserved committed     freed  released  held end      W+X failed  call site%s\n",
            o->all_frames ? " (all frames)" : "");
    size_t shown = 0;
    for (size_t i = 0; i < s->nsites && (int)shown < o->top_sites; i++) {
        if (!s->sites[s->order[i]].own && shown < own)
            continue;
        print_site_row(f, s, s->order[i]);
        shown++;
    }
    if (!s->nsites)
        fprintf(f, "  (no stacks were recorded, so no call sites: `winmem run --stack N`)\n");
    else if (!own && !o->all_frames)
        fprintf(f, "  (no frame in the program's own code: is it built with symbols, or is this Wine on its own?)\n");
    size_t own_left = own > shown ? own - shown : 0, sys_left = s->nsites - shown - own_left;
    if (own_left || sys_left)
        fprintf(f, "  ... %zu more of the program's sites and %zu of Wine and the runtime on their own (--top N%s)\n",
                own_left, sys_left, o->all_frames ? "" : ", --all-frames");
}

static void print_failures(FILE *f, const report_stats *s)
{
    if (!s->nfails)
        return;
    fprintf(f, "\nFailed calls, by call site\n");
    for (size_t i = 0; i < s->nfails && i < 20; i++) {
        const rs_fail *x = &s->fails[i];
        char code[96], lab[128];
        call_code_name(x->example, code, sizeof code);
        call_label(lab, sizeof lab, x->w32, x->api);
        fprintf(f, "  %6llu  %s %s\n          from %s\n", (unsigned long long)x->n, lab, code, site_label(s, x->site));
    }
    if (s->nfails > 20)
        fprintf(f, "  ... %zu more\n", s->nfails - 20);
}

static void print_wx(FILE *f, const report_stats *s)
{
    if (!s->nwx)
        return;
    char b[32], lab[128];
    fprintf(f, "\nWritable and executable memory (%s still so at the end)\n", report_bytes(b, sizeof b, s->wx_held));
    for (size_t i = 0; i < s->nwx && i < 20; i++) {
        const rs_wx *x = &s->wx[i];
        snprintf(lab, sizeof lab, "%s%s", x->w32 ? " through " : "", x->w32 ? x->w32 : "");
        fprintf(f, "  %9s  %s%s by %s (%llu call%s)\n", report_bytes(b, sizeof b, x->bytes), wm_protect_name(x->protect),
                lab, site_label(s, x->site), (unsigned long long)x->n, x->n == 1 ? "" : "s");
    }
}

static void print_held(tr_trace *t, FILE *f, const report_stats *s, const report_opts *o)
{
    char b[32], r[32];
    int shown = 0;
    for (size_t i = 0; i < s->nsites; i++) {
        const rs_site *x = &s->sites[s->order[i]];
        if (!x->own || (!x->held_commit && !x->held_reserve) || shown >= o->top_sites)
            continue;
        if (!shown++)
            fprintf(f, "\nStill held %s, by who allocated it\n", t->end ? "at exit" : "when the trace ends");
        fprintf(f, "  %9s committed %9s reserved  %s\n", report_bytes(b, sizeof b, x->held_commit),
                report_bytes(r, sizeof r, x->held_reserve), site_label(s, s->order[i]));
    }
}

static void print_apis(FILE *f, const report_stats *s)
{
    fprintf(f, "\nCalls per API                      calls    failed     p50       p90       p99       max     total\n");
    for (unsigned i = 0; i < WMT_API_MAX; i++) {
        const rs_api *a = &s->api[i];
        if (!a->calls)
            continue;
        char p50[16] = "-", p90[16] = "-", p99[16] = "-", mx[16] = "-", tot[16] = "-";
        if (a->hist) {
            fmt_ns(p50, sizeof p50, rs_percentile(a, 0.50));
            fmt_ns(p90, sizeof p90, rs_percentile(a, 0.90));
            fmt_ns(p99, sizeof p99, rs_percentile(a, 0.99));
            fmt_ns(mx, sizeof mx, a->max_ns);
            fmt_ns(tot, sizeof tot, a->total_ns);
        }
        fprintf(f, "  %-30s %9llu %9llu %9s %9s %9s %9s %9s\n", call_api_name(i),
                (unsigned long long)a->calls, (unsigned long long)a->failed, p50, p90, p99, mx, tot);
    }
}

static void print_threads(tr_trace *t, FILE *f, const report_stats *s)
{
    if (t->nthreads <= 1)
        return;
    fprintf(f, "\nThreads                              calls    failed\n");
    for (size_t i = 0; i < t->nthreads && i < 16; i++)
        fprintf(f, "  %-8u %-24s %9llu %9llu\n", t->threads[i].tid, t->threads[i].name[0] ? t->threads[i].name : "?",
                (unsigned long long)s->th_calls[i], (unsigned long long)s->th_failed[i]);
    if (t->nthreads > 16)
        fprintf(f, "  ... %zu more threads\n", t->nthreads - 16);
}

static int err_cmp(const void *a, const void *b)
{
    const rs_err *x = a, *y = b;
    return x->n != y->n ? (x->n < y->n ? 1 : -1) : (x->api > y->api) - (x->api < y->api);
}

static void print_errors(FILE *f, report_stats *s, const report_opts *o)
{
    if (!s->nerr)
        return;
    qsort(s->errs, s->nerr, sizeof *s->errs, err_cmp);
    fprintf(f, "\nFailures by error code\n");
    for (size_t i = 0; i < s->nerr && (int)i < o->top_errors; i++) {
        char code[96];
        call_code_name(s->errs[i].example, code, sizeof code);
        fprintf(f, "  %9llu  %-28s %s\n", (unsigned long long)s->errs[i].n, call_api_name(s->errs[i].api), code);
    }
    if (s->nerr > (size_t)o->top_errors)
        fprintf(f, "  ... %zu more (api, code) pairs\n", s->nerr - (size_t)o->top_errors);
}

static void print_stack(tr_trace *t, FILE *f, uint32_t id, int max)
{
    const struct wmt_stack *st = tr_stack(t, id);
    if (!st) {
        fprintf(f, "      (stack %u not in the readable part of the trace)\n", id);
        return;
    }
    const struct wmt_frame *fr = tr_frames(st);
    char name[512], src[300];
    for (int i = 0; i < st->nframes && i < max; i++) {
        tr_frame_name(t, &fr[i], name, sizeof name);
        tr_frame_source(t, &fr[i], src, sizeof src);
        fprintf(f, "      #%-2d %s%s\n", i, name, src);
    }
    if (st->nframes > max)
        fprintf(f, "      ... %d more frames\n", st->nframes - max);
    else if (st->flags & WMT_SF_TRUNCATED)
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

/* The raw stacks, those through the program's own code first, most
 * frequent first: the frame named is the first outside the system DLLs. */
static void print_stacks(tr_trace *t, FILE *f, report_stats *s, const report_opts *o)
{
    if (!s->nstacks) {
        if (t->ncalls)
            fprintf(f, "\nNo stacks were recorded (WINMEM_STACK=0, or `winmem run --stack N`).\n");
        return;
    }
    if (o->top_sites <= 0)
        return;
    fprintf(f, "\nTop call sites (%zu distinct stacks%s)\n", s->nstacks,
            s->nostack ? "; some calls were recorded without a stack" : "");
    for (size_t i = 0; i < s->nstacks && (int)i < o->top_sites; i++) {
        const rs_stack *k = &s->stacks[i];
        char from[512];
        origin(t, k->stack, from, sizeof from);
        fprintf(f, "  %llu calls to %s%s%s", (unsigned long long)k->n, call_api_name(k->top_api), from[0] ? " from " : "", from);
        if (k->failed)
            fprintf(f, ", %llu failed", (unsigned long long)k->failed);
        fputc('\n', f);
        if (!o->brief)
            print_stack(t, f, k->stack, o->frames);
    }
}

static void print_divergences(tr_trace *t, FILE *f, const report_opts *o)
{
    if (!t->ndivs) {
        if (t->hdr->mode == WMT_MODE_CHECK)
            fprintf(f, "\nCheck mode: no divergence between Wine's answers and the kernel.\n");
        return;
    }
    fprintf(f, "\nCheck-mode divergences: %zu (Wine's answer contradicts the kernel or the calls it was given)\n", t->ndivs);
    for (size_t i = 0; i < t->ndivs && i < (o->brief ? 3u : 10u); i++) {
        const struct wmt_divergence *d = t->divs[i];
        fprintf(f, "  %s call %llu (thread %u) at 0x%llx: ", call_api_name(d->api),
                (unsigned long long)d->call_seq, d->tid, (unsigned long long)d->address);
        if (d->kind == WMT_DIV_NO_MAPPING)
            fprintf(f, "Wine says %s %s, the kernel has nothing mapped\n", wm_state_name(d->wine_state),
                    wm_protect_name(d->wine_protect));
        else if (d->kind == WMT_DIV_MODEL)
            fprintf(f, "Wine says %s %s, the calls it was given set %s %s\n", wm_state_name(d->wine_state),
                    wm_protect_name(d->wine_protect), wm_state_name(d->native_state),
                    wm_protect_name(d->native_protect));
        else
            fprintf(f, "Wine says %s, the kernel's VMA [0x%llx-0x%llx) means %s\n", wm_protect_name(d->wine_protect),
                    (unsigned long long)d->vma_start, (unsigned long long)d->vma_end, wm_protect_name(d->kernel_protect));
        if (d->native_state && d->kind != WMT_DIV_MODEL)
            fprintf(f, "      winmem answers %s %s\n", wm_state_name(d->native_state), wm_protect_name(d->native_protect));
    }
    if (t->ndivs > 10 && !o->brief)
        fprintf(f, "  ... %zu more (winmem export --format jsonl lists them all)\n", t->ndivs - 10);
}

static void print_all(tr_trace *t, FILE *f, report_stats *s, const report_opts *o)
{
    print_header(t, f, s, o);
    if (s->mem_calls || s->nsites) {
        print_ledger_totals(t, f, s);
        print_sites(f, s, o);
        print_failures(f, s);
        print_wx(f, s);
        print_held(t, f, s, o);
    }
    print_apis(f, s);
    print_threads(t, f, s);
    print_errors(f, s, o);
    print_stacks(t, f, s, o);
    print_divergences(t, f, o);
}

/* Collects once; prints to f and, when html is not NULL, writes the page. */
static int report_run(tr_trace *t, FILE *f, const report_opts *o, const char *html)
{
    report_stats s;
    if (report_collect(t, o->filter, o->all_frames, &s)) {
        fprintf(stderr, "winmem report: out of memory\n");
        report_stats_free(&s);
        return -1;
    }
    report_sources(t, &s, s.nsites < 500 ? s.nsites : 500);
    print_all(t, f, &s, o);
    int rc = html ? html_write(t, html, &s) : 0;
    report_stats_free(&s);
    return rc;
}

int report_print(tr_trace *t, FILE *f, const report_opts *o)
{
    return report_run(t, f, o, NULL);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem report [--top N] [--frames N] [--brief] [--all-frames] [--html FILE]\n"
               "                     [--thread TID] [--time FROM-TO] [--only-from MODULE|FUNCTION] [--api NAME] FILE\n\n"
               "Leads with the memory ledger: what the program asked for, by the names it\n"
               "called (VirtualAlloc, VirtualProtect, MapViewOfFile, HeapAlloc growth... with\n"
               "the Nt call beside), per call site in its own code (Wine, ntdll and the C\n"
               "runtime folded away), named with function, source file:line and inlined\n"
               "frames: bytes reserved, committed, freed, still held at the end, made\n"
               "writable+executable, and failures. Then the peak commit and when, calls per\n"
               "API with latency percentiles, failures by error code, the top stacks, and\n"
               "check-mode divergences. A cut or damaged trace is reported up to the damage\n"
               "(exit status 1 then).\n\n"
               "  --top N          call sites and stacks to show (default 10)\n"
               "  --frames N       frames per stack (default 12)\n"
               "  --brief          no stacks\n"
               "  --all-frames     call sites in Wine's DLLs and the runtime too (no folding)\n"
               "  --html FILE      also write one self-contained HTML page: commit over time,\n"
               "                   a sortable call-site table, failures, the address space at the end\n"
               "  --thread TID     only calls of these threads (TID,TID... or repeated)\n"
               "  --time FROM-TO   only calls started in that window, seconds from the first\n"
               "                   call (\"0.5-2\", \"10ms-20ms\", \"1-\")\n"
               "  --only-from X    only calls with a frame in module or function X\n"
               "  --api NAME       only these calls (Nt name or the Win32 name: VirtualProtect,\n"
               "                   HeapAlloc for its growth)\n\n"
               "Filters choose the calls counted; the ledger still replays every call, so\n"
               "bytes held at the end stay true. Source lines come from llvm-symbolizer (PE\n"
               "and ELF DWARF), names from ELF symbol tables, debug files under\n"
               "/usr/lib/debug and PE export and COFF symbols; never from the network. Set\n"
               "WINEPREFIX to the prefix the program ran in to find its DLLs.\n");
}

int cmd_report(int argc, char **argv)
{
    call_filter filt = { 0 };
    report_opts o = { .top_sites = 10, .frames = 12, .top_errors = 20, .filter = &filt };
    const char *html = NULL;
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "top", required_argument, 0, 't' },
        { "frames", required_argument, 0, 'f' }, { "brief", no_argument, 0, 'b' },
        { "all-frames", no_argument, 0, 'A' }, { "html", required_argument, 0, 'H' },
        { "thread", required_argument, 0, 1 }, { "time", required_argument, 0, 2 },
        { "only-from", required_argument, 0, 3 }, { "api", required_argument, 0, 4 }, { 0, 0, 0, 0 }
    };
    static const char *const fnames[] = { "", "thread", "time", "only-from", "api" };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 't': if (!opt_int("report", "top", optarg, 0, 1000000, &o.top_sites)) return 2; break;
        case 'f': if (!opt_int("report", "frames", optarg, 0, 64, &o.frames)) return 2; break;
        case 'b': o.brief = true; break;
        case 'A': o.all_frames = true; break;
        case 'H': html = optarg; break;
        case 1: case 2: case 3: case 4:
            if (filter_add(&filt, fnames[c], optarg))
                return 2;
            break;
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
    int rc = report_run(&t, stdout, &o, html) ? 2 : 0;
    if (!rc && t.cut[0]) {
        fprintf(stderr, "winmem report: %s: %s; reported the readable %llu of %llu bytes\n", t.path, t.cut,
                (unsigned long long)t.good_bytes, (unsigned long long)t.size);
        rc = 1;
    }
    filter_free(&filt);
    tr_close(&t);
    return rc;
}
