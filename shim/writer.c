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
#include "common/names.h"
#include "shim.h"

#define BUF_DATA     (64 * 1024)      /* records per chunk */
#define FLUSH_NS     (100 * 1000000ULL) /* a quiet thread's data reaches the file within 100 ms of its next record */
#define MAX_THREADS  1024
#define STACK_TABLE  (512 * (24 + 8 * 64)) /* shim/stack.c's per-thread table, at most */

enum { B_IDLE, B_OWNER, B_FLUSHER };

struct wm_tbuf {
    int state;                /* B_*: who may touch data (CAS) */
    uint32_t tid;
    uint64_t chunk_seq;       /* sequence of the chunk being filled */
    uint64_t call_seq;
    uint64_t chunk_start_ns;
    uint32_t used;            /* bytes of records in data after the chunk header */
    int in_use;               /* slot owned by a live thread */
    unsigned char data[WMT_CHUNK_SIZE + BUF_DATA];
    unsigned char stacks[STACK_TABLE] __attribute__((aligned(64)));
};

WM_TLS struct wm_thread wm_self;

static struct wm_tbuf *slots[MAX_THREADS];
static int file_state;        /* 0 closed, 1 opening, 2 open, 3 dead (write failed / cannot open) */
static int file_fd = -1;
static uint32_t header_flags;
static uint64_t meta_seq;     /* chunk sequence of tid 0 */
static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t thread_key;
static uint64_t lost[5];      /* by WMT_LOST_* */
static uint64_t calls_total;
static uint32_t fork_child;
static pid_t owner_pid;       /* the process these buffers belong to */

/* ---- small helpers ---- */

uint32_t wm_gettid(void) { return (uint32_t)syscall(SYS_gettid); }

uint64_t wm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void *wm_raw_mmap(size_t len)
{
    /* The raw system call: never seen by the shim's own mmap hook, no malloc. */
    void *p = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void wm_set_header_flag(uint32_t f) { __atomic_or_fetch(&header_flags, f, __ATOMIC_RELAXED); }

static void crc_init(void) { wm_crc_init(); }
static uint32_t crc32_ieee(const unsigned char *p, size_t n) { return wm_crc32(p, n); }

/* write() all of it, retrying EINTR. A short write (disk full) would leave a
 * torn chunk; everything after it would be unreadable, so stop for good. */
static bool write_all(const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(file_fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            __atomic_store_n(&file_state, 3, __ATOMIC_RELEASE);
            return false;
        }
        c += w, n -= (size_t)w;
    }
    return true;
}

/* "%p" → pid. The shim never overwrites a file: if the name exists (an
 * earlier image of the same pid after exec, a fork child of a pattern
 * without %p), ".1", ".2", ... are tried. */
static int open_trace(void)
{
    char path[600], pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    wm_pattern_fill(wm_cfg.output, pid, path, sizeof path);
    for (int i = 0; i < 100; i++) {
        char p2[620];
        if (i)
            snprintf(p2, sizeof p2, "%s.%d", path, i);
        else
            snprintf(p2, sizeof p2, "%s", path);
        int fd = open(p2, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST) {
            wm_note("cannot create trace file ", p2, ": recording off");
            return -1;
        }
    }
    return -1;
}

static bool write_header(void)
{
    unsigned char h[WMT_HEADER_FIXED_SIZE + 512] = {0};
    struct wmt_header *hd = (struct wmt_header *)h;
    memcpy(hd->magic, WMT_MAGIC, 8);
    hd->version = WMT_VERSION;
    hd->pointer_size = 8;
    hd->little_endian = 1;
    hd->clock_id = CLOCK_MONOTONIC;
    hd->pid = (uint32_t)getpid();
    hd->ppid = (uint32_t)getppid();
    struct timespec r;
    hd->mono_ns = wm_now_ns();
    clock_gettime(CLOCK_REALTIME, &r);
    hd->real_ns = (uint64_t)r.tv_sec * 1000000000ULL + r.tv_nsec;
    hd->mode = (uint32_t)wm_cfg.mode;
    hd->flags = __atomic_load_n(&header_flags, __ATOMIC_RELAXED) | fork_child |
                (wm_cfg.unix_layer ? WMT_HF_UNIX : 0);
    hd->stack_depth = (uint16_t)wm_cfg.stack_depth;
    size_t el = strnlen(wm_cfg.exe, 255), pl = strnlen(wm_cfg.program, 127);
    hd->exe_len = (uint16_t)el;
    hd->prog_len = (uint16_t)pl;
    memcpy(h + WMT_HEADER_FIXED_SIZE, wm_cfg.exe, el);
    memcpy(h + WMT_HEADER_FIXED_SIZE + el, wm_cfg.program, pl);
    size_t total = (WMT_HEADER_FIXED_SIZE + el + pl + 7) & ~(size_t)7;
    hd->header_size = (uint16_t)total;
    return write_all(h, total);
}

/* Opens the file on first need, so images that record nothing (Wine's
 * helpers, a fork child that execs at once) leave no file behind. */
static bool file_ready(void)
{
    int st = __atomic_load_n(&file_state, __ATOMIC_ACQUIRE);
    while (st != 2) {
        if (st == 3)
            return false;
        int zero = 0;
        if (st == 0 && __atomic_compare_exchange_n(&file_state, &zero, 1, false,
                                                   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            file_fd = open_trace();
            if (file_fd < 0) {
                __atomic_store_n(&file_state, 3, __ATOMIC_RELEASE);
                return false;
            }
            __atomic_store_n(&file_state, 2, __ATOMIC_RELEASE);
            if (!write_header())
                return false;
            return true;
        }
        sched_yield();
        st = __atomic_load_n(&file_state, __ATOMIC_ACQUIRE);
    }
    return true;
}

/* Pre: caller holds b (B_OWNER or B_FLUSHER). */
static void flush_locked(struct wm_tbuf *b)
{
    if (!b->used)
        return;
    if (file_ready()) {
        struct wmt_chunk *c = (struct wmt_chunk *)b->data;
        c->magic = WMT_CHUNK_MAGIC;
        c->tid = b->tid;
        c->seq = b->chunk_seq;
        c->length = b->used;
        c->crc = crc32_ieee(b->data + WMT_CHUNK_SIZE, b->used);
        write_all(b->data, WMT_CHUNK_SIZE + b->used);
    }
    b->chunk_seq++;
    b->used = 0;
}

static bool own(struct wm_tbuf *b)
{
    int idle = B_IDLE;
    return __atomic_compare_exchange_n(&b->state, &idle, B_OWNER, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}
static void release(struct wm_tbuf *b) { __atomic_store_n(&b->state, B_IDLE, __ATOMIC_RELEASE); }

static void lost_one(int reason) { __atomic_fetch_add(&lost[reason], 1, __ATOMIC_RELAXED); }

/* ---- per-thread buffers ---- */

static void thread_gone(void *arg)
{
    struct wm_tbuf *b = arg;
    if (!b)
        return;
    if (own(b)) {
        flush_locked(b);
        release(b);
    }
    wm_self.buf = NULL;
    __atomic_store_n(&b->in_use, 0, __ATOMIC_RELEASE);
}

static struct wm_tbuf *attach(void)
{
    struct wm_thread *t = &wm_self;
    if (t->buf || t->dead)
        return t->buf;
    struct wm_tbuf *b = NULL;
    for (int i = 0; i < MAX_THREADS && !b; i++) {
        struct wm_tbuf *s = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
        if (!s) {
            struct wm_tbuf *n = wm_raw_mmap(sizeof *n);
            if (!n)
                break;
            n->in_use = 1;
            struct wm_tbuf *expect = NULL;
            if (__atomic_compare_exchange_n(&slots[i], &expect, n, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                b = n;
            else
                syscall(SYS_munmap, n, sizeof *n);
        } else {
            int z = 0;
            if (__atomic_compare_exchange_n(&s->in_use, &z, 1, false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                b = s;
                /* A dead thread's stack ids were emitted in its chunks only:
                 * start a fresh table so this thread re-emits what it uses. */
                memset(b->stacks, 0, sizeof b->stacks);
            }
        }
    }
    if (!b) {
        t->dead = true;
        lost_one(WMT_LOST_THREADS);
        return NULL;
    }
    b->tid = wm_gettid();
    b->chunk_seq = 0;
    b->call_seq = 0;
    b->used = 0;
    b->chunk_start_ns = 0;
    b->state = B_IDLE;
    t->buf = b;
    t->stacks = b->stacks;
    pthread_setspecific(thread_key, b);

    struct wmt_thread th = { .h = { WMT_REC_THREAD, sizeof th }, .tid = b->tid };
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
        lost_one(WMT_LOST_BUSY);
        return false;
    }
    if (b->used + size > BUF_DATA)
        flush_locked(b);
    if (!b->used)
        b->chunk_start_ns = wm_now_ns();
    memcpy(b->data + WMT_CHUNK_SIZE + b->used, rec, size);
    b->used += (uint32_t)size;
    release(b);
    return true;
}

/* ---- the guard ---- */

static void mark_aborted(struct wm_thread *t)
{
    struct wm_tbuf *b = t->buf;
    if (b && t->pending_off && b->chunk_seq == t->pending_gen && own(b)) {
        struct wmt_call *c = (struct wmt_call *)(b->data + t->pending_off);
        if (b->chunk_seq == t->pending_gen && (c->flags & WMT_CF_PENDING))
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
    if (!wm_cfg.active || t->dead)
        return false;
    if (__atomic_load_n(&file_state, __ATOMIC_RELAXED) == 3) {
        lost_one(WMT_LOST_WRITE);
        return false;
    }
    t->busy = 1;
    t->busy_sp = sp;
    t->wine_call = wine_call;
    return true;
}

void wm_leave(void) { wm_self.busy = 0; wm_self.cur_stack = 0; }

/* ---- CALL records ---- */

bool wm_call_begin(struct wmt_call *c)
{
    struct wm_thread *t = &wm_self;
    struct wm_tbuf *b = attach();
    if (!b)
        return false;
    c->h.type = WMT_REC_CALL;
    c->h.size = sizeof *c;
    c->tid = b->tid;
    c->seq = ++b->call_seq;
    c->flags |= WMT_CF_PENDING | (uint16_t)(wm_cfg.mode << WMT_CF_MODE_SHIFT);
    if (!own(b)) {
        lost_one(WMT_LOST_BUSY);
        return false;
    }
    if (b->used + sizeof *c > BUF_DATA)
        flush_locked(b);
    if (!b->used)
        b->chunk_start_ns = c->start_ns;
    t->pending_off = WMT_CHUNK_SIZE + b->used;
    t->pending_gen = b->chunk_seq;
    memcpy(b->data + t->pending_off, c, sizeof *c);
    b->used += sizeof *c;
    release(b);
    __atomic_fetch_add(&calls_total, 1, __ATOMIC_RELAXED);
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
    if (wm_append(c, sizeof *c))
        __atomic_fetch_add(&calls_total, 1, __ATOMIC_RELAXED);
}

void wm_call_end(struct wmt_call *c)
{
    struct wm_thread *t = &wm_self;
    struct wm_tbuf *b = t->buf;
    t->in_real = false;
    c->flags &= (uint16_t)~WMT_CF_PENDING;
    if (!b)
        return;
    if (!own(b)) {
        lost_one(WMT_LOST_BUSY);
        return;
    }
    if (t->pending_off && b->chunk_seq == t->pending_gen) {
        memcpy(b->data + t->pending_off, c, sizeof *c);
    } else {
        /* The pending copy already went to the file: write the completed
         * record again; readers keep the last one per (tid, seq). */
        if (b->used + sizeof *c > BUF_DATA)
            flush_locked(b);
        if (!b->used)
            b->chunk_start_ns = c->start_ns;
        memcpy(b->data + WMT_CHUNK_SIZE + b->used, c, sizeof *c);
        b->used += sizeof *c;
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

void wm_write_meta(const void *rec, size_t size)
{
    unsigned char buf[WMT_CHUNK_SIZE + 4096];
    if (size > 4096)
        return;
    pthread_mutex_lock(&meta_lock);
    if (file_ready()) {
        struct wmt_chunk *c = (struct wmt_chunk *)buf;
        memcpy(buf + WMT_CHUNK_SIZE, rec, size);
        c->magic = WMT_CHUNK_MAGIC;
        c->tid = 0;
        c->seq = meta_seq++;
        c->length = (uint32_t)size;
        c->crc = crc32_ieee(buf + WMT_CHUNK_SIZE, size);
        write_all(buf, WMT_CHUNK_SIZE + size);
    }
    pthread_mutex_unlock(&meta_lock);
}

void wm_writer_end(uint32_t reason)
{
    /* A vfork child (no atfork handlers ran) shares our memory and file:
     * its _exit or exec must not close the parent's trace. */
    if (!wm_cfg.active || (pid_t)syscall(SYS_getpid) != owner_pid)
        return;
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
    }
    int st = __atomic_load_n(&file_state, __ATOMIC_ACQUIRE);
    if (st == 0)
        return;              /* nothing was ever recorded: leave no file */
    uint64_t total_lost = 0;
    for (int r = 1; r < 5; r++) {
        uint64_t n = __atomic_exchange_n(&lost[r], 0, __ATOMIC_RELAXED);
        total_lost += n;
        if (n) {
            struct wmt_lost l = { .h = { WMT_REC_LOST, sizeof l }, .reason = (uint32_t)r, .count = n };
            if (st == 3)     /* the disk may have room again; try once */
                __atomic_store_n(&file_state, 2, __ATOMIC_RELEASE);
            wm_write_meta(&l, sizeof l);
        }
    }
    struct wmt_end e = { .h = { WMT_REC_END, sizeof e }, .reason = reason,
                         .calls = __atomic_load_n(&calls_total, __ATOMIC_RELAXED),
                         .lost = total_lost };
    wm_write_meta(&e, sizeof e);
}

/* ---- fork ---- */

/* The child gets its own file (opened at its first record) and starts with
 * empty buffers: the parent still owns and flushes what was buffered. */
static void at_fork_child(void)
{
    if (file_fd >= 0)
        close(file_fd);
    file_fd = -1;
    file_state = 0;
    meta_seq = 0;
    calls_total = 0;
    memset(lost, 0, sizeof lost);
    fork_child = WMT_HF_FORK_CHILD;
    owner_pid = (pid_t)syscall(SYS_getpid);
    pthread_mutex_init(&meta_lock, NULL);
    /* Every buffer is free again, this thread's too: its next record
     * attaches afresh (THREAD record, new stack table), and a child that
     * only execs leaves no file behind. */
    for (int i = 0; i < MAX_THREADS; i++) {
        struct wm_tbuf *b = slots[i];
        if (!b)
            break;
        b->state = B_IDLE;
        b->used = 0;
        b->in_use = 0;
    }
    wm_self.buf = NULL;
    wm_self.stacks = NULL;
    wm_self.pending_off = 0;
    wm_modules_forget_emitted();
    wm_pe_forget_emitted();
    wm_pe_core_after_fork();
}

void wm_writer_init(void)
{
    crc_init();
    owner_pid = (pid_t)syscall(SYS_getpid);
    pthread_key_create(&thread_key, thread_gone);
    pthread_atfork(NULL, NULL, at_fork_child);
}
