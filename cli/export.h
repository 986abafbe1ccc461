/*
 * cli/export.h — what export's formats share (cli/export.c, cli/export_stacks.c).
 */
#ifndef WINMEM_CLI_EXPORT_H
#define WINMEM_CLI_EXPORT_H

#include <stdio.h>
#include "filter.h"
#include "report_stats.h"

typedef struct exp_ctx {
    tr_trace *t;
    call_filter *f;       /* NULL: every call */
    report_stats s;       /* the report's collection: names called, sites, commit over time */
    char ***labels;       /* per stack slot: its frames by function, outermost first (exp_labels) */
    int *nlabels;
} exp_ctx;

enum exp_weight { W_CALLS, W_BYTES, W_TIME };

/* The frames of a stack by function, outermost first, made once per stack
 * and kept until exp_free; *n = 0 for no stack. NULL when out of memory. */
char *const *exp_labels(exp_ctx *x, uint32_t stack, int *n);
void exp_free(exp_ctx *x);
/* A frame by function: "kernelbase.dll!VirtualAlloc", "app.exe+0x15e4". */
void export_frame_label(tr_trace *t, const struct wmt_frame *fr, char *buf, size_t len);
void export_folded(exp_ctx *x, FILE *f, enum exp_weight w);
void export_speedscope(exp_ctx *x, FILE *f);

#endif
