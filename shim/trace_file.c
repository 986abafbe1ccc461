/*
 * shim/trace_file.c — the trace file: created on first need with its
 * header written before any chunk can be, one write() per chunk, and the
 * one place that decides recording has stopped and why.
 *
 * Why each check: the descriptor lives above the program's
 * range (shim/fd.c), and before every write the shim makes sure it is
 * still its file (fstat: same device and inode; one system call per 64 KiB
 * chunk, ~0.3 ns per recorded call) — a program that closed it and got the
 * number back for a file of its own must never receive trace bytes. When
 * the descriptor is gone, recording stops with LOST(descriptor) and nothing
 * is reopened behind the program's back. A short write (disk full) is cut
 * back off the file so the chunks before it — and the LOST and END written
 * at exit, for which room is kept — stay readable.
 *
 * Writes are serialised by a small lock whose owner is a tid, so a signal
 * handler that records on the thread already writing gives up (the record
 * is counted lost) instead of deadlocking.
 *
 * Under `winmem run` a second process appends too (its writer, cli/
 * run_writer.c, takes the buffers the program filled). Then the size of
 * the readable trace is a word both share in the .live header (good_end),
 * and each append holds flock() on the file: the kernel lets go of it if
 * the writer dies, and whoever appends next cuts a chunk it left torn.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "common/append.h"
#include "common/names.h"
#include "shim.h"
#include "record.h"

#define FINAL_ROOM 512        /* bytes kept for the LOST and END chunks at exit */

static int state;             /* enum wm_file_state */
static int fd = -1;
static dev_t fdev;
static ino_t fino;
static uint64_t written;      /* bytes in the file while no .live shares its size */
static uint64_t *end = &written; /* the readable size: written, or the .live's good_end */
static bool shared;           /* a writer appends too: flock() around each append */
static uint32_t stop_reason;
static uint32_t header_flags;
static uint32_t fork_child;
static int lock_owner;        /* tid holding the write lock, 0: free */
static char path[620];

void wm_set_header_flag(uint32_t f) { __atomic_or_fetch(&header_flags, f, __ATOMIC_RELAXED); }
enum wm_file_state wm_file_state(void) { return (enum wm_file_state)__atomic_load_n(&state, __ATOMIC_ACQUIRE); }
uint32_t wm_file_stop_reason(void) { return __atomic_load_n(&stop_reason, __ATOMIC_ACQUIRE); }
const char *wm_file_path(void) { return path; }

void wm_lost(uint32_t reason, uint64_t n)
{
    if (reason < WMT_LOST_COUNT && n)
        __atomic_fetch_add(&wm_live_lost()[reason], n, __ATOMIC_RELAXED);
}
uint64_t wm_lost_peek(uint32_t reason)
{
    return reason < WMT_LOST_COUNT ? __atomic_load_n(&wm_live_lost()[reason], __ATOMIC_RELAXED) : 0;
}
void wm_lost_written(uint32_t reason, uint64_t n)
{
    if (reason < WMT_LOST_COUNT)
        __atomic_fetch_sub(&wm_live_lost()[reason], n, __ATOMIC_RELAXED);
}

static bool lock(void)
{
    int me = (int)wm_gettid();
    if (__atomic_load_n(&lock_owner, __ATOMIC_RELAXED) == me)
        return false;                 /* a signal handler inside our own write */
    int free_ = 0;
    while (!__atomic_compare_exchange_n(&lock_owner, &free_, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        free_ = 0;
        sched_yield();
    }
    return true;
}
static void unlock(void) { __atomic_store_n(&lock_owner, 0, __ATOMIC_RELEASE); }

void wm_file_stop(uint32_t reason)
{
    uint32_t none = 0;
    if (__atomic_compare_exchange_n(&stop_reason, &none, reason, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        static const char *const why[WMT_LOST_COUNT] = {
            [WMT_LOST_WRITE] = "a write to the trace failed",
            [WMT_LOST_DESCRIPTOR] = "the program closed or replaced the trace's descriptor",
            [WMT_LOST_SIZE] = "the trace reached its size limit (WINMEM_MAX_SIZE)",
            [WMT_LOST_NOSPACE] = "the disk is full",
        };
        wm_note("recording stopped: ", reason < WMT_LOST_COUNT && why[reason] ? why[reason] : "?", "");
        wm_live_note_stop(reason);
    }
    __atomic_store_n(&state, WM_FILE_STOPPED, __ATOMIC_RELEASE);
}

/* Is fd still the file we created? (Closed → EBADF; reused → other inode.) */
static struct wm_trace_fd trace_fd(void) { return (struct wm_trace_fd){ fd, (uint64_t)fdev, (uint64_t)fino }; }
static bool still_ours(void)
{
    struct wm_trace_fd t = trace_fd();
    return wm_trace_fd_ok(&t);
}


/* When the writer holds the file and is stopped (SIGSTOP, a debugger on
 * winmem run), appends are not tried until this time (ns): the buffers
 * stay FULL in the .live, for the writer once it goes on or for run's
 * salvage, and the program does not wait for it. */
static uint64_t stalled_until;

bool wm_file_stalled(void) { return wm_now_ns() < __atomic_load_n(&stalled_until, __ATOMIC_RELAXED); }

/* The file lock, when a writer appends too. false: recording stopped (the
 * lock held ~2 s by a writer that runs, or the descriptor is gone), or
 * stalled for 100 ms (the writer holding it is stopped). */
static bool lock_shared(void)
{
    if (wm_file_stalled())
        return false;
    for (int waited_ms = 0;; waited_ms += 10) {
        if (wm_append_lock(fd, 10))
            return true;
        if (errno != EWOULDBLOCK) {
            wm_file_stop(errno == EBADF ? WMT_LOST_DESCRIPTOR : WMT_LOST_WRITE);
            return false;
        }
        if (wm_live_writer_stopped()) {
            __atomic_store_n(&stalled_until, wm_now_ns() + 100000000ULL, __ATOMIC_RELAXED);
            return false;
        }
        if (waited_ms >= 2000) {
            wm_file_stop(WMT_LOST_WRITE);
            return false;
        }
    }
}

/* One chunk, by the rules of common/append.h; a refusal stops recording
 * with its reason. Pre: lock held. */
static bool append_locked(const void *p, size_t n, bool final)
{
    if (shared && !lock_shared())
        return false;
    static const uint32_t why[] = {
        [WM_APPEND_GONE] = WMT_LOST_DESCRIPTOR, [WM_APPEND_SIZE] = WMT_LOST_SIZE,
        [WM_APPEND_NOSPACE] = WMT_LOST_NOSPACE, [WM_APPEND_ERROR] = WMT_LOST_WRITE,
    };
    struct wm_trace_fd t = trace_fd();
    uint64_t at = __atomic_load_n(end, __ATOMIC_ACQUIRE);
    enum wm_append r = wm_append_chunk(&t, &at, shared, wm_cfg.max_size, final ? 0 : FINAL_ROOM, p, n);
    __atomic_store_n(end, at, __ATOMIC_RELEASE);
    if (shared)
        wm_append_unlock(fd);
    if (r != WM_APPEND_OK)
        wm_file_stop(why[r]);
    return r == WM_APPEND_OK;
}

bool wm_file_share(struct wmt_live *h, bool with_writer)
{
    if (!lock())
        return false;
    h->trace_dev = fdev;
    h->trace_ino = fino;
    h->max_size = wm_cfg.max_size;
    h->final_room = FINAL_ROOM;
    h->good_end = *end;
    end = &h->good_end;
    shared = with_writer;
    unlock();
    return true;
}

bool wm_file_check(void)
{
    if (wm_file_state() != WM_FILE_OPEN)
        return false;
    if (still_ours())
        return true;
    wm_file_stop(WMT_LOST_DESCRIPTOR);
    return false;
}


bool wm_file_write(const void *p, size_t n)
{
    if (wm_file_state() != WM_FILE_OPEN || !lock())
        return false;
    bool ok = wm_file_state() == WM_FILE_OPEN && append_locked(p, n, false);
    unlock();
    return ok;
}

bool wm_file_write_final(const void *p, size_t n)
{
    int st = wm_file_state();
    if (st == WM_FILE_CLOSED || st == WM_FILE_OPENING || wm_file_stop_reason() == WMT_LOST_DESCRIPTOR || !lock())
        return false;
    bool ok = append_locked(p, n, true);
    unlock();
    return ok;
}

/* "%p" → pid. The shim never overwrites a file: if the name exists (an
 * earlier image of the same pid after exec, a fork child of a pattern
 * without %p, a rerun), ".1", ".2", ... are tried. */
static int create(void)
{
    char base[600], pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    wm_pattern_fill(wm_cfg.output, pid, base, sizeof base - 8);
    for (int i = 0; i < 100; i++) {
        if (i)
            snprintf(path, sizeof path, "%s.%d", base, i);
        else
            snprintf(path, sizeof path, "%s", base);
        int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (f >= 0) {
            struct stat st;
            if (fstat(f, &st) == 0) {
                fdev = st.st_dev, fino = st.st_ino;
                f = wm_fd_move_high(f);
                if (f >= 0)
                    return f;
            }
            unlink(path);
            wm_note("no descriptor for the trace ", path, " outside the program's range: recording off");
            return -1;
        }
        if (errno != EEXIST) {
            wm_note("cannot create trace file ", path, ": recording off");
            return -1;
        }
    }
    wm_note("trace file ", base, " and .1 to .99 exist: recording off");
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
    hd->flags = __atomic_load_n(&header_flags, __ATOMIC_RELAXED) | fork_child | WMT_HF_THREAD_SERIAL |
                (wm_cfg.unix_layer ? WMT_HF_UNIX : 0);
    hd->stack_depth = (uint16_t)wm_cfg.stack_depth;
    size_t el = strnlen(wm_cfg.exe, 255), pl = strnlen(wm_cfg.program, 127);
    hd->exe_len = (uint16_t)el;
    hd->prog_len = (uint16_t)pl;
    memcpy(h + WMT_HEADER_FIXED_SIZE, wm_cfg.exe, el);
    memcpy(h + WMT_HEADER_FIXED_SIZE + el, wm_cfg.program, pl);
    size_t total = (WMT_HEADER_FIXED_SIZE + el + pl + 7) & ~(size_t)7;
    hd->header_size = (uint16_t)total;
    return append_locked(h, total, true);
}

/* The file is created at the first record, so images that record nothing
 * (Wine's helpers, a fork child that execs at once) leave no file. The
 * header goes in before the state says OPEN: no chunk can precede it. */
bool wm_file_ready(void)
{
    int st = wm_file_state();
    while (st != WM_FILE_OPEN) {
        if (st == WM_FILE_STOPPED)
            return false;
        int closed = WM_FILE_CLOSED;
        if (st == WM_FILE_CLOSED &&
            __atomic_compare_exchange_n(&state, &closed, WM_FILE_OPENING, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            fd = create();
            if (fd < 0) {
                path[0] = 0;
                wm_file_stop(WMT_LOST_WRITE);
                return false;
            }
            wm_manifest_note(path);
            bool ok = lock();
            ok = ok && write_header();
            if (ok)
                __atomic_store_n(&state, WM_FILE_OPEN, __ATOMIC_RELEASE);
            unlock();
            return ok;
        }
        sched_yield();
        st = wm_file_state();
    }
    return true;
}

/* A fork child gets a file of its own at its first record; the parent's
 * descriptor is closed here (only ours: same inode). */
void wm_file_after_fork(void)
{
    if (fd >= 0 && still_ours())
        close(fd);
    fd = -1;
    state = WM_FILE_CLOSED;
    stop_reason = 0;
    stalled_until = 0;
    written = 0;
    end = &written;
    shared = false;
    lock_owner = 0;
    path[0] = 0;
    fork_child = WMT_HF_FORK_CHILD;
}
