/*
 * cli/diff.c — `winmem diff A B`: do two traces of the same program show the
 * same behaviour?
 *
 * By default behaviours are compared as sets (cli/diff_compare.c): thread
 * scheduling, heaps that grow by timing and collectors that run a varying
 * number of times make no noise, and what remains is ranked by severity.
 * --exact keeps the call-by-call comparison per thread (threads paired in
 * order of their first call), for deterministic programs: after a mismatch
 * the two sequences are re-synchronised with a small look-ahead, so one
 * changed call reads as one change, not as everything after it.
 *
 * Addresses are rewritten before comparing (cli/diff_load.c), so address
 * randomisation and different heaps make no noise.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diff.h"
#include "options.h"

static bool eq(const ev *a, const ev *b) { return !strcmp(a->text, b->text); }

static void show_stack(side *s, const struct wmt_call *c, const char *label, int max)
{
    const struct wmt_stack *st = tr_stack(&s->t, c->stack);
    if (!st) {
        printf("      %s stack: (none recorded)\n", label);
        return;
    }
    char name[512], src[300];
    printf("      %s stack:\n", label);
    for (int i = 0; i < st->nframes && i < max; i++) {
        tr_frame_name(&s->t, &tr_frames(st)[i], name, sizeof name);
        tr_frame_source(&s->t, &tr_frames(st)[i], src, sizeof src);
        printf("        #%-2d %s%s\n", i, name, src);
    }
}

static void show(side *s, const ev *e, const char *label, const opts *o)
{
    printf("    %s call %llu: %s\n", label, (unsigned long long)e->c->seq, e->text);
}

/* Compares one pair of threads; returns the number of differences. */
static unsigned diff_thread(side *a, side *b, size_t ti, const opts *o, unsigned *shown)
{
    ev *A = a->evs[ti], *B = b->evs[ti];
    size_t na = a->nevs[ti], nb = b->nevs[ti], i = 0, j = 0;
    unsigned ndiff = 0;
    const size_t W = 64;
    while (i < na || j < nb) {
        if (i < na && j < nb && eq(&A[i], &B[j])) {
            i++, j++;
            continue;
        }
        /* Smallest (da + db) after which both sides agree again. */
        size_t da = na - i, db = nb - j;
        bool found = false;
        for (size_t sum = 1; sum <= 2 * W && !found; sum++)
            for (size_t x = 0; x <= sum && !found; x++) {
                size_t y = sum - x;
                if (x > W || y > W || i + x >= na || j + y >= nb)
                    continue;
                if (eq(&A[i + x], &B[j + y]))
                    da = x, db = y, found = true;
            }
        size_t common = da < db ? da : db;
        for (size_t k = 0; k < da || k < db; k++) {
            ndiff++;
            if (*shown >= (unsigned)o->max_show)
                continue;
            (*shown)++;
            if (k < common) {
                printf("  thread %zu, call %llu of A / %llu of B: changed\n", ti,
                       (unsigned long long)A[i + k].c->seq, (unsigned long long)B[j + k].c->seq);
                show(a, &A[i + k], "A", o);
                show(b, &B[j + k], "B", o);
                show_stack(a, A[i + k].c, "A", o->frames);
                show_stack(b, B[j + k].c, "B", o->frames);
            } else if (k < da) {
                printf("  thread %zu: only in A\n", ti);
                show(a, &A[i + k], "A", o);
                show_stack(a, A[i + k].c, "A", o->frames);
            } else {
                printf("  thread %zu: only in B\n", ti);
                show(b, &B[j + k], "B", o);
                show_stack(b, B[j + k].c, "B", o->frames);
            }
        }
        i += da, j += db;
    }
    return ndiff;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem diff [options] A B\n"
               "       winmem diff [options] --baseline A1 A2 ... -- B\n\n"
               "Compares traces of the same program by behaviour: calls are grouped by call\n"
               "site (the stack as module!function), API and request (protection, type,\n"
               "query class, whether the address is in the program's own allocation or an\n"
               "image), then compared as sets with counts, failures and bytes. Thread order\n"
               "and timing make no noise. Differences are ranked: new writable+executable\n"
               "memory, call sites new or gone, failures new or gone, protections changed,\n"
               "leaks at exit, calls/bytes beyond the tolerance, thread count.\n\n"
               "  --baseline            A1 A2 ... are identical runs: tolerances are learned\n"
               "                        from how much they vary; B follows \"--\"\n"
               "  --explain             also list what the noise rules hid, and which rule\n"
               "  --json                one JSON object (for CI)\n"
               "  --tolerance F         calls/bytes may grow or shrink by factor F (default %.0f)\n"
               "  --slack N             ... and by N calls / N*8 KiB more (default %d)\n"
               "  --exact               call-by-call comparison per thread (deterministic programs)\n"
               "  --ignore-api NAME     leave out calls of NAME (repeatable; e.g. NtQueryVirtualMemory)\n"
               "  --ignore-field NAME   do not compare argument NAME (protect, type, class,\n"
               "                        address); with --exact also outputs, ret, error, out\n"
               "  --only-from MODULE    only calls with MODULE (e.g. app.exe) on their stack\n"
               "  --strict-addresses    compare raw addresses, call by call (implies --exact;\n"
               "                        for runs without randomisation)\n"
               "  --show N              differences to print (default 10)\n"
               "  --frames N            frames per stack (default 8)\n\n"
               "Exit status: 0 same, 1 different, 2 error (including a cut or damaged trace:\n"
               "the readable parts are still compared and shown).\n", DIFF_RATIO, DIFF_SLACK);
}

#define MAX_TRACES 66            /* up to 65 baselines and B */

/* An API or field name diff knows; else the list of those it does. */
static bool names_ok(bool api, const char *name)
{
    const char *names[WMT_API_MAX + 512];
    size_t n = api ? opt_api_names(names, WMT_API_MAX) : diff_field_names(names, sizeof names / sizeof *names);
    return opt_choice("diff", api ? "ignore-api" : "ignore-field", name, names, n);
}

static int exact(side *a, side *b, const opts *o)
{
    printf("winmem diff: A = %s (%llu calls, %zu threads)\n             B = %s (%llu calls, %zu threads)\n",
           a->t.path, (unsigned long long)a->t.ncalls, a->nthreads, b->t.path, (unsigned long long)b->t.ncalls, b->nthreads);
    unsigned total = 0, shown = 0;
    size_t common = a->nthreads < b->nthreads ? a->nthreads : b->nthreads;
    for (size_t i = 0; i < common; i++)
        total += diff_thread(a, b, i, o, &shown);
    for (size_t i = common; i < a->nthreads || i < b->nthreads; i++) {
        side *x = i < a->nthreads ? a : b;
        printf("  thread %zu (tid %u, \"%s\", %zu calls) exists only in %s\n", i, x->threads[i]->tid,
               x->threads[i]->name, x->nevs[i], x == a ? "A" : "B");
        total++;
    }
    if (shown < total)
        printf("  ... %u more differences (--show N prints more)\n", total - shown);
    printf("%s: %u difference%s\n", total ? "different" : "same", total, total == 1 ? "" : "s");
    return total ? 1 : 0;
}

static int behaviour(side **base, int nbase, side *b, const opts *o)
{
    if (!o->json) {
        for (int i = 0; i < nbase; i++)
            printf("%s %s (%llu calls, %zu threads)\n", i ? "           " : "winmem diff: A =", base[i]->t.path,
                   (unsigned long long)base[i]->t.ncalls, base[i]->nthreads);
        printf("             B = %s (%llu calls, %zu threads)\n", b->t.path, (unsigned long long)b->t.ncalls, b->nthreads);
    }
    long n = diff_behaviour(base, nbase, b, o);
    if (n < 0) {
        fprintf(stderr, "winmem diff: out of memory\n");
        return 2;
    }
    if (!o->json)
        printf("%s: %ld difference%s\n", n ? "different" : "same", n, n == 1 ? "" : "s");
    return n ? 1 : 0;
}

/* One option of getopt_long's (c, optarg) into o and *baseline: -1 to go
 * on, else the exit status. */
static int one_opt(int c, opts *o, bool *baseline)
{
    switch (c) {
    case 'h': usage(stdout); return 0;
    case 'a':
    case 'f':
        if (!names_ok(c == 'a', optarg))
            return 2;
        if ((c == 'a' ? o->n_ignore_api : o->n_ignore_field) == 64) {
            fprintf(stderr, "winmem diff: at most 64 --ignore-api and 64 --ignore-field\n");
            return 2;
        }
        if (c == 'a')
            o->ignore_api[o->n_ignore_api++] = optarg;
        else
            o->ignore_field[o->n_ignore_field++] = optarg;
        return -1;
    case 's': o->strict = o->exact = true; return -1;   /* raw addresses are a call-by-call notion */
    case 'n': return opt_int("diff", "show", optarg, 0, 1000000, &o->max_show) ? -1 : 2;
    case 'F': return opt_int("diff", "frames", optarg, 0, 64, &o->frames) ? -1 : 2;
    case 'm': o->only_from = optarg; return -1;
    case 'x': o->exact = true; return -1;
    case 'j': o->json = true; return -1;
    case 'e': o->explain = true; return -1;
    case 'b': *baseline = true; return -1;
    case 't': {
        char *end;
        o->ratio = o->margin = strtod(optarg, &end);
        if (end == optarg || *end || !(o->ratio >= 1.0 && o->ratio <= 1e6)) {
            fprintf(stderr, "winmem diff: --tolerance wants a number from 1 to 1000000, not '%s'\n", optarg);
            return 2;
        }
        return -1;
    }
    case 'S': {
        int slack;
        if (!opt_int("diff", "slack", optarg, 0, 1000000000, &slack))
            return 2;
        o->slack_calls = (uint64_t)slack, o->slack_bytes = o->slack_calls * 0x2000ull;
        return -1;
    }
    default: usage(stderr); return 2;
    }
}

/* The traces after the options: A B, or with --baseline A1 ... An [--] B.
 * Their number, or -1 after saying what is wrong. */
static int trace_paths(int argc, char **argv, const opts *o, bool baseline, const char **paths)
{
    int np = 0;
    for (int i = optind; i < argc; i++)
        if (strcmp(argv[i], "--")) {
            if (np == MAX_TRACES) {
                fprintf(stderr, "winmem diff: at most %d baselines\n", MAX_TRACES - 1);
                return -1;
            }
            paths[np++] = argv[i];
        }
    if (np < 2 || (!baseline && np != 2) || (o->exact && np != 2) || (o->exact && o->json)) {
        if (o->exact && (np != 2 || o->json))
            fprintf(stderr, "winmem diff: --exact compares exactly two traces, as text\n");
        usage(stderr);
        return -1;
    }
    return np;
}

int cmd_diff(int argc, char **argv)
{
    diff_sites sites = { 0 };
    opts o = { .max_show = 10, .frames = 8, .ratio = DIFF_RATIO, .slack_calls = DIFF_SLACK,
               .slack_bytes = DIFF_SLACK * 0x2000ull, .margin = DIFF_MARGIN, .sites = &sites };
    const char *ign_api[64], *ign_field[64];
    o.ignore_api = ign_api, o.ignore_field = ign_field;
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "ignore-api", required_argument, 0, 'a' },
        { "ignore-field", required_argument, 0, 'f' }, { "strict-addresses", no_argument, 0, 's' },
        { "show", required_argument, 0, 'n' }, { "frames", required_argument, 0, 'F' },
        { "only-from", required_argument, 0, 'm' }, { "exact", no_argument, 0, 'x' },
        { "json", no_argument, 0, 'j' }, { "explain", no_argument, 0, 'e' },
        { "baseline", no_argument, 0, 'b' }, { "tolerance", required_argument, 0, 't' },
        { "slack", required_argument, 0, 'S' }, { 0, 0, 0, 0 }
    };
    int c, rc;
    bool baseline = false;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1)
        if ((rc = one_opt(c, &o, &baseline)) >= 0)
            return rc;
    const char *paths[MAX_TRACES];
    int np = trace_paths(argc, argv, &o, baseline, paths), nbase = np - 1;
    if (np < 0)
        return 2;
    side *s[MAX_TRACES] = { 0 };
    rc = 2;
    for (int i = 0; i < np; i++)
        if (!(s[i] = calloc(1, sizeof *s[i])) || diff_load(s[i], paths[i], &o))
            goto out;
    rc = o.exact ? exact(s[0], s[1], &o) : behaviour(s, nbase, s[nbase], &o);
    for (int i = 0; i < np; i++)
        if (s[i]->t.cut[0]) {
            fprintf(stderr, "winmem diff: %s: %s; only the readable %llu of %llu bytes were compared\n",
                    s[i]->t.path, s[i]->t.cut, (unsigned long long)s[i]->t.good_bytes, (unsigned long long)s[i]->t.size);
            rc = 2;
        }
out:
    for (int i = 0; i < np; i++)
        if (s[i]) {
            diff_unload(s[i]);
            free(s[i]);
        }
    diff_sites_free(&sites);
    return rc;
}
