/* cli/filter.c — see filter.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "calls.h"
#include "filter.h"

static int parse_time(const char *s, uint64_t *ns)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double mul = 1e9;
    if (!strcmp(end, "ms"))
        mul = 1e6;
    else if (!strcmp(end, "us"))
        mul = 1e3;
    else if (!strcmp(end, "ns"))
        mul = 1;
    else if (*end && strcmp(end, "s"))
        return -1;
    *ns = (uint64_t)(v * mul);
    return 0;
}

static int add_list(const char **v, int *n, char *arg)
{
    for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == FILTER_MAX)
            return -1;
        v[(*n)++] = tok;
    }
    return 0;
}

int filter_add(call_filter *f, const char *opt, char *arg)
{
    if (!strcmp(opt, "thread")) {
        for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *end;
            unsigned long v = strtoul(tok, &end, 10);
            if (*end || f->ntids == FILTER_MAX) {
                fprintf(stderr, "winmem: --thread wants thread ids (numbers), not \"%s\"\n", tok);
                return -1;
            }
            f->tids[f->ntids++] = (uint32_t)v;
        }
        return 0;
    }
    if (!strcmp(opt, "time")) {
        char *dash = strchr(arg, '-');
        uint64_t a = 0, b = UINT64_MAX;
        if (dash)
            *dash = 0;
        if (!dash || (*arg && parse_time(arg, &a)) || (dash[1] && parse_time(dash + 1, &b)) || b < a) {
            fprintf(stderr, "winmem: --time wants FROM-TO in seconds from the first call (\"0.5-2\", \"10ms-20ms\", \"1-\")\n");
            return -1;
        }
        f->has_time = true, f->from_ns = a, f->to_ns = b;
        return 0;
    }
    int rc = !strcmp(opt, "only-from") ? add_list(f->from, &f->nfrom, arg)
           : !strcmp(opt, "api")       ? add_list(f->apis, &f->napis, arg) : -1;
    if (rc)
        fprintf(stderr, "winmem: --%s: at most %d names\n", opt, FILTER_MAX);
    return rc;
}

bool filter_active(const call_filter *f)
{
    return f->ntids || f->has_time || f->nfrom || f->napis;
}

int filter_prepare(call_filter *f, tr_trace *t)
{
    f->t0 = UINT64_MAX;
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].first_ns && t->threads[i].first_ns < f->t0)
            f->t0 = t->threads[i].first_ns;
    if (f->t0 == UINT64_MAX)
        f->t0 = 0;
    free(f->from_ok);
    f->from_ok = f->nfrom && t->stack_cap ? calloc(t->stack_cap, 1) : NULL;
    return f->nfrom && t->stack_cap && !f->from_ok ? -1 : 0;
}

void filter_free(call_filter *f)
{
    free(f->from_ok);
    f->from_ok = NULL;
}

/* Does "name", "module" or "module!name" name this frame? */
static bool names_frame(const char *want, const tr_sym *y, const char *fn)
{
    const char *bang = strchr(want, '!');
    if (bang)
        return fn && (size_t)(bang - want) == strlen(y->module) && !strncasecmp(want, y->module, (size_t)(bang - want)) &&
               (!strcmp(bang + 1, fn) || !strcmp(bang + 1, y->func));
    return !strcasecmp(want, y->module) || (fn && (!strcmp(want, fn) || !strcmp(want, y->func)));
}

/* Does a frame of this stack lie in one of the named modules or functions? */
static bool stack_from(call_filter *f, tr_trace *t, const struct wmt_stack *s)
{
    char dem[512];
    for (int i = 0; i < s->nframes; i++) {
        tr_sym y;
        if (!tr_frame_sym(t, &tr_frames(s)[i], &y))
            continue;
        const char *fn = y.func ? tr_demangle(y.func, dem, sizeof dem) : NULL;
        for (int k = 0; k < f->nfrom; k++)
            if (names_frame(f->from[k], &y, fn))
                return true;
    }
    return false;
}

/* "HeapAlloc" names "HeapAlloc growth" too: the first word of the name called. */
static bool names_api(const char *want, const struct wmt_call *c, const char *w32)
{
    size_t n = strlen(want);
    return !strcasecmp(want, call_api_name(c->api)) ||
           (w32 && !strncasecmp(want, w32, n) && (w32[n] == 0 || w32[n] == ' '));
}

bool filter_match(call_filter *f, tr_trace *t, const struct wmt_call *c, const char *w32)
{
    if (f->ntids) {
        int k = 0;
        while (k < f->ntids && f->tids[k] != c->tid)
            k++;
        if (k == f->ntids)
            return false;
    }
    if (f->has_time) {
        uint64_t rel = c->start_ns >= f->t0 ? c->start_ns - f->t0 : 0;
        if (rel < f->from_ns || rel > f->to_ns)
            return false;
    }
    if (f->napis) {
        int k = 0;
        while (k < f->napis && !names_api(f->apis[k], c, w32))
            k++;
        if (k == f->napis)
            return false;
    }
    if (f->nfrom) {
        size_t slot = tr_stack_slot(t, c->stack);
        if (slot == SIZE_MAX)
            return false;
        if (!f->from_ok[slot])
            f->from_ok[slot] = stack_from(f, t, t->stacks[slot]) ? 1 : 2;
        return f->from_ok[slot] == 1;
    }
    return true;
}

void filter_describe(const call_filter *f, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    if (!filter_active(f))
        return;
    w += (size_t)snprintf(buf + w, len - w, " (only calls");
    for (int i = 0; i < f->ntids && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, "%s%u", i ? "," : " of thread ", f->tids[i]);
    if (f->has_time && w < len) {
        if (f->to_ns == UINT64_MAX)
            w += (size_t)snprintf(buf + w, len - w, " from %.6g s", (double)f->from_ns / 1e9);
        else
            w += (size_t)snprintf(buf + w, len - w, " between %.6g and %.6g s", (double)f->from_ns / 1e9, (double)f->to_ns / 1e9);
    }
    for (int i = 0; i < f->nfrom && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, "%s%s", i ? "," : " from ", f->from[i]);
    for (int i = 0; i < f->napis && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, "%s%s", i ? "," : " to ", f->apis[i]);
    if (w < len)
        snprintf(buf + w, len - w, ")");
}
