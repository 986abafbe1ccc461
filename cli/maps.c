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
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
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

typedef struct vmavec { vma *v; size_t n, cap; } vmavec;

static vma *vma_slot(vmavec *vv)
{
    if (vv->n == vv->cap) {
        size_t cap = vv->cap ? vv->cap * 2 : 4096;
        vma *nv = realloc(vv->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        vv->v = nv, vv->cap = cap;
    }
    return &vv->v[vv->n];
}

/* Parses the complete lines of [text, text+len); returns the bytes used
 * (a trailing partial line is left for the caller to carry over). Names
 * point into text; text[len] must be writable. */
static size_t parse_lines(char *text, size_t len, bool final, vmavec *vv, int *rc)
{
    char *p = text, *end = text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if (!final)
                break;
            nl = end;
        }
        vma *v = vma_slot(vv);
        if (!v) {
            *rc = -ENOMEM;
            return len;
        }
        if (parse_line(p, nl, v) && v->start <= USER_MAX)
            vv->n++;
        p = nl + 1;
    }
    return p < end ? (size_t)(p - text) : len;
}

static int derive(wm_maps *m, vma *v, size_t nv, bool final);

int wm_maps_parse(wm_maps *m, char *text, size_t len)
{
    m->text = text, m->text_len = len;
    vmavec vv = { 0 };
    int rc = 0;
    parse_lines(text, len, true, &vv, &rc);
    if (!rc)
        rc = derive(m, vv.v, vv.n, true);
    free(vv.v);
    return rc;
}

/* Turns VMAs [m->ds.done, nv) into regions, stopping before a run of one
 * file that might continue in VMAs not read yet (unless final), so it can
 * run while the kernel is still producing the text. */
static int derive(wm_maps *m, vma *v, size_t nv, bool final)
{
    struct wm_derive *d = &m->ds;
    int rc = 0;
    size_t i;
    for (i = d->done; i < nv && !rc; i++) {
        const vma *a = &v[i];
        /* Image spans: a run of adjacent private VMAs of one file containing
         * an executable mapping, plus the anonymous .bss right after a
         * writable last segment. */
        if (i >= d->img_until && a->inode && !a->shared && a->offset == 0) {
            size_t j = i;
            bool exec = false;
            while (j < nv && v[j].inode == a->inode && v[j].dev == a->dev && !v[j].shared &&
                   (j == i || v[j].start == v[j - 1].end))
                exec |= v[j++].x;
            if (j >= nv && !final)
                break;   /* the run (or its .bss) may go on in the next chunk */
            if (exec) {
                if (j < nv && !v[j].inode && !v[j].name[0] && v[j - 1].w && v[j].start == v[j - 1].end && !v[j].x)
                    j++;
                d->img_base = a->start, d->img_until = j;
            }
        }
        bool img = i < d->img_until;
        rc = push_free(m, d->at, a->start);
        wm_mregion r = { a->start, a->end - a->start, a->start, 0, MEM_COMMIT, 0, MEM_PRIVATE, a->name };
        bool anon = !a->inode;
        if (img || !strcmp(a->name, "[vdso]")) {
            r.type = MEM_IMAGE;
            r.alloc_base = img ? d->img_base : a->start;
            r.alloc_protect = PAGE_EXECUTE_WRITECOPY;
            r.protect = protect_of(a, !anon);
            if (anon && img)   /* the .bss tail is named after its image */
                r.name = v[i - 1].name;
        } else if (!anon || a->shared) {
            /* A view: runs with the same file and consistent offsets are one. */
            r.type = MEM_MAPPED;
            uint64_t delta = a->start - a->offset;
            if (!(a->inode == d->map_inode && delta == d->map_delta && a->start == d->map_end))
                d->map_base = a->start, d->map_delta = delta, d->map_inode = a->inode;
            d->map_end = a->end;
            r.alloc_base = d->map_base;
            r.protect = protect_of(a, !a->shared);
        } else {
            if (!a->r && !a->w && !a->x) {
                r.state = MEM_RESERVE;   /* how Wine and the CLR reserve */
                r.protect = 0;
                r.alloc_protect = PAGE_NOACCESS;
            } else {
                r.protect = protect_of(a, false);
            }
            /* Windows allocations start on 64 KiB boundaries; a reservation
             * whose pages were committed or protected shows as adjacent VMAs,
             * so one that continues its neighbour off such a boundary belongs
             * to the neighbour's allocation (a Wine VirtualAlloc, a thread
             * stack with its guard). A guess for native mappings. */
            if (a->start == d->anon_end && (a->start & 0xffff))
                r.alloc_base = d->anon_base, r.alloc_protect = d->anon_protect;
            else
                d->anon_base = a->start, d->anon_protect = r.alloc_protect ? r.alloc_protect : r.protect;
            d->anon_end = a->end;
        }
        if (!r.alloc_protect)
            r.alloc_protect = r.protect;
        if (!rc)
            rc = push(m, &r);
        d->at = a->end;
    }
    d->done = i;
    if (final && !rc && d->at <= USER_MAX)
        rc = push_free(m, d->at, USER_MAX + 1);
    return rc;
}

/* Reading /proc/PID/maps is mostly the kernel formatting text (~0.35 us per
 * VMA); a reader thread keeps it busy while this thread parses the chunks
 * already read, so the two costs overlap instead of adding up. */
#define CHUNK (256 * 1024)
#define HEADROOM 8192   /* room to prepend a line cut by the chunk boundary */

typedef struct rchunk { struct rchunk *next; size_t len; char buf[]; } rchunk;

typedef struct reader {
    int fd, err;
    bool done;
    rchunk *head, **tail;
    rchunk *spare;   /* parsed chunks come back here: no fresh pages per chunk */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} reader;

static void *read_thread(void *arg)
{
    reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        rchunk *c = r->spare;
        if (c)
            r->spare = c->next;
        pthread_mutex_unlock(&r->mu);
        if (!c)
            c = malloc(sizeof *c + HEADROOM + CHUNK + 1);
        ssize_t n = 0;
        size_t len = 0;
        if (c)
            while (len < CHUNK && ((n = read(r->fd, c->buf + HEADROOM + len, CHUNK - len)) > 0 || (n < 0 && errno == EINTR)))
                len += n > 0 ? (size_t)n : 0;
        pthread_mutex_lock(&r->mu);
        if (!c || n < 0) {
            r->err = c ? errno : ENOMEM;
            free(c);
            c = NULL;
        } else if (len) {
            c->len = len, c->next = NULL;
            *r->tail = c, r->tail = &c->next;
        } else {
            free(c);
            c = NULL;
        }
        if (!c || len < CHUNK)
            r->done = true;
        pthread_cond_signal(&r->cv);
        bool stop = r->done;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            return NULL;
    }
}

/* Names must outlive their chunk: copied once, and consecutive VMAs of one
 * file share the copy. */
static int keep_names(wm_maps *m, vmavec *vv, size_t from)
{
    for (size_t i = from; i < vv->n; i++) {
        vma *v = &vv->v[i];
        if (!v->name[0]) {
            v->name = "";
            continue;
        }
        if (i && vv->v[i - 1].name[0] && !strcmp(vv->v[i - 1].name, v->name)) {
            v->name = vv->v[i - 1].name;
            continue;
        }
        size_t n = strlen(v->name) + 1;
        if (m->text_len + n > m->arena_cap) {
            char **nb = realloc(m->blocks, (m->nblocks + 1) * sizeof *nb);
            if (!nb)
                return -ENOMEM;
            m->blocks = nb;
            m->arena_cap = n > 65536 ? n : 65536;
            if (!(m->blocks[m->nblocks] = malloc(m->arena_cap)))
                return -ENOMEM;
            m->text = m->blocks[m->nblocks++];
            m->text_len = 0;
        }
        memcpy(m->text + m->text_len, v->name, n);
        v->name = m->text + m->text_len;
        m->text_len += n;
    }
    return 0;
}

int wm_maps_read(pid_t pid, wm_maps *m, wm_maps_emit emit, void *ctx)
{
    memset(m, 0, sizeof *m);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    reader r = { .fd = open(path, O_RDONLY | O_CLOEXEC) };
    if (r.fd < 0)
        return -errno;
    r.tail = &r.head;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t th;
    int rc = -pthread_create(&th, NULL, read_thread, &r);
    if (rc) {
        close(r.fd);
        return rc;
    }
    vmavec vv = { 0 };
    char carry[HEADROOM];
    size_t carry_len = 0;
    for (;;) {
        pthread_mutex_lock(&r.mu);
        while (!r.head && !r.done)
            pthread_cond_wait(&r.cv, &r.mu);
        rchunk *c = r.head;
        if (c && !(r.head = c->next))
            r.tail = &r.head;
        pthread_mutex_unlock(&r.mu);
        if (!c)
            break;
        char *text = c->buf + HEADROOM - carry_len;
        memcpy(text, carry, carry_len);
        size_t len = carry_len + c->len, from = vv.n;
        size_t used = parse_lines(text, len, false, &vv, &rc);
        if (!rc)
            rc = keep_names(m, &vv, from);
        if (!rc)
            rc = derive(m, vv.v, vv.n, false);
        /* The last region may still grow by merging with the next. When
         * streaming, what was emitted is dropped, so the arrays stay small
         * and cache-hot instead of growing to 60,000 entries. */
        if (!rc && emit && m->n > 1) {
            emit(ctx, m, 0, m->n - 1);
            m->r[0] = m->r[m->n - 1];
            m->n = 1;
            size_t keep = m->ds.done ? m->ds.done - 1 : 0;   /* v[done-1] names a .bss */
            memmove(vv.v, vv.v + keep, (vv.n - keep) * sizeof *vv.v);
            vv.n -= keep;
            m->ds.done -= keep;
            m->ds.img_until = m->ds.img_until > keep ? m->ds.img_until - keep : 0;
        }
        carry_len = len - used;
        if (carry_len > sizeof carry)
            carry_len = 0;   /* a "line" longer than any path: drop it */
        memcpy(carry, text + used, carry_len);
        pthread_mutex_lock(&r.mu);
        c->next = r.spare;
        r.spare = c;
        pthread_mutex_unlock(&r.mu);
        if (rc)
            break;
    }
    pthread_join(th, NULL);
    for (rchunk **l = &r.head; l == &r.head || l == &r.spare; l = l == &r.head ? &r.spare : NULL)
        while (*l) {
            rchunk *c = *l;
            *l = c->next;
            free(c);
        }
    close(r.fd);
    if (!rc && r.err)
        rc = -r.err;
    if (!rc && carry_len) {   /* a last line without a newline */
        carry[carry_len < sizeof carry ? carry_len : sizeof carry - 1] = 0;
        size_t from = vv.n;
        parse_lines(carry, carry_len < sizeof carry ? carry_len : sizeof carry - 1, true, &vv, &rc);
        if (!rc)
            rc = keep_names(m, &vv, from);
    }
    char *arena = m->text;
    if (!rc)
        rc = derive(m, vv.v, vv.n, true);
    m->text = arena;
    if (!rc && emit && m->n)
        emit(ctx, m, 0, m->n);
    free(vv.v);
    if (rc)
        wm_maps_free(m);
    return rc;
}

void wm_maps_free(wm_maps *m)
{
    if (m->nblocks) {   /* wm_maps_read: names live in arena blocks */
        for (size_t i = 0; i < m->nblocks; i++)
            free(m->blocks[i]);
        free(m->blocks);
    } else {
        free(m->text);
    }
    free(m->r);
    memset(m, 0, sizeof *m);
}

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

static char *pad(char *w, const char *s, size_t width)
{
    size_t n = strlen(s);
    memcpy(w, s, n);
    memset(w + n, ' ', width - n);
    return w + width;
}

/* JSON string body; names come from the kernel and may hold any byte. */
static char *json_esc(char *w, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            *w++ = '\\', *w++ = (char)c;
        else if (c < 0x20)
            w += sprintf(w, "\\u%04x", c);
        else
            *w++ = (char)c;
    }
    return w;
}

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
        char *w = o->buf + o->n;
        bool is_free = r->state == MEM_FREE;
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
            w = cpy(w, r->state == MEM_COMMIT ? wm_protect_name(r->protect) : "0");
            w = cpy(w, "\",\"AllocationBase\":\"0x");
            w = hex16(w, r->alloc_base);
            w = cpy(w, "\",\"AllocationProtect\":\"");
            w = cpy(w, is_free ? "0" : wm_protect_name(r->alloc_protect));
            w = cpy(w, "\",\"Name\":\"");
            w = json_esc(w, r->name);
            w = cpy(w, "\"}");
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
                w = pad(w, r->state == MEM_COMMIT ? wm_protect_name(r->protect) : "", 22);
                *w++ = ' ', *w++ = ' ';
                w = hex16(w, r->alloc_base);
                *w++ = ' ', *w++ = ' ';
                w = pad(w, wm_protect_name(r->alloc_protect), 22);
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
    /* The header comes first, so the name is read before the map. */
    char comm[64] = "?", path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = 0;
        fclose(f);
    }
    out *o = malloc(sizeof *o);
    if (!o)
        return 2;
    char head[256];
    if (json) {
        char *w = head + snprintf(head, sizeof head, "{\"pid\":%d,\"name\":\"", (int)pid);
        w = json_esc(w, comm);
        w = cpy(w, "\",\"regions\":[");
        *w = 0;
    } else {
        snprintf(head, sizeof head, "Process %d (%s), as VirtualQueryEx describes it\n"
                 "BaseAddress       RegionSize(KiB)  State    Type     Protect                 "
                 "AllocationBase    AllocProtect            Name\n", (int)pid, comm);
    }
    memset(o, 0, offsetof(out, buf));
    o->json = json, o->show_free = show_free, o->first = true, o->head = head;
    wm_maps m;
    int rc = wm_maps_read(pid, &m, rows, o);
    if (rc == -EACCES || rc == -EPERM) {
        fprintf(stderr,
                "winmem maps: permission denied reading process %d's memory map (/proc/%d/maps).\n"
                "  The kernel requires ptrace read access (PTRACE_MODE_READ): run as the same user\n"
                "  as the target (and the target must be dumpable), or with CAP_SYS_PTRACE\n"
                "  (e.g. as root or via sudo).\n", (int)pid, (int)pid);
    } else if (rc == -ENOENT || rc == -ESRCH) {
        fprintf(stderr, "winmem maps: no process %d\n", (int)pid);
    } else if (rc) {
        fprintf(stderr, "winmem maps: cannot read /proc/%d/maps: %s\n", (int)pid, strerror(-rc));
    } else {
        totals(o, &m);
        out_flush(o);
        wm_maps_free(&m);
    }
    free(o);
    return !rc && fflush(stdout) == 0 ? 0 : 2;
}
