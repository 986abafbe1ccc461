/*
 * cli/diff_output.c — the behaviour diff's findings for people (a summary by
 * severity, then each difference with both sides and both stacks) and for
 * CI (one JSON object, strings through cli/export.c's escaper).
 */
#include <stdio.h>
#include <string.h>
#include "calls.h"
#include "diff_compare.h"
#include "json.h"

static const char *const sev_label[S_N] = { "NEW WRITABLE+EXECUTABLE MEMORY", "call site", "failure", "protection",
                                            "leak at exit", "calls/bytes", "threads" };
static const char *const sev_json[S_N] = { "rwx", "site", "failure", "protection", "leak", "size", "threads" };
static const char *const sev_summary[S_N] = { "new writable+executable memory", "call sites new or gone",
                                              "failures new or gone", "protections changed",
                                              "leaks at exit new or gone", "sites beyond the call/byte tolerance",
                                              "thread count changed" };

void diff_human_bytes(uint64_t b, char *buf, size_t len)
{
    if (b >= 10ull << 20)
        snprintf(buf, len, "%llu MiB", (unsigned long long)(b >> 20));
    else if (b >= 10ull << 10)
        snprintf(buf, len, "%llu KiB", (unsigned long long)(b >> 10));
    else
        snprintf(buf, len, "%llu bytes", (unsigned long long)b);
}

const char *diff_code_name(unsigned api, uint32_t code, char *buf, size_t len)
{
    const char *n = call_is_nt(api) ? status_name(code) : call_is_unix(api) ? strerrorname_np((int)code)
                                                                             : win32_error_name(code);
    if (n)
        return n;
    snprintf(buf, len, "0x%08x", code);
    return buf;
}

/* ---- output ---- */

static void show_stack(side *s, const struct wmt_call *c, const char *label, int max)
{
    const struct wmt_stack *st = c ? tr_stack(&s->t, c->stack) : NULL;
    if (!st) {
        printf("      %s stack: %s\n", label, c ? "(none recorded)" : "(not in this trace)");
        return;
    }
    char name[512], src[300];
    int n = diff_good_frames(&s->t, st);
    printf("      %s stack:\n", label);
    for (int i = 0; i < n && i < max; i++) {
        tr_frame_name(&s->t, &tr_frames(st)[i], name, sizeof name);
        tr_frame_source(&s->t, &tr_frames(st)[i], src, sizeof src);
        printf("        #%-2d %s%s\n", i, name, src);
    }
}

static void stats_line(const char *label, const row *r, bool is_b, int nbase)
{
    char h[32], nb[32];
    if (is_b) {
        const beh *b = r ? r->bb : NULL;
        if (!b) {
            printf("      %s: no such calls\n", label);
            return;
        }
        diff_human_bytes(b->bytes, h, sizeof h);
        printf("      %s: %llu calls, %s", label, (unsigned long long)b->n, h);
        for (int i = 0; i < b->nfail; i++)
            printf(", %u x %s", b->fail_n[i], diff_code_name(r->k.api, b->fail_code[i], nb, sizeof nb));
        if (b->live_n)
            printf(", %llu still allocated at exit", (unsigned long long)b->live_n);
        printf("\n");
        return;
    }
    if (!r || !r->in_a) {
        printf("      %s: no such calls\n", label);
        return;
    }
    diff_human_bytes(r->bmax, h, sizeof h);
    if (nbase > 1)
        printf("      %s: %llu..%llu calls in %d of %d runs, up to %s", label, (unsigned long long)r->cmin,
               (unsigned long long)r->cmax, r->in_a, nbase, h);
    else
        printf("      %s: %llu calls, %s", label, (unsigned long long)r->cmax, h);
    for (int i = 0; i < r->ncode; i++)
        printf(", fails with %s", diff_code_name(r->k.api, r->code[i], nb, sizeof nb));
    if (r->live_max)
        printf(", %llu still allocated at exit", (unsigned long long)r->live_max);
    printf("\n");
}

void diff_print_text(ctx *x, side *b, const unsigned *count)
{
    const opts *o = x->o;
    printf("Summary:%s\n", x->nf ? "" : " nothing changed beyond the noise rules");
    for (int s = 0; s < S_N; s++)
        if (count[s])
            printf("  %u %s\n", count[s], sev_summary[s]);
    if (x->nf)
        printf("\nDifferences, most severe first:\n");
    for (size_t i = 0; i < x->nf && (int)i < o->max_show; i++) {
        finding *f = &x->f[i];
        row *r = f->b ? f->b : f->a;
        char site[300];
        if (!r) {
            printf("  %zu. [%s] %s\n", i + 1, sev_label[f->sev], f->text);
            continue;
        }
        beh_site_short(o, r->k.site, site, sizeof site);
        printf("  %zu. [%s] %s: %s\n", i + 1, sev_label[f->sev], site, f->text);
        stats_line(x->nbase > 1 ? "A (baselines)" : "A", f->a, false, x->nbase);
        stats_line("B", f->b, true, x->nbase);
        show_stack(f->a ? f->a->sa : b, f->a ? f->a->ba->first : NULL, "A", o->frames);
        show_stack(b, f->b && f->b->bb ? f->b->bb->first : NULL, "B", o->frames);
    }
    if ((size_t)o->max_show < x->nf)
        printf("  ... %zu more differences (--show N prints more)\n", x->nf - (size_t)o->max_show);
    if (o->explain) {
        printf("\nHidden by the noise rules (--explain): %zu\n", x->nh);
        for (size_t i = 0; i < x->nh; i++)
            printf("  %s\n", x->hidden[i]);
    }
}

static void json_side(FILE *f, const row *r, bool is_b)
{
    char nb[32];
    if (is_b ? !(r && r->bb) : !(r && r->in_a)) {
        fputs("null", f);
        return;
    }
    if (is_b) {
        const beh *b = r->bb;
        fprintf(f, "{\"calls\":%llu,\"bytes\":%llu,\"live_at_exit\":%llu,\"failures\":{", (unsigned long long)b->n,
                (unsigned long long)b->bytes, (unsigned long long)b->live_n);
        for (int i = 0; i < b->nfail; i++) {
            json_str(f, diff_code_name(r->k.api, b->fail_code[i], nb, sizeof nb));
            fprintf(f, ":%u%s", b->fail_n[i], i + 1 < b->nfail ? "," : "");
        }
    } else {
        fprintf(f, "{\"calls_min\":%llu,\"calls_max\":%llu,\"bytes_min\":%llu,\"bytes_max\":%llu,\"live_at_exit\":%llu,\"runs\":%d,\"failures\":{",
                (unsigned long long)r->cmin, (unsigned long long)r->cmax, (unsigned long long)r->bmin,
                (unsigned long long)r->bmax, (unsigned long long)r->live_max, r->in_a);
        for (int i = 0; i < r->ncode; i++) {
            json_str(f, diff_code_name(r->k.api, r->code[i], nb, sizeof nb));
            fprintf(f, ":%d%s", r->code_in[i], i + 1 < r->ncode ? "," : "");
        }
    }
    fputs("}}", f);
}

static void json_stack(FILE *f, side *s, const struct wmt_call *c)
{
    const struct wmt_stack *st = c ? tr_stack(&s->t, c->stack) : NULL;
    char name[512];
    fputc('[', f);
    for (int i = 0, n = st ? diff_good_frames(&s->t, st) : 0; i < n; i++) {
        tr_frame_name(&s->t, &tr_frames(st)[i], name, sizeof name);
        if (i)
            fputc(',', f);
        json_str(f, name);
    }
    fputc(']', f);
}

void diff_print_json(ctx *x, side **base, side *b, const unsigned *count)
{
    FILE *f = stdout;
    fputs("{\"a\":[", f);
    for (int i = 0; i < x->nbase; i++) {
        json_str(f, base[i]->t.path);
        fputs(i + 1 < x->nbase ? "," : "", f);
    }
    fputs("],\"b\":", f);
    json_str(f, b->t.path);
    fprintf(f, ",\"verdict\":\"%s\",\"differences\":%zu,\"summary\":{", x->nf ? "different" : "same", x->nf);
    for (int s = 0, first = 1; s < S_N; s++)
        if (count[s])
            fprintf(f, "%s\"%s\":%u", first ? "" : ",", sev_json[s], count[s]), first = 0;
    fputs("},\"items\":[", f);
    for (size_t i = 0; i < x->nf; i++) {
        finding *fd = &x->f[i];
        row *r = fd->b ? fd->b : fd->a;
        char req[256], site[300];
        fprintf(f, "%s{\"severity\":%d,\"kind\":\"%s\",\"text\":", i ? "," : "", fd->sev, sev_json[fd->sev]);
        json_str(f, fd->text);
        if (r) {
            beh_site_short(x->o, r->k.site, site, sizeof site);
            fputs(",\"where\":", f);
            json_str(f, site);
            fputs(",\"site\":", f);
            json_str(f, diff_site_name(x->o, r->k.site));
            fputs(",\"api\":", f);
            json_str(f, call_api_name(r->k.api));
            if (fd->a) {
                beh_request(&fd->a->k, req, sizeof req);
                fputs(",\"request_a\":", f);
                json_str(f, req);
            }
            if (fd->b) {
                beh_request(&fd->b->k, req, sizeof req);
                fputs(",\"request_b\":", f);
                json_str(f, req);
            }
        }
        fputs(",\"a\":", f);
        json_side(f, fd->a, false);
        fputs(",\"b\":", f);
        json_side(f, fd->b, true);
        fputs(",\"stack_a\":", f);
        json_stack(f, fd->a ? fd->a->sa : b, fd->a ? fd->a->ba->first : NULL);
        fputs(",\"stack_b\":", f);
        json_stack(f, b, fd->b && fd->b->bb ? fd->b->bb->first : NULL);
        fputc('}', f);
    }
    fputs("],\"hidden\":[", f);
    for (size_t i = 0; i < x->nh; i++) {
        if (i)
            fputc(',', f);
        json_str(f, x->hidden[i]);
    }
    fputs("]}\n", f);
}

