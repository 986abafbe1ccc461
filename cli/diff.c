/*
 * cli/diff.c — `winmem diff A B`: do two traces of the same program show the
 * same behaviour? Compared per thread (threads paired in order of their
 * first call) as sequences of (API, arguments, result).
 *
 * Addresses are rewritten before comparing, so address randomisation and
 * different heaps make no noise: an address inside a module becomes
 * "module+offset"; inside an allocation the trace saw being made, it becomes
 * "alloc T<thread>#<n>+offset" (the n-th allocation of that thread, counted
 * in time order); pointers to the caller's own buffers and handles other than
 * the current process are left out; any other address is "addr?" (unknown
 * memory — Wine's own, or made before recording). Everything else (sizes,
 * protections, types, statuses, outputs) is compared exactly.
 *
 * After a mismatch the two sequences are re-synchronised with a small
 * look-ahead, so one changed call reads as one change, not as everything
 * after it.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calls.h"
#include "winmem/memory.h"
#include "maps.h"
#include "trace_read.h"

typedef struct ev {
    const struct wmt_call *c;
    char *text;       /* normalized (API, arguments, result) */
} ev;

typedef struct alloc { uint64_t base, size; unsigned thread, n; } alloc;

typedef struct side {
    tr_trace t;
    tr_thread **threads;          /* by first call, threads with calls only */
    size_t nthreads;
    ev **evs; size_t *nevs;       /* per thread (same order as threads) */
    alloc *al; size_t nal, cap;
    unsigned *allocs_by_thread;
} side;

typedef struct opts {
    const char **ignore_api; int n_ignore_api;
    const char **ignore_field; int n_ignore_field;
    int max_show;
    int frames;
    bool strict;
    const char *only_from;
} opts;

static bool listed(const char *s, const char **v, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcasecmp(s, v[i]))
            return true;
    return false;
}

static int thread_index(side *s, uint32_t tid)
{
    for (size_t i = 0; i < s->nthreads; i++)
        if (s->threads[i]->tid == tid)
            return (int)i;
    return -1;
}

/* Live allocations are kept sorted by base (no overlaps), so resolving an
 * address is a binary search even in traces with many thousands of them. */
static size_t first_above(const side *s, uint64_t a)   /* index of the first base > a */
{
    size_t lo = 0, hi = s->nal;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->al[mid].base <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static alloc *containing(side *s, uint64_t a)
{
    size_t i = first_above(s, a);
    return i && a - s->al[i - 1].base < s->al[i - 1].size ? &s->al[i - 1] : NULL;
}

static void fmt_addr(side *s, uint64_t a, bool strict, char *buf, size_t len)
{
    if (a == 0) {
        snprintf(buf, len, "0");
        return;
    }
    if (strict) {
        snprintf(buf, len, "0x%llx", (unsigned long long)a);
        return;
    }
    const alloc *x = containing(s, a);
    if (x) {
        snprintf(buf, len, "alloc T%u#%u+0x%llx", x->thread, x->n, (unsigned long long)(a - x->base));
        return;
    }
    for (size_t i = 0; i < s->t.nmods; i++) {
        const struct wmt_module *m = s->t.mods[i].rec;
        if (a >= m->start && a < m->end) {
            snprintf(buf, len, "%s+0x%llx", tr_basename(s->t.mods[i].path), (unsigned long long)(a - m->start));
            return;
        }
    }
    snprintf(buf, len, "addr?");
}

static void remove_at(side *s, size_t i)
{
    memmove(&s->al[i], &s->al[i + 1], (s->nal - i - 1) * sizeof *s->al);
    s->nal--;
}

static void new_alloc(side *s, const struct wmt_call *c, uint64_t base, uint64_t size)
{
    if (!base || !size || base + size < base)
        return;
    /* whatever it overlaps was replaced without a free we saw (MAP_FIXED...) */
    size_t i = first_above(s, base);
    if (i && s->al[i - 1].base + s->al[i - 1].size > base)
        remove_at(s, --i);
    while (i < s->nal && s->al[i].base < base + size)
        remove_at(s, i);
    if (s->nal == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        alloc *na = realloc(s->al, cap * sizeof *na);
        if (!na)
            return;
        s->al = na, s->cap = cap;
    }
    int ti = thread_index(s, c->tid);
    memmove(&s->al[i + 1], &s->al[i], (s->nal - i) * sizeof *s->al);
    s->al[i] = (alloc){ base, size, ti < 0 ? 999 : (unsigned)ti, ti < 0 ? 0 : ++s->allocs_by_thread[ti] };
    s->nal++;
}

static void end_alloc(side *s, uint64_t addr)
{
    alloc *x = containing(s, addr);
    if (x)
        remove_at(s, (size_t)(x - s->al));
}

/* After the call: what it did to the set of known allocations. */
static void track(side *s, const struct wmt_call *c)
{
    if ((c->flags & WMT_CF_PENDING) || call_failed(c) || (c->flags & WMT_CF_REMOTE))
        return;
    switch (c->api) {
    case WMT_API_NtAllocateVirtualMemory:
        if (c->arg[4] & MEM_RESERVE)
            new_alloc(s, c, c->out[0], c->out[1]);
        break;
    case WMT_API_NtAllocateVirtualMemoryEx:
        if (c->arg[3] & MEM_RESERVE)
            new_alloc(s, c, c->out[0], c->out[1]);
        break;
    case WMT_API_VirtualAlloc:
        if (c->arg[2] & MEM_RESERVE)
            new_alloc(s, c, c->ret, c->arg[1]);
        break;
    case WMT_API_VirtualAllocEx:
        if (c->arg[3] & MEM_RESERVE)
            new_alloc(s, c, c->ret, c->arg[2]);
        break;
    case WMT_API_NtMapViewOfSection:
    case WMT_API_NtMapViewOfSectionEx:
        new_alloc(s, c, c->out[0], c->out[1]);
        break;
    case WMT_API_mmap:
        new_alloc(s, c, c->ret, c->arg[1]);
        break;
    case WMT_API_NtFreeVirtualMemory:
        if (c->arg[3] & MEM_RELEASE)
            end_alloc(s, c->out[0] ? c->out[0] : c->arg[1]);
        break;
    case WMT_API_VirtualFree:
        if (c->arg[2] & MEM_RELEASE)
            end_alloc(s, c->arg[0]);
        break;
    case WMT_API_VirtualFreeEx:
        if (c->arg[3] & MEM_RELEASE)
            end_alloc(s, c->arg[1]);
        break;
    case WMT_API_NtUnmapViewOfSection:
    case WMT_API_NtUnmapViewOfSectionEx:
        end_alloc(s, c->arg[1]);
        break;
    case WMT_API_munmap:
        end_alloc(s, c->arg[0]);
        break;
    }
}

typedef enum { K_VALUE, K_ADDR, K_PROT, K_SKIP, K_PROCESS } kind;

static kind arg_kind(const char *name)
{
    if (!strcmp(name, "address") || !strcmp(name, "base") || !strcmp(name, "addr") ||
        !strcmp(name, "old_addr") || !strcmp(name, "new_addr"))
        return K_ADDR;
    if (!strcmp(name, "protect") || !strcmp(name, "prot"))
        return K_PROT;
    if (!strcmp(name, "process"))
        return K_PROCESS;
    /* pointers to the caller's buffers and section handles differ every run */
    if (strstr(name, "_ptr") || !strcmp(name, "buffer") || !strcmp(name, "pfns") ||
        !strcmp(name, "params") || !strcmp(name, "section") || !strcmp(name, "fd"))
        return K_SKIP;
    return K_VALUE;
}

/* Names and kinds of out[] by API (see trace.h). */
static int out_layout(const struct wmt_call *c, const char *names[8], kind kinds[8])
{
    unsigned cls = 0;
    switch (c->api) {
    case WMT_API_NtQueryVirtualMemory:
    case WMT_API_ZwQueryVirtualMemory:
        cls = (unsigned)c->arg[2];
        break;
    case WMT_API_QueryVirtualMemoryInformation:
        cls = 3;
        break;
    case WMT_API_QueryWorkingSetEx:
    case WMT_API_K32QueryWorkingSetEx:
        cls = 4;
        break;
    case WMT_API_VirtualQuery:
    case WMT_API_VirtualQueryEx:
        cls = 0;
        break;
    case WMT_API_NtAllocateVirtualMemory: case WMT_API_NtAllocateVirtualMemoryEx:
    case WMT_API_NtFreeVirtualMemory: case WMT_API_NtLockVirtualMemory:
    case WMT_API_NtUnlockVirtualMemory: case WMT_API_NtFlushVirtualMemory:
    case WMT_API_NtMapViewOfSection: case WMT_API_NtMapViewOfSectionEx:
        names[0] = "base", kinds[0] = K_ADDR, names[1] = "size", kinds[1] = K_VALUE;
        return 2;
    case WMT_API_NtProtectVirtualMemory:
        names[0] = "base", kinds[0] = K_ADDR, names[1] = "size", kinds[1] = K_VALUE;
        names[2] = "old", kinds[2] = K_PROT;
        return 3;
    case WMT_API_VirtualProtect: case WMT_API_VirtualProtectEx:
        names[0] = "old", kinds[0] = K_PROT;
        return -2;   /* out[2] only */
    case WMT_API_NtReadVirtualMemory: case WMT_API_NtWriteVirtualMemory:
        names[0] = "done", kinds[0] = K_VALUE;
        return 1;
    default:
        return 0;
    }
    static const char *const mbi[8] = { "BaseAddress", "AllocationBase", "AllocationProtect", "RegionSize",
                                        "State", "Protect", "Type", "ReturnLength" };
    static const kind mbik[8] = { K_ADDR, K_ADDR, K_PROT, K_VALUE, K_VALUE, K_PROT, K_VALUE, K_VALUE };
    if (cls == 0) {
        for (int i = 0; i < 8; i++)
            names[i] = mbi[i], kinds[i] = mbik[i];
        return 8;
    }
    if (cls == 3) {
        static const char *const r[5] = { "AllocationBase", "AllocationProtect", "RegionType", "RegionSize", "CommitSize" };
        static const kind rk[5] = { K_ADDR, K_PROT, K_VALUE, K_VALUE, K_VALUE };
        for (int i = 0; i < 5; i++)
            names[i] = r[i], kinds[i] = rk[i];
        return 5;
    }
    if (cls == 4) {
        names[0] = "VirtualAddress", kinds[0] = K_ADDR, names[1] = "Attributes", kinds[1] = K_VALUE;
        names[2] = "Entries", kinds[2] = K_VALUE;
        return 3;
    }
    if (cls == 2) {
        names[0] = "NameLength", kinds[0] = K_VALUE;
        return 1;
    }
    return 0;
}

static void put(char **p, char *end, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char **p, char *end, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*p, (size_t)(end - *p), fmt, ap);
    va_end(ap);
    if (n > 0)
        *p += n < end - *p ? n : end - *p - 1;
}

static void fmt_value(side *s, kind k, uint64_t v, const opts *o, char *buf, size_t len)
{
    if (k == K_ADDR)
        fmt_addr(s, v, o->strict, buf, len);
    else if (k == K_PROT && v && !(v & ~0xffull) && strcmp(wm_protect_name((uint32_t)v), "0"))
        snprintf(buf, len, "%s", wm_protect_name((uint32_t)v));
    else
        snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

static char *normalize(side *s, const struct wmt_call *c, const opts *o)
{
    char buf[1024], *p = buf, *end = buf + sizeof buf, v[160], nb[256];
    const char *names[10];
    int n = call_arg_names(c->api, nb, sizeof nb, names);
    put(&p, end, "%s(", call_api_name(c->api));
    bool first = true;
    for (int i = 0; i < n; i++) {
        kind k = arg_kind(names[i]);
        if (k == K_SKIP || listed(names[i], o->ignore_field, o->n_ignore_field))
            continue;
        if (k == K_PROCESS)
            snprintf(v, sizeof v, "%s", c->arg[i] == UINT64_MAX ? "self" : "handle");
        else
            fmt_value(s, k, c->arg[i], o, v, sizeof v);
        put(&p, end, "%s%s=%s", first ? "" : ", ", names[i], v);
        first = false;
    }
    put(&p, end, ")");
    if (c->flags & WMT_CF_PENDING) {
        put(&p, end, " never returned");
        return strdup(buf);
    }
    if (!listed("ret", o->ignore_field, o->n_ignore_field)) {
        if (call_is_nt(c->api)) {
            const char *sn = status_name(c->status);
            put(&p, end, " = %s", sn ? sn : "");
            if (!sn)
                put(&p, end, "0x%08x", c->status);
        } else {
            bool addr_ret = c->api == WMT_API_VirtualAlloc || c->api == WMT_API_VirtualAllocEx ||
                            c->api == WMT_API_mmap || c->api == WMT_API_mremap;
            fmt_value(s, addr_ret ? K_ADDR : K_VALUE, c->ret, o, v, sizeof v);
            put(&p, end, " = %s", v);
        }
    }
    bool failed = call_failed(c);
    if (failed && !call_is_nt(c->api) && !listed("error", o->ignore_field, o->n_ignore_field)) {
        char code[96];
        call_code_name(c, code, sizeof code);
        put(&p, end, " error %s", code);
    }
    if (!failed && !listed("out", o->ignore_field, o->n_ignore_field)) {
        const char *on[8];
        kind ok[8];
        int no = out_layout(c, on, ok), from = 0;
        if (no == -2)   /* VirtualProtect: the old protection is out[2] */
            no = 1, from = 2;
        for (int i = 0; i < no; i++) {
            if (listed(on[i], o->ignore_field, o->n_ignore_field))
                continue;
            fmt_value(s, ok[i], c->out[i + from], o, v, sizeof v);
            put(&p, end, "%s%s=%s", i ? " " : "; ", on[i], v);
        }
    }
    return strdup(buf);
}

static bool from_module(side *s, const struct wmt_call *c, const char *mod)
{
    const struct wmt_stack *st = tr_stack(&s->t, c->stack);
    if (!st)
        return false;
    for (unsigned i = 0; i < st->nframes; i++) {
        const tr_module *m = tr_module_by_id(&s->t, tr_frames(st)[i].module);
        if (m && !strcasecmp(tr_basename(*m->path ? m->path : s->t.exe), mod))
            return true;
    }
    return false;
}

static int by_first(const void *a, const void *b)
{
    const tr_thread *x = *(tr_thread *const *)a, *y = *(tr_thread *const *)b;
    return x->first_ns != y->first_ns ? (x->first_ns < y->first_ns ? -1 : 1) : (x->tid > y->tid) - (x->tid < y->tid);
}

static int by_start(const void *a, const void *b)
{
    const struct wmt_call *x = *(const struct wmt_call *const *)a, *y = *(const struct wmt_call *const *)b;
    if (x->start_ns != y->start_ns)
        return x->start_ns < y->start_ns ? -1 : 1;
    return x->tid != y->tid ? (x->tid < y->tid ? -1 : 1) : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Reads one trace and builds its normalized per-thread sequences. */
static int load(side *s, const char *path, const opts *o)
{
    char err[512];
    if (tr_open(&s->t, path, true, err, sizeof err)) {
        fprintf(stderr, "winmem diff: %s\n", err);
        return -1;
    }
    tr_trace *t = &s->t;
    s->threads = calloc(t->nthreads + 1, sizeof *s->threads);
    s->allocs_by_thread = calloc(t->nthreads + 1, sizeof *s->allocs_by_thread);
    s->evs = calloc(t->nthreads + 1, sizeof *s->evs);
    s->nevs = calloc(t->nthreads + 1, sizeof *s->nevs);
    const struct wmt_call **all = malloc((t->ncalls + 1) * sizeof *all);
    if (!s->threads || !s->allocs_by_thread || !s->evs || !s->nevs || !all) {
        free(all);
        fprintf(stderr, "winmem diff: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].ncalls)
            s->threads[s->nthreads++] = &t->threads[i];
    qsort(s->threads, s->nthreads, sizeof *s->threads, by_first);
    size_t n = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        s->evs[i] = calloc(s->threads[i]->ncalls + 1, sizeof **s->evs);
        if (!s->evs[i]) {
            free(all);
            return -1;
        }
        for (uint64_t k = 0; k < s->threads[i]->ncalls; k++)
            if (s->threads[i]->calls[k])
                all[n++] = s->threads[i]->calls[k];
    }
    /* Time order across threads, so an address used by one thread resolves
     * to the allocation another made before it. */
    qsort(all, n, sizeof *all, by_start);
    for (size_t i = 0; i < n; i++) {
        const struct wmt_call *c = all[i];
        int ti = thread_index(s, c->tid);
        bool keep = ti >= 0 && !listed(call_api_name(c->api), o->ignore_api, o->n_ignore_api) &&
                    (!o->only_from || from_module(s, c, o->only_from));
        if (keep) {
            ev *e = &s->evs[ti][s->nevs[ti]++];
            e->c = c;
            e->text = normalize(s, c, o);
        }
        track(s, c);
    }
    free(all);
    return 0;
}

static void unload(side *s)
{
    for (size_t i = 0; i < s->nthreads; i++) {
        for (size_t k = 0; k < s->nevs[i]; k++)
            free(s->evs[i][k].text);
        free(s->evs[i]);
    }
    free(s->evs);
    free(s->nevs);
    free(s->threads);
    free(s->al);
    free(s->allocs_by_thread);
    if (s->t.map)
        tr_close(&s->t);
}

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
        case 'a': if (o.n_ignore_api < 64) ign_api[o.n_ignore_api++] = optarg; break;
        case 'f': if (o.n_ignore_field < 64) ign_field[o.n_ignore_field++] = optarg; break;
        case 's': o.strict = true; break;
        case 'n': o.max_show = atoi(optarg); break;
        case 'F': o.frames = atoi(optarg); break;
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
    if (!a || !b || load(a, argv[optind], &o) || load(b, argv[optind + 1], &o))
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
        unload(a);
    if (b)
        unload(b);
    free(a);
    free(b);
    return rc;
}
