/*
 * bench/bench.h — what every bench program shares: one monotonic clock and
 * the median of repeated runs (medians, because this 2-core machine is
 * shared and a mean would carry every disturbance).
 */
#ifndef WINMEM_BENCH_H
#define WINMEM_BENCH_H
#include <stdlib.h>
#include <time.h>

static inline double bench_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n-1]; sorts v. Pre: n > 0. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}
#endif
