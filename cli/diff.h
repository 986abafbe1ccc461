/*
 * cli/diff.h — what the parts of `winmem diff` share.
 *
 * cli/diff_load.c reads a trace and replays its calls in time order, keeping
 * the set of live allocations (so an address can be named by the allocation
 * it lies in). From there one of two models is built:
 *  - --exact: per-thread sequences of normalized call lines, compared call
 *    by call (cli/diff.c);
 *  - by default, behaviours (cli/diff_behaviour.c): calls grouped by call
 *    site + API + the arguments that define the request, with counts,
 *    failures and bytes, compared as sets (cli/diff_compare.c), so thread
 *    scheduling and timing-dependent heaps make no noise.
 */
#ifndef WINMEM_CLI_DIFF_H
#define WINMEM_CLI_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "table.h"
#include "trace_read.h"

typedef struct ev {
    const struct wmt_call *c;
    char *text;       /* normalized (API, arguments, result) */
} ev;

typedef struct alloc { uint64_t base, size; unsigned thread, n; uint32_t beh; } alloc;

/* Where an address argument points, as the behaviour key sees it. */
enum { AC_NONE, AC_OWN, AC_IMAGE, AC_OTHER };

/* What a call asked for. Two calls with equal keys are the same behaviour. */
typedef struct bkey {
    uint32_t site;        /* index in the shared site table (diff_sites) */
    uint16_t api;
    uint8_t aclass;       /* AC_* of the address argument */
    uint8_t remote;       /* another process's handle */
    uint32_t prot, type, cls;
} bkey;

#define BEH_FAILS 4
typedef struct beh {
    bkey k;
    uint64_t n, bytes;            /* calls; bytes allocated by its successful calls */
    uint64_t live_n, live_bytes;  /* of those, still allocated when the trace ended */
    uint32_t fail_code[BEH_FAILS], fail_n[BEH_FAILS];   /* distinct failure codes */
    uint8_t nfail;
    const struct wmt_call *first; /* a call to show (stack, arguments) */
} beh;

/* Normalized call sites, shared by every trace of one diff so keys compare
 * across traces. */
typedef struct diff_sites {
    char **name; size_t n, cap;
    hindex index;
} diff_sites;

typedef struct side {
    tr_trace t;
    tr_thread **threads;          /* by first call, threads with calls only */
    size_t nthreads;
    ev **evs; size_t *nevs;       /* per thread (same order as threads); --exact only */
    alloc *al; size_t nal, cap;
    unsigned *allocs_by_thread;
    beh *beh; size_t nbeh, behcap;
    hindex bindex;                /* on bkey */
    uint32_t *stk_id, *stk_site; size_t scap; /* stack id -> site cache */
    int *tmap;                    /* t.threads index -> threads index, -1: none */
} side;

/* Default tolerances (docs/regression-testing.md says how they were chosen). */
#define DIFF_RATIO 4.0
#define DIFF_SLACK 8
#define DIFF_MARGIN 1.5

typedef struct opts {
    const char **ignore_api; int n_ignore_api;
    const char **ignore_field; int n_ignore_field;
    int max_show;
    int frames;
    bool strict;
    bool exact;                   /* call-by-call comparison */
    bool json, explain;
    const char *only_from;
    double ratio;                 /* count/bytes tolerance: a factor ... */
    uint64_t slack_calls, slack_bytes;   /* ... and an absolute floor */
    double margin;                /* --baseline: factor around the learned range */
    diff_sites *sites;
} opts;

/* Reads path and builds its model (sequences with o->exact, behaviours
 * otherwise; calls of ignored APIs left out). Returns 0, or -1 after
 * printing why. diff_unload frees either way. */
int diff_load(side *s, const char *path, const opts *o);
void diff_unload(side *s);

/* The live allocation (as the replay stands) that holds address a, or NULL. */
alloc *diff_alloc_at(side *s, uint64_t a);
/* Every name --ignore-field can take (argument and output names of all
 * APIs, and ret, error, out); names point at static storage. */
size_t diff_field_names(const char **names, size_t max);

/* cli/diff_behaviour.c: adds call c to s's behaviours; returns its index. */
uint32_t beh_add(side *s, const struct wmt_call *c, const opts *o);
/* After the replay: credits the allocations still live to their behaviours. */
void beh_finish(side *s);
/* The site's normalized frames, "mod!fn;mod!fn;mod+0x1a30". */
const char *diff_site_name(const opts *o, uint32_t site);
void diff_sites_free(diff_sites *d);
/* The request part of a key, "protect=PAGE_READWRITE type=MEM_COMMIT address=own". */
void beh_request(const bkey *k, char *buf, size_t len);
/* The frame a user knows the site by: the first one in the program's own
 * modules (not ntdll/kernelbase/kernel32), "noisy.exe!heap_grow". */
void beh_site_short(const opts *o, uint32_t site, char *buf, size_t len);
/* Frames worth showing: stops at the first frame after #0 that is not in a
 * known module (made-up frames of a stack unwound past its data). */
int diff_good_frames(tr_trace *t, const struct wmt_stack *st);

/* cli/diff_compare.c: compares baselines base[0..nbase-1] with b, prints,
 * returns the number of differences (or -1 on error). */
long diff_behaviour(side **base, int nbase, side *b, const opts *o);


#endif
