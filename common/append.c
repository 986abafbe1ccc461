/*
 * common/append.c — see append.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/append.h"

static bool still_the_trace(const struct wm_trace_fd *t, struct stat *st)
{
    return fstat(t->fd, st) == 0 && (uint64_t)st->st_dev == t->dev && (uint64_t)st->st_ino == t->ino;
}

bool wm_trace_fd_ok(const struct wm_trace_fd *t)
{
    struct stat st;
    return still_the_trace(t, &st);
}

enum wm_append wm_append_chunk(const struct wm_trace_fd *t, uint64_t *end, bool cut_torn,
                               uint64_t max, uint32_t room, const void *p, size_t n)
{
    struct stat st;
    if (!still_the_trace(t, &st))
        return WM_APPEND_GONE;
    uint64_t at = *end;
    if (cut_torn && (uint64_t)st.st_size > at && ftruncate(t->fd, (off_t)at) != 0)
        return WM_APPEND_ERROR;
    if (max && at + n + room > max)
        return WM_APPEND_SIZE;
    /* Blocks for this chunk and for the LOST and END after it, allocated
     * before writing: a full disk shows here, with room for those still
     * held from the previous chunk. (Filesystems without fallocate: the
     * write tells, and the torn chunk is cut off.) */
    if (room && fallocate(t->fd, FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)(n + room)) != 0 &&
        (errno == ENOSPC || errno == EDQUOT))
        return WM_APPEND_NOSPACE;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(t->fd, (const char *)p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int err = w < 0 ? errno : ENOSPC;
            /* Cut a torn chunk back off: what follows must stay findable. */
            if (done && still_the_trace(t, &st) && ftruncate(t->fd, (off_t)at) != 0) { /* stays torn */ }
            return err == ENOSPC || err == EDQUOT ? WM_APPEND_NOSPACE
                 : err == EBADF ? WM_APPEND_GONE : WM_APPEND_ERROR;
        }
        done += (size_t)w;
    }
    *end = at + n;
    return WM_APPEND_OK;
}

bool wm_append_lock(int fd, int max_ms)
{
    /* The other side holds it for one append (~20 us): yield first. */
    for (int i = 0; i < 64 + 10 * max_ms; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return true;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return false;
        if (i < 64)
            sched_yield();
        else
            nanosleep(&(struct timespec){ 0, 100000 }, NULL);
    }
    errno = EWOULDBLOCK;
    return false;
}

void wm_append_unlock(int fd) { flock(fd, LOCK_UN); }
