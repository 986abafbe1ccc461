/*
 * cli/diff_compare.h — private to the behaviour comparison: what
 * cli/diff_compare.c finds and cli/diff_output.c prints.
 */
#ifndef WINMEM_CLI_DIFF_COMPARE_H
#define WINMEM_CLI_DIFF_COMPARE_H

#include "diff.h"

/* Severities, most severe first (the table in docs/cli.md). */
enum { S_RWX, S_SITE, S_FAIL, S_PROT, S_LEAK, S_SIZE, S_THREADS, S_N };

/* One behaviour over the baselines and B. */
typedef struct row {
    bkey k;
    int in_a;                      /* baselines where present */
    uint64_t cmin, cmax, bmin, bmax, live_min, live_max;
    side *sa; const beh *ba;       /* a baseline's instance (to show) */
    side *sb; const beh *bb;       /* B's, or NULL */
    uint32_t code[8]; int code_in[8]; int ncode;   /* failure codes over the baselines */
    bool used;
} row;

/* A difference: a is the A side's row (NULL: only in B), b B's. */
typedef struct finding { int sev; row *a, *b; char text[480]; } finding;

typedef struct ctx {
    row *rows; size_t n, cap;
    hindex index;                      /* rows by key */
    finding *f; size_t nf, fcap;
    char **hidden; size_t nh, hcap2;   /* --explain lines */
    int nbase;
    const opts *o;
} ctx;

/* "64 KiB"; the name of a failure code for api's kind of call. */
void diff_human_bytes(uint64_t b, char *buf, size_t len);
const char *diff_code_name(unsigned api, uint32_t code, char *buf, size_t len);

/* Prints the findings (sorted), as text or JSON; count[] by severity. */
void diff_print_text(ctx *x, side *b, const unsigned *count);
void diff_print_json(ctx *x, side **base, side *b, const unsigned *count);

#endif
