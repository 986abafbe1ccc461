/*
 * cli/trace_read.c — see trace_read.h. Every length read from the file is
 * checked against what is left before it is used: the tests feed this cut,
 * flipped and foreign files under AddressSanitizer.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "progress.h"
#include "salvage.h"
#include "trace_read.h"

static void cut(tr_trace *t, uint64_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(t->cut, sizeof t->cut, "trace cut at byte %llu of %llu: ",
                     (unsigned long long)off, (unsigned long long)t->size);
    if (n > 0 && (size_t)n < sizeof t->cut)
        vsnprintf(t->cut + n, sizeof t->cut - (size_t)n, fmt, ap);
    va_end(ap);
}

/* A thread is its tid and, where the writer gives one, its serial: Linux
 * hands a dead thread's tid to the next thread it makes. */
static tr_thread *thread_get(tr_trace *t, uint32_t tid, uint32_t serial)
{
    static __thread size_t last;   /* chunks are per thread: nearly always a hit */
    if (last < t->nthreads && t->threads[last].tid == tid && t->threads[last].serial == serial)
        return &t->threads[last];
    for (size_t i = 0; i < t->nthreads; i++)
        if (t->threads[i].tid == tid && t->threads[i].serial == serial)
            return &t->threads[last = i];
    tr_thread *nt = realloc(t->threads, (t->nthreads + 1) * sizeof *nt);
    if (!nt)
        return NULL;
    t->threads = nt;
    memset(&nt[t->nthreads], 0, sizeof *nt);
    nt[t->nthreads].tid = tid;
    nt[t->nthreads].serial = serial;
    nt[t->nthreads].first_ns = UINT64_MAX;
    last = t->nthreads;
    return &nt[t->nthreads++];
}

static bool add_call(tr_trace *t, const struct wmt_call *c, uint32_t serial)
{
    tr_thread *th = thread_get(t, c->tid, serial);
    /* seq is dense per thread; a value far beyond anything this file could
     * hold is damage, not a reason to allocate gigabytes. */
    if (!th || c->seq == 0 || c->seq > t->size / 8 + (1u << 20))
        return false;
    if (c->seq > th->cap) {
        uint64_t cap = th->cap ? th->cap : 1024;
        while (cap < c->seq)
            cap *= 2;
        const struct wmt_call **nc = realloc(th->calls, cap * sizeof *nc);
        if (!nc)
            return false;
        memset(nc + th->cap, 0, (cap - th->cap) * sizeof *nc);
        th->calls = nc, th->cap = cap;
    }
    const struct wmt_call **slot = &th->calls[c->seq - 1];
    if (!*slot)
        t->ncalls++;
    *slot = c;   /* the last record for a (tid, seq) wins */
    if (c->seq > th->ncalls)
        th->ncalls = c->seq;
    if (c->start_ns < th->first_ns)
        th->first_ns = c->start_ns;
    t->nrecords++;
    return true;
}

static bool add_stack(tr_trace *t, const struct wmt_stack *s)
{
    if (s->id == 0)
        return false;
    if ((t->nstacks + 1) * 2 > t->stack_cap) {   /* open addressing, load ≤ 1/2 */
        size_t cap = t->stack_cap ? t->stack_cap * 2 : 1024;
        const struct wmt_stack **ns = calloc(cap, sizeof *ns);
        if (!ns)
            return false;
        for (size_t i = 0; i < t->stack_cap; i++)
            if (t->stacks[i]) {
                size_t h = (t->stacks[i]->id * 2654435761u) & (cap - 1);
                while (ns[h])
                    h = (h + 1) & (cap - 1);
                ns[h] = t->stacks[i];
            }
        free(t->stacks);
        t->stacks = ns, t->stack_cap = cap;
    }
    size_t h = (s->id * 2654435761u) & (t->stack_cap - 1);
    while (t->stacks[h] && t->stacks[h]->id != s->id)
        h = (h + 1) & (t->stack_cap - 1);
    if (!t->stacks[h])
        t->nstacks++;
    t->stacks[h] = s;
    return true;
}

const struct wmt_stack *tr_stack(const tr_trace *t, uint32_t id)
{
    if (!id || !t->stack_cap)
        return NULL;
    size_t h = (id * 2654435761u) & (t->stack_cap - 1);
    while (t->stacks[h]) {
        if (t->stacks[h]->id == id)
            return t->stacks[h];
        h = (h + 1) & (t->stack_cap - 1);
    }
    return NULL;
}

static bool add_module(tr_trace *t, const struct wmt_module *m)
{
    size_t need = sizeof *m + (size_t)m->nseg * sizeof(struct wmt_segment) + m->path_len;
    if (m->h.size < need || m->id == 0 || m->build_id_len > sizeof m->build_id)
        return false;
    char *path = strndup((const char *)(m + 1) + (size_t)m->nseg * sizeof(struct wmt_segment), m->path_len);
    if (!path)
        return false;
    for (size_t i = 0; i < t->nmods; i++)
        if (t->mods[i].rec->id == m->id) {   /* re-reported (dlopen again): newest wins */
            free((char *)t->mods[i].path);
            t->mods[i].rec = m, t->mods[i].path = path;
            return true;
        }
    tr_module *nm = realloc(t->mods, (t->nmods + 1) * sizeof *nm);
    if (!nm) {
        free(path);
        return false;
    }
    t->mods = nm;
    t->mods[t->nmods++] = (tr_module){ .rec = m, .path = path };
    return true;
}

static bool add_div(tr_trace *t, const struct wmt_divergence *d)
{
    if (t->ndivs == t->divs_cap) {
        size_t cap = t->divs_cap ? t->divs_cap * 2 : 64;
        const struct wmt_divergence **nd = realloc(t->divs, cap * sizeof *nd);
        if (!nd)
            return false;
        t->divs = nd, t->divs_cap = cap;
    }
    t->divs[t->ndivs++] = d;
    return true;
}

static bool is_stop(uint32_t reason)
{
    return reason == WMT_LOST_WRITE || reason == WMT_LOST_DESCRIPTOR || reason == WMT_LOST_SIZE ||
           reason == WMT_LOST_NOSPACE;
}

/* One record; false when it does not hold together (counted as skipped).
 * serial: the writer thread's, from its chunk (0 in older traces). */
static bool record(tr_trace *t, const struct wmt_rec *r, uint32_t serial)
{
    switch (r->type) {
    case WMT_REC_MODULE:
        return add_module(t, (const void *)r);
    case WMT_REC_THREAD: {
        const struct wmt_thread *th = (const void *)r;
        if (r->size < offsetof(struct wmt_thread, thread))
            return false;
        tr_thread *x = thread_get(t, th->tid, r->size >= sizeof *th ? th->thread : 0);
        if (x)
            memcpy(x->name, th->name, 16), x->name[16] = 0;
        return x != NULL;
    }
    case WMT_REC_STACK: {
        const struct wmt_stack *s = (const void *)r;
        if (r->size < sizeof *s || r->size < sizeof *s + (size_t)s->nframes * sizeof(struct wmt_frame))
            return false;
        return add_stack(t, s);
    }
    case WMT_REC_CALL:
        return r->size >= sizeof(struct wmt_call) && add_call(t, (const void *)r, serial);
    case WMT_REC_DIVERGENCE:
        return r->size >= sizeof(struct wmt_divergence) && add_div(t, (const void *)r);
    case WMT_REC_LOST: {
        const struct wmt_lost *l = (const void *)r;
        if (r->size < sizeof *l)
            return false;
        if (l->reason >= WMT_LOST_COUNT)
            return false;
        t->lost[l->reason] += l->count;
        if (!t->stop && is_stop(l->reason))
            t->stop = l->reason;   /* the first stop reason is why it stopped */
        return true;
    }
    case WMT_REC_END:
        if (r->size < sizeof(struct wmt_end))
            return false;
        t->end = (const void *)r;
        if (!t->stop && is_stop(t->end->stop))
            t->stop = t->end->stop;
        return true;
    default:
        return false;   /* a newer writer's record: skipped by size */
    }
}

static int fail(char *err, size_t len, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(err, len, "%s: ", path);
    if (n > 0 && (size_t)n < len)
        vsnprintf(err + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_header(tr_trace *t, char *err, size_t len)
{
    const char *p = t->path;
    if (t->size < 8 || memcmp(t->map, WMT_MAGIC, 8)) {
        if (t->size < 8 && !memcmp(t->map, WMT_MAGIC, t->size))
            return fail(err, len, p, "cut inside the header (%zu of %d bytes): nothing readable", t->size, WMT_HEADER_FIXED_SIZE);
        return fail(err, len, p, "not a winmem trace (it does not start with \"%s\")", WMT_MAGIC);
    }
    if (t->size < WMT_HEADER_FIXED_SIZE)
        return fail(err, len, p, "cut inside the header (%zu of %d bytes): nothing readable", t->size, WMT_HEADER_FIXED_SIZE);
    const struct wmt_header *h = t->hdr = (const void *)t->map;
    if (h->version != WMT_VERSION)
        return fail(err, len, p, "trace format version %u; this winmem reads version %d", h->version, WMT_VERSION);
    if (h->pointer_size != 8 || h->little_endian != 1)
        return fail(err, len, p, "damaged header (pointer size %u, little-endian %u; expected 8 and 1)",
                    h->pointer_size, h->little_endian);
    if (h->header_size < WMT_HEADER_FIXED_SIZE + h->exe_len + h->prog_len || h->header_size % 8)
        return fail(err, len, p, "damaged header (header size %u does not fit its strings)", h->header_size);
    if (h->header_size > t->size)
        return fail(err, len, p, "cut inside the header (%zu of %u bytes): nothing readable", t->size, h->header_size);
    t->exe = strndup((const char *)t->map + WMT_HEADER_FIXED_SIZE, h->exe_len);
    t->prog = strndup((const char *)t->map + WMT_HEADER_FIXED_SIZE + h->exe_len, h->prog_len);
    if (!t->exe || !t->prog)
        return fail(err, len, p, "out of memory");
    return 0;
}

/* The records of one chunk whose length and CRC were checked. */
static void read_chunk(tr_trace *t, const struct wmt_chunk *c)
{
    const uint8_t *rec = (const uint8_t *)(c + 1);
    uint32_t serial = t->hdr->flags & WMT_HF_THREAD_SERIAL ? c->thread : 0;
    for (uint32_t at = 0; at + sizeof(struct wmt_rec) <= c->length;) {
        const struct wmt_rec *r = (const void *)(rec + at);
        if (r->size < 8 || r->size % 8 || r->size > c->length - at) {
            t->skipped++;   /* cannot find the next record: drop the chunk's rest */
            break;
        }
        if (!record(t, r, serial))
            t->skipped++;
        at += r->size;
    }
}

/* TRACE.live of a process that is gone: its unwritten chunks, lost counts
 * and stop reason, read as if appended (`winmem run` appends them). */
static void read_live(tr_trace *t)
{
    live_file lf;
    if (live_open(&lf, t->path))
        return;
    if (lf.alive) {
        t->live_running = true;
        live_close(&lf);
        return;
    }
    for (uint32_t i = 0; i < lf.hdr->nslots; i++) {
        const struct wmt_chunk *c = live_chunk(&lf, i);
        if (c) {
            read_chunk(t, c);
            t->live_chunks++;
        }
    }
    for (uint32_t k = 1; k < WMT_LOST_COUNT; k++)
        t->lost[k] += lf.hdr->lost[k];
    if (!t->stop && is_stop(lf.hdr->stop))
        t->stop = lf.hdr->stop;
    t->live_end = lf.hdr->end_reason;
    t->live = lf.map;                 /* the records point into it */
}

int tr_open(tr_trace *t, const char *path, bool show_progress, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return fail(err, errlen, path, "%s", strerror(e));
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return fail(err, errlen, path, S_ISREG(st.st_mode)
                    ? "empty file: the traced program recorded nothing (did it start? was --only right?)"
                    : "not a regular file");
    }
    t->size = (size_t)st.st_size;
    void *map = mmap(NULL, t->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(err, errlen, path, "cannot map: %s", strerror(errno));
    t->map = map;
    if (check_header(t, err, errlen)) {
        tr_close(t);
        return -1;
    }
    t->sym = sym_cache_new();
    progress p;
    progress_start(&p, show_progress, "reading", t->size);
    uint64_t off = t->hdr->header_size;
    t->good_bytes = off;
    while (off < t->size) {
        if (t->size - off < sizeof(struct wmt_chunk)) {
            cut(t, off, "a chunk header is incomplete (%llu bytes)", (unsigned long long)(t->size - off));
            break;
        }
        const struct wmt_chunk *c = (const void *)(t->map + off);
        if (c->magic != WMT_CHUNK_MAGIC) {
            cut(t, off, "no chunk starts there (bad magic): the file is damaged");
            break;
        }
        if (c->length > WMT_MAX_CHUNK || c->length % 8) {
            cut(t, off, "chunk length %u is impossible: the file is damaged", c->length);
            break;
        }
        if (c->length > t->size - off - sizeof *c) {
            cut(t, off, "the last chunk is incomplete (%llu of %u bytes): the program was killed or the copy cut",
                (unsigned long long)(t->size - off - sizeof *c), c->length);
            break;
        }
        const uint8_t *rec = (const uint8_t *)(c + 1);
        if ((uint32_t)crc32(0, rec, c->length) != c->crc) {
            cut(t, off, "chunk of thread %u fails its CRC: bytes in it were changed", c->tid);
            break;
        }
        read_chunk(t, c);
        off += sizeof *c + c->length;
        t->good_bytes = off;
        t->nchunks++;
        progress_update(&p, off);
    }
    progress_done(&p);
    if (!t->end)
        read_live(t);
    return 0;
}

void tr_close(tr_trace *t)
{
    for (size_t i = 0; i < t->nmods; i++) {
        free((char *)t->mods[i].path);
        free(t->mods[i].local);
    }
    free(t->mods);
    for (size_t i = 0; i < t->nthreads; i++)
        free(t->threads[i].calls);
    free(t->threads);
    free(t->stacks);
    free(t->divs);
    free(t->exe);
    free(t->prog);
    free(t->live);
    sym_cache_free(t->sym);
    if (t->map)
        munmap((void *)t->map, t->size);
    memset(t, 0, sizeof *t);
}

const tr_module *tr_module_by_id(const tr_trace *t, uint32_t id)
{
    for (size_t i = 0; i < t->nmods; i++)
        if (t->mods[i].rec->id == id)
            return &t->mods[i];
    return NULL;
}

const char *tr_basename(const char *path)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\')
            b = p + 1;
    return b;
}

const char *tr_stop_text(uint32_t reason)
{
    switch (reason) {
    case WMT_LOST_WRITE: return "a write to the trace failed";
    case WMT_LOST_DESCRIPTOR: return "the program closed or replaced the trace's descriptor";
    case WMT_LOST_SIZE: return "the trace reached its size limit (--max-size / WINMEM_MAX_SIZE)";
    case WMT_LOST_NOSPACE: return "the disk was full";
    default: return "an unknown reason";
    }
}

const char *tr_end_text(const tr_trace *t, char *buf, size_t len)
{
    char stop[200] = "";
    if (t->stop)
        snprintf(stop, sizeof stop, "; recording stopped early: %s", tr_stop_text(t->stop));
    const struct wmt_end *e = t->end;
    if (e && e->reason == WMT_END_EXIT)
        snprintf(buf, len, "the program exited normally%s", stop);
    else if (e && e->reason == WMT_END_EXEC)
        snprintf(buf, len, "the program exec'd another image (it records into a new file)%s", stop);
    else if (e && e->reason == WMT_END_SALVAGED)
        snprintf(buf, len, "no END record from the program: it was killed or died; its unwritten records "
                 "were saved from its .live buffers%s", stop);
    else if (t->live_end == WMT_END_EXIT || t->live_end == WMT_END_EXEC)
        snprintf(buf, len, "the program %s, but could not write its END record%s",
                 t->live_end == WMT_END_EXIT ? "exited normally" : "exec'd another image", stop);
    else if (t->live_running)
        snprintf(buf, len, "no END record yet: the program is still running%s", stop);
    else if (t->live_chunks || t->live)
        snprintf(buf, len, "no END record: the program was killed or died; its unwritten records were "
                 "read from its .live buffers%s", stop);
    else if (t->stop)
        snprintf(buf, len, "no END record%s", stop);
    else
        snprintf(buf, len, "no END record: the program was killed, is still running, or the copy was cut");
    return buf;
}

void tr_describe(const tr_trace *t, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%llu calls in %zu threads, %llu chunks (%llu of %llu bytes readable)",
                     (unsigned long long)t->ncalls, t->nthreads, (unsigned long long)t->nchunks,
                     (unsigned long long)t->good_bytes, (unsigned long long)t->size);
    if (t->cut[0] && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, "; %s", t->cut);
}
