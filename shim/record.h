/*
 * shim/record.h — the recording path's parts, shared among them only:
 * shim/fd.c (where descriptors live), shim/trace_file.c (the file, its
 * header, why recording stopped), shim/live.c (per-thread buffers in a
 * shared mapping that outlives a kill), shim/writer.c (buffers, guard,
 * CALL protocol, fork). Not installed, not for the wrappers: they use
 * shim.h.
 */
#ifndef WINMEM_SHIM_RECORD_H
#define WINMEM_SHIM_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "winmem/trace.h"

/* ---- descriptors (shim/fd.c) ---- */
/* Decides where the shim's descriptors go; false (with a note) when the
 * program's limit leaves no number the program could not want. */
bool wm_fd_init(void);
/* Moves fd to the shim's range (close-on-exec) and closes fd; -1 if not. */
int wm_fd_move_high(int fd);
/* While on, pipes made on this thread are moved high (libunwind's);
 * declared in shim.h, where the ELF stack capture uses it. */

/* ---- the trace file (shim/trace_file.c) ---- */
enum wm_file_state {
    WM_FILE_CLOSED,     /* nothing written yet: no file exists */
    WM_FILE_OPENING,    /* one thread is creating it and writing the header */
    WM_FILE_OPEN,       /* header written: chunks may follow */
    WM_FILE_STOPPED,    /* recording stopped for good; wm_file_stop_reason() says why */
};
enum wm_file_state wm_file_state(void);
/* Creates the file (and writes its header) on first need; false when
 * recording is off or stopped. */
bool wm_file_ready(void);
/* One chunk (header + records) in one write(), after checking the
 * descriptor is still the trace and the size limit allows it. On failure
 * recording stops with the reason; false. Also false, recording going on,
 * while wm_file_stalled(). */
bool wm_file_write(const void *chunk, size_t len);
/* The writer holds the file and is stopped: nothing can be appended for
 * now (buffers wait FULL in the .live; records without one are LOST busy). */
bool wm_file_stalled(void);
/* The last writes at exit (LOST, END): also after a stop for lack of room
 * or size (room for them is kept), never after the descriptor was lost. */
bool wm_file_write_final(const void *chunk, size_t len);
/* Recording stops for good with this WMT_LOST_* reason (first one wins). */
void wm_file_stop(uint32_t reason);
uint32_t wm_file_stop_reason(void);
const char *wm_file_path(void);
void wm_file_after_fork(void);
/* From now on the trace's readable size is h->good_end, and h names the
 * file, its size limit and the room kept for the end; with_writer: another
 * process appends too, so every append holds flock(). false: not now (this
 * thread is inside a write: a signal handler). */
bool wm_file_share(struct wmt_live *h, bool with_writer);
/* The trace is open and its descriptor still ours; else recording stops
 * with LOST(descriptor) and false. */
bool wm_file_check(void);
/* Counted lost records, by WMT_LOST_* reason: counted, read, and taken
 * off once a LOST record with them is in the trace (what is left stays in
 * the .live header for the salvager). */
void wm_lost(uint32_t reason, uint64_t n);
uint64_t wm_lost_peek(uint32_t reason);
void wm_lost_written(uint32_t reason, uint64_t n);

/* ---- stacks (shim/stack.c): per-thread unwinder state ---- */
void wm_stack_thread_gone(void);
void wm_stack_after_fork(void);

/* ---- the .live file (shim/live.c) ---- */
/* A buffer: a state word, a chunk header, 64 KiB of records (smaller ones,
 * measured, left run's writer behind a program calling as fast as it can). */
#define WM_LIVE_BUF   (sizeof(struct wmt_live_buf) + WMT_CHUNK_SIZE + 64 * 1024)
/* Slot i of TRACE.live, mapped shared: *nbufs buffers of WM_LIVE_BUF bytes
 * (wm_live_slot_size() in all), creating the trace and the .live on first
 * use; NULL when it cannot be had (the caller buffers privately, one
 * buffer: recorded, but not safe from a kill). */
unsigned char *wm_live_slot(int i, int *nbufs);
size_t wm_live_slot_size(void);
/* The writer's pid while it takes FULL buffers, else 0. */
uint32_t wm_live_writer(void);
/* Is the writer this process was given still there? When it is gone it
 * stops being asked (false from then on); its WRITING buffer, if any, is
 * the caller's to put back to FULL. */
bool wm_live_writer_alive(void);
/* After a buffer became FULL: wakes the writer if it sleeps, or if it
 * naps and the ring runs short of OPEN buffers. */
void wm_live_wake(bool short_of_buffers);
/* At exit: the writer takes no more buffers. Returns its pid (0: none) so
 * the caller can wait for the one it may be appending. */
uint32_t wm_live_writer_close(void);
/* The writer's process is stopped (SIGSTOP, or a debugger holds it). */
bool wm_live_writer_stopped(void);
/* Where lost counts and the stop reason are kept (shared when .live exists). */
uint64_t *wm_live_lost(void);
void wm_live_note_stop(uint32_t reason);
/* The process ends: with END in the trace the .live goes; without, its
 * header keeps why, for the salvager. */
void wm_live_end(uint32_t end_reason, bool end_written);
void wm_live_after_fork(void);

#endif
