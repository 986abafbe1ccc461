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
} exp_ctx;

enum exp_weight { W_CALLS, W_BYTES, W_TIME };

/* A frame by function: "kernelbase.dll!VirtualAlloc", "app.exe+0x15e4". */
void export_frame_label(tr_trace *t, const struct wmt_frame *fr, char *buf, size_t len);
void export_folded(exp_ctx *x, FILE *f, enum exp_weight w);
void export_speedscope(exp_ctx *x, FILE *f);

#endif
