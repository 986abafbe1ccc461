/*
 * cli/export.c — `winmem export --format chrome|speedscope|folded|jsonl FILE`.
 *
 * chrome: Chrome trace-event JSON that Perfetto (ui.perfetto.dev), speedscope
 *   and chrome://tracing all read with the call stacks: per thread, nested
 *   B/E slices, one per frame (outermost first) with the API as the leaf, so
 *   a viewer draws a flame chart; frames shared by consecutive calls stay
 *   open between them. Counter events ("ph":"C") carry committed, reserved
 *   and mapped bytes over time (the report's ledger). A call's arguments are
 *   on its leaf slice, decoded by name. A call that never returned is a
 *   zero-length slice "(never returned)".
 * speedscope: speedscope's own file format, one profile weighted by calls
 *   and one by bytes (committed or mapped by each call).
 * folded: "outer;...;inner;API weight" lines for flamegraph.pl, inferno and
 *   speedscope, frames named by function (module!function), so one function
 *   is one box; --weight calls|bytes|time.
 * jsonl: one JSON object per line (header, modules, stacks, calls,
 *   divergences, and a closing summary) for scripts.
 *
 * The report's filters (--thread, --time, --only-from, --api) choose the
 * calls exported. Every string goes through cli/json.c, so names with any
 * bytes still give valid JSON; a cut trace exports its readable part.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "calls.h"
#include "export.h"
#include "json.h"
#include "maps.h"
#include "report_stats.h"
#include "files.h"
#include "options.h"

/* "kernelbase.dll!VirtualAlloc" (by function, demangled) or "app.exe+0x15e4". */
void export_frame_label(tr_trace *t, const struct wmt_frame *fr, char *buf, size_t len)
{
    tr_sym y;
    char dem[512];
    if (!tr_frame_sym(t, fr, &y))
        tr_frame_name(t, fr, buf, len);
    else if (y.func)
        snprintf(buf, len, "%s!%s", y.module, tr_demangle(y.func, dem, sizeof dem));
    else
        snprintf(buf, len, "%s+0x%llx", y.module, (unsigned long long)fr->addr);
}

char *const *exp_labels(exp_ctx *x, uint32_t stack, int *n)
{
    static char *const none[1] = { NULL };
    size_t slot = tr_stack_slot(x->t, stack);
    *n = 0;
    if (slot == SIZE_MAX)
        return none;
    if (!x->labels) {
        x->labels = calloc(x->t->stack_cap, sizeof *x->labels);
        x->nlabels = calloc(x->t->stack_cap, sizeof *x->nlabels);
        if (!x->labels || !x->nlabels)
            return NULL;
    }
    if (!x->labels[slot]) {
        const struct wmt_stack *s = x->t->stacks[slot];
        char **v = calloc(s->nframes + 1u, sizeof *v), name[512];
        if (!v)
            return NULL;
        for (int k = s->nframes - 1, i = 0; k >= 0; k--, i++) {
            export_frame_label(x->t, &tr_frames(s)[k], name, sizeof name);
            if (!(v[i] = strdup(name)))
                return NULL;
        }
        x->labels[slot] = v, x->nlabels[slot] = s->nframes;
    }
    *n = x->nlabels[slot];
    return x->labels[slot];
}

void exp_free(exp_ctx *x)
{
    for (size_t i = 0; x->labels && i < x->t->stack_cap; i++) {
        for (int k = 0; x->labels[i] && k < x->nlabels[i]; k++)
            free(x->labels[i][k]);
        free(x->labels[i]);
    }
    free(x->labels);
    free(x->nlabels);
    x->labels = NULL, x->nlabels = NULL;
}

/* The calls to export: in the filter, in thread then seq order. */
static bool wanted(exp_ctx *x, const struct wmt_call *c, const char **w32)
{
    rs_site_of(x->t, &x->s, c, w32);
    return !x->f || filter_match(x->f, x->t, c, *w32);
}

static void ts(FILE *f, uint64_t ns)
{
    fprintf(f, "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

/* ---- chrome: nested slices ---- */

typedef struct open_stack { int n, cap; const char **name; } open_stack;

static char *put_u(char *w, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10));
    while (n)
        *w++ = tmp[--n];
    return w;
}

static char *put_s(char *w, const char *s)
{
    size_t n = strlen(s);
    memcpy(w, s, n);
    return w + n;
}

/* One B or E event, built in a buffer and written at once: these are most
 * of a chrome export, and printf's parsing was most of its time. */
static void ev(FILE *f, char ph, const char *name, unsigned pid, unsigned tid, uint64_t t)
{
    char buf[6 * 512 + 128], *w = buf;
    char cut[512];
    if (strlen(name) >= sizeof cut) {   /* labels are < 512 bytes; keep the bound explicit */
        memcpy(cut, name, sizeof cut - 1);
        cut[sizeof cut - 1] = 0;
        name = cut;
    }
    w = put_s(w, ",\n{\"ph\":\"");
    *w++ = ph;
    w = put_s(w, "\",\"pid\":");
    w = put_u(w, pid);
    w = put_s(w, ",\"tid\":");
    w = put_u(w, tid);
    w = put_s(w, ",\"ts\":");
    w = put_u(w, t / 1000);
    *w++ = '.';
    *w++ = (char)('0' + t % 1000 / 100), *w++ = (char)('0' + t % 100 / 10), *w++ = (char)('0' + t % 10);
    w = put_s(w, ",\"name\":\"");
    w = json_escape(w, name);
    w = put_s(w, "\"}");
    fwrite(buf, 1, (size_t)(w - buf), f);
}

static void close_to(FILE *f, open_stack *o, int keep, unsigned pid, unsigned tid, uint64_t t)
{
    while (o->n > keep) {
        o->n--;
        ev(f, 'E', o->name[o->n], pid, tid, t);
    }
}

/* One call: close the frames it does not share with the open ones, open
 * its own, then its leaf slice with the arguments. */
static void chrome_call(exp_ctx *x, FILE *f, open_stack *o, const struct wmt_call *c, const char *w32,
                        uint64_t end_prev, uint64_t next_start)
{
    unsigned pid = x->t->hdr->pid, tid = c->tid;
    int n;
    char *const *v = exp_labels(x, c->stack, &n);
    if (!v)
        return;
    if (n > o->cap) {
        const char **nn = realloc(o->name, (size_t)n * sizeof *nn);
        if (!nn)
            return;
        o->name = nn, o->cap = n;
    }
    bool pend = c->flags & WMT_CF_PENDING;
    char leaf[64];
    snprintf(leaf, sizeof leaf, "%s%s", call_api_name(c->api), pend ? " (never returned)" : "");
    uint64_t start = c->start_ns - x->s.t0, end = pend ? start : start + c->dur_ns;
    if (next_start != UINT64_MAX && end > next_start)
        end = next_start > start ? next_start : start;
    int same = 0;
    while (same < o->n && same < n && (o->name[same] == v[same] || !strcmp(o->name[same], v[same])))
        same++;
    close_to(f, o, same, pid, tid, end_prev);
    for (int k = same; k < n; k++) {
        ev(f, 'B', v[k], pid, tid, start);
        o->name[o->n++] = v[k];
    }
    fprintf(f, ",\n{\"ph\":\"B\",\"pid\":%u,\"tid\":%u,\"cat\":\"%s\",\"ts\":", pid, tid, call_failed(c) ? "failed" : "ok");
    ts(f, start);
    fprintf(f, ",\"name\":");
    json_str(f, leaf);
    fprintf(f, ",\"args\":{\"seq\":%llu,", (unsigned long long)c->seq);
    if (w32) {
        fprintf(f, "\"called_as\":");
        json_str(f, w32);
        fputc(',', f);
    }
    args_call_json(f, c);
    fprintf(f, "}}");
    ev(f, 'E', leaf, pid, tid, end);
}

static void chrome_thread(exp_ctx *x, FILE *f, const tr_thread *th)
{
    unsigned pid = x->t->hdr->pid;
    fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":", pid, th->tid);
    json_str(f, th->name[0] ? th->name : "thread");
    fprintf(f, "}}");
    open_stack ost = { 0 }, *o = &ost;
    uint64_t end_prev = 0;
    const struct wmt_call *prev = NULL;
    const char *prev_w32 = NULL;
    /* one call behind, so each knows where the next one starts */
    for (uint64_t q = 0; q <= th->ncalls; q++) {
        const struct wmt_call *c = q < th->ncalls ? th->calls[q] : NULL;
        const char *w32 = NULL;
        if (q < th->ncalls && (!c || c->start_ns < x->s.t0 || !wanted(x, c, &w32)))
            continue;
        if (prev) {
            chrome_call(x, f, o, prev, prev_w32, end_prev, c ? c->start_ns - x->s.t0 : UINT64_MAX);
            uint64_t e = prev->start_ns - x->s.t0 + (prev->flags & WMT_CF_PENDING ? 0 : prev->dur_ns);
            end_prev = c && e > c->start_ns - x->s.t0 ? c->start_ns - x->s.t0 : e;
        }
        prev = c, prev_w32 = w32;
    }
    close_to(f, o, 0, pid, th->tid, end_prev);
    free(o->name);
}

static void export_chrome(exp_ctx *x, FILE *f)
{
    tr_trace *t = x->t;
    unsigned pid = t->hdr->pid;
    /* No displayTimeUnit: the format's ts is in microseconds whatever it
     * says, but Perfetto's importer (up to 2022) read "ns" as nanosecond
     * timestamps and drew a 35 ms run as 35 µs (tests/e2e/cli_viewers.sh). */
    fprintf(f, "{\"traceEvents\":[\n");
    fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":", pid, pid);
    json_str(f, *t->prog ? t->prog : tr_basename(t->exe));
    fprintf(f, "}}");
    for (size_t i = 0; i < t->nthreads; i++)
        chrome_thread(x, f, &t->threads[i]);
    for (size_t i = 0; i < x->s.npoints; i++) {
        const rs_point *p = &x->s.points[i];
        fprintf(f, ",\n{\"ph\":\"C\",\"name\":\"memory (bytes)\",\"pid\":%u,\"tid\":%u,\"ts\":", pid, pid);
        ts(f, p->t_ns);
        fprintf(f, ",\"args\":{\"committed\":%llu,\"reserved\":%llu,\"mapped\":%llu}}", (unsigned long long)p->committed,
                (unsigned long long)p->reserved, (unsigned long long)p->mapped);
    }
    fprintf(f, "\n],\"metadata\":{\"winmem-trace\":");
    json_str(f, t->path);
    fprintf(f, ",\"cut\":");
    json_str(f, t->cut);
    fprintf(f, "}}\n");
}

/* ---- jsonl ---- */

static void jsonl_head(tr_trace *t, FILE *f)
{
    const struct wmt_header *h = t->hdr;
    fprintf(f, "{\"type\":\"header\",\"pid\":%u,\"ppid\":%u,\"mode\":%u,\"flags\":%u,\"stack_depth\":%u,\"exe\":",
            h->pid, h->ppid, h->mode, h->flags, h->stack_depth);
    json_str(f, t->exe);
    fprintf(f, ",\"program\":");
    json_str(f, t->prog);
    fprintf(f, "}\n");
    for (size_t i = 0; i < t->nmods; i++) {
        const struct wmt_module *m = t->mods[i].rec;
        fprintf(f, "{\"type\":\"module\",\"id\":%u,\"kind\":\"%s\",\"base\":\"0x%llx\",\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"path\":",
                m->id, m->kind == WMT_MOD_PE ? "pe" : "elf", (unsigned long long)m->base,
                (unsigned long long)m->start, (unsigned long long)m->end);
        json_str(f, t->mods[i].path);
        fprintf(f, "}\n");
    }
    char name[512];
    for (size_t i = 0; i < t->stack_cap; i++) {
        const struct wmt_stack *s = t->stacks[i];
        if (!s)
            continue;
        fprintf(f, "{\"type\":\"stack\",\"id\":%u,\"frames\":[", s->id);
        for (unsigned k = 0; k < s->nframes; k++) {
            tr_frame_name(t, &tr_frames(s)[k], name, sizeof name);
            if (k)
                fputc(',', f);
            json_str(f, name);
        }
        fprintf(f, "]}\n");
    }
}

static void jsonl_div(FILE *f, const struct wmt_divergence *d)
{
    fprintf(f, "{\"type\":\"divergence\",\"api\":\"%s\",\"kind\":\"%s\",\"tid\":%u,\"call_seq\":%llu,\"address\":\"0x%llx\","
               "\"wine\":{\"base\":\"0x%llx\",\"size\":%llu,\"state\":\"%s\",\"protect\":\"%s\"},"
               "\"kernel\":{\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"protect\":\"%s\"},"
               "\"winmem\":{\"state\":\"%s\",\"protect\":\"%s\"}}\n",
            call_api_name(d->api), d->kind == WMT_DIV_NO_MAPPING ? "no_mapping" : d->kind == WMT_DIV_MODEL ? "model" : "protect", d->tid,
            (unsigned long long)d->call_seq, (unsigned long long)d->address, (unsigned long long)d->wine_base,
            (unsigned long long)d->wine_size, wm_state_name(d->wine_state), wm_protect_name(d->wine_protect),
            (unsigned long long)d->vma_start, (unsigned long long)d->vma_end, wm_protect_name(d->kernel_protect),
            wm_state_name(d->native_state), wm_protect_name(d->native_protect));
}

static void export_jsonl(exp_ctx *x, FILE *f)
{
    tr_trace *t = x->t;
    jsonl_head(t, f);
    for (size_t i = 0; i < t->nthreads; i++)
        for (uint64_t s = 0; s < t->threads[i].ncalls; s++) {
            const struct wmt_call *c = t->threads[i].calls[s];
            const char *w32;
            if (!c || !wanted(x, c, &w32))
                continue;
            fprintf(f, "{\"type\":\"call\",\"tid\":%u,\"seq\":%llu,\"start_ns\":%llu,\"dur_ns\":%llu,\"stack\":%u,\"flags\":%u,",
                    c->tid, (unsigned long long)c->seq, (unsigned long long)c->start_ns,
                    (unsigned long long)c->dur_ns, c->stack, c->flags);
            if (w32) {
                fprintf(f, "\"called_as\":");
                json_str(f, w32);
                fputc(',', f);
            }
            args_call_json(f, c);
            fprintf(f, "}\n");
        }
    for (size_t i = 0; i < t->ndivs; i++)
        jsonl_div(f, t->divs[i]);
    fprintf(f, "{\"type\":\"summary\",\"calls\":%llu,\"threads\":%zu,\"exited\":%s,\"readable_bytes\":%llu,\"size\":%llu,\"cut\":",
            (unsigned long long)t->ncalls, t->nthreads, t->end ? "true" : "false",
            (unsigned long long)t->good_bytes, (unsigned long long)t->size);
    json_str(f, t->cut);
    fprintf(f, "}\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem export --format chrome|speedscope|folded|jsonl [-o OUT] [--weight calls|bytes|time]\n"
               "                     [--thread TID] [--time FROM-TO] [--only-from MODULE|FUNCTION] [--api NAME] FILE\n\n"
               "  chrome      trace-event JSON with the call stacks as nested slices (a flame\n"
               "              chart per thread) and committed/reserved/mapped bytes as counters:\n"
               "              open in ui.perfetto.dev, speedscope or chrome://tracing\n"
               "  speedscope  speedscope's own format: stacks weighted by calls and by bytes\n"
               "  folded      \"outer;...;inner;API weight\" lines, frames by function, for\n"
               "              flamegraph.pl, inferno and speedscope\n"
               "  jsonl       one JSON object per line: header, modules, stacks, calls (arguments\n"
               "              by name: MEM_COMMIT|MEM_RESERVE, PAGE_READWRITE...), divergences,\n"
               "              then a summary (with \"cut\" when the trace was cut)\n\n"
               "  -o OUT           write to OUT instead of standard output\n"
               "  --weight W       folded: calls (default), bytes (allocated: committed,\n"
               "                   reserved or mapped) or time (nanoseconds)\n"
               "  --thread, --time, --only-from, --api   as in `winmem report`\n\n"
               "A cut trace exports its readable part (still valid JSON) and exits 1.\n");
}

static int parse_args(int argc, char **argv, const char **format, const char **out, enum exp_weight *w, call_filter *filt)
{
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "format", required_argument, 0, 'f' },
        { "output", required_argument, 0, 'o' }, { "weight", required_argument, 0, 'w' },
        { "thread", required_argument, 0, 1 }, { "time", required_argument, 0, 2 },
        { "only-from", required_argument, 0, 3 }, { "api", required_argument, 0, 4 }, { 0, 0, 0, 0 }
    };
    static const char *const fnames[] = { "", "thread", "time", "only-from", "api" };
    static const char *const formats[] = { "chrome", "speedscope", "folded", "jsonl" };
    static const char *const weights[] = { "calls", "bytes", "time" };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+hf:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'f':
            if (!opt_choice("export", "format", optarg, formats, 4))
                return 2;
            *format = optarg;
            break;
        case 'o': *out = optarg; break;
        case 'w':
            if (!opt_choice("export", "weight", optarg, weights, 3))
                return 2;
            *w = !strcmp(optarg, "calls") ? W_CALLS : !strcmp(optarg, "bytes") ? W_BYTES : W_TIME;
            break;
        case 1: case 2: case 3: case 4:
            if (filter_add(filt, fnames[c], optarg))
                return 2;
            break;
        default: usage(stderr); return 2;
        }
    }
    bool known = false;
    for (size_t i = 0; *format && i < 4; i++)
        known |= !strcmp(*format, formats[i]);
    if (optind != argc - 1 || !known) {
        usage(stderr);
        return 2;
    }
    /* fopen(out, "w") would truncate the mapped input under the reader. */
    if (*out && file_same(*out, argv[optind])) {
        fprintf(stderr, "winmem export: the output %s is the trace being read; choose another -o\n", *out);
        return 2;
    }
    return -1;   /* go on */
}

int cmd_export(int argc, char **argv)
{
    const char *format = NULL, *out = NULL;
    enum exp_weight w = W_CALLS;
    call_filter filt = { 0 };
    int rc = parse_args(argc, argv, &format, &out, &w, &filt);
    if (rc >= 0)
        return rc;
    exp_ctx x = { .f = filter_active(&filt) ? &filt : NULL };
    tr_trace t;
    char err[512];
    if (tr_open(&t, argv[optind], true, err, sizeof err)) {
        fprintf(stderr, "winmem export: %s\n", err);
        return 2;
    }
    x.t = &t;
    if (report_collect(&t, x.f, false, &x.s)) {
        fprintf(stderr, "winmem export: out of memory\n");
        report_stats_free(&x.s);
        tr_close(&t);
        return 2;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        perror(out);
        rc = 2;
        goto done;
    }
    if (!strcmp(format, "chrome"))
        export_chrome(&x, f);
    else if (!strcmp(format, "speedscope"))
        export_speedscope(&x, f);
    else if (!strcmp(format, "folded"))
        export_folded(&x, f, w);
    else
        export_jsonl(&x, f);
    rc = 0;
    if ((out ? fclose(f) : fflush(f)) != 0) {
        perror(out ? out : "stdout");
        rc = 2;
    }
    if (!rc && t.cut[0]) {
        fprintf(stderr, "winmem export: %s: %s; exported the readable %llu of %llu bytes\n", t.path, t.cut,
                (unsigned long long)t.good_bytes, (unsigned long long)t.size);
        rc = 1;
    }
done:
    exp_free(&x);
    report_stats_free(&x.s);
    filter_free(&filt);
    tr_close(&t);
    return rc;
}
