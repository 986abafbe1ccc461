/*
 * bench/bench_model.c — what feeding native mode's model costs one call
 * (shim/model.c applies every allocation and free through Wine's door to
 * the registry), beside an anchor in the same run: a real VirtualAlloc +
 * VirtualFree pair of libwinmem (the mmap and munmap a Wine allocation
 * pays as well). The model's work is done as wm_model_apply does it: an
 * allocation records a whole reservation with one committed run, a release
 * looks the allocation up and removes it. Target: <= 100 ns per call.
 */
#include <stdbool.h>
#include <stdio.h>
#include "bench.h"
#include "registry.h"
#include "winmem/winmem.h"

#define N 200000
#define RUNS 5
#define BASE 0x7e0000000000ull   /* recorded only, never mapped */

/* 1000 other allocations in the registry, as a program has: above the
 * ones the loop makes (each insert and removal moves all of them: the worst
 * case of the sorted arrays) or below (nothing to move: the best). */
static void populate(bool above)
{
    for (int i = 0; i < 1000; i++) {
        wm_alloc_desc d = { BASE + (above ? 0x100000000ull : -0x100000000ull) + (uint64_t)i * 0x20000, 0x10000,
                            PAGE_READWRITE, MEM_PRIVATE, 0, WM_KIND_FED };
        wm_registry_replace(&d, NULL, 0, 0);
    }
}

static double feed_ns(void)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < N; i++) {
        uint64_t b = BASE + (uint64_t)(i & 255) * 0x10000;
        wm_alloc_desc d = { b, 0x10000, PAGE_READWRITE, MEM_PRIVATE, 0, WM_KIND_FED };
        wm_page_run r = { b, 0x10000, MEM_COMMIT, PAGE_READWRITE };
        wm_registry_replace(&d, &r, 1, 0);            /* NtAllocateVirtualMemory */
        wm_region q;
        if (wm_registry_query(b, &q))                 /* NtFreeVirtualMemory(MEM_RELEASE) */
            wm_registry_remove_range(q.alloc_base, q.alloc_size);
    }
    return (bench_now_ns() - t0) / (2.0 * N);       /* per call: two calls per round */
}

static double anchor_ns(void)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < N / 10; i++) {
        void *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (!p || !VirtualFree(p, 0, MEM_RELEASE))
            return -1;
    }
    return (bench_now_ns() - t0) / (2.0 * (N / 10));
}

int main(void)
{
    double f[RUNS], g[RUNS], a[RUNS];
    populate(false);
    for (int r = 0; r < RUNS; r++)
        f[r] = feed_ns(), a[r] = anchor_ns();
    populate(true);
    for (int r = 0; r < RUNS; r++)
        g[r] = feed_ns();
    double fm = bench_median(f, RUNS), gm = bench_median(g, RUNS), am = bench_median(a, RUNS);
    printf("model feed: ns per allocation/free call, median of %d runs\n", RUNS);
    printf("  libwinmem VirtualAlloc/VirtualFree (anchor)            %8.1f ns   1.00\n", am);
    printf("  feeding the model, 1000 allocations below              %8.1f ns   %.3f   (target <= 100 ns)\n", fm, fm / am);
    printf("  feeding the model, 1000 below and 1000 above (moved)   %8.1f ns   %.3f\n", gm, gm / am);
    return 0;
}
