/*
 * cli/diff.h — what the two halves of `winmem diff` share: cli/diff_load.c
 * reads a trace into normalized per-thread call sequences (addresses
 * rewritten), cli/diff.c compares two of them.
 */
#ifndef WINMEM_CLI_DIFF_H
#define WINMEM_CLI_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "trace_read.h"

typedef struct ev {
    const struct wmt_call *c;
    char *text;       /* normalized (API, arguments, result) */
} ev;

typedef struct alloc { uint64_t base, size; unsigned thread, n; } alloc;

typedef struct side {
    tr_trace t;
    tr_thread **threads;          /* by first call, threads with calls only */
    size_t nthreads;
    ev **evs; size_t *nevs;       /* per thread (same order as threads) */
    alloc *al; size_t nal, cap;
    unsigned *allocs_by_thread;
    int *tmap;                    /* t.threads index -> threads index, -1: none */
} side;

typedef struct opts {
    const char **ignore_api; int n_ignore_api;
    const char **ignore_field; int n_ignore_field;
    int max_show;
    int frames;
    bool strict;
    const char *only_from;
} opts;

/* Reads path and builds its sequences (calls of ignored APIs left out).
 * Returns 0, or -1 after printing why. diff_unload frees either way. */
int diff_load(side *s, const char *path, const opts *o);
void diff_unload(side *s);
/* Every name --ignore-field can take (argument and output names of all
 * APIs, and ret, error, out); names point at static storage. */
size_t diff_field_names(const char **names, size_t max);

#endif
