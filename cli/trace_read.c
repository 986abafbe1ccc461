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
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "files.h"
#include "progress.h"
#include "salvage.h"
#include "trace_read.h"
#include "table.h"

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

/* Table slots come from a keyed mix of the id: a crafted trace cannot line
 * its thread, module or stack ids up on one slot without knowing the key,
 * which is random per process (AT_RANDOM). */
static uint32_t mix(uint32_t x)
{
    static uint32_t key;
    if (!key) {
        const uint8_t *r = (const uint8_t *)getauxval(AT_RANDOM);
        key = r ? (uint32_t)(r[0] | r[1] << 8 | r[2] << 16 | (uint32_t)r[3] << 24) | 1 : 0x9e3779b9u;
    }
    x ^= key;
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x;
}

typedef uint32_t (*key_fn)(const tr_trace *t, size_t i);
/* A thread's key mixes its tid and serial; lookups compare both. */
static uint32_t thread_key(uint32_t tid, uint32_t serial) { return tid ^ serial * 0x9e3779b9u; }
static uint32_t tid_only_key(const tr_trace *t, size_t i) { return t->threads[i].tid; }
static uint32_t tid_key(const tr_trace *t, size_t i) { return thread_key(t->threads[i].tid, t->threads[i].serial); }
static uint32_t mod_key(const tr_trace *t, size_t i) { return t->mods[i].rec->id; }

/* Open hash of index+1, load at most 1/2: the slot holding key or the empty
 * slot where it goes. */
static size_t hslot(const uint32_t *h, size_t cap, uint32_t key, const tr_trace *t, key_fn kf)
{
    size_t i = mix(key) & (cap - 1);
    while (h[i] && kf(t, h[i] - 1) != key)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Makes room for an n+1th entry (n are in). */
static bool hgrow(uint32_t **h, size_t *cap, size_t n, const tr_trace *t, key_fn kf)
{
    if ((n + 1) * 2 <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 64;
    uint32_t *nh = calloc(nc, sizeof *nh);
    if (!nh)
        return false;
    for (size_t i = 0; i < n; i++) {      /* into the first empty slot: keys may repeat */
        size_t j = mix(kf(t, i)) & (nc - 1);
        while (nh[j])
            j = (j + 1) & (nc - 1);
        nh[j] = (uint32_t)(i + 1);
    }
    free(*h);
    *h = nh, *cap = nc;
    return true;
}

/* The slot of thread (tid, serial) in t->tid_hash, or the empty one where it goes. */
static size_t tslot(const tr_trace *t, uint32_t tid, uint32_t serial)
{
    size_t i = mix(thread_key(tid, serial)) & (t->tid_hash_cap - 1);
    while (t->tid_hash[i] && (t->threads[t->tid_hash[i] - 1].tid != tid || t->threads[t->tid_hash[i] - 1].serial != serial))
        i = (i + 1) & (t->tid_hash_cap - 1);
    return i;
}

/* A thread is its tid and, where the writer gives one, its serial: Linux
 * hands a dead thread's tid to the next thread it makes. */
static tr_thread *thread_get(tr_trace *t, uint32_t tid, uint32_t serial)
{
    static __thread size_t last;   /* chunks are per thread: nearly always a hit */
    if (last < t->nthreads && t->threads[last].tid == tid && t->threads[last].serial == serial)
        return &t->threads[last];
    if (t->tid_hash_cap) {
        uint32_t i = t->tid_hash[tslot(t, tid, serial)];
        if (i)
            return &t->threads[last = i - 1];
    }
    if (t->nthreads >= UINT32_MAX - 1 || !hgrow(&t->tid_hash, &t->tid_hash_cap, t->nthreads, t, tid_key) ||
        !TABLE_GROW(t->threads, t->threads_cap, t->nthreads + 1, 16))
        return NULL;
    tr_thread *nt = &t->threads[t->nthreads];
    memset(nt, 0, sizeof *nt);
    nt->tid = tid;
    nt->serial = serial;
    nt->first_ns = UINT64_MAX;
    nt->sorted = true;
    t->tid_hash[tslot(t, tid, serial)] = (uint32_t)(t->nthreads + 1);
    last = t->nthreads++;
    return nt;
}

/* Calls are kept in the order read; finish_threads() sorts and applies the
 * "last record wins" rule. The table grows with records, not with seq. */
static bool add_call(tr_trace *t, const struct wmt_call *c, uint32_t serial)
{
    if (c->seq == 0)
        return false;
    tr_thread *th = thread_get(t, c->tid, serial);
    if (!th || !TABLE_GROW(th->calls, th->cap, th->ncalls + 1, 16))
        return false;
    if (th->ncalls && c->seq <= th->calls[th->ncalls - 1]->seq)
        th->sorted = false;
    th->calls[th->ncalls++] = c;
    if (c->start_ns < th->first_ns)
        th->first_ns = c->start_ns;
    t->nrecords++;
    return true;
}

/* By seq, then by place in the file: the mapping keeps file order, so the
 * later record of a (tid, seq) sorts last. Which copy is kept is
 * finish_threads()'s rule. */
static int by_seq_then_place(const void *a, const void *b)
{
    const struct wmt_call *x = *(const struct wmt_call *const *)a, *y = *(const struct wmt_call *const *)b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x > y) - (x < y);
}

static void finish_threads(tr_trace *t)
{
    for (size_t i = 0; i < t->nthreads; i++) {
        tr_thread *th = &t->threads[i];
        if (!th->sorted)
            qsort(th->calls, th->ncalls, sizeof *th->calls, by_seq_then_place);
        uint64_t n = 0;
        for (uint64_t k = 0; k < th->ncalls; k++) {
            if (n && th->calls[n - 1]->seq == th->calls[k]->seq) {
                /* A complete record wins over a PENDING copy, then the last
                 * one: a thread's chunks can reach the file out of order
                 * (the run's writer appends some, the thread others), so
                 * the pending copy may come after the complete one. */
                if (!(th->calls[k]->flags & WMT_CF_PENDING) || (th->calls[n - 1]->flags & WMT_CF_PENDING))
                    th->calls[n - 1] = th->calls[k];
            } else
                th->calls[n++] = th->calls[k];
        }
        th->ncalls = n;
        th->max_seq = n ? th->calls[n - 1]->seq : 0;
        t->ncalls += n;
        t->missing += th->max_seq - n;
    }
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
                size_t h = mix(t->stacks[i]->id) & (cap - 1);
                while (ns[h])
                    h = (h + 1) & (cap - 1);
                ns[h] = t->stacks[i];
            }
        free(t->stacks);
        t->stacks = ns, t->stack_cap = cap;
    }
    size_t h = mix(s->id) & (t->stack_cap - 1);
    while (t->stacks[h] && t->stacks[h]->id != s->id)
        h = (h + 1) & (t->stack_cap - 1);
    if (!t->stacks[h])
        t->nstacks++;
    t->stacks[h] = s;
    return true;
}

size_t tr_stack_slot(const tr_trace *t, uint32_t id)
{
    if (!id || !t->stack_cap)
        return SIZE_MAX;
    size_t h = mix(id) & (t->stack_cap - 1);
    while (t->stacks[h]) {
        if (t->stacks[h]->id == id)
            return h;
        h = (h + 1) & (t->stack_cap - 1);
    }
    return SIZE_MAX;
}

const struct wmt_stack *tr_stack(const tr_trace *t, uint32_t id)
{
    size_t h = tr_stack_slot(t, id);
    return h == SIZE_MAX ? NULL : t->stacks[h];
}

static bool add_module(tr_trace *t, const struct wmt_module *m)
{
    /* The record's own size first: its fields may lie past the file's end. */
    if (m->h.size < sizeof *m)
        return false;
    size_t need = sizeof *m + (size_t)m->nseg * sizeof(struct wmt_segment) + m->path_len;
    if (m->h.size < need || m->id == 0 || m->build_id_len > sizeof m->build_id)
        return false;
    char *path = strndup((const char *)(m + 1) + (size_t)m->nseg * sizeof(struct wmt_segment), m->path_len);
    if (!path)
        return false;
    if (t->mod_hash_cap) {
        uint32_t i = t->mod_hash[hslot(t->mod_hash, t->mod_hash_cap, m->id, t, mod_key)];
        if (i) {   /* re-reported (dlopen again): newest wins */
            free((char *)t->mods[i - 1].path);
            t->mods[i - 1].rec = m, t->mods[i - 1].path = path;
            return true;
        }
    }
    if (t->nmods >= UINT32_MAX - 1 || !hgrow(&t->mod_hash, &t->mod_hash_cap, t->nmods, t, mod_key) ||
        !TABLE_GROW(t->mods, t->mods_cap, t->nmods + 1, 16)) {
        free(path);
        return false;
    }
    t->mods[t->nmods] = (tr_module){ .rec = m, .path = path };
    t->mod_hash[hslot(t->mod_hash, t->mod_hash_cap, m->id, t, mod_key)] = (uint32_t)(t->nmods + 1);
    t->nmods++;
    return true;
}

static bool add_div(tr_trace *t, const struct wmt_divergence *d)
{
    if (!TABLE_GROW(t->divs, t->divs_cap, t->ndivs + 1, 64))
        return false;
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
        /* A reason this reader does not know is still lost data: [0]. */
        uint64_t *slot = &t->lost[l->reason < WMT_LOST_COUNT ? l->reason : 0];
        *slot = *slot + l->count < *slot ? UINT64_MAX : *slot + l->count;
        if (!t->stop && l->reason < WMT_LOST_COUNT && is_stop(l->reason))
            t->stop = l->reason;   /* the first stop reason is why it stopped */
        return true;
    }
    case WMT_REC_PROCESS: {
        const struct wmt_process *p = (const void *)r;
        if (r->size < sizeof *p || r->size < sizeof *p + p->image_len)
            return false;
        free(t->image);   /* a repeated record: the last one wins */
        t->image = strndup((const char *)(p + 1), p->image_len);
        return t->image != NULL;
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
    t->nchunks++;
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
    for (uint32_t i = 0; i < live_count(&lf); i++) {
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

/* Why the chunk at off cannot be read (NULL: it can); *len its length. */
static const char *chunk_check(const tr_trace *t, uint64_t off, char *why, size_t wlen)
{
    if (t->size - off < sizeof(struct wmt_chunk)) {
        snprintf(why, wlen, "a chunk header is incomplete (%llu bytes)", (unsigned long long)(t->size - off));
        return why;
    }
    const struct wmt_chunk *c = (const void *)(t->map + off);
    if (c->magic != WMT_CHUNK_MAGIC)
        snprintf(why, wlen, "no chunk starts there (bad magic): the file is damaged");
    else if (c->length > WMT_MAX_CHUNK || c->length % 8)
        snprintf(why, wlen, "chunk length %u is impossible: the file is damaged", c->length);
    else if (c->length > t->size - off - sizeof *c)
        snprintf(why, wlen, "the last chunk is incomplete (%llu of %u bytes): the program was killed or the copy cut",
                 (unsigned long long)(t->size - off - sizeof *c), c->length);
    else if ((uint32_t)crc32(0, (const uint8_t *)(c + 1), c->length) != c->crc)
        snprintf(why, wlen, "chunk of thread %u fails its CRC: bytes in it were changed", c->tid);
    else
        return NULL;
    return why;
}

/* The next intact chunk (magic, length, CRC) at an 8-byte boundary after
 * from, or 0. Chunks are written whole at 8-byte boundaries (the header is
 * padded to 8, every chunk is a multiple of 8, and a short write on a full
 * disk stops at a page boundary), so nothing else can start one. *budget
 * caps the CRC work: a file of nothing but fake chunk headers costs a few
 * times its size, then the search gives up. */
static uint64_t resync(const tr_trace *t, uint64_t from, uint64_t *budget)
{
    for (uint64_t off = (from + 7) & ~(uint64_t)7; off + sizeof(struct wmt_chunk) <= t->size; off += 8) {
        const struct wmt_chunk *c = (const void *)(t->map + off);
        if (c->magic != WMT_CHUNK_MAGIC || c->length > WMT_MAX_CHUNK || c->length % 8 ||
            c->length > t->size - off - sizeof *c)
            continue;
        if (*budget < c->length)
            return 0;
        *budget -= c->length;
        if ((uint32_t)crc32(0, (const uint8_t *)(c + 1), c->length) == c->crc)
            return off;
    }
    return 0;
}

/* Sums and checks after the last chunk: calls per thread, and lost records
 * END counts that no LOST record found here accounts for. */
static void finish(tr_trace *t)
{
    finish_threads(t);
    /* tid alone → the last thread with it (in file order), for readers that
     * only have a CALL's tid. */
    size_t cap = 64;
    while (cap < 2 * (t->nthreads + 1))
        cap *= 2;
    if ((t->last_tid_hash = calloc(cap, sizeof *t->last_tid_hash))) {
        t->last_tid_cap = cap;
        for (size_t i = 0; i < t->nthreads; i++)
            t->last_tid_hash[hslot(t->last_tid_hash, cap, t->threads[i].tid, t, tid_only_key)] = (uint32_t)(i + 1);
    }
    uint64_t sum = 0;
    for (int i = 0; i < WMT_LOST_COUNT; i++)
        sum = sum + t->lost[i] < sum ? UINT64_MAX : sum + t->lost[i];
    if (t->end && t->end->lost > sum)
        t->lost[0] += t->end->lost - sum;
    size_t n = strlen(t->cut);
    if (t->resumed && n < sizeof t->cut)
        snprintf(t->cut + n, sizeof t->cut - n, "; %llu intact chunks after it were read (%llu bytes skipped)",
                 (unsigned long long)t->resumed, (unsigned long long)t->skipped_bytes);
}

static int parse(tr_trace *t, bool show_progress, char *err, size_t errlen)
{
    if (check_header(t, err, errlen)) {
        tr_close(t);
        return -1;
    }
    t->sym = sym_cache_new();
    progress p;
    progress_start(&p, show_progress, "reading", t->size);
    uint64_t off = t->hdr->header_size, budget = 2 * (uint64_t)t->size + (4u << 20);
    t->good_bytes = off;
    char why[200];
    while (off < t->size) {
        if (chunk_check(t, off, why, sizeof why)) {
            if (!t->cut[0])
                cut(t, off, "%s", why);
            uint64_t next = resync(t, off + 8, &budget);
            if (!next)
                break;
            t->skipped_bytes += next - off;
            off = next;
            continue;
        }
        const struct wmt_chunk *c = (const void *)(t->map + off);
        read_chunk(t, c);
        off += sizeof *c + c->length;
        if (t->cut[0])
            t->resumed++;
        else
            t->good_bytes = off;
        progress_update(&p, off);
    }
    if (!t->end)
        read_live(t);   /* before the sums: its calls count like the file's */
    finish(t);
    progress_done(&p);
    return 0;
}

int tr_open(tr_trace *t, const char *path, bool show_progress, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->path = path;
    struct stat st;
    /* A FIFO or device named on the command line is refused before any
     * read: open() of a FIFO alone would block. */
    int fd = file_open_regular(path, false, &st, err, errlen);
    if (fd < 0)
        return -1;
    if (st.st_size == 0) {
        close(fd);
        return fail(err, errlen, path, "empty file: the traced program recorded nothing (did it start? was --only right?)");
    }
    t->size = (size_t)st.st_size;
    void *map = mmap(NULL, t->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(err, errlen, path, "cannot map: %s", strerror(errno));
    t->map = map;
    t->owns_map = true;
    return parse(t, show_progress, err, errlen);
}

int tr_open_buffer(tr_trace *t, const char *name, const void *buf, size_t size, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->path = name;
    if (!size)
        return fail(err, errlen, name, "empty file: the traced program recorded nothing (did it start? was --only right?)");
    t->map = buf;
    t->size = size;
    return parse(t, false, err, errlen);
}

void tr_close(tr_trace *t)
{
    for (size_t i = 0; i < t->nmods; i++) {
        free((char *)t->mods[i].path);
        free(t->mods[i].local);
    }
    free(t->mods);
    free(t->mod_hash);
    for (size_t i = 0; i < t->nthreads; i++)
        free(t->threads[i].calls);
    free(t->threads);
    free(t->tid_hash);
    free(t->last_tid_hash);
    free(t->stacks);
    free(t->divs);
    free(t->exe);
    free(t->prog);
    free(t->image);
    free(t->live);
    sym_cache_free(t->sym);
    if (t->map && t->owns_map)
        munmap((void *)t->map, t->size);
    memset(t, 0, sizeof *t);
}

const tr_thread *tr_thread_find(const tr_trace *t, uint32_t tid)
{
    if (!t->last_tid_cap)
        return NULL;
    uint32_t i = t->last_tid_hash[hslot(t->last_tid_hash, t->last_tid_cap, tid, t, tid_only_key)];
    return i ? &t->threads[i - 1] : NULL;
}

const tr_module *tr_module_by_id(const tr_trace *t, uint32_t id)
{
    if (!t->mod_hash_cap || !id)
        return NULL;
    uint32_t i = t->mod_hash[hslot(t->mod_hash, t->mod_hash_cap, id, t, mod_key)];
    return i ? &t->mods[i - 1] : NULL;
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
