/*
 * cli/maps_cmd.c — `winmem maps PID|self [--json] [--no-free] [--api]`:
 * every region of a process as Windows code would see it through
 * VirtualQueryEx, with totals per type (what VMMap shows on Windows).
 *
 * By default the regions come from cli/maps.c (one streamed read of
 * /proc/PID/maps, fast at any VMA count); --api walks the process with
 * winmem's own OpenProcess + VirtualQueryEx instead (cli/maps_api.c), which
 * adds what the core knows beyond the text (copied copy-on-write pages, ELF
 * image spans from program headers) at the cost of a query per region.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "winmem/memory.h"
#include "json.h"
#include "maps.h"

/* ---- output: a hand-rolled formatter, since printf per field would cost
 * more than the kernel's own text generation at 60,000 regions. Rows are
 * written as regions become final, while the kernel is still reading. ---- */

struct totals { uint64_t n, size, commit, reserve; };

typedef struct out {
    bool json, show_free, first;
    struct totals t[4];   /* per type, summed as rows go out */
    uint64_t nregions;
    const char *head;   /* written before the first row, once the map could be opened */
    size_t n;
    char buf[1 << 16];
} out;

static void out_flush(out *o)
{
    fwrite(o->buf, 1, o->n, stdout);
    o->n = 0;
}

static void out_str(out *o, const char *s, size_t n)
{
    if (o->n + n > sizeof o->buf)
        out_flush(o);
    if (n > sizeof o->buf) {
        fwrite(s, 1, n, stdout);
        return;
    }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
}

static void out_s(out *o, const char *s) { out_str(o, s, strlen(s)); }

static char *hex16(char *w, uint64_t v)
{
    for (int i = 15; i >= 0; i--, v >>= 4)
        w[i] = "0123456789abcdef"[v & 15];
    return w + 16;
}

static char *dec(char *w, uint64_t v, int width)   /* right-aligned; width 0: as long as needed */
{
    char t[24];
    int i = 24;
    do t[--i] = (char)('0' + v % 10); while (v /= 10);
    while (24 - i < width)
        t[--i] = ' ';
    memcpy(w, t + i, (size_t)(24 - i));
    return w + 24 - i;
}

static char *cpy(char *w, const char *s)
{
    size_t n = strlen(s);
    memcpy(w, s, n);
    return w + n;
}

static char *pad(char *w, const char *s, size_t width)   /* at least one space after a long s */
{
    size_t n = strlen(s);
    memcpy(w, s, n);
    memset(w + n, ' ', n < width ? width - n : 1);
    return w + (n < width ? width : n + 1);
}

/* JSON string body; names come from the kernel and may hold any byte
 * (cli/json.c: at most 6 output bytes per input byte, always valid JSON). */
#define json_esc json_escape

static const char *short_state(uint32_t s)
{
    return s == MEM_COMMIT ? "Commit " : s == MEM_RESERVE ? "Reserve" : "Free   ";
}

static const char *short_type(uint32_t t)
{
    return t == MEM_IMAGE ? "Image  " : t == MEM_MAPPED ? "Mapped " : t == MEM_PRIVATE ? "Private" : "       ";
}

static void rows(void *ctx, const wm_maps *m, size_t from, size_t to)
{
    out *o = ctx;
    if (o->head) {
        out_s(o, o->head);
        o->head = NULL;
    }
    for (size_t i = from; i < to; i++) {
        const wm_mregion *r = &m->r[i];
        int k = r->type == MEM_IMAGE ? 0 : r->type == MEM_MAPPED ? 1 : r->type == MEM_PRIVATE ? 2 : 3;
        o->t[k].n++, o->t[k].size += r->size, o->nregions++;
        if (r->state == MEM_COMMIT) o->t[k].commit += r->size;
        if (r->state == MEM_RESERVE) o->t[k].reserve += r->size;
        if (r->state == MEM_FREE && !o->show_free)
            continue;
        size_t nl = strlen(r->name);
        if (o->n + 400 + 6 * nl > sizeof o->buf)
            out_flush(o);
        if (400 + 6 * nl > sizeof o->buf)
            continue;   /* cannot happen with kernel names (< PATH_MAX) */
        char *w = o->buf + o->n, pb[64], ab[64];
        bool is_free = r->state == MEM_FREE;
        const char *prot = r->state == MEM_COMMIT ? wm_protect_text(r->protect, pb, sizeof pb) : "0";
        const char *aprot = is_free ? "0" : wm_protect_text(r->alloc_protect, ab, sizeof ab);
        if (o->json) {
            w = cpy(w, o->first ? "\n{\"BaseAddress\":\"0x" : ",\n{\"BaseAddress\":\"0x");
            o->first = false;
            w = hex16(w, r->base);
            w = cpy(w, "\",\"RegionSize\":");
            w = dec(w, r->size, 0);
            w = cpy(w, ",\"State\":\"");
            w = cpy(w, wm_state_name(r->state));
            w = cpy(w, "\",\"Type\":\"");
            w = cpy(w, wm_type_name(r->type));
            w = cpy(w, "\",\"Protect\":\"");
            w = cpy(w, prot);
            w = cpy(w, "\",\"AllocationBase\":\"0x");
            w = hex16(w, r->alloc_base);
            w = cpy(w, "\",\"AllocationProtect\":\"");
            w = cpy(w, aprot);
            w = cpy(w, "\",\"Name\":\"");
            w = json_esc(w, r->name);
            w = cpy(w, r->model ? "\",\"Source\":\"model\"}" : "\",\"Source\":\"kernel\"}");
        } else {
            w = hex16(w, r->base);
            *w++ = ' ', *w++ = ' ';
            w = dec(w, r->size >> 10, 15);
            *w++ = ' ', *w++ = ' ';
            w = cpy(w, short_state(r->state));
            *w++ = ' ', *w++ = ' ';
            w = cpy(w, short_type(r->type));
            if (!is_free) {
                *w++ = ' ', *w++ = ' ';
                w = pad(w, r->state == MEM_COMMIT ? prot : "", 22);
                *w++ = ' ', *w++ = ' ';
                w = hex16(w, r->alloc_base);
                *w++ = ' ', *w++ = ' ';
                w = pad(w, aprot, 22);
                if (nl)
                    *w++ = ' ', *w++ = ' ';
                memcpy(w, r->name, nl);
                w += nl;
            }
            *w++ = '\n';
        }
        o->n = (size_t)(w - o->buf);
    }
}

static void human(char *b, size_t bs, uint64_t v)
{
    const char *u = "KMGTP";
    double d = (double)v / 1024;
    int i = 0;
    while (d >= 1024 && i < 4)
        d /= 1024, i++;
    snprintf(b, bs, d < 10 && i ? "%.1f %ciB" : "%.0f %ciB", d, u[i]);
}

static const char *const kind_names[4] = { "MEM_IMAGE", "MEM_MAPPED", "MEM_PRIVATE", "MEM_FREE" };

static void totals(out *o, const wm_maps *m)
{
    rows(o, m, 0, 0);   /* the header, if no row has been written */
    const struct totals *t = o->t;
    char line[256];
    if (o->json) {
        out_s(o, "\n],\"totals\":{");
        for (int k = 0; k < 4; k++) {
            snprintf(line, sizeof line, "%s\"%s\":{\"regions\":%llu,\"size\":%llu,\"committed\":%llu,\"reserved\":%llu}",
                     k ? "," : "", kind_names[k], (unsigned long long)t[k].n, (unsigned long long)t[k].size,
                     (unsigned long long)t[k].commit, (unsigned long long)t[k].reserve);
            out_s(o, line);
        }
        out_s(o, "}}\n");
        return;
    }
    snprintf(line, sizeof line, "\n%llu regions\nTotals      Regions   Size         Committed    Reserved\n", (unsigned long long)o->nregions);
    out_s(o, line);
    for (int k = 0; k < 4; k++) {
        char a[32], b[32], c[32];
        human(a, sizeof a, t[k].size), human(b, sizeof b, t[k].commit), human(c, sizeof c, t[k].reserve);
        snprintf(line, sizeof line, "%-11s %7llu   %-11s  %-11s  %s\n", kind_names[k],
                 (unsigned long long)t[k].n, a, b, c);
        out_s(o, line);
    }
}

static void maps_usage(FILE *f)
{
    fprintf(f, "usage: winmem maps PID|self [--json] [--no-free] [--api]\n\n"
               "Every region of a process's address space in Windows terms: BaseAddress,\n"
               "RegionSize, State, Type, Protect, AllocationBase, AllocationProtect and the\n"
               "image or file name, then totals per type (what VMMap shows on Windows).\n\n"
               "  --json      one JSON object: {pid, name, regions:[...], totals:{...}}\n"
               "  --no-free   leave out MEM_FREE gaps\n"
               "  --api       ask winmem's own OpenProcess + VirtualQueryEx region by region\n"
               "              (slower; adds copied copy-on-write pages, exact ELF image spans,\n"
               "              and for `self` what winmem itself allocated)\n\n"
               "Reading another process needs ptrace read access to it: the same user and a\n"
               "dumpable process, or CAP_SYS_PTRACE.\n");
}

/* "self" or a process id → *pid; false (after saying why) otherwise. */
static bool parse_target(const char *target, pid_t *pid)
{
    if (!strcmp(target, "self")) {
        *pid = getpid();
        return true;
    }
    char *end;
    long l = strtol(target, &end, 10);
    if (*end || l <= 0 || l > 0x7fffffff) {
        fprintf(stderr, "winmem maps: '%s' is not a process id (a number, or 'self')\n", target);
        return false;
    }
    *pid = (pid_t)l;
    return true;
}

/* What comes before the first row: the process's name is read first, so
 * the header can name it while the map streams; then where the regions come
 * from (nmodel allocations of the shim's model, or why not). */
static void make_head(char *head, size_t size, pid_t pid, bool json, long nmodel, bool partial, const char *why)
{
    char comm[64] = "?", path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = 0;
        fclose(f);
    }
    if (json) {
        char *w = head + snprintf(head, size, "{\"pid\":%d,\"name\":\"", (int)pid);
        w = json_esc(w, comm);   /* comm is at most 16 bytes: 6 each escaped fits */
        if (nmodel >= 0)
            w += sprintf(w, "\",\"source\":\"model+kernel\",\"model_allocations\":%ld,\"model_partial\":%s,\"regions\":[",
                         nmodel, partial ? "true" : "false");
        else
        {
            w = cpy(w, "\",\"source\":\"kernel\",\"why\":\"");
            w = json_esc(w, why);
            w = cpy(w, "\",\"regions\":[");
        }
        *w = 0;
    } else {
        char src[400];
        if (nmodel >= 0)
            snprintf(src, sizeof src, "the shim's model for the %ld allocations it knows, the kernel's view for the rest%s", nmodel,
                     partial ? " (and for allocations the model could not publish whole)" : "");
        else
            snprintf(src, sizeof src, "the kernel's view: %s", why);
        snprintf(head, size, "Process %d (%s), as VirtualQueryEx describes it\nSource: %s\n"
                 "BaseAddress       RegionSize(KiB)  State    Type     Protect                 "
                 "AllocationBase    AllocProtect            Name\n", (int)pid, comm, src);
    }
}

static int read_error(int rc, pid_t pid)
{
    if (rc == -EACCES || rc == -EPERM)
        fprintf(stderr,
                "winmem maps: permission denied reading process %d's memory map (/proc/%d/maps).\n"
                "  The kernel requires ptrace read access (PTRACE_MODE_READ): run as the same user\n"
                "  as the target (and the target must be dumpable), or with CAP_SYS_PTRACE\n"
                "  (e.g. as root or via sudo).\n", (int)pid, (int)pid);
    else if (rc == -ENOENT || rc == -ESRCH)
        fprintf(stderr, "winmem maps: no process %d\n", (int)pid);
    else
        fprintf(stderr, "winmem maps: cannot read /proc/%d/maps: %s\n", (int)pid, strerror(-rc));
    return 2;
}

int cmd_maps(int argc, char **argv)
{
    const char *target = NULL;
    bool json = false, show_free = true, api = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { maps_usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--no-free")) show_free = false;
        else if (!strcmp(argv[i], "--api")) api = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "winmem maps: unknown option %s\n", argv[i]);
            maps_usage(stderr);
            return 2;
        } else if (target) { maps_usage(stderr); return 2; }
        else target = argv[i];
    }
    if (!target) { maps_usage(stderr); return 2; }
    pid_t pid;
    if (!parse_target(target, &pid))
        return 2;
    out *o = malloc(sizeof *o);
    if (!o)
        return 2;
    char head[1024], why[200] = "winmem --api asks VirtualQueryEx";
    wm_model model = { 0 };
    int live = api ? 0 : wm_model_read(pid, &model, why, sizeof why);
    /* Allocations the shim had no slot for, fragmented past a slot's runs,
     * or failing the reader's checks: the kernel's view there, and said. */
    bool partial = model.incomplete || model.dropped;
    for (size_t i = 0; i < model.n; i++)
        partial |= (model.a[i].flags & WMS_TRUNCATED) != 0;
    make_head(head, sizeof head, pid, json, live == 1 ? (long)model.n : -1, partial, why);
    memset(o, 0, offsetof(out, buf));
    o->json = json, o->show_free = show_free, o->first = true, o->head = head;
    wm_maps m;
    int rc;
    if (api) {
        rc = wm_maps_read_api(!strcmp(target, "self") ? 0 : pid, &m);
        if (!rc)
            rows(o, &m, 0, m.n);
    } else if (live == 1) {           /* every region first, then the model over them */
        wm_space *sp = NULL;
        rc = wm_maps_read(pid, &m, NULL, NULL);
        if (!rc && wm_space_open(pid, &sp) != 0)
            sp = NULL;                  /* no pagemap: written copy-on-write pages not told apart */
        if (!rc && (rc = wm_maps_overlay(&m, &model, sp)) != 0)
            wm_maps_free(&m);
        if (sp)
            wm_space_close(sp);
        if (!rc)
            rows(o, &m, 0, m.n);
    } else {
        rc = wm_maps_read(pid, &m, rows, o);
    }
    wm_model_free(&model);
    if (!rc) {
        totals(o, &m);
        out_flush(o);
        wm_maps_free(&m);
    }
    free(o);
    if (rc)
        return read_error(rc, pid);
    return fflush(stdout) == 0 ? 0 : 2;
}
