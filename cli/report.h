/*
 * cli/report.h — the summary of a trace, shared by `winmem report` and the
 * one-screen summary `winmem run` prints when the program exits.
 */
#ifndef WINMEM_CLI_REPORT_H
#define WINMEM_CLI_REPORT_H

#include <stdio.h>
#include "filter.h"
#include "trace_read.h"

typedef struct report_opts {
    int top_sites;      /* call sites (and stacks) to show */
    int frames;         /* frames per stack shown */
    int top_errors;
    bool brief;         /* run's one-screen summary: no stacks */
    bool all_frames;    /* call sites in Wine and the runtime too */
    call_filter *filter;   /* NULL: every call */
} report_opts;

/* Collects and prints the report. Returns 0, or -1 when out of memory. */
int report_print(tr_trace *t, FILE *f, const report_opts *o);

/* Formats bytes for people: "0", "12 KiB", "1.5 MiB". */
const char *report_bytes(char *buf, size_t len, uint64_t n);

#endif
