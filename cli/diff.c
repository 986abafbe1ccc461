/*
 * cli/diff.c — `winmem diff A B`: do two traces of the same program show the
 * same behaviour? Compared per thread (threads paired in order of their
 * first call) as sequences of (API, arguments, result).
 *
 * Addresses are rewritten before comparing (cli/diff_load.c), so address
 * randomisation and different heaps make no noise; everything else (sizes,
 * protections, types, statuses, outputs) is compared exactly.
 *
 * After a mismatch the two sequences are re-synchronised with a small
 * look-ahead, so one changed call reads as one change, not as everything
 * after it.
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
    fprintf(f, "usage: winmem diff [options] A B\n\n"
               "Compares two traces of the same program by meaning: per thread, the sequence\n"
               "of (API, arguments, result). Addresses are rewritten relative to their module\n"
               "or to the allocation they lie in (\"alloc T0#3+0x1000\": thread 0's third\n"
               "allocation), so address randomisation and different heaps make no noise.\n"
               "Prints the first differences with both stacks.\n\n"
               "  --ignore-api NAME     leave out calls of NAME (repeatable; e.g. NtQueryVirtualMemory)\n"
               "  --ignore-field NAME   do not compare argument or output NAME (repeatable;\n"
               "                        also: ret, error, out)\n"
               "  --only-from MODULE    only calls with MODULE (e.g. app.exe) on their stack\n"
               "  --strict-addresses    compare raw addresses (for runs without randomisation)\n"
               "  --show N              differences to print (default 10)\n"
               "  --frames N            frames per stack (default 8)\n\n"
               "Exit status: 0 same, 1 different, 2 error (including a cut or damaged trace:\n"
               "the readable parts are still compared and shown).\n");
}

/* An API or field name diff knows; else the list of those it does. */
static bool names_ok(bool api, const char *name)
{
    const char *names[WMT_API_MAX + 512];
    size_t n = api ? opt_api_names(names, WMT_API_MAX) : diff_field_names(names, sizeof names / sizeof *names);
    return opt_choice("diff", api ? "ignore-api" : "ignore-field", name, names, n);
}

int cmd_diff(int argc, char **argv)
{
    opts o = { .max_show = 10, .frames = 8 };
    const char *ign_api[64], *ign_field[64];
    o.ignore_api = ign_api, o.ignore_field = ign_field;
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "ignore-api", required_argument, 0, 'a' },
        { "ignore-field", required_argument, 0, 'f' }, { "strict-addresses", no_argument, 0, 's' },
        { "show", required_argument, 0, 'n' }, { "frames", required_argument, 0, 'F' },
        { "only-from", required_argument, 0, 'm' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'a':
        case 'f':
            if (!names_ok(c == 'a', optarg) || (c == 'a' ? o.n_ignore_api : o.n_ignore_field) == 64) {
                if ((c == 'a' ? o.n_ignore_api : o.n_ignore_field) == 64)
                    fprintf(stderr, "winmem diff: at most 64 --ignore-api and 64 --ignore-field\n");
                return 2;
            }
            if (c == 'a')
                ign_api[o.n_ignore_api++] = optarg;
            else
                ign_field[o.n_ignore_field++] = optarg;
            break;
        case 's': o.strict = true; break;
        case 'n': if (!opt_int("diff", "show", optarg, 0, 1000000, &o.max_show)) return 2; break;
        case 'F': if (!opt_int("diff", "frames", optarg, 0, 64, &o.frames)) return 2; break;
        case 'm': o.only_from = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 2) {
        usage(stderr);
        return 2;
    }
    side *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    int rc = 2;
    if (!a || !b || diff_load(a, argv[optind], &o) || diff_load(b, argv[optind + 1], &o))
        goto out;
    printf("winmem diff: A = %s (%llu calls, %zu threads)\n             B = %s (%llu calls, %zu threads)\n",
           a->t.path, (unsigned long long)a->t.ncalls, a->nthreads, b->t.path, (unsigned long long)b->t.ncalls, b->nthreads);
    unsigned total = 0, shown = 0;
    size_t common = a->nthreads < b->nthreads ? a->nthreads : b->nthreads;
    for (size_t i = 0; i < common; i++)
        total += diff_thread(a, b, i, &o, &shown);
    for (size_t i = common; i < a->nthreads || i < b->nthreads; i++) {
        side *x = i < a->nthreads ? a : b;
        printf("  thread %zu (tid %u, \"%s\", %zu calls) exists only in %s\n", i, x->threads[i]->tid,
               x->threads[i]->name, x->nevs[i], x == a ? "A" : "B");
        total++;
    }
    if (shown < total)
        printf("  ... %u more differences (--show N prints more)\n", total - shown);
    rc = total ? 1 : 0;
    printf("%s: %u difference%s\n", total ? "different" : "same", total, total == 1 ? "" : "s");
    for (side *x = a; x; x = x == a ? b : NULL)
        if (x->t.cut[0]) {
            fprintf(stderr, "winmem diff: %s: %s; only the readable %llu of %llu bytes were compared\n",
                    x->t.path, x->t.cut, (unsigned long long)x->t.good_bytes, (unsigned long long)x->t.size);
            rc = 2;
        }
out:
    if (a)
        diff_unload(a);
    if (b)
        diff_unload(b);
    free(a);
    free(b);
    return rc;
}
