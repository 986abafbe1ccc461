/*
 * cli/salvage.h — what a process's TRACE.live still holds after it died
 * (include/winmem/trace.h, struct wmt_live; docs/trace-format.md).
 *
 * The shim keeps each thread's unwritten chunks in a shared mapping of
 * TRACE.live and removes the file when the process ends normally. A .live
 * that is still there belongs to a process that was killed, died, or ended
 * without being able to write its END (descriptor lost, disk full): the
 * reader reads it beside the trace, and `winmem run` appends it to the
 * trace for good.
 */
#ifndef WINMEM_CLI_SALVAGE_H
#define WINMEM_CLI_SALVAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "winmem/trace.h"

typedef struct live_file {
    uint8_t *map;             /* a private copy of the file (NULL: none) */
    size_t size;
    const struct wmt_live *hdr;
    bool alive;               /* its process still runs: nothing to salvage yet */
    uint32_t nbuf, buf_size;  /* buffers a slot and their stride */
    size_t chunk_at;          /* where a buffer's chunk header is (after its state word) */
} live_file;

/* Reads TRACE.live if there is one (a regular file of this user, with the
 * magic). 0: read (check lf->alive); 1: there is none; -1: unreadable. */
int live_open(live_file *lf, const char *trace_path);
void live_close(live_file *lf);
/* How many buffers the file has (slots x buffers a slot). */
uint32_t live_count(const live_file *lf);
/* The n-th buffer's chunk when it holds records (length checked against
 * the buffer, CRC filled in), else NULL; n < live_count(lf). Any state
 * counts: FULL and WRITING buffers are not known to be in the trace. */
const struct wmt_chunk *live_chunk(live_file *lf, uint32_t n);

/* `winmem run`: appends what TRACE.live holds to the trace (its chunks,
 * LOST counts, then END — SALVAGED, or the end the process could not
 * write) and removes TRACE.live. 0 done (msg says what), 1 nothing to do,
 * -1 failed or the process still runs (msg says why). */
int live_salvage(const char *trace_path, char *msg, size_t len);

#endif
