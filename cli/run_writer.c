/*
 * cli/run_writer.c — see run_writer.h. Why a process of our own writes:
 * appending a 200-byte record to a file in the page cache costs the
 * program's thread ~50 ns (docs/shim.md "Cost"), a quarter of what the shim
 * adds to a call. Under winmem run each thread's .live slot is a ring of
 * buffers; a thread leaves a full one FULL and goes on, and this thread,
 * woken by a futex in RUN_DIR/writer, appends it and makes it OPEN again.
 *
 * The trace stays the shim's in every rule: the writer appends under the
 * same flock() the shim takes, checks it opened the very file the shim
 * made (device and inode in the .live header), keeps under the size limit
 * with the same room for LOST and END, and cuts back a chunk it tore.
 * Anything it cannot do — a full disk, the limit, a file it cannot open —
 * it gives back: the buffer stays FULL, the .live's writer field goes to
 * 0, and the program's shim appends it itself and stops recording for the
 * reason it finds, as it would without a writer. No program depends on
 * this thread being alive: a shim whose ring has no OPEN buffer appends
 * the FULL ones itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common/append.h"
#include "common/crc.h"
#include "run_writer.h"
#include "winmem/trace.h"

#define MAX_FILES 256          /* .live files served at once; more append their own */
#define MAX_SLOTS 1024         /* the shim's MAX_THREADS */

typedef struct wfile {
    int live_fd, trace_fd;     /* trace_fd: -1 until the first append */
    struct wmt_live *hdr;      /* the header page, shared */
    unsigned char *slot[MAX_SLOTS];
    uint32_t mapped;           /* slots mapped */
    char trace[PATH_MAX];
} wfile;

static struct {
    char page_path[PATH_MAX + 16], manifest[PATH_MAX + 16];
    struct wmt_writer_page *page;
    uint32_t me;
    pthread_t thread;
    bool started;
    int stop;
    off_t manifest_at;
    wfile *files[MAX_FILES];
    int nfiles;
    long test_hold_ms;         /* WINMEM_TEST_WRITER_HOLD_MS: tests only */
} W;

static void *writer_main(void *arg);

bool run_writer_start(const char *run_dir)
{
    snprintf(W.page_path, sizeof W.page_path, "%s/" WMT_WRITER_FILE, run_dir);
    snprintf(W.manifest, sizeof W.manifest, "%s/manifest", run_dir);
    int f = open(W.page_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0)
        return false;
    void *m = ftruncate(f, 4096) ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    close(f);
    if (m == MAP_FAILED) {
        unlink(W.page_path);
        return false;
    }
    W.page = m;
    W.me = (uint32_t)getpid();
    W.page->pid = W.me;
    const char *hold = getenv("WINMEM_TEST_WRITER_HOLD_MS");
    W.test_hold_ms = hold ? atol(hold) : 0;
    wm_crc_init();
    /* Signals sent to winmem run are for its main thread (it forwards them). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    W.started = pthread_create(&W.thread, NULL, writer_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!W.started) {
        munmap(W.page, 4096);
        W.page = NULL;
        unlink(W.page_path);
        return false;
    }
    /* Only now can a shim find it: no program waits on a writer that never ran. */
    __atomic_store_n((uint64_t *)(void *)W.page->magic, *(const uint64_t *)WMT_WRITER_MAGIC, __ATOMIC_RELEASE);
    return true;
}

static bool accepting(const wfile *f) { return __atomic_load_n(&f->hdr->writer, __ATOMIC_SEQ_CST) == W.me; }

/* The .live's process appends its own buffers from now on. */
static void give_back(wfile *f)
{
    uint32_t me = W.me;
    __atomic_compare_exchange_n(&f->hdr->writer, &me, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static void drop(int i)
{
    wfile *f = W.files[i];
    for (uint32_t s = 0; s < f->mapped; s++)
        munmap(f->slot[s], f->hdr->slot_size);
    munmap(f->hdr, WMT_LIVE_HEADER);
    close(f->live_fd);
    if (f->trace_fd >= 0)
        close(f->trace_fd);
    free(f);
    W.files[i] = W.files[--W.nfiles];
}

/* A .live named in the manifest: served when it was made for this writer. */
static void add(const char *path)
{
    size_t n = strlen(path);
    if (n < 6 || n - 5 >= PATH_MAX || strcmp(path + n - 5, ".live"))
        return;
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    void *m = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= WMT_LIVE_HEADER
        ? mmap(NULL, WMT_LIVE_HEADER, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    struct wmt_live *h = m;
    wfile *f = m != MAP_FAILED ? calloc(1, sizeof *f) : NULL;
    if (!f || memcmp(h->magic, WMT_LIVE_MAGIC, 8) || h->writer != W.me || h->nbuf < 2 ||
        h->buf_size <= sizeof(struct wmt_live_buf) + WMT_CHUNK_SIZE ||
        (uint64_t)h->nbuf * h->buf_size > h->slot_size) {
        if (m != MAP_FAILED)
            munmap(m, WMT_LIVE_HEADER);
        close(fd);
        free(f);
        return;
    }
    *f = (wfile){ .live_fd = fd, .trace_fd = -1, .hdr = h };
    memcpy(f->trace, path, n - 5);
    W.files[W.nfiles++] = f;
    if (W.nfiles == MAX_FILES) {      /* the last place stays free for this */
        give_back(f);
        drop(W.nfiles - 1);
    }
}

/* New lines of the manifest ("PID PATH"), each read once. */
static void read_manifest(void)
{
    int fd = open(W.manifest, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[8192];
    ssize_t got;
    while ((got = pread(fd, buf, sizeof buf - 1, W.manifest_at)) > 0) {
        buf[got] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            char *sp = strchr(line, ' ');
            if (sp)
                add(sp + 1);
            line = nl + 1;
        }
        if (line == buf)
            break;                    /* a line still being written */
        W.manifest_at += line - buf;
    }
    close(fd);
}

/* Appends one buffer this thread took (WRITING). */
static bool append(wfile *f, struct wmt_live_buf *b)
{
    struct wmt_chunk *c = (struct wmt_chunk *)(b + 1);
    uint32_t len = c->length;
    if (!len)
        return true;
    if (len % 8 || len > f->hdr->buf_size - sizeof *b - WMT_CHUNK_SIZE || c->magic != WMT_CHUNK_MAGIC)
        return false;
    /* Opened by name; wm_append_chunk refuses it unless it is the file the
     * shim made (device and inode in the .live header). */
    if (f->trace_fd < 0 && (f->trace_fd = open(f->trace, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return false;
    c->crc = wm_crc32(c + 1, len);
    if (!wm_append_lock(f->trace_fd, 2000))
        return false;
    struct wmt_live *h = f->hdr;
    struct wm_trace_fd t = { f->trace_fd, h->trace_dev, h->trace_ino };
    uint64_t at = __atomic_load_n(&h->good_end, __ATOMIC_ACQUIRE);
    enum wm_append r = wm_append_chunk(&t, &at, true, h->max_size, h->final_room, c, WMT_CHUNK_SIZE + len);
    __atomic_store_n(&h->good_end, at, __ATOMIC_RELEASE);
    if (W.test_hold_ms)   /* tests: the file held long enough to be stopped holding it */
        nanosleep(&(struct timespec){ W.test_hold_ms / 1000, W.test_hold_ms % 1000 * 1000000L }, NULL);
    wm_append_unlock(f->trace_fd);
    return r == WM_APPEND_OK;
}

/* Maps the slots the process added since the last look. */
static void map_slots(wfile *f)
{
    uint32_t n = __atomic_load_n(&f->hdr->nslots, __ATOMIC_ACQUIRE);
    struct stat st;
    if (n > MAX_SLOTS)
        n = MAX_SLOTS;
    if (n <= f->mapped || fstat(f->live_fd, &st))
        return;
    for (uint32_t s = f->mapped; s < n; s++) {
        off_t off = WMT_LIVE_HEADER + (off_t)s * f->hdr->slot_size;
        if (st.st_size < off + (off_t)f->hdr->slot_size)
            return;                   /* not backed: touching it would be SIGBUS */
        void *m = mmap(NULL, f->hdr->slot_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->live_fd, off);
        if (m == MAP_FAILED)
            return;
        f->slot[f->mapped++] = m;
    }
}

/* Appends the FULL buffers of one file; how many. A failure hands the
 * file back to its process (false in *keep). */
static int serve(wfile *f, bool *keep)
{
    *keep = accepting(f);
    if (!*keep)
        return 0;
    map_slots(f);
    int did = 0;
    for (uint32_t s = 0; s < f->mapped; s++) {
        for (uint32_t k = 0; k < f->hdr->nbuf; k++) {
            struct wmt_live_buf *b = (void *)(f->slot[s] + (size_t)k * f->hdr->buf_size);
            uint32_t full = WMT_BUF_FULL;
            if (!__atomic_compare_exchange_n(&b->state, &full, WMT_BUF_WRITING, false,
                                             __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
                continue;
            /* Taken after the process said "no more" (its exit): its own. */
            if (!accepting(f) || !append(f, b)) {
                __atomic_store_n(&b->state, WMT_BUF_FULL, __ATOMIC_RELEASE);
                give_back(f);
                *keep = false;
                return did;
            }
            ((struct wmt_chunk *)(b + 1))->length = 0;
            b->calls = 0;
            __atomic_store_n(&b->state, WMT_BUF_OPEN, __ATOMIC_RELEASE);
            did++;
        }
    }
    return did;
}

static int serve_all(void)
{
    int did = 0;
    for (int i = 0; i < W.nfiles;) {
        bool keep;
        did += serve(W.files[i], &keep);
        if (keep)
            i++;
        else
            drop(i);
    }
    return did;
}

/* While buffers keep coming the writer naps and a shim wakes it only when
 * its ring runs short (sleeping == 2): a futex wake costs the program's
 * thread a system call (~2-5 us, measured). A nap starts at NAP_MIN after
 * a look that found work and doubles after each empty one, up to NAP_MAX:
 * a program filling a 64 KiB buffer every ~45 us (the fastest measured)
 * is met in time, a slow one costs a few wake-ups a buffer. After
 * IDLE_NS without work it sleeps until any buffer is FULL (sleeping == 1). */
#define NAP_MIN   10000L
#define NAP_MAX   1280000L
#define IDLE_NS   20000000L

static void *writer_main(void *arg)
{
    (void)arg;
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);   /* naps as asked, not + 50 us */
    long nap = NAP_MIN, idle = 0;
    for (;;) {
        bool stopping = __atomic_load_n(&W.stop, __ATOMIC_ACQUIRE);
        read_manifest();
        if (serve_all()) {
            nap = NAP_MIN, idle = 0;
            continue;
        }
        if (stopping)
            break;
        bool deep = idle >= IDLE_NS;
        /* Asleep only after one more look: a shim that made a buffer FULL
         * before seeing `sleeping` is found by this pass (both fenced). */
        __atomic_store_n(&W.page->sleeping, deep ? 1 : 2, __ATOMIC_SEQ_CST);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        uint32_t seen = __atomic_load_n(&W.page->wake, __ATOMIC_SEQ_CST);
        if (!serve_all() && !__atomic_load_n(&W.stop, __ATOMIC_ACQUIRE)) {
            /* Deep: 20 ms, to see new files in the manifest at worst. */
            struct timespec ts = { 0, deep ? IDLE_NS : nap };
            syscall(SYS_futex, &W.page->wake, FUTEX_WAIT, seen, &ts, NULL, 0);
            idle += deep ? 0 : nap;
            nap = nap * 2 > NAP_MAX ? NAP_MAX : nap * 2;
        } else
            nap = NAP_MIN, idle = 0;
        __atomic_store_n(&W.page->sleeping, 0, __ATOMIC_RELAXED);
    }
    /* Processes still running (a daemon the program left) append their own. */
    while (W.nfiles) {
        give_back(W.files[0]);
        drop(0);
    }
    return NULL;
}

void run_writer_stop(void)
{
    if (!W.page)
        return;
    if (W.started) {
        __atomic_store_n(&W.stop, 1, __ATOMIC_RELEASE);
        __atomic_add_fetch(&W.page->wake, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &W.page->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
        pthread_join(W.thread, NULL);
        W.started = false;
    }
    munmap(W.page, 4096);
    W.page = NULL;
    unlink(W.page_path);
}
