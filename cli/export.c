/*
 * cli/export.c — `winmem export --format chrome|folded|jsonl FILE`.
 *
 * chrome: Chrome trace-event JSON for chrome://tracing and Perfetto. One
 *   complete ("X") event per call; Perfetto rejects overlapping X events on
 *   one thread, so each thread's calls are emitted in seq order with a
 *   duration clamped to end at the next call's start; a call that never
 *   returned becomes an instant ("i") event. The JSON is built from the
 *   readable part only, so it is complete even when the trace was cut.
 * folded: "outer;...;inner;API count" lines for speedscope and flamegraph.pl.
 * jsonl: one JSON object per line (modules, stacks, calls, divergences, and
 *   a closing summary) for scripts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "maps.h"
#include "trace_read.h"

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* API, result, arguments and outputs as a JSON object's members (no braces). */
static void call_args_json(FILE *f, const struct wmt_call *c)
{
    char buf[256];
    const char *names[10];
    int n = call_arg_names(c->api, buf, sizeof buf, names);
    fprintf(f, "\"api\":\"%s\",\"ret\":\"0x%llx\"", call_api_name(c->api), (unsigned long long)c->ret);
    if (call_is_nt(c->api)) {
        const char *sn = status_name(c->status);
        fprintf(f, ",\"status\":\"%s\"", sn ? sn : "");
        fprintf(f, ",\"status_code\":\"0x%08x\"", c->status);
    } else {
        fprintf(f, ",\"error\":%u", c->error);
    }
    fprintf(f, ",\"failed\":%s,\"pending\":%s", call_failed(c) ? "true" : "false",
            c->flags & WMT_CF_PENDING ? "true" : "false");
    /* nested: argument names ("type", "size"...) must not collide with ours */
    fprintf(f, ",\"args\":{");
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\"%s\":\"0x%llx\"", i ? "," : "", names[i], (unsigned long long)c->arg[i]);
    fprintf(f, "},\"out\":[");
    for (int i = 0; i < 8; i++)
        fprintf(f, "%s\"0x%llx\"", i ? "," : "", (unsigned long long)c->out[i]);
    fputc(']', f);
}

static uint64_t first_ns(const tr_trace *t)
{
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].first_ns < m)
            m = t->threads[i].first_ns;
    return m == UINT64_MAX ? 0 : m;
}

static void export_chrome(tr_trace *t, FILE *f)
{
    uint64_t t0 = first_ns(t);
    unsigned pid = t->hdr->pid;
    fprintf(f, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":", pid, pid);
    json_str(f, *t->prog ? t->prog : tr_basename(t->exe));
    fprintf(f, "}}");
    for (size_t i = 0; i < t->nthreads; i++) {
        const tr_thread *th = &t->threads[i];
        fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":", pid, th->tid);
        json_str(f, th->name[0] ? th->name : "thread");
        fprintf(f, "}}");
        for (uint64_t s = 0; s < th->ncalls; s++) {
            const struct wmt_call *c = th->calls[s];
            if (!c || c->start_ns < t0)
                continue;
            /* next call's start on this thread bounds this one's end */
            uint64_t next = UINT64_MAX;
            for (uint64_t k = s + 1; k < th->ncalls; k++)
                if (th->calls[k]) {
                    next = th->calls[k]->start_ns;
                    break;
                }
            uint64_t start = c->start_ns - t0;
            if (c->flags & WMT_CF_PENDING) {
                fprintf(f, ",\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s (never returned)\",\"pid\":%u,\"tid\":%u,\"ts\":%llu.%03llu,\"args\":{",
                        call_api_name(c->api), pid, th->tid, (unsigned long long)(start / 1000), (unsigned long long)(start % 1000));
            } else {
                uint64_t dur = c->dur_ns;
                if (next != UINT64_MAX && c->start_ns + dur > next)
                    dur = next > c->start_ns ? next - c->start_ns : 0;
                fprintf(f, ",\n{\"ph\":\"X\",\"name\":\"%s\",\"cat\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%llu.%03llu,\"dur\":%llu.%03llu,",
                        call_api_name(c->api), call_failed(c) ? "failed" : "ok", pid, th->tid,
                        (unsigned long long)(start / 1000), (unsigned long long)(start % 1000),
                        (unsigned long long)(dur / 1000), (unsigned long long)(dur % 1000));
                if (c->stack && tr_stack(t, c->stack))
                    fprintf(f, "\"sf\":\"s%u.0\",", c->stack);
                fprintf(f, "\"args\":{");
            }
            fprintf(f, "\"seq\":%llu,", (unsigned long long)c->seq);
            call_args_json(f, c);
            fprintf(f, "}}");
        }
    }
    fprintf(f, "\n],\"stackFrames\":{");
    /* Frame i of stack S is "sS.i"; its parent is the next outer frame. */
    bool first = true;
    char name[512];
    for (size_t i = 0; i < t->stack_cap; i++) {
        const struct wmt_stack *s = t->stacks[i];
        if (!s)
            continue;
        const struct wmt_frame *fr = tr_frames(s);
        for (unsigned k = 0; k < s->nframes; k++) {
            tr_frame_name(t, &fr[k], name, sizeof name);
            fprintf(f, "%s\n\"s%u.%u\":{\"name\":", first ? "" : ",", s->id, k);
            first = false;
            json_str(f, name);
            if (k + 1 < s->nframes)
                fprintf(f, ",\"parent\":\"s%u.%u\"", s->id, k + 1);
            fputc('}', f);
        }
    }
    fprintf(f, "\n},\"metadata\":{\"winmem-trace\":");
    json_str(f, t->path);
    fprintf(f, ",\"cut\":");
    json_str(f, t->cut);
    fprintf(f, "}}\n");
}

/* Folded stacks: aggregate identical (stack, api) pairs, outermost first. */
typedef struct fold { uint32_t stack; uint16_t api; uint64_t n, ns; } fold;

static int fold_cmp(const void *a, const void *b)
{
    const fold *x = a, *y = b;
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    return (x->api > y->api) - (x->api < y->api);
}

static void export_folded(tr_trace *t, FILE *f, bool by_time)
{
    size_t n = 0, cap = 1024;
    fold *v = malloc(cap * sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < t->nthreads; i++)
        for (uint64_t s = 0; s < t->threads[i].ncalls; s++) {
            const struct wmt_call *c = t->threads[i].calls[s];
            if (!c)
                continue;
            if (n == cap) {
                fold *nv = realloc(v, (cap *= 2) * sizeof *nv);
                if (!nv)
                    goto out;
                v = nv;
            }
            v[n++] = (fold){ c->stack, c->api, 1, c->flags & WMT_CF_PENDING ? 0 : c->dur_ns };
        }
    qsort(v, n, sizeof *v, fold_cmp);
    char name[512];
    for (size_t i = 0; i < n;) {
        size_t j = i;
        uint64_t cnt = 0, ns = 0;
        while (j < n && v[j].stack == v[i].stack && v[j].api == v[i].api)
            cnt += v[j].n, ns += v[j].ns, j++;
        const struct wmt_stack *s = tr_stack(t, v[i].stack);
        fputs(*t->prog ? t->prog : tr_basename(t->exe), f);
        if (s)
            for (int k = s->nframes - 1; k >= 0; k--) {
                tr_frame_name(t, &tr_frames(s)[k], name, sizeof name);
                for (char *p = name; *p; p++)   /* ';' separates frames, ' ' the count */
                    if (*p == ';' || *p == ' ')
                        *p = '_';
                fprintf(f, ";%s", name);
            }
        fprintf(f, ";%s %llu\n", call_api_name(v[i].api), (unsigned long long)(by_time ? ns : cnt));
        i = j;
    }
out:
    free(v);
}

static void export_jsonl(tr_trace *t, FILE *f)
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
    for (size_t i = 0; i < t->nthreads; i++)
        for (uint64_t s = 0; s < t->threads[i].ncalls; s++) {
            const struct wmt_call *c = t->threads[i].calls[s];
            if (!c)
                continue;
            fprintf(f, "{\"type\":\"call\",\"tid\":%u,\"seq\":%llu,\"start_ns\":%llu,\"dur_ns\":%llu,\"stack\":%u,\"flags\":%u,",
                    c->tid, (unsigned long long)c->seq, (unsigned long long)c->start_ns,
                    (unsigned long long)c->dur_ns, c->stack, c->flags);
            call_args_json(f, c);
            fprintf(f, "}\n");
        }
    for (size_t i = 0; i < t->ndivs; i++) {
        const struct wmt_divergence *d = t->divs[i];
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
    fprintf(f, "{\"type\":\"summary\",\"calls\":%llu,\"threads\":%zu,\"exited\":%s,\"readable_bytes\":%llu,\"size\":%llu,\"cut\":",
            (unsigned long long)t->ncalls, t->nthreads, t->end ? "true" : "false",
            (unsigned long long)t->good_bytes, (unsigned long long)t->size);
    json_str(f, t->cut);
    fprintf(f, "}\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem export --format chrome|folded|jsonl [-o OUT] [--weight calls|time] FILE\n\n"
               "  chrome   Chrome trace-event JSON: open in chrome://tracing or ui.perfetto.dev;\n"
               "           one slice per call with its arguments, result and stack\n"
               "  folded   folded stacks (\"outer;...;inner;API count\") for speedscope,\n"
               "           flamegraph.pl and inferno; --weight time weighs by nanoseconds\n"
               "  jsonl    one JSON object per line: header, modules, stacks, calls,\n"
               "           divergences, then a summary (with \"cut\" when the trace was cut)\n\n"
               "  -o OUT   write to OUT instead of standard output\n\n"
               "A cut trace exports its readable part (still valid JSON) and exits 1.\n");
}

int cmd_export(int argc, char **argv)
{
    const char *format = NULL, *out = NULL;
    bool by_time = false;
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "format", required_argument, 0, 'f' },
        { "output", required_argument, 0, 'o' }, { "weight", required_argument, 0, 'w' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+hf:o:", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'f': format = optarg; break;
        case 'o': out = optarg; break;
        case 'w': by_time = !strcmp(optarg, "time"); break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !format ||
        (strcmp(format, "chrome") && strcmp(format, "folded") && strcmp(format, "jsonl"))) {
        usage(stderr);
        return 2;
    }
    tr_trace t;
    char err[512];
    if (tr_open(&t, argv[optind], true, err, sizeof err)) {
        fprintf(stderr, "winmem export: %s\n", err);
        return 2;
    }
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        perror(out);
        tr_close(&t);
        return 2;
    }
    if (!strcmp(format, "chrome"))
        export_chrome(&t, f);
    else if (!strcmp(format, "folded"))
        export_folded(&t, f, by_time);
    else
        export_jsonl(&t, f);
    int rc = 0;
    if ((out ? fclose(f) : fflush(f)) != 0) {
        perror(out ? out : "stdout");
        rc = 2;
    }
    if (!rc && t.cut[0]) {
        fprintf(stderr, "winmem export: %s: %s; exported the readable %llu of %llu bytes\n", t.path, t.cut,
                (unsigned long long)t.good_bytes, (unsigned long long)t.size);
        rc = 1;
    }
    tr_close(&t);
    return rc;
}
