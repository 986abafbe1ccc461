/*
 * cli/trace_read.h — reads a winmem trace (include/winmem/trace.h) into
 * memory for report, export and diff.
 *
 * The file is mapped, not copied: CALL records stay where they are and each
 * thread gets an array of pointers to its calls in seq order, the format's
 * "last record for a (tid, seq) wins" rule applied. Every table grows with
 * the records actually read, never with a number the file claims (a seq, a
 * count), so memory is bounded by the file's size whatever it holds.
 *
 * A chunk that fails its checks (magic, length, CRC) ends the readable
 * prefix and `cut` says why; the reader then looks for the next intact
 * chunk (magic and CRC) after it, so what a process wrote after a torn
 * chunk (a full disk's LOST and END records) is still found. The search
 * costs at most a few times the file's size in CRC work.
 */
#ifndef WINMEM_CLI_TRACE_READ_H
#define WINMEM_CLI_TRACE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "winmem/trace.h"
#include "symbolize.h"

typedef struct tr_module {
    const struct wmt_module *rec;
    const char *path;          /* as recorded (PE: Wine's NT name) */
    char *local;               /* the file on this machine, or NULL */
    sym_table *syms;           /* loaded on first symbolization */
    bool syms_tried;
} tr_module;

typedef struct tr_thread {
    uint32_t tid;
    uint32_t serial;                 /* per-trace thread serial (0 in older traces): Linux reuses tids */
    char name[17];
    const struct wmt_call **calls;   /* distinct calls in seq order (never NULL entries) */
    uint64_t ncalls;                 /* entries in calls */
    uint64_t max_seq;                /* highest seq seen: max_seq - ncalls numbers are missing */
    uint64_t cap;
    bool sorted;                     /* calls arrived in strictly rising seq (while reading) */
    uint64_t first_ns;               /* start of its first call (thread order in diff) */
} tr_thread;

typedef struct tr_trace {
    const char *path;
    const uint8_t *map;
    size_t size;
    const struct wmt_header *hdr;
    char *exe, *prog;
    char *image;               /* a Wine process's Windows image (PROCESS record), or NULL */

    tr_module *mods;  size_t nmods, mods_cap;
    tr_thread *threads; size_t nthreads, threads_cap;
    uint32_t *tid_hash, *mod_hash;   /* open hashes of index+1 on (tid, serial) / module id */
    size_t tid_hash_cap, mod_hash_cap;
    uint32_t *last_tid_hash;         /* on tid alone: the last thread with that tid */
    size_t last_tid_cap;
    const struct wmt_stack **stacks; size_t stack_cap;   /* open hash on id */
    size_t nstacks;
    const struct wmt_divergence **divs; size_t ndivs, divs_cap;

    uint64_t ncalls;           /* distinct (tid, seq) */
    uint64_t missing;          /* call numbers below a thread's highest that no record has */
    uint64_t nrecords;         /* CALL records read, duplicates included */
    uint64_t nchunks;
    uint64_t lost[WMT_LOST_COUNT]; /* by WMT_LOST_*; [0]: reasons this reader does not know, and
                                * what END counts beyond the LOST records found */
    uint32_t stop;             /* WMT_LOST_* reason recording stopped early, 0 */
    uint64_t skipped;          /* records of unknown type or bad size */
    const struct wmt_end *end; /* NULL: no END record */

    /* TRACE.live beside the trace (cli/salvage.h): the buffers of a process
     * that died or could not write its END, read as more chunks. */
    uint8_t *live;             /* its copy, owned */
    bool live_running;         /* its process still runs */
    uint32_t live_end;         /* WMT_END_* it reached without writing END, 0 */
    uint64_t live_chunks;      /* chunks read from it */

    uint64_t good_bytes;       /* readable prefix of the file */
    char cut[320];             /* "" when the whole file was readable */
    uint64_t resumed;          /* intact chunks found after the first damaged one */
    uint64_t skipped_bytes;    /* bytes passed over to find them */
    bool owns_map;
    sym_cache *sym;
} tr_trace;

/* Opens and reads a trace. Returns 0 (check t->cut for a partial read), or
 * -1 with err filled (empty file, not a trace, unreadable header), in which
 * case nothing needs freeing. progress: show a progress line on stderr when
 * it is a terminal. */
int tr_open(tr_trace *t, const char *path, bool progress, char *err, size_t errlen);
/* The same on size bytes already in memory (tests and the fuzzer hand a heap
 * copy, so AddressSanitizer sees any read past the end). buf must outlive t;
 * name is used in messages. */
int tr_open_buffer(tr_trace *t, const char *name, const void *buf, size_t size, char *err, size_t errlen);
void tr_close(tr_trace *t);

const struct wmt_stack *tr_stack(const tr_trace *t, uint32_t id);
/* The stack's slot in t->stacks (0 .. stack_cap-1), or SIZE_MAX when the id
 * is 0 or its STACK record is not in the readable part: readers keep side
 * tables per stack indexed by slot, with no hash of their own. */
size_t tr_stack_slot(const tr_trace *t, uint32_t id);
const tr_module *tr_module_by_id(const tr_trace *t, uint32_t id);
/* The thread with Linux tid, or NULL; when Linux reused the tid (traces
 * with thread serials), the last thread that had it. Constant time (a
 * crafted trace can hold hundreds of thousands of threads, so callers must
 * not walk them per call). */
const tr_thread *tr_thread_find(const tr_trace *t, uint32_t tid);
static inline const struct wmt_frame *tr_frames(const struct wmt_stack *s)
{
    return (const struct wmt_frame *)(s + 1);
}

/* "kernelbase.dll!VirtualProtect+0x2a", "cli_target.exe+0x1530",
 * "libc.so.6!mmap64+0x12" or "0x7f..." for an absolute frame. */
void tr_frame_name(tr_trace *t, const struct wmt_frame *f, char *buf, size_t len);
/* A frame split into module and function, for readers that group by
 * function (report's call sites, export's folded stacks). */
typedef struct tr_sym {
    const tr_module *mod;      /* NULL: the frame names no known module */
    const char *module;        /* base name ("ledger.exe", "ntdll.dll") */
    const char *func;          /* as in the symbol table (mangled), or NULL */
    uint64_t off;              /* return address − function start */
    uint64_t file_addr;        /* return address in the file's own terms (ELF vaddr, PE RVA) */
} tr_sym;
bool tr_frame_sym(tr_trace *t, const struct wmt_frame *f, tr_sym *out);
/* name demangled into buf when it is a C++ name, else name itself. */
const char *tr_demangle(const char *name, char *buf, size_t len);
/* " (file.c:42)" when the frame's module has line information, else "". */
void tr_frame_source(tr_trace *t, const struct wmt_frame *f, char *buf, size_t len);
/* The file name part of a module path (after the last / or \). */
const char *tr_basename(const char *path);

/* How the recording ended, in words, for report and run: "the program
 * exited normally" only with an END(exit) and nothing stopped early;
 * "killed" only when nothing else explains a missing END. */
const char *tr_end_text(const tr_trace *t, char *buf, size_t len);
/* Why recording stopped (WMT_LOST_* reason), in words. */
const char *tr_stop_text(uint32_t reason);

/* One line for the user: "read 812 calls in 14 chunks; trace cut at ...". */
void tr_describe(const tr_trace *t, char *buf, size_t len);

#endif
