/*
 * cli/report.h — the summary of a trace, shared by `winmem report` and the
 * one-screen summary `winmem run` prints when the program exits.
 */
#ifndef WINMEM_CLI_REPORT_H
#define WINMEM_CLI_REPORT_H

#include <stdio.h>
#include "trace_read.h"

typedef struct report_opts {
    int top_sites;      /* call sites to show with their stacks */
    int frames;         /* frames per stack shown */
    int top_errors;
    bool brief;         /* run's one-screen summary: no stacks */
} report_opts;

void report_print(tr_trace *t, FILE *f, const report_opts *o);

#endif
