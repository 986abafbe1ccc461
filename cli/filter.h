/*
 * cli/filter.h — which calls `winmem report` and `winmem export` look at:
 * --thread TID, --time FROM-TO, --only-from MODULE|FUNCTION, --api NAME.
 */
#ifndef WINMEM_CLI_FILTER_H
#define WINMEM_CLI_FILTER_H

#include <stdbool.h>
#include <stdint.h>
#include "trace_read.h"

#define FILTER_MAX 16

typedef struct call_filter {
    uint32_t tids[FILTER_MAX]; int ntids;          /* --thread (repeatable or a,b) */
    bool has_time; uint64_t from_ns, to_ns;         /* --time, relative to the first call */
    const char *from[FILTER_MAX]; int nfrom;        /* --only-from: module or function names */
    const char *apis[FILTER_MAX]; int napis;        /* --api: Nt, Win32 or unix names */
    /* filled by filter_prepare */
    uint64_t t0;
    uint8_t *from_ok;   /* per stack slot: 0 unknown, 1 matches, 2 does not */
} call_filter;

/* Parses one option's argument into f ("thread", "time", "only-from", "api").
 * Returns 0, or -1 after printing why on stderr. The strings are kept, not copied. */
int filter_add(call_filter *f, const char *opt, char *arg);
bool filter_active(const call_filter *f);
/* Call once the trace is open, before filter_match. */
int filter_prepare(call_filter *f, tr_trace *t);
void filter_free(call_filter *f);
/* w32 is the name the program called (report's naming), or NULL. */
bool filter_match(call_filter *f, tr_trace *t, const struct wmt_call *c, const char *w32);
/* "" or " (filtered: thread 123, time 0.5-2 s ...)" */
void filter_describe(const call_filter *f, char *buf, size_t len);

#endif
