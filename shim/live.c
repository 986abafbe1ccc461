/*
 * shim/live.c — TRACE.live: the per-thread buffers in a file mapped
 * shared, so a record survives the process.
 *
 * A record written into a MAP_SHARED page of a file is in the page cache
 * the moment the store completes; if the process is then killed (-9) or
 * hangs and is killed, the kernel still holds it and `winmem run` or the
 * reader salvages it (format: include/winmem/trace.h, struct wmt_live).
 * So the bound between a call and its record being safe is zero: no
 * thread of the shim's own, no signal handler, no timer.
 *
 * Pages of a shared file mapping must be backed: touching a hole the
 * filesystem cannot fill raises SIGBUS in the program. Every slot is
 * therefore fallocate()d before it is mapped; where that fails (disk full,
 * a filesystem without fallocate) the thread buffers privately instead:
 * still recorded, no longer safe from a kill.
 *
 * Under `winmem run` a slot holds WRITER_NBUF buffers instead of one, and
 * the run's writer (cli/run_writer.c) appends the full ones to the trace:
 * a thread hands a full buffer over with one store and goes on in the
 * next, so the write (~50 ns a record in the page cache, measured) is not
 * paid on the program's thread. This file finds the writer (RUN_DIR/writer)
 * and knows whether it still takes buffers; shim/writer.c moves them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "record.h"

#define WRITER_NBUF 4     /* a writer holds one buffer at a time: three to fill meanwhile */

static uint32_t nbuf = 1;
static size_t slot_size = (WM_LIVE_BUF + 4095) & ~(size_t)4095;
static struct wmt_writer_page *wpage;   /* the run's writer, NULL: none */
static uint32_t writer_pid;             /* the writer this process was given */

static int live_fd = -1;
static dev_t ldev;
static ino_t lino;
static int live_state;            /* 0 not tried, 1 ready, 2 none */
static struct wmt_live *hdr;      /* the mapped header page */
static uint64_t lost_private[WMT_LOST_COUNT];
static int grow_lock;
static char live_path[640];

uint64_t *wm_live_lost(void) { return hdr ? hdr->lost : lost_private; }
size_t wm_live_slot_size(void) { return slot_size; }
uint32_t wm_live_writer(void) { return hdr ? __atomic_load_n(&hdr->writer, __ATOMIC_SEQ_CST) : 0; }

bool wm_live_writer_alive(void)
{
    if (!writer_pid)
        return false;
    if (kill((pid_t)writer_pid, 0) == 0 || errno != ESRCH)
        return true;
    uint32_t p = writer_pid;
    if (hdr)
        __atomic_compare_exchange_n(&hdr->writer, &p, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    return false;
}

uint32_t wm_live_writer_close(void)
{
    if (!hdr || !writer_pid)
        return 0;
    __atomic_store_n(&hdr->writer, 0, __ATOMIC_SEQ_CST);
    wm_live_wake(true);
    return writer_pid;
}

void wm_live_wake(bool short_of_buffers)
{
    if (!wpage)
        return;
    /* Pairs with the writer's store of sleeping before it looks at the
     * buffers: either it sees this FULL or this sees it asleep. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint32_t s = __atomic_load_n(&wpage->sleeping, __ATOMIC_RELAXED);
    if (s == 1 || (s == 2 && short_of_buffers)) {
        __atomic_add_fetch(&wpage->wake, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &wpage->wake, FUTEX_WAKE, 1, NULL, NULL, 0);
    }
}

/* RUN_DIR/writer, mapped shared (kept across fork: the children's writer
 * is the same). NULL when there is no run directory or no writer in it. */
static struct wmt_writer_page *find_writer(void)
{
    if (wpage || !wm_cfg.run_dir[0])
        return wpage;
    char p[600];
    snprintf(p, sizeof p, "%s/" WMT_WRITER_FILE, wm_cfg.run_dir);
    int f = open(p, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0)
        return NULL;
    struct stat st;
    void *m = fstat(f, &st) == 0 && st.st_size >= 4096
        ? (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0) : MAP_FAILED;
    close(f);
    if (m == MAP_FAILED)
        return NULL;
    struct wmt_writer_page *w = m;
    if (memcmp(w->magic, WMT_WRITER_MAGIC, 8) || !w->pid) {
        syscall(SYS_munmap, m, 4096);
        return NULL;
    }
    return wpage = w;
}

void wm_live_note_stop(uint32_t reason)
{
    if (hdr)
        __atomic_store_n(&hdr->stop, reason, __ATOMIC_RELEASE);
}

/* /proc/PID/stat (pid 0: self) into buf: what follows the ")" that ends
 * the command name (a name may hold spaces and parentheses), NULL if it
 * cannot be read. No stdio: it is also read inside a recorded call. */
static const char *proc_stat(uint32_t pid, char *buf, size_t len)
{
    char p[32] = "/proc/", digits[12];
    int nd = 0, at = 6;
    for (uint32_t v = pid; v; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    while (nd)
        p[at++] = digits[--nd];
    memcpy(p + at, pid ? "/stat" : "self/stat", pid ? 6 : 10);
    int f = open(p, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return NULL;
    ssize_t n = read(f, buf, len - 1);
    close(f);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    return strrchr(buf, ')');
}

/* Field 22 of /proc/self/stat: the process's start time. */
static uint64_t start_time(void)
{
    char buf[1024];
    const char *p = proc_stat(0, buf, sizeof buf);
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    uint64_t v = 0;
    if (p)
        for (p++; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

bool wm_live_writer_stopped(void)
{
    char buf[512];
    const char *s = writer_pid ? proc_stat(writer_pid, buf, sizeof buf) : NULL;
    return s && (s[2] == 'T' || s[2] == 't');   /* field 3, the state */
}

static bool still_ours(void)
{
    struct stat st;
    return fstat(live_fd, &st) == 0 && st.st_dev == ldev && st.st_ino == lino;
}

/* Pre: grow_lock held, live_state 0. */
static void create(void)
{
    live_state = 2;
    const char *tp = wm_file_path();
    if (!*tp || (size_t)snprintf(live_path, sizeof live_path, "%s.live", tp) >= sizeof live_path)
        return;
    int f = open(live_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (f < 0)
        return;
    if (fstat(f, &st) || fallocate(f, 0, 0, WMT_LIVE_HEADER)) {
        close(f);
        unlink(live_path);
        return;
    }
    ldev = st.st_dev, lino = st.st_ino;
    void *m = (void *)syscall(SYS_mmap, NULL, WMT_LIVE_HEADER, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    live_fd = wm_fd_move_high(f);
    if (m == MAP_FAILED || live_fd < 0) {
        if (m != MAP_FAILED)
            syscall(SYS_munmap, m, WMT_LIVE_HEADER);
        if (live_fd >= 0)
            close(live_fd);
        live_fd = -1;
        unlink(live_path);
        return;
    }
    hdr = m;
    hdr->pid = (uint32_t)getpid();
    hdr->start_time = start_time();
    memcpy(hdr->lost, lost_private, sizeof hdr->lost);
    struct wmt_writer_page *w = find_writer();
    if (!wm_file_share(hdr, w != NULL))
        w = NULL;
    nbuf = w ? WRITER_NBUF : 1;
    slot_size = (nbuf * WM_LIVE_BUF + 4095) & ~(size_t)4095;
    hdr->nbuf = nbuf;
    hdr->buf_size = (uint32_t)WM_LIVE_BUF;
    hdr->slot_size = (uint32_t)slot_size;
    writer_pid = w ? w->pid : 0;
    hdr->writer = writer_pid;
    __atomic_store_n((uint64_t *)hdr->magic, *(const uint64_t *)WMT_LIVE_MAGIC, __ATOMIC_RELEASE);
    wm_manifest_note(live_path);
    live_state = 1;
    wm_live_wake(true);
}

unsigned char *wm_live_slot(int i, int *nbufs)
{
    if (!wm_file_ready())
        return NULL;
    int z = 0;
    while (!__atomic_compare_exchange_n(&grow_lock, &z, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        z = 0, sched_yield();
    unsigned char *slot = NULL;
    if (live_state == 0)
        create();
    off_t off = WMT_LIVE_HEADER + (off_t)i * (off_t)slot_size;
    if (live_state == 1 && still_ours() && fallocate(live_fd, 0, off, (off_t)slot_size) == 0) {
        void *m = (void *)syscall(SYS_mmap, NULL, slot_size, PROT_READ | PROT_WRITE, MAP_SHARED, live_fd, off);
        if (m != MAP_FAILED) {
            /* A read of a page not yet written would read ahead and map
             * the pages around it (~64 KiB of RSS a thread, measured). */
            syscall(SYS_madvise, m, slot_size, MADV_RANDOM);
            slot = m;
            *nbufs = (int)nbuf;
            if ((uint32_t)i + 1 > hdr->nslots)
                __atomic_store_n(&hdr->nslots, (uint32_t)i + 1, __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&grow_lock, 0, __ATOMIC_RELEASE);
    return slot;
}

void wm_live_end(uint32_t end_reason, bool end_written)
{
    if (!hdr)
        return;
    if (end_written) {
        /* Everything is in the trace: the buffers are not needed any more
         * (the mappings stay valid until the process is gone). */
        unlink(live_path);
        hdr->nslots = 0;
    } else {
        __atomic_store_n(&hdr->end_reason, end_reason, __ATOMIC_RELEASE);
    }
}

/* A fork child must not write into its parent's slots: it forgets the
 * parent's .live (its own is made at its first record). */
void wm_live_after_fork(void)
{
    if (hdr)
        syscall(SYS_munmap, hdr, WMT_LIVE_HEADER);
    hdr = NULL;
    if (live_fd >= 0 && still_ours())
        close(live_fd);
    live_fd = -1;
    live_state = 0;
    grow_lock = 0;
    nbuf = 1;
    slot_size = (WM_LIVE_BUF + 4095) & ~(size_t)4095;
    writer_pid = 0;
    memset(lost_private, 0, sizeof lost_private);
}
