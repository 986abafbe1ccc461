/*
 * common/append.h — appending one chunk to a trace: the rules the shim
 * (shim/trace_file.c) and `winmem run`'s writer (cli/run_writer.c) both
 * follow, so a trace two of them append to stays one file with one set of
 * rules (docs/trace-format.md "The writer"). No allocation, no stdio: the
 * shim calls it inside other people's programs.
 */
#ifndef WINMEM_COMMON_APPEND_H
#define WINMEM_COMMON_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A descriptor and the file it must still be: a program may close the
 * shim's descriptor and get the number back for a file of its own. */
struct wm_trace_fd {
    int fd;
    uint64_t dev, ino;
};

/* Is t's descriptor still that file? */
bool wm_trace_fd_ok(const struct wm_trace_fd *t);

enum wm_append {
    WM_APPEND_OK,
    WM_APPEND_GONE,       /* the descriptor is not the trace any more */
    WM_APPEND_SIZE,       /* the chunk would pass the size limit */
    WM_APPEND_NOSPACE,    /* the disk (or quota) is full */
    WM_APPEND_ERROR,      /* another write error */
};

/* Appends n bytes at p to t (opened O_APPEND), whose readable part ends at
 * *end, and moves *end past them. Refused (nothing written) when the
 * descriptor is not the trace, or when the chunk would pass max (0: no
 * limit) less room; room bytes past the chunk are reserved with fallocate
 * first, so the LOST and END written at the end always find space (room 0:
 * those final records themselves). cut_torn: others append too, so bytes
 * past *end are a chunk an appender killed inside its write left torn: they
 * are cut first. A write that fails half way is cut back to *end.
 * Pre: the caller holds whatever keeps other appenders out (wm_append_lock
 * when there are others). */
enum wm_append wm_append_chunk(const struct wm_trace_fd *t, uint64_t *end, bool cut_torn,
                               uint64_t max, uint32_t room, const void *p, size_t n);

/* flock(LOCK_EX) on the trace for at most ~max_ms (another appender holds
 * it for one chunk, ~20 us; a stopped one must not hang the caller).
 * false: not taken (errno EWOULDBLOCK when it stayed held). */
bool wm_append_lock(int fd, int max_ms);
void wm_append_unlock(int fd);

#endif
