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
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "record.h"

#define SLOT_BYTES (WMT_CHUNK_SIZE + 64 * 1024)
#define SLOT_SIZE  ((SLOT_BYTES + 4095) & ~4095)

static int live_fd = -1;
static dev_t ldev;
static ino_t lino;
static int live_state;            /* 0 not tried, 1 ready, 2 none */
static struct wmt_live *hdr;      /* the mapped header page */
static uint64_t lost_private[WMT_LOST_COUNT];
static int grow_lock;
static char live_path[640];

uint64_t *wm_live_lost(void) { return hdr ? hdr->lost : lost_private; }

void wm_live_note_stop(uint32_t reason)
{
    if (hdr)
        __atomic_store_n(&hdr->stop, reason, __ATOMIC_RELEASE);
}

/* Field 22 of /proc/self/stat (after the ")" of the command name). */
static uint64_t start_time(void)
{
    char buf[1024];
    int f = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 0;
    ssize_t n = read(f, buf, sizeof buf - 1);
    close(f);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    uint64_t v = 0;
    if (p)
        for (p++; *p >= '0' && *p <= '9'; p++)
            v = v * 10 + (uint64_t)(*p - '0');
    return v;
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
    hdr->slot_size = SLOT_SIZE;
    hdr->start_time = start_time();
    memcpy(hdr->lost, lost_private, sizeof hdr->lost);
    __atomic_store_n((uint64_t *)hdr->magic, *(const uint64_t *)WMT_LIVE_MAGIC, __ATOMIC_RELEASE);
    wm_manifest_note(live_path);
    live_state = 1;
}

unsigned char *wm_live_slot(int i)
{
    if (!wm_file_ready())
        return NULL;
    int z = 0;
    while (!__atomic_compare_exchange_n(&grow_lock, &z, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        z = 0, sched_yield();
    unsigned char *slot = NULL;
    if (live_state == 0)
        create();
    off_t off = WMT_LIVE_HEADER + (off_t)i * SLOT_SIZE;
    if (live_state == 1 && still_ours() && fallocate(live_fd, 0, off, SLOT_SIZE) == 0) {
        void *m = (void *)syscall(SYS_mmap, NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, live_fd, off);
        if (m != MAP_FAILED) {
            slot = m;
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
    memset(lost_private, 0, sizeof lost_private);
}
