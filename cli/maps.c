/*
 * cli/maps.c — `winmem maps PID|self [--json]`: every region of a process as
 * Windows code would see it through VirtualQueryEx, with totals per type.
 *
 * One read of /proc/PID/maps (the same kernel work `cat` does) and a hand
 * parser, then one formatting pass into a large buffer: with 60,000 VMAs the
 * kernel's text generation dominates, so this stays near `cat`'s time.
 * Rules for Windows fields (docs/cli.md): no VMA → MEM_FREE; private
 * anonymous with no access → MEM_RESERVE; file runs with an executable
 * mapping (plus their anonymous .bss tail) and [vdso] → MEM_IMAGE; other
 * file-backed, shared anonymous and memfd → MEM_MAPPED; else MEM_PRIVATE.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "winmem/memory.h"
#include "maps.h"

#define USER_MAX 0x00007fffffffffffULL   /* [vsyscall] lies above: not user memory */

const char *wm_state_name(uint32_t s)
{
    return s == MEM_COMMIT ? "MEM_COMMIT" : s == MEM_RESERVE ? "MEM_RESERVE" : s == MEM_FREE ? "MEM_FREE" : "0";
}

const char *wm_type_name(uint32_t t)
{
    return t == MEM_IMAGE ? "MEM_IMAGE" : t == MEM_MAPPED ? "MEM_MAPPED" : t == MEM_PRIVATE ? "MEM_PRIVATE" : "0";
}

const char *wm_protect_name(uint32_t p)
{
    switch (p & 0xff) {
    case PAGE_NOACCESS:          return "PAGE_NOACCESS";
    case PAGE_READONLY:          return "PAGE_READONLY";
    case PAGE_READWRITE:         return "PAGE_READWRITE";
    case PAGE_WRITECOPY:         return "PAGE_WRITECOPY";
    case PAGE_EXECUTE:           return "PAGE_EXECUTE";
    case PAGE_EXECUTE_READ:      return "PAGE_EXECUTE_READ";
    case PAGE_EXECUTE_READWRITE: return "PAGE_EXECUTE_READWRITE";
    case PAGE_EXECUTE_WRITECOPY: return "PAGE_EXECUTE_WRITECOPY";
    default:                     return "0";
    }
}

/* One parsed line of the maps text. */
typedef struct vma {
    uint64_t start, end, offset, inode;
    uint32_t dev;
    char r, w, x, shared;
    const char *name;
} vma;

static uint64_t hexnum(const char **pp, const char *end)
{
    const char *p = *pp;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned c = (unsigned char)*p, d;
        if (c - '0' < 10) d = c - '0';
        else if ((c | 32) - 'a' < 6) d = (c | 32) - 'a' + 10;
        else break;
        v = v << 4 | d;
    }
    *pp = p;
    return v;
}

/* Parses one line in place ("start-end perms offset maj:min inode   name");
 * returns false on a malformed line (then it is skipped). */
static bool parse_line(char *line, char *end, vma *v)
{
    const char *p = line;
    v->start = hexnum(&p, end);
    if (p >= end || *p++ != '-') return false;
    v->end = hexnum(&p, end);
    if (end - p < 6 || *p++ != ' ') return false;
    v->r = p[0] == 'r', v->w = p[1] == 'w', v->x = p[2] == 'x', v->shared = p[3] == 's';
    p += 5;
    v->offset = hexnum(&p, end);
    if (p >= end || *p++ != ' ') return false;
    uint64_t maj = hexnum(&p, end);
    if (p >= end || *p++ != ':') return false;
    v->dev = (uint32_t)(maj << 12 | hexnum(&p, end));
    if (p >= end || *p++ != ' ') return false;
    uint64_t ino = 0;
    while (p < end && (unsigned)(*p - '0') < 10)
        ino = ino * 10 + (uint64_t)(*p++ - '0');
    v->inode = ino;
    while (p < end && *p == ' ')
        p++;
    *end = 0;   /* the newline becomes the name's terminator */
    v->name = p;
    return v->start < v->end;
}

static uint32_t protect_of(const vma *v, bool file_cow)
{
    if (v->x)
        return v->w ? (file_cow ? PAGE_EXECUTE_WRITECOPY : PAGE_EXECUTE_READWRITE)
                    : (v->r ? PAGE_EXECUTE_READ : PAGE_EXECUTE);
    if (v->w)
        return file_cow ? PAGE_WRITECOPY : PAGE_READWRITE;
    return v->r ? PAGE_READONLY : PAGE_NOACCESS;
}

static int push(wm_maps *m, const wm_mregion *r)
{
    /* Adjacent pieces with the same Windows attributes are one region
     * (VMAs split by madvise, or a file's runs, read as one on Windows). */
    if (m->n) {
        wm_mregion *l = &m->r[m->n - 1];
        if (l->base + l->size == r->base && l->state == r->state && l->protect == r->protect &&
            l->type == r->type && l->alloc_base == r->alloc_base && !strcmp(l->name, r->name)) {
            l->size += r->size;
            return 0;
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        wm_mregion *nr = realloc(m->r, cap * sizeof *nr);
        if (!nr)
            return -ENOMEM;
        m->r = nr, m->cap = cap;
    }
    m->r[m->n++] = *r;
    return 0;
}

static int push_free(wm_maps *m, uint64_t from, uint64_t to)
{
    if (from >= to)
        return 0;
    wm_mregion r = { from, to - from, 0, 0, MEM_FREE, PAGE_NOACCESS, 0, "" };
    return push(m, &r);
}

int wm_maps_parse(wm_maps *m, char *text, size_t len)
{
    m->text = text, m->text_len = len;
    size_t nv = 0, capv = 0;
    vma *v = NULL;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;   /* text is allocated one byte longer for this */
        if (nv == capv) {
            capv = capv ? capv * 2 : 1024;
            vma *nvv = realloc(v, capv * sizeof *v);
            if (!nvv) { free(v); return -ENOMEM; }
            v = nvv;
        }
        if (parse_line(p, nl, &v[nv]) && v[nv].start <= USER_MAX)
            nv++;
        p = nl + 1;
    }

    /* Image spans: a run of adjacent private VMAs of one file that contains
     * an executable mapping, plus the anonymous .bss right after a writable
     * last segment. Marked per VMA with the span's first address. */
    uint64_t *img = calloc(nv ? nv : 1, sizeof *img);
    if (!img) { free(v); return -ENOMEM; }
    for (size_t i = 0; i < nv;) {
        size_t j = i;
        bool exec = false;
        if (v[i].inode && !v[i].shared && v[i].offset == 0) {
            while (j < nv && v[j].inode == v[i].inode && v[j].dev == v[i].dev && !v[j].shared &&
                   (j == i || v[j].start == v[j - 1].end))
                exec |= v[j++].x;
        }
        if (!exec) { i = j > i ? j : i + 1; continue; }
        for (size_t k = i; k < j; k++)
            img[k] = v[i].start + 1;   /* +1: 0 means "not an image" */
        if (j < nv && !v[j].inode && !v[j].name[0] && v[j - 1].w && v[j].start == v[j - 1].end && !v[j].x)
            img[j++] = v[i].start + 1;
        i = j;
    }

    int rc = 0;
    uint64_t at = 0, map_base = 0, map_delta = 0, map_inode = 0, map_end = 0;
    for (size_t i = 0; i < nv && !rc; i++) {
        const vma *a = &v[i];
        rc = push_free(m, at, a->start);
        wm_mregion r = { a->start, a->end - a->start, a->start, 0, MEM_COMMIT, 0, MEM_PRIVATE, a->name };
        bool anon = !a->inode;
        if (img[i] || !strcmp(a->name, "[vdso]")) {
            r.type = MEM_IMAGE;
            r.alloc_base = img[i] ? img[i] - 1 : a->start;
            r.alloc_protect = PAGE_EXECUTE_WRITECOPY;
            r.protect = protect_of(a, !anon);
            if (anon && img[i])   /* the .bss tail is named after its image */
                r.name = v[i - 1].name;
        } else if (!anon || a->shared) {
            /* A view: runs with the same file and consistent offsets are one. */
            r.type = MEM_MAPPED;
            uint64_t delta = a->start - a->offset;
            if (!(a->inode == map_inode && delta == map_delta && a->start == map_end))
                map_base = a->start, map_delta = delta, map_inode = a->inode;
            map_end = a->end;
            r.alloc_base = map_base;
            r.protect = protect_of(a, !a->shared);
        } else if (!a->r && !a->w && !a->x) {
            r.state = MEM_RESERVE;   /* how Wine and the CLR reserve */
            r.protect = 0;
            r.alloc_protect = PAGE_NOACCESS;
        } else {
            r.protect = protect_of(a, false);
        }
        if (!r.alloc_protect)
            r.alloc_protect = r.protect;
        if (!rc)
            rc = push(m, &r);
        at = a->end;
    }
    if (!rc && at <= USER_MAX)
        rc = push_free(m, at, USER_MAX + 1);
    free(img);
    free(v);
    return rc;
}

int wm_maps_read(pid_t pid, wm_maps *m)
{
    memset(m, 0, sizeof *m);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) { close(fd); return -ENOMEM; }
        if (cap - len < 65536) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; continue; }
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    int rc = wm_maps_parse(m, buf, len);
    if (rc)
        wm_maps_free(m);
    return rc;
}

void wm_maps_free(wm_maps *m)
{
    free(m->text);
    free(m->r);
    memset(m, 0, sizeof *m);
}

/* ---- output: a hand-rolled formatter, since printf per field would cost
 * more than the kernel's own text generation at 60,000 regions ---- */

typedef struct out { char buf[1 << 16]; size_t n; } out;

static void out_flush(out *o)
{
    fwrite(o->buf, 1, o->n, stdout);
    o->n = 0;
}

static void out_str(out *o, const char *s, size_t n)
{
    if (o->n + n > sizeof o->buf)
        out_flush(o);
    if (n > sizeof o->buf) { fwrite(s, 1, n, stdout); return; }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
}

static void out_s(out *o, const char *s) { out_str(o, s, strlen(s)); }

static void out_pad(out *o, const char *s, size_t w)
{
    size_t n = strlen(s);
    out_str(o, s, n);
    while (n++ < w)
        out_str(o, " ", 1);
}

static void out_hex(out *o, uint64_t v, int width)   /* zero-padded */
{
    char t[16];
    for (int i = 15; i >= 0; i--, v >>= 4)
        t[i] = "0123456789abcdef"[v & 15];
    out_str(o, t + 16 - width, (size_t)width);
}

static void out_dec(out *o, uint64_t v, int width)  /* right-aligned */
{
    char t[24];
    int i = 24;
    do t[--i] = (char)('0' + v % 10); while (v /= 10);
    while (24 - i < width)
        t[--i] = ' ';
    out_str(o, t + i, (size_t)(24 - i));
}

static void out_json_str(out *o, const char *s)
{
    out_str(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; out_str(o, e, 2); }
        else if (c < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", c); out_s(o, e); }
        else out_str(o, (const char *)&c, 1);
    }
    out_str(o, "\"", 1);
}

static const char *short_state(uint32_t s)
{
    return s == MEM_COMMIT ? "Commit " : s == MEM_RESERVE ? "Reserve" : "Free   ";
}

static const char *short_type(uint32_t t)
{
    return t == MEM_IMAGE ? "Image  " : t == MEM_MAPPED ? "Mapped " : t == MEM_PRIVATE ? "Private" : "       ";
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

struct totals { uint64_t n, size, commit, reserve; };

static void totals_of(const wm_maps *m, struct totals t[4])
{
    memset(t, 0, 4 * sizeof *t);
    for (size_t i = 0; i < m->n; i++) {
        const wm_mregion *r = &m->r[i];
        int k = r->type == MEM_IMAGE ? 0 : r->type == MEM_MAPPED ? 1 : r->type == MEM_PRIVATE ? 2 : 3;
        t[k].n++, t[k].size += r->size;
        if (r->state == MEM_COMMIT) t[k].commit += r->size;
        if (r->state == MEM_RESERVE) t[k].reserve += r->size;
    }
}

static const char *const kind_names[4] = { "MEM_IMAGE", "MEM_MAPPED", "MEM_PRIVATE", "MEM_FREE" };

static void print_text(const wm_maps *m, pid_t pid, const char *comm, bool show_free)
{
    out *o = malloc(sizeof *o);
    if (!o) return;
    o->n = 0;
    char line[256];
    snprintf(line, sizeof line, "Process %d (%s): %zu regions, as VirtualQueryEx describes them\n", (int)pid, comm, m->n);
    out_s(o, line);
    out_s(o, "BaseAddress       RegionSize(KiB)  State    Type     Protect                 AllocationBase    AllocProtect            Name\n");
    for (size_t i = 0; i < m->n; i++) {
        const wm_mregion *r = &m->r[i];
        if (r->state == MEM_FREE && !show_free)
            continue;
        out_hex(o, r->base, 16);
        out_str(o, "  ", 2);
        out_dec(o, r->size >> 10, 15);
        out_str(o, "  ", 2);
        out_s(o, short_state(r->state));
        out_str(o, "  ", 2);
        out_s(o, short_type(r->type));
        out_str(o, "  ", 2);
        out_pad(o, r->state == MEM_COMMIT ? wm_protect_name(r->protect) : "", 22);
        out_str(o, "  ", 2);
        if (r->state == MEM_FREE) {
            out_s(o, "                ");
            out_str(o, "\n", 1);
            continue;
        }
        out_hex(o, r->alloc_base, 16);
        out_str(o, "  ", 2);
        out_pad(o, wm_protect_name(r->alloc_protect), 22);
        out_str(o, "  ", 2);
        out_s(o, r->name);
        out_str(o, "\n", 1);
    }
    struct totals t[4];
    totals_of(m, t);
    out_s(o, "\nTotals      Regions   Size         Committed    Reserved\n");
    for (int k = 0; k < 4; k++) {
        char a[32], b[32], c[32];
        human(a, sizeof a, t[k].size), human(b, sizeof b, t[k].commit), human(c, sizeof c, t[k].reserve);
        snprintf(line, sizeof line, "%-11s %7llu   %-11s  %-11s  %s\n", kind_names[k],
                 (unsigned long long)t[k].n, a, b, c);
        out_s(o, line);
    }
    out_flush(o);
    free(o);
}

static void print_json(const wm_maps *m, pid_t pid, const char *comm, bool show_free)
{
    out *o = malloc(sizeof *o);
    if (!o) return;
    o->n = 0;
    char line[160];
    snprintf(line, sizeof line, "{\"pid\":%d,\"name\":", (int)pid);
    out_s(o, line);
    out_json_str(o, comm);
    out_s(o, ",\"regions\":[");
    bool first = true;
    for (size_t i = 0; i < m->n; i++) {
        const wm_mregion *r = &m->r[i];
        if (r->state == MEM_FREE && !show_free)
            continue;
        out_s(o, first ? "\n{\"BaseAddress\":\"0x" : ",\n{\"BaseAddress\":\"0x");
        first = false;
        out_hex(o, r->base, 16);
        out_s(o, "\",\"RegionSize\":");
        out_dec(o, r->size, 0);
        out_s(o, ",\"State\":\"");
        out_s(o, wm_state_name(r->state));
        out_s(o, "\",\"Type\":\"");
        out_s(o, wm_type_name(r->type));
        out_s(o, "\",\"Protect\":\"");
        out_s(o, r->state == MEM_COMMIT ? wm_protect_name(r->protect) : "0");
        out_s(o, "\",\"AllocationBase\":\"0x");
        out_hex(o, r->alloc_base, 16);
        out_s(o, "\",\"AllocationProtect\":\"");
        out_s(o, r->state == MEM_FREE ? "0" : wm_protect_name(r->alloc_protect));
        out_s(o, "\",\"Name\":");
        out_json_str(o, r->name);
        out_s(o, "}");
    }
    out_s(o, "\n],\"totals\":{");
    struct totals t[4];
    totals_of(m, t);
    for (int k = 0; k < 4; k++) {
        snprintf(line, sizeof line, "%s\"%s\":{\"regions\":%llu,\"size\":%llu,\"committed\":%llu,\"reserved\":%llu}",
                 k ? "," : "", kind_names[k], (unsigned long long)t[k].n, (unsigned long long)t[k].size,
                 (unsigned long long)t[k].commit, (unsigned long long)t[k].reserve);
        out_s(o, line);
    }
    out_s(o, "}}\n");
    out_flush(o);
    free(o);
}

static void maps_usage(FILE *f)
{
    fprintf(f, "usage: winmem maps PID|self [--json] [--no-free]\n\n"
               "Every region of a process's address space in Windows terms: BaseAddress,\n"
               "RegionSize, State, Type, Protect, AllocationBase, AllocationProtect and the\n"
               "image or file name, then totals per type (what VMMap shows on Windows).\n\n"
               "  --json      one JSON object: {pid, name, regions:[...], totals:{...}}\n"
               "  --no-free   leave out MEM_FREE gaps\n\n"
               "Reading another process needs ptrace read access to it: the same user and a\n"
               "dumpable process, or CAP_SYS_PTRACE.\n");
}

int cmd_maps(int argc, char **argv)
{
    const char *target = NULL;
    bool json = false, show_free = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { maps_usage(stdout); return 0; }
        else if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--no-free")) show_free = false;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "winmem maps: unknown option %s\n", argv[i]);
            maps_usage(stderr);
            return 2;
        } else if (target) { maps_usage(stderr); return 2; }
        else target = argv[i];
    }
    if (!target) { maps_usage(stderr); return 2; }
    pid_t pid;
    if (!strcmp(target, "self"))
        pid = getpid();
    else {
        char *end;
        long l = strtol(target, &end, 10);
        if (*end || l <= 0 || l > 0x7fffffff) {
            fprintf(stderr, "winmem maps: '%s' is not a process id (a number, or 'self')\n", target);
            return 2;
        }
        pid = (pid_t)l;
    }
    wm_maps m;
    int rc = wm_maps_read(pid, &m);
    if (rc == -EACCES || rc == -EPERM) {
        fprintf(stderr,
                "winmem maps: permission denied reading process %d's memory map (/proc/%d/maps).\n"
                "  The kernel requires ptrace read access (PTRACE_MODE_READ): run as the same user\n"
                "  as the target (and the target must be dumpable), or with CAP_SYS_PTRACE\n"
                "  (e.g. as root or via sudo).\n", (int)pid, (int)pid);
        return 2;
    }
    if (rc == -ENOENT || rc == -ESRCH) {
        fprintf(stderr, "winmem maps: no process %d\n", (int)pid);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "winmem maps: cannot read /proc/%d/maps: %s\n", (int)pid, strerror(-rc));
        return 2;
    }
    char comm[64] = "?", path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = 0;
        fclose(f);
    }
    if (json)
        print_json(&m, pid, comm, show_free);
    else
        print_text(&m, pid, comm, show_free);
    wm_maps_free(&m);
    return fflush(stdout) == 0 ? 0 : 2;
}
