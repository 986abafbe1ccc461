/*
 * cli/maps.c — a process's regions in Windows terms from /proc/PID/maps, for
 * `winmem maps` (cli/maps_cmd.c).
 *
 * One streamed read of /proc/PID/maps (the same kernel work `cat` does), a
 * hand parser and an incremental derivation, so rows can be written while the
 * kernel still produces text: with 60,000 VMAs the kernel's text generation
 * dominates and the whole stays near `cat`'s time.
 * Rules for Windows fields (docs/cli.md): no VMA → MEM_FREE; private
 * anonymous with no access → MEM_RESERVE; the span of an ELF or PE file
 * mapped at offset 0 (from its headers: .bss and copied sections included)
 * and [vdso] → MEM_IMAGE; other
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

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    while (n--)
        v = v << 8 | p[n];
    return v;
}

/* The span an image file occupies once loaded, from its own headers, or 0
 * when it is not an image. Each file is read once (cached by inode).
 *  PE:  Wine maps the headers from the file at the image base and the
 *       sections after them (file-backed or copied to anonymous memory);
 *       the span is SizeOfImage.
 *  ELF: ld.so maps the lowest PT_LOAD at the base; the span reaches the end
 *       of the highest PT_LOAD's memory, which covers the anonymous .bss. */
static uint64_t image_size(struct wm_derive *d, const vma *a)
{
    for (size_t i = 0; i < d->nimg; i++)
        if (d->imgs[i].inode == a->inode && d->imgs[i].dev == a->dev)
            return d->imgs[i].size;
    uint64_t size = 0;
    int fd = open(a->name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    uint8_t h[4096];
    ssize_t n = fd >= 0 ? pread(fd, h, sizeof h, 0) : -1;
    if (fd >= 0)
        close(fd);
    if (n >= 64 && h[0] == 'M' && h[1] == 'Z') {
        uint64_t off = le(h + 60, 4);   /* "PE\0\0", 20-byte file header, SizeOfImage at +56 */
        if (off + 84 <= (uint64_t)n && !memcmp(h + off, "PE\0\0", 4))
            size = le(h + off + 24 + 56, 4);
    } else if (n >= 64 && !memcmp(h, "\177ELF", 4) && h[4] == 2 && h[5] == 1) {
        uint64_t phoff = le(h + 32, 8), phent = le(h + 54, 2), phnum = le(h + 56, 2);
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint64_t k = 0; phent >= 56 && k < phnum && phoff + (k + 1) * phent <= (uint64_t)n; k++) {
            const uint8_t *ph = h + phoff + k * phent;
            if (le(ph, 4) != 1)   /* PT_LOAD */
                continue;
            uint64_t va = le(ph + 16, 8), mem = le(ph + 40, 8);
            lo = va < lo ? va : lo;
            hi = va + mem > hi ? va + mem : hi;
        }
        if (hi > lo)
            size = hi - (lo & ~0xfffull);
    }
    size = (size + 0xfff) & ~0xfffull;
    if (d->nimg < sizeof d->imgs / sizeof *d->imgs)
        d->imgs[d->nimg++] = (struct wm_img){ a->inode, a->dev, size };
    return size;
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
      /* A VMA can straddle an image's end (the .bss merged with a neighbouring
       * anonymous mapping): it is then split there, image and private. */
      vma piece = v[i];
      for (;;) {
        vma *a = &piece;
        uint64_t vma_end = a->end;
        /* An image: a PE or ELF file mapped at offset 0 starts one; its
         * span, from the file's headers, covers the VMAs that follow. */
        if (a->inode && a->offset == 0 && a->name[0] == '/' && a->start >= d->img_end) {
            uint64_t sz = image_size(d, a);
            if (sz)
                d->img_base = a->start, d->img_end = a->start + sz, d->img_name = a->name;
        }
        bool img = a->start >= d->img_base && a->start < d->img_end;
        if (img && a->end > d->img_end)
            a->end = d->img_end;
        rc = push_free(m, d->at, a->start);
        wm_mregion r = { a->start, a->end - a->start, a->start, 0, MEM_COMMIT, 0, MEM_PRIVATE, a->name };
        bool anon = !a->inode;
        if (img || !strcmp(a->name, "[vdso]")) {
            r.type = MEM_IMAGE;
            r.alloc_base = img ? d->img_base : a->start;
            r.alloc_protect = PAGE_EXECUTE_WRITECOPY;
            r.protect = protect_of(a, !anon && !a->shared);
            if (img)   /* .bss and sections copied to anonymous memory too */
                r.name = d->img_name;
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
        if (rc || a->end == vma_end)
            break;
        a->offset += a->end - a->start;
        a->start = a->end, a->end = vma_end;
      }
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
            size_t keep = m->ds.done;
            memmove(vv.v, vv.v + keep, (vv.n - keep) * sizeof *vv.v);
            vv.n -= keep;
            m->ds.done -= keep;
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
