/*
 * cli/maps.c — a process's regions in Windows terms from /proc/PID/maps, for
 * `winmem maps` (cli/maps_cmd.c).
 *
 * One streamed read of /proc/PID/maps (the same kernel work `cat` does), a
 * hand parser and an incremental derivation, so rows can be written while the
 * kernel still produces text: with 60,000 VMAs the kernel's text generation
 * dominates and the whole stays near `cat`'s time.
 * The rules for each Windows field are core/winview.h's, the ones
 * VirtualQueryEx applies (docs/query.md); this file walks the text in order
 * and adds what a whole-map walk can see and one query cannot: an image's
 * span from its first VMA on, a view's run, and the 64 KiB guess for
 * anonymous allocations (docs/cli.md).
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
#include "winview.h"
#include "maps.h"
#include "table.h"

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

const char *wm_protect_text(uint32_t p, char *buf, size_t size)
{
    const char *base = wm_protect_name(p);
    if (!(p & (PAGE_GUARD | PAGE_NOCACHE | PAGE_WRITECOMBINE)))
        return base;
    snprintf(buf, size, "%s%s%s%s", base, p & PAGE_GUARD ? "|PAGE_GUARD" : "", p & PAGE_NOCACHE ? "|PAGE_NOCACHE" : "",
             p & PAGE_WRITECOMBINE ? "|PAGE_WRITECOMBINE" : "");
    return buf;
}

/* One parsed line of the maps text; name points into the text (or, when
 * streaming, into m's name arena: keep_names). */
typedef struct vma {
    wm_vma v;
    const char *name;
} vma;

static int push(wm_maps *m, const wm_mregion *in)
{
    /* The kernel's text of a process that maps and unmaps while it is read
     * is not one snapshot (each read() sees the VMAs as they are then): a
     * later line may start below where the last region ended. Regions stay
     * in order and never overlap: what was already shown is not shown
     * again. */
    wm_mregion clipped = *in;
    const wm_mregion *r = &clipped;
    if (clipped.base < m->pushed_end) {
        if (clipped.base + clipped.size <= m->pushed_end)
            return 0;
        clipped.size -= m->pushed_end - clipped.base;
        clipped.base = m->pushed_end;
    }
    m->pushed_end = clipped.base + clipped.size;
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
    if (!TABLE_GROW(m->r, m->cap, m->n + 1, 1024))
        return -ENOMEM;
    m->r[m->n++] = *r;
    return 0;
}

static int push_free(wm_maps *m, uint64_t from, uint64_t to)
{
    if (from >= to)
        return 0;
    wm_mregion r = { from, to - from, 0, 0, MEM_FREE, PAGE_NOACCESS, 0, "", 0 };
    return push(m, &r);
}

typedef struct vmavec { vma *v; size_t n, cap; } vmavec;

static vma *vma_slot(vmavec *vv)
{
    if (!TABLE_GROW(vv->v, vv->cap, vv->n + 1, 4096))
        return NULL;
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
        if (wm_maps_line(p, nl, &v->v, &v->name) && v->v.start < wm_view_user_end())
            vv->n++;
        p = nl + 1;
    }
    return p < end ? (size_t)(p - text) : len;
}

/* One VMA (or its part inside an image's span) → one region, by
 * winview's rules, with the allocation it continues. */
static int derive_one(wm_maps *m, struct wm_derive *d, const wm_vma *a, const char *name)
{
    int rc = push_free(m, d->at, a->start);
    bool img = a->start >= d->img_base && a->start < d->img_end;
    wm_view_attr at = wm_view_of(a, img, false);   /* text: copied pages unknown */
    wm_mregion r = { a->start, a->end - a->start, a->start, 0, at.state, at.protect, at.type, name, 0 };
    if (img) {
        r.alloc_base = d->img_base;
        r.alloc_protect = wm_view_alloc_protect(a, &at, true);
        r.name = d->img_name;   /* .bss and sections copied to anonymous memory too */
    } else if (a->inode) {
        if (!wm_view_same_view(&d->view_last, a))
            d->view_first = *a;
        d->view_last = *a;
        r.alloc_base = d->view_first.start;
        r.alloc_protect = wm_view_alloc_protect(&d->view_first, &at, false);
    } else {
        if (wm_view_continues_anon(d->anon_end, a)) {
            r.alloc_base = d->anon_base;
            r.alloc_protect = d->anon_protect;
        } else {
            r.alloc_protect = wm_view_alloc_protect(a, &at, false);
            d->anon_base = a->start;
            d->anon_protect = r.alloc_protect;
        }
        d->anon_end = a->end;
    }
    d->at = a->end;
    return rc ? rc : push(m, &r);
}

/* Turns VMAs [m->ds.done, nv) into regions; called as chunks of text
 * arrive, so rows can be written while the kernel still produces the rest.
 * final: no more VMAs follow (the free space up to the top is added). */
static int derive(wm_maps *m, vma *v, size_t nv, bool final)
{
    struct wm_derive *d = &m->ds;
    int rc = 0;
    size_t i;
    for (i = d->done; i < nv && !rc; i++) {
        wm_vma a = v[i].v;
        a.end = wm_view_clip(a.end);
        /* An image starts at its headers' VMA; its span covers the VMAs that
         * follow, each file read once (wm_image_file_span caches). */
        uint64_t span = a.start >= d->img_end ? wm_view_image_start(&a, v[i].name) : 0;
        if (span)
            d->img_base = a.start, d->img_end = a.start + span, d->img_name = v[i].name;
        /* A VMA can straddle an image's end (the .bss merged with a
         * neighbouring anonymous mapping): it is then split there. */
        if (a.start >= d->img_base && a.start < d->img_end && a.end > d->img_end) {
            wm_vma head = a;
            head.end = d->img_end;
            rc = derive_one(m, d, &head, v[i].name);
            a.offset += head.end - head.start;
            a.start = head.end;
        }
        if (!rc)
            rc = derive_one(m, d, &a, v[i].name);
    }
    d->done = i;
    if (final && !rc)
        rc = push_free(m, d->at, wm_view_user_end());
    return rc;
}

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

/* Opens pid's maps and starts the reader thread. */
static int reader_start(reader *r, pid_t pid, pthread_t *th)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    memset(r, 0, sizeof *r);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return -errno;
    r->tail = &r->head;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int rc = -pthread_create(th, NULL, read_thread, r);
    if (rc)
        close(r->fd);
    return rc;
}

/* The next chunk read, or NULL at the end of the text. */
static rchunk *reader_take(reader *r)
{
    pthread_mutex_lock(&r->mu);
    while (!r->head && !r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    rchunk *c = r->head;
    if (c && !(r->head = c->next))
        r->tail = &r->head;
    pthread_mutex_unlock(&r->mu);
    return c;
}

static void reader_give_back(reader *r, rchunk *c)
{
    pthread_mutex_lock(&r->mu);
    c->next = r->spare;
    r->spare = c;
    pthread_mutex_unlock(&r->mu);
}

/* Waits for the thread, frees the chunks; returns the read's -errno or 0. */
static int reader_stop(reader *r, pthread_t th)
{
    pthread_join(th, NULL);
    for (rchunk **l = &r->head; l; l = l == &r->head ? &r->spare : NULL)
        while (*l) {
            rchunk *c = *l;
            *l = c->next;
            free(c);
        }
    close(r->fd);
    return -r->err;
}

/* Parses and derives the complete lines of [text, text+len) (all of it when
 * final); returns the bytes used (a cut last line is left to carry over). */
static size_t consume(wm_maps *m, vmavec *vv, char *text, size_t len, bool final, int *rc)
{
    size_t from = vv->n;
    size_t used = parse_lines(text, len, final, vv, rc);
    if (!*rc)
        *rc = keep_names(m, vv, from);
    if (!*rc && !final)
        *rc = derive(m, vv->v, vv->n, false);
    return used;
}

/* When streaming, emits the regions that are final (all but the last, which
 * may still merge with the next) and drops them with their VMAs, so the
 * arrays stay small and cache-hot instead of growing to 60,000 entries. */
static void emit_final(wm_maps *m, vmavec *vv, wm_maps_emit emit, void *ctx)
{
    if (!emit || m->n <= 1)
        return;
    emit(ctx, m, 0, m->n - 1);
    m->r[0] = m->r[m->n - 1];
    m->n = 1;
    size_t keep = m->ds.done;
    memmove(vv->v, vv->v + keep, (vv->n - keep) * sizeof *vv->v);
    vv->n -= keep;
    m->ds.done -= keep;
}

int wm_maps_read(pid_t pid, wm_maps *m, wm_maps_emit emit, void *ctx)
{
    memset(m, 0, sizeof *m);
    reader r;
    pthread_t th;
    int rc = reader_start(&r, pid, &th);
    if (rc)
        return rc;
    vmavec vv = { 0 };
    char carry[HEADROOM];
    size_t carry_len = 0;
    rchunk *c;
    while (!rc && (c = reader_take(&r))) {
        /* A line cut by the chunk boundary goes in front of the next chunk. */
        char *text = c->buf + HEADROOM - carry_len;
        memcpy(text, carry, carry_len);
        size_t len = carry_len + c->len;
        size_t used = consume(m, &vv, text, len, false, &rc);
        if (!rc)
            emit_final(m, &vv, emit, ctx);
        carry_len = len - used;
        if (carry_len > sizeof carry)
            carry_len = 0;   /* a "line" longer than any path: drop it */
        memcpy(carry, text + used, carry_len);
        reader_give_back(&r, c);
    }
    int err = reader_stop(&r, th);
    if (!rc)
        rc = err;
    if (!rc && carry_len) {   /* a last line without a newline */
        carry_len = carry_len < sizeof carry ? carry_len : sizeof carry - 1;
        consume(m, &vv, carry, carry_len, true, &rc);
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
