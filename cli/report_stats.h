/*
 * cli/report_stats.h — what `winmem report` knows after its one pass over a
 * trace: the collection step (report_collect.c, report_sites.c,
 * report_ledger.c) fills a report_stats, and each section's printer
 * (report.c, html.c) only reads it.
 *
 * The memory ledger replays every call that changes the address space
 * (allocations, frees, protections, section views) in the order they
 * returned, over a model of the process's regions: bytes reserved,
 * committed and freed per call site, commit over time and its peak, what is
 * still held when the trace ends and who allocated it, and the memory made
 * writable and executable.
 */
#ifndef WINMEM_CLI_REPORT_STATS_H
#define WINMEM_CLI_REPORT_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include "filter.h"
#include "table.h"
#include "trace_read.h"

/* Latency histogram: 16 sub-buckets per power of two (error <= 1/16). */
#define RS_HSUB 16
#define RS_HBUCKETS (64 * RS_HSUB)

typedef struct rs_api {
    uint64_t calls, failed, pending, total_ns, max_ns, min_ns;
    uint32_t *hist;   /* RS_HBUCKETS, allocated on first use */
} rs_api;

typedef struct rs_err { uint16_t api; uint32_t code; uint64_t n; const struct wmt_call *example; } rs_err;

/* A stack as the report counts it (the old per-stack "top call sites"). */
typedef struct rs_stack { uint32_t stack; uint64_t n, failed; uint16_t top_api; bool own; } rs_stack;

/* What one site asked for under one name ("VirtualAlloc" via NtAllocateVirtualMemory). */
#define RS_SITE_CALLS 6
typedef struct rs_named { const char *w32; uint16_t api; uint64_t n; } rs_named;

/* A call site: one function (the first frame in the program's own code),
 * all its stacks merged. */
typedef struct rs_site {
    char *name;             /* "arena_grow", demangled, or "ledger.exe+0x15e4" */
    const char *module;     /* base name */
    const tr_module *mod;   /* for source lines */
    uint64_t file_addr;     /* one return address inside it (file terms) */
    uint32_t example_stack; /* the first stack seen through it */
    bool own;               /* the program's code; false: Wine or the runtime on its own */
    uint64_t calls, failed;
    uint64_t reserved, committed, freed;   /* bytes by this site's calls (freed: commit returned) */
    uint64_t released;                     /* address space it released (MEM_RELEASE, unmap) */
    uint64_t mapped;                       /* section views it mapped */
    uint64_t held_commit, held_reserve;    /* still held when the trace ends, allocated here */
    uint64_t wx;                           /* bytes made writable+executable here */
    rs_named named[RS_SITE_CALLS]; int nnamed;
    char src[400];                         /* "(ledger.c:36)..." filled by report_sources */
} rs_site;

typedef struct rs_fail {
    int site; const char *w32; uint16_t api; uint32_t code; uint64_t n;
    const struct wmt_call *example;
} rs_fail;

typedef struct rs_wx { int site; const char *w32; uint32_t protect; uint64_t bytes, n; } rs_wx;

/* Commit over time, one point per change (HTML graph). */
typedef struct rs_point { uint64_t t_ns; uint64_t committed, reserved, mapped; } rs_point;

/* The address space when the trace ends, one entry per allocation. */
typedef struct rs_region {
    uint64_t base, size, committed;
    uint32_t protect;   /* of its first committed piece (0: none committed) */
    bool mapped, wx;
    int site;           /* who allocated it, -1: before recording */
} rs_region;

typedef struct report_stats {
    rs_api *api;                    /* [WMT_API_MAX] */
    rs_err *errs; size_t nerr, cap_err;
    uint64_t *th_calls, *th_failed; /* [nthreads] */
    uint64_t first, last, missing, aborted, pending, nostack, counted;
    rs_stack *stacks; size_t nstacks;   /* the program's own first, then by count */

    /* per stack slot (t->stacks): its site and the name the program called */
    int *slot_site;                 /* -2: not classified yet */
    const char **slot_w32;
    rs_site *sites; size_t nsites, cap_sites;
    hindex site_index;                      /* on (name, module) */
    int *order;                     /* site indexes: own sites by bytes, then the rest */
    rs_fail *fails; size_t nfails, cap_fails;
    hindex fail_index;                      /* on (site, w32, api, code) */
    rs_wx *wx; size_t nwx, cap_wx;
    rs_point *points; size_t npoints, cap_points;
    rs_region *regions; size_t nregions;
    uint64_t committed, reserved, mapped;   /* at the end */
    uint64_t peak_commit, peak_ns;          /* peak of committed (private) bytes, and when (from t0) */
    uint64_t t0;
    uint64_t mem_calls;                     /* calls replayed by the ledger */
    uint64_t wx_held;                       /* writable+executable bytes at the end */
    bool all_frames;
} report_stats;

/* The one pass: counts, the ledger, sites. Returns 0, or -1 (out of memory).
 * f may be NULL (every call). all_frames: sites are the innermost frame
 * rather than the first in the program's own code. */
int report_collect(tr_trace *t, call_filter *f, bool all_frames, report_stats *s);
void report_stats_free(report_stats *s);

/* Source lines for the first n sites of s->order (one symbolizer run per file). */
void report_sources(tr_trace *t, report_stats *s, size_t n);

/* Bytes a call allocated (committed, reserved or mapped as a view), as it
 * asked: export's byte weight. 0 for failed calls and everything else. */
uint64_t rs_call_bytes(const struct wmt_call *c);

/* Latency percentile q (0..1) of an API's completed calls. */
uint64_t rs_percentile(const rs_api *a, double q);

/* --- internal to the collection step (report_sites.c, report_ledger.c) --- */
/* The site and Win32 name of a call's stack (classified once per stack);
 * rs_site_at when the stack's slot is known (tr_stack_slot). */
int rs_site_of(tr_trace *t, report_stats *s, const struct wmt_call *c, const char **w32);
int rs_site_at(tr_trace *t, report_stats *s, size_t slot, const char **w32);
void rs_site_count(report_stats *s, int site, const struct wmt_call *c, const char *w32, bool failed);
/* A call that changed the address space, decoded while its record is hot
 * (rs_decode), with its site, for the replay. */
typedef struct rs_mem {
    uint64_t end;                 /* when it returned */
    uint64_t start_addr, end_addr;
    uint32_t type, protect;
    int op, site;
    const char *w32;
    const struct wmt_call *c;
} rs_mem;
/* Fills m's operation and range; false when the call changed nothing
 * (failed, pending, another process, or not a memory-changing API). */
bool rs_decode(const struct wmt_call *c, rs_mem *m);
/* Replays v[0..n) in the order the calls returned: v holds nseg runs (one
 * per thread, seg[i] the start of run i) each already in that order. */
int rs_ledger_replay(tr_trace *t, report_stats *s, call_filter *f, rs_mem *v, size_t n, const size_t *seg, size_t nseg);
void rs_order_sites(report_stats *s);

#endif
