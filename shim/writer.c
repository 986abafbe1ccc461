/*
 * shim/writer.c — the trace file: per-thread buffers, chunks, the
 * re-entrancy guard, fork / exec / exit.
 *
 * Why this shape (docs/trace-format.md): records go into a buffer owned by
 * one thread, so the hot path takes no lock and calls no malloc; a full
 * buffer becomes one chunk, written with one write() on an O_APPEND file,
 * so a kill -9 leaves a file that is valid up to its last whole chunk.
 * The only other thread that ever touches a buffer is the one flushing all
 * of them at exit; a per-buffer state word (CAS) keeps the two apart, and
 * whoever loses drops the record and counts it as LOST.
 *
 * Under `winmem run` a thread's slot is a ring of buffers: a full one is
 * left FULL for the run's writer process (shim/live.c) and the thread goes
 * on in the next OPEN one. Each buffer's state word says who may append
 * it, taken by compare-and-swap: the writer, the thread itself when none
 * is OPEN (the writer is behind, gone, or there is none), or the exit flush.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common/crc.h"
#include "common/names.h"
#include "shim.h"
#include "native_status.h"
#include "record.h"

#define BUF_DATA     (WM_LIVE_BUF - sizeof(struct wmt_live_buf) - WMT_CHUNK_SIZE)   /* records per chunk */
#define FLUSH_NS     (100 * 1000000ULL) /* a busy thread's chunk reaches the file within 100 ms */
#define MAX_THREADS  1024
#define STACK_SLOTS  512                /* shim/stack.c's per-thread table: slots of 24 + 8 x depth bytes */

enum { B_IDLE, B_OWNER, B_FLUSHER };

struct wm_tbuf {
    int state;                /* B_*: who may touch data (CAS) */
    int in_use;               /* slot owned by a live thread */
    uint32_t tid;
    uint32_t serial;          /* unique per thread for the life of the trace */
    uint32_t chunk_no;        /* sequence of the chunk being filled */
    uint32_t used;            /* bytes of records in data after the chunk header */
    uint32_t calls_in_chunk;  /* CALLs in data: counted lost if the chunk cannot be written */
    uint64_t call_seq;
    uint64_t calls;           /* CALL records this buffer made (END's total) */
    uint64_t chunk_start_ns;
    unsigned char *ring;      /* nbuf buffers of WM_LIVE_BUF bytes: a .live slot (shim/live.c) or one private */
    unsigned char *data;      /* the chunk header of buffer cur, the one being filled */
    int nbuf, cur;
    size_t ring_size;         /* bytes mapped at ring */
    bool shared;              /* ring is a .live slot */
    bool handed;              /* buffer cur is FULL: the thread waits for an OPEN one */
    bool frozen;              /* the trace's descriptor is gone: data stays for the salvager */
    unsigned char *stacks;    /* STACK_SLOTS x (24 + 8 x depth) */
    size_t stacks_size;
};

WM_TLS struct wm_thread wm_self;

static struct wm_tbuf *slots[MAX_THREADS];
static pthread_key_t thread_key;
static uint32_t next_serial;
static uint64_t meta_seq;     /* chunk sequence of tid 0 */
static pid_t owner_pid;       /* the process these buffers belong to */

/* ---- small helpers ---- */

uint32_t wm_gettid(void) { return (uint32_t)syscall(SYS_gettid); }

void *wm_raw_mmap(size_t len)
{
    /* The raw system call: never seen by the shim's own mmap hook, no malloc. */
    void *p = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static struct wmt_live_buf *buf_at(const struct wm_tbuf *b, int k)
{
    return (struct wmt_live_buf *)(void *)(b->ring + (size_t)k * WM_LIVE_BUF);
}

/* The chunk header at the front of a buffer is kept current, so a .live
 * slot read after a kill says which thread, which chunk, how many bytes. */
static void chunk_open(struct wm_tbuf *b)
{
    struct wmt_chunk *c = (struct wmt_chunk *)b->data;
    buf_at(b, b->cur)->calls = 0;
    c->tid = b->tid;
    c->chunk_no = b->chunk_no;
    c->thread = b->serial;
    c->crc = 0;
    __atomic_store_n(&c->length, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&c->magic, WMT_CHUNK_MAGIC, __ATOMIC_RELEASE);
}

/* Appends buffer k, which the caller took (FLUSHING): afterwards it is
 * OPEN and empty — or, when the trace's descriptor is gone, FULL in its
 * .live slot for the salvager, and the ring frozen. */
static void append_buf(struct wm_tbuf *b, int k)
{
    struct wmt_live_buf *h = buf_at(b, k);
    struct wmt_chunk *c = (struct wmt_chunk *)(h + 1);
    if (c->length) {
        c->crc = wm_crc32((unsigned char *)(c + 1), c->length);
        if (!wm_file_ready() || !wm_file_write(c, WMT_CHUNK_SIZE + c->length)) {
            uint32_t r = wm_file_stop_reason();
            if (!r && wm_file_stalled()) {   /* kept: appended once the writer goes on */
                __atomic_store_n(&h->state, WMT_BUF_FULL, __ATOMIC_RELEASE);
                return;
            }
            if (r == WMT_LOST_DESCRIPTOR && b->shared) {
                __atomic_store_n(&b->frozen, true, __ATOMIC_RELEASE);
                __atomic_store_n(&h->state, WMT_BUF_FULL, __ATOMIC_RELEASE);
                return;
            }
            wm_lost(r ? r : WMT_LOST_WRITE, h->calls);
        }
    }
    c->length = 0;
    h->calls = 0;
    __atomic_store_n(&h->state, WMT_BUF_OPEN, __ATOMIC_RELEASE);
}

/* Appends every FULL buffer of the ring no one else took, oldest first.
 * Needs no ownership of b: the exit flush calls it on a busy thread's ring. */
static void append_full(struct wm_tbuf *b)
{
    int from = __atomic_load_n(&b->cur, __ATOMIC_RELAXED);
    for (int i = 1; i <= b->nbuf && !__atomic_load_n(&b->frozen, __ATOMIC_ACQUIRE); i++) {
        int k = (from + i) % b->nbuf;
        uint32_t full = WMT_BUF_FULL;
        if (__atomic_compare_exchange_n(&buf_at(b, k)->state, &full, WMT_BUF_FLUSHING, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            append_buf(b, k);
    }
}

/* A writer that died holding a buffer (WRITING) leaves it unwritten for
 * all it is known: it goes back to FULL in every ring, to be appended
 * again (the reader keeps one copy of a record appended twice). */
static void writer_gone(void)
{
    for (int i = 0; i < MAX_THREADS; i++) {
        struct wm_tbuf *s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (!s)
            break;
        for (int k = 0; s->ring && k < s->nbuf; k++) {
            uint32_t w = WMT_BUF_WRITING;
            __atomic_compare_exchange_n(&buf_at(s, k)->state, &w, WMT_BUF_FULL, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        }
    }
}

/* Moves b to an OPEN buffer of its ring. None is OPEN when the writer is
 * behind (or gone): this thread then appends the FULL ones itself. What
 * remains is waiting for a buffer another party is appending right now,
 * unless nothing can be appended for now (wm_file_stalled): then b stays
 * without one (b->handed) and its records are LOST busy until it can. */
static void next_open(struct wm_tbuf *b)
{
    for (unsigned spin = 0;; spin++) {
        for (int i = 1; i <= b->nbuf; i++) {
            int k = (b->cur + i) % b->nbuf;
            if (__atomic_load_n(&buf_at(b, k)->state, __ATOMIC_ACQUIRE) == WMT_BUF_OPEN) {
                __atomic_store_n(&b->cur, k, __ATOMIC_RELAXED);
                b->data = (unsigned char *)(buf_at(b, k) + 1);
                b->handed = false;
                b->used = 0;
                b->calls_in_chunk = 0;
                chunk_open(b);
                return;
            }
        }
        append_full(b);
        if (b->frozen || wm_file_stalled())
            return;
        if (spin && !wm_live_writer_alive())
            writer_gone();
        if (spin)
            nanosleep(&(struct timespec){ 0, 50000 }, NULL);
    }
}

/* The buffer being filled is complete: it becomes FULL — the writer's when
 * `winmem run` has one that still takes buffers, else appended here — and
 * b moves on to an OPEN one. Pre: caller holds b (B_OWNER or B_FLUSHER). */
static void flush_locked(struct wm_tbuf *b)
{
    if (!b->used || b->frozen)
        return;
    if (!b->handed) {
        struct wmt_live_buf *h = buf_at(b, b->cur);
        h->calls = b->calls_in_chunk;
        /* The next chunk's number from now on: a call whose PENDING record
         * is in this buffer completes it by a new record, never in place
         * (someone may be appending this one). */
        b->chunk_no++;
        b->handed = true;
        /* Stored before the writer is asked: the exit flush says "no more"
         * before it looks for FULL buffers, so one of the two sees the other. */
        __atomic_store_n(&h->state, WMT_BUF_FULL, __ATOMIC_SEQ_CST);
        /* Whether the writer still runs is asked every 16th chunk (a system
         * call) and whenever no buffer is OPEN (next_open). */
        if (b->nbuf > 1 && wm_live_writer() && wm_file_check() && ((b->chunk_no & 15) || wm_live_writer_alive()))
            wm_live_wake(__atomic_load_n(&buf_at(b, (b->cur + 2) % b->nbuf)->state, __ATOMIC_RELAXED) != WMT_BUF_OPEN);
        else
            append_full(b);
    }
    if (!b->frozen)
        next_open(b);
}

static bool own(struct wm_tbuf *b)
{
    int idle = B_IDLE;
    return __atomic_compare_exchange_n(&b->state, &idle, B_OWNER, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static void release(struct wm_tbuf *b) { __atomic_store_n(&b->state, B_IDLE, __ATOMIC_RELEASE); }

/* Room for size more bytes (the chunk is written first if full); returns
 * where they go. The one place that reserves space in a buffer. Pre: owned. */
static unsigned char *reserve(struct wm_tbuf *b, size_t size, uint64_t now)
{
    if (b->handed || b->used + size > BUF_DATA)
        flush_locked(b);
    if (b->frozen || b->handed || b->used + size > BUF_DATA) {
        uint32_t r = wm_file_stop_reason();
        wm_lost(r ? r : WMT_LOST_BUSY, 1);
        return NULL;
    }
    if (!b->used)
        b->chunk_start_ns = now;
    return b->data + WMT_CHUNK_SIZE + b->used;
}
/* The bytes at reserve()'s pointer are complete: make them count (and
 * visible in a .live slot: length is stored after the record). */
static void commit(struct wm_tbuf *b, size_t size)
{
    b->used += (uint32_t)size;
    __atomic_store_n(&((struct wmt_chunk *)b->data)->length, b->used, __ATOMIC_RELEASE);
}

/* ---- per-thread buffers ---- */

static void thread_gone(void *arg)
{
    struct wm_tbuf *b = arg;
    wm_stack_thread_gone();
    if (!b)
        return;
    if (own(b)) {
        flush_locked(b);
        release(b);
    }
    wm_self.buf = NULL;
    wm_self.stacks = NULL;
    __atomic_store_n(&b->in_use, 0, __ATOMIC_RELEASE);
}

/* b's ring: slot i of the .live when one can be had (then it survives a
 * kill), else one private buffer. */
static bool ring_map(struct wm_tbuf *b, int i)
{
    int nbuf = 1;
    b->ring = wm_live_slot(i, &nbuf);
    b->shared = b->ring != NULL;
    b->ring_size = b->shared ? wm_live_slot_size() : WM_LIVE_BUF;
    if (!b->ring)
        b->ring = wm_raw_mmap(b->ring_size);
    b->nbuf = b->ring ? nbuf : 0;
    b->cur = 0;
    b->handed = false;
    b->data = b->ring ? (unsigned char *)(buf_at(b, 0) + 1) : NULL;
    return b->ring != NULL;
}
static void ring_unmap(struct wm_tbuf *b)
{
    if (b->ring)
        syscall(SYS_munmap, b->ring, b->ring_size);
    b->ring = b->data = NULL;
    b->nbuf = 0;
    b->shared = false;
}

/* A new slot: its bookkeeping and stack table private, its ring from the
 * .live when it can be. */
static struct wm_tbuf *slot_new(int i)
{
    size_t ss = STACK_SLOTS * (24 + 8 * (size_t)wm_cfg.stack_depth);
    struct wm_tbuf *n = wm_raw_mmap(sizeof *n);
    if (!n)
        return NULL;
    ring_map(n, i);
    n->stacks_size = wm_cfg.stack_depth ? ss : 0;
    n->stacks = n->stacks_size ? wm_raw_mmap(ss) : NULL;
    if (!n->ring || (n->stacks_size && !n->stacks)) {
        if (!n->shared)
            ring_unmap(n);
        syscall(SYS_munmap, n, sizeof *n);
        return NULL;
    }
    n->in_use = 1;
    return n;
}

static struct wm_tbuf *slot_take(void)
{
    for (int i = 0; i < MAX_THREADS; i++) {
        struct wm_tbuf *s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (!s) {
            struct wm_tbuf *n = slot_new(i), *expect = NULL;
            if (!n)
                return NULL;
            if (__atomic_compare_exchange_n(&slots[i], &expect, n, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return n;
            /* Another thread took index i first. A .live slot we mapped is
             * a second view of the winner's pages: unmapped unwritten. */
            ring_unmap(n);
            if (n->stacks)
                syscall(SYS_munmap, n->stacks, n->stacks_size);
            syscall(SYS_munmap, n, sizeof *n);
            continue;
        }
        int z = 0;
        if (s->frozen)
            continue;                     /* kept for the salvager */
        if (__atomic_compare_exchange_n(&s->in_use, &z, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            if (!s->ring && !ring_map(s, i)) {   /* let go of after a fork */
                __atomic_store_n(&s->in_use, 0, __ATOMIC_RELEASE);
                continue;
            }
            /* A dead thread's stack ids were emitted in its chunks only:
             * start a fresh table (dropping the pages zeroes them and gives
             * the memory back) so this thread re-emits what it uses. */
            if (s->stacks)
                syscall(SYS_madvise, s->stacks, s->stacks_size, MADV_DONTNEED);
            return s;
        }
    }
    return NULL;
}

static struct wm_tbuf *attach(void)
{
    struct wm_thread *t = &wm_self;
    if (t->buf || t->dead)
        return t->buf;
    struct wm_tbuf *b = slot_take();
    if (!b) {
        t->dead = true;
        wm_lost(WMT_LOST_THREADS, 1);
        return NULL;
    }
    b->tid = wm_gettid();
    b->serial = __atomic_add_fetch(&next_serial, 1, __ATOMIC_RELAXED);
    b->chunk_no = 0;
    b->call_seq = 0;
    b->chunk_start_ns = 0;
    b->state = B_IDLE;
    /* The last owner handed its buffer over and found none OPEN (nothing
     * could be appended then): this thread looks again. */
    if (b->handed)
        next_open(b);
    if (!b->handed) {
        b->used = 0;
        b->calls_in_chunk = 0;
        chunk_open(b);
    }
    t->buf = b;
    t->stacks = b->stacks;
    pthread_setspecific(thread_key, b);

    struct wmt_thread th = { .h = { WMT_REC_THREAD, sizeof th }, .tid = b->tid, .thread = b->serial };
    prctl(PR_GET_NAME, th.name, 0, 0, 0);
    wm_append(&th, sizeof th);
    return b;
}

void *wm_thread_stacks(void)
{
    struct wm_tbuf *b = attach();
    return b ? b->stacks : NULL;
}

bool wm_append(const void *rec, size_t size)
{
    struct wm_tbuf *b = attach();
    if (!b)
        return false;
    if (!own(b)) {
        wm_lost(WMT_LOST_BUSY, 1);
        return false;
    }
    unsigned char *at = reserve(b, size, wm_now_ns());
    if (at) {
        memcpy(at, rec, size);
        commit(b, size);
    }
    release(b);
    return at != NULL;
}

/* ---- the guard ---- */

static void mark_aborted(struct wm_thread *t)
{
    struct wm_tbuf *b = t->buf;
    if (b && t->pending_off && b->chunk_no == t->pending_gen && own(b)) {
        struct wmt_call *c = (struct wmt_call *)(b->data + t->pending_off);
        if (b->chunk_no == t->pending_gen && (c->flags & WMT_CF_PENDING))
            c->flags |= WMT_CF_ABORTED;
        release(b);
    }
    t->pending_off = 0;
}

bool wm_enter(uintptr_t sp, bool wine_call)
{
    struct wm_thread *t = &wm_self;
    if (t->busy) {
        /* Wine's syscall dispatcher starts every call at the same depth of
         * the thread's syscall stack. A guarded Wine call still "busy" at
         * the same or a shallower depth never came back: Wine aborted it
         * (fault on a user pointer). Anything deeper is real re-entrance. */
        if (!(wine_call && t->wine_call && sp >= t->busy_sp))
            return false;
        mark_aborted(t);
        t->in_real = false;
    }
    if (!wm_cfg.active)
        return false;
    /* Stopped, or a thread that got no buffer: the call is counted lost
     * once, and the guard is still taken so the calls it makes through the
     * shim's own exports (VirtualQuery → VirtualQueryEx →
     * NtQueryVirtualMemory) are not. */
    t->muted = t->dead || wm_file_state() == WM_FILE_STOPPED;
    if (t->muted)
        wm_lost(t->dead ? WMT_LOST_THREADS : wm_file_stop_reason(), 1);
    t->busy = 1;
    t->busy_sp = sp;
    t->wine_call = wine_call;
    return true;
}

void wm_leave(void) { wm_self.busy = 0; wm_self.cur_stack = 0; wm_self.muted = false; }

uint32_t wm_guard_hold(void)
{
    uint32_t was = (uint32_t)wm_self.busy | (wm_self.in_real ? 2u : 0u);
    wm_self.busy = 1;
    wm_self.in_real = false;
    return was;
}

void wm_guard_restore(uint32_t was)
{
    wm_self.busy = (int)(was & 1);
    wm_self.in_real = (was & 2) != 0;
}

/* ---- CALL records ---- */

bool wm_call_begin(struct wmt_call *c)
{
    struct wm_thread *t = &wm_self;
    if (t->muted)
        return false;
    struct wm_tbuf *b = attach();
    if (!b) {
        t->muted = true;              /* counted once: its end records nothing */
        return false;
    }
    c->h.type = WMT_REC_CALL;
    c->h.size = sizeof *c;
    c->tid = b->tid;
    c->seq = ++b->call_seq;
    c->flags |= WMT_CF_PENDING | (uint16_t)(wm_cfg.mode << WMT_CF_MODE_SHIFT);
    if (!own(b)) {
        wm_lost(WMT_LOST_BUSY, 1);
        t->muted = true;
        return false;
    }
    unsigned char *at = reserve(b, sizeof *c, c->start_ns);
    if (!at) {
        release(b);
        t->muted = true;
        return false;
    }
    t->pending_off = (uint32_t)(at - b->data);
    t->pending_gen = b->chunk_no;
    memcpy(at, c, sizeof *c);
    commit(b, sizeof *c);
    b->calls_in_chunk++;
    b->calls++;
    release(b);
    t->in_real = true;
    return true;
}

void wm_call_append(struct wmt_call *c)
{
    struct wm_tbuf *b = attach();
    if (!b)
        return;
    c->h.type = WMT_REC_CALL;
    c->h.size = sizeof *c;
    c->tid = b->tid;
    c->seq = ++b->call_seq;
    c->flags |= (uint16_t)(wm_cfg.mode << WMT_CF_MODE_SHIFT);
    if (!own(b)) {
        wm_lost(WMT_LOST_BUSY, 1);
        return;
    }
    unsigned char *at = reserve(b, sizeof *c, c->start_ns);
    if (at) {
        memcpy(at, c, sizeof *c);
        commit(b, sizeof *c);
        b->calls_in_chunk++;
        b->calls++;
    }
    release(b);
}

/* Completes the PENDING copy in place so that a kill at any instant leaves
 * either the pending or the complete record: everything but the first 8
 * bytes first, then those (type, size, api, flags without PENDING) in one
 * store. */
static void patch(struct wmt_call *dst, const struct wmt_call *c)
{
    memcpy((unsigned char *)dst + 8, (const unsigned char *)c + 8, sizeof *c - 8);
    uint64_t head;
    memcpy(&head, c, 8);
    __atomic_store_n((uint64_t *)dst, head, __ATOMIC_RELEASE);
}

void wm_call_end(struct wmt_call *c)
{
    struct wm_thread *t = &wm_self;
    struct wm_tbuf *b = t->buf;
    t->in_real = false;
    c->flags &= (uint16_t)~WMT_CF_PENDING;
    if (!b || t->muted)
        return;
    if (!own(b)) {
        wm_lost(WMT_LOST_BUSY, 1);
        return;
    }
    if (t->pending_off && b->chunk_no == t->pending_gen) {
        patch((struct wmt_call *)(b->data + t->pending_off), c);
    } else {
        /* The pending copy already went to the file: write the completed
         * record again; readers keep the last one per (thread, seq). */
        unsigned char *at = reserve(b, sizeof *c, c->start_ns);
        if (at) {
            memcpy(at, c, sizeof *c);
            commit(b, sizeof *c);
        }
    }
    t->pending_off = 0;
    if (c->start_ns + c->dur_ns - b->chunk_start_ns > FLUSH_NS)
        flush_locked(b);
    release(b);
}

void wm_writer_flush_self(void)
{
    struct wm_tbuf *b = wm_self.buf;
    if (b && own(b)) {
        flush_locked(b);
        release(b);
    }
}

/* ---- process-wide chunks (tid 0): MODULE, LOST, END ---- */

static bool meta_chunk(const void *rec, size_t size, bool final)
{
    unsigned char buf[WMT_CHUNK_SIZE + 4096];
    if (size > 4096)
        return false;
    struct wmt_chunk *c = (struct wmt_chunk *)buf;
    memcpy(buf + WMT_CHUNK_SIZE, rec, size);
    c->magic = WMT_CHUNK_MAGIC;
    c->tid = 0;
    c->seq = __atomic_fetch_add(&meta_seq, 1, __ATOMIC_RELAXED);
    c->length = (uint32_t)size;
    c->crc = wm_crc32(buf + WMT_CHUNK_SIZE, size);
    if (final)
        return wm_file_write_final(buf, WMT_CHUNK_SIZE + size);
    return wm_file_ready() && wm_file_write(buf, WMT_CHUNK_SIZE + size);
}

void wm_write_meta(const void *rec, size_t size) { meta_chunk(rec, size, false); }

/* The writer takes no more buffers: wait for the one it may be appending
 * (END must come after it), ~2 s at most, or until it is gone. A stopped
 * writer is not waited for: it appends that buffer when it goes on. */
static void writer_finish(void)
{
    for (int ms = 0; ms < 2000; ms++) {
        bool busy = false;
        for (int i = 0; i < MAX_THREADS && !busy; i++) {
            struct wm_tbuf *s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
            if (!s)
                break;
            for (int k = 0; s->ring && k < s->nbuf; k++)
                busy |= __atomic_load_n(&buf_at(s, k)->state, __ATOMIC_ACQUIRE) == WMT_BUF_WRITING;
        }
        if (!busy)
            return;
        if (!wm_live_writer_alive()) {
            writer_gone();
            return;
        }
        if (wm_live_writer_stopped())
            return;
        nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
    }
}

void wm_writer_end(uint32_t reason)
{
    /* A vfork child (no atfork handlers ran) shares our memory and file:
     * its _exit or exec must not close the parent's trace. */
    if (!wm_cfg.active || (pid_t)syscall(SYS_getpid) != owner_pid)
        return;
    if (wm_live_writer_close())
        writer_finish();
    uint64_t calls = 0;
    for (int i = 0; i < MAX_THREADS; i++) {
        struct wm_tbuf *b = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (!b)
            break;
        int idle = B_IDLE;
        if (__atomic_compare_exchange_n(&b->state, &idle, B_FLUSHER, false,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            flush_locked(b);
            release(b);
        }
        if (b->ring)
            append_full(b);           /* what a busy thread had handed over */
        calls += __atomic_load_n(&b->calls, __ATOMIC_RELAXED);
    }
    if (wm_file_state() == WM_FILE_CLOSED)
        return;              /* nothing was ever recorded: leave no file */
    uint64_t total_lost = 0;
    uint32_t stop = wm_file_stop_reason();
    /* The reason recording stopped comes first, so a reader meets it first. */
    for (uint32_t k = 0; k < WMT_LOST_COUNT; k++) {
        uint32_t r = k == 0 ? stop : k;
        if (!r || (k && r == stop))
            continue;
        uint64_t n = wm_lost_peek(r);
        total_lost += n;
        if (n || r == stop) {
            struct wmt_lost l = { .h = { WMT_REC_LOST, sizeof l }, .reason = r, .count = n };
            if (meta_chunk(&l, sizeof l, true))
                wm_lost_written(r, n);
        }
    }
    struct wmt_end e = { .h = { WMT_REC_END, sizeof e }, .reason = reason, .stop = stop,
                         .calls = calls, .lost = total_lost };
    wm_live_end(reason, meta_chunk(&e, sizeof e, true));
}

/* ---- fork ---- */

/* The child gets its own file (opened at its first record) and starts with
 * empty buffers: the parent still owns and flushes what was buffered. The
 * parent's .live slots are shared memory: the child lets go of them. */
static void at_fork_child(void)
{
    wm_file_after_fork();
    wm_live_after_fork();
    meta_seq = 0;
    owner_pid = (pid_t)syscall(SYS_getpid);
    /* Every buffer is free again, this thread's too: its next record
     * attaches afresh (THREAD record, new stack table), and a child that
     * only execs leaves no file behind. */
    for (int i = 0; i < MAX_THREADS; i++) {
        struct wm_tbuf *b = slots[i];
        if (!b)
            break;
        if (b->shared) {
            /* The parent's .live slot: not the child's to write. It gets a
             * slot of its own .live when the buffer is next taken. */
            ring_unmap(b);
        } else if (b->ring) {
            /* The parent's records, copied: the child starts empty. */
            b->cur = 0;
            b->handed = false;
            b->data = (unsigned char *)(buf_at(b, 0) + 1);
            buf_at(b, 0)->state = WMT_BUF_OPEN;
        }
        b->state = B_IDLE;
        b->used = 0;
        b->calls = 0;
        b->in_use = 0;
        b->frozen = false;
    }
    wm_self.buf = NULL;
    wm_self.stacks = NULL;
    wm_self.pending_off = 0;
    wm_stack_after_fork();
    wm_modules_forget_emitted();
    wm_pe_forget_emitted();
    wm_pe_core_after_fork();
    wm_wine_process_after_fork();
    wm_native_status_after_fork();
}

void wm_writer_init(void)
{
    wm_crc_init();
    owner_pid = (pid_t)syscall(SYS_getpid);
    pthread_key_create(&thread_key, thread_gone);
    pthread_atfork(NULL, NULL, at_fork_child);
}
