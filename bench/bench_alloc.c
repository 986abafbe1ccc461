/*
 * bench/bench_alloc.c — the cost winmem adds to allocation, and the cost of
 * asking the registry, side by side with their anchors, as ratios:
 *   - reserve + commit + release of 64 KiB through VirtualAlloc/VirtualFree
 *     against the bare mmap(PROT_NONE) + mprotect + munmap it stands on;
 *   - wm_registry_query and VirtualQuery on winmem memory with 100, 1,000
 *     and 10,000 live allocations, against a bare binary search over a sorted
 *     array of the same bases (the floor linux-facts.md measured);
 *   - one guard-page exception against the bare mprotect + SIGSEGV handler.
 * Target: VirtualQuery on winmem memory <= 110 ns, no system call.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <winmem/memory.h>
#include "registry.h"
#include "bench.h"

static volatile uint64_t sink;



/* Median of 5 runs of fn(iters), ns per iteration. */
static double median5(double (*fn)(int), int iters)
{
    double r[5];
    for (int i = 0; i < 5; i++)
        r[i] = fn(iters);
    return bench_median(r, 5);
}

static double cycle_winmem(int iters)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
        VirtualAlloc(p, 0x10000, MEM_COMMIT, PAGE_READWRITE);
        VirtualFree(p, 0, MEM_RELEASE);
        sink += (uintptr_t)p;
    }
    return (bench_now_ns() - t0) / iters;
}

static double cycle_mmap(int iters)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        char *p = mmap(NULL, 0x10000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        mprotect(p, 0x10000, PROT_READ | PROT_WRITE);
        munmap(p, 0x10000);
        sink += (uintptr_t)p;
    }
    return (bench_now_ns() - t0) / iters;
}

/* The live allocations and the addresses queried, in a scrambled order so
 * the search does not ride one cache line. */
#define MAXN 10000
static char *bases[MAXN];
static uint64_t sorted[MAXN];
static uint64_t *addrs;
static int nlive, naddrs;

static double q_registry(int iters)
{
    wm_region r;
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        wm_registry_query(addrs[i % naddrs], &r);
        sink += r.size;
    }
    return (bench_now_ns() - t0) / iters;
}

static double q_virtualquery(int iters)
{
    MEMORY_BASIC_INFORMATION m;
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        VirtualQuery((void *)addrs[i % naddrs], &m, sizeof(m));
        sink += m.RegionSize;
    }
    return (bench_now_ns() - t0) / iters;
}

static double q_bsearch(int iters)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        uint64_t a = addrs[i % naddrs];
        int lo = 0, hi = nlive;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (sorted[mid] <= a)
                lo = mid + 1;
            else
                hi = mid;
        }
        sink += (uint64_t)lo;
    }
    return (bench_now_ns() - t0) / iters;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int grow_to(int n)
{
    for (; nlive < n; nlive++) {
        /* reserved with the first page committed: two runs per allocation */
        bases[nlive] = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
        if (!bases[nlive] || !VirtualAlloc(bases[nlive], 0x1000, MEM_COMMIT, PAGE_READWRITE))
            return -1;
    }
    for (int i = 0; i < nlive; i++)
        sorted[i] = (uint64_t)bases[i];
    qsort(sorted, nlive, sizeof(sorted[0]), cmp_u64);
    naddrs = 4096;
    srand(1);
    for (int i = 0; i < naddrs; i++)
        addrs[i] = (uint64_t)bases[rand() % nlive] + (uint64_t)(rand() % 16) * 0x1000 + 8;
    return 0;
}

/* One guard-page exception: arm (VirtualProtect) + first touch, against the
 * bare mechanism it is built on (mprotect PROT_NONE + touch + a SIGSEGV
 * handler that mprotects the page back). */
static char *gpage;
static void bare_handler(int sig, siginfo_t *si, void *uc)
{
    mprotect((void *)((uintptr_t)si->si_addr & ~(uintptr_t)0xfff), 0x1000, PROT_READ | PROT_WRITE);
}

static double guard_bare(int iters)
{
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        mprotect(gpage, 0x1000, PROT_NONE);
        ((volatile char *)gpage)[0]++;
    }
    return (bench_now_ns() - t0) / iters;
}

static double guard_winmem(int iters)
{
    DWORD old;
    double t0 = bench_now_ns();
    for (int i = 0; i < iters; i++) {
        VirtualProtect(gpage, 0x1000, PAGE_READWRITE | PAGE_GUARD, &old);
        ((volatile char *)gpage)[0]++;
    }
    return (bench_now_ns() - t0) / iters;
}

static void bench_guard(void)
{
    struct sigaction sa = { .sa_sigaction = bare_handler, .sa_flags = SA_SIGINFO }, before;
    sigemptyset(&sa.sa_mask);
    /* winmem first (it installs its handler on first use), then the bare
     * handler in its place for the anchor, then winmem's back */
    gpage = VirtualAlloc(NULL, 0x1000, MEM_COMMIT, PAGE_READWRITE);
    double w = median5(guard_winmem, 20000);
    VirtualFree(gpage, 0, MEM_RELEASE);
    gpage = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    sigaction(SIGSEGV, &sa, &before);
    double b = median5(guard_bare, 20000);
    sigaction(SIGSEGV, &before, NULL);
    munmap(gpage, 0x1000);
    printf("\nguard page: arm + first touch, ns (median of 5)\n");
    printf("%-34s %8.0f\n%-34s %8.0f\n%-34s %7.2fx\n", "VirtualProtect(GUARD) + touch", w,
           "mprotect + touch + handler (anchor)", b, "ratio winmem/anchor", w / b);
}

int main(void)
{
    addrs = malloc(4096 * sizeof(*addrs));
    double w = median5(cycle_winmem, 20000), m = median5(cycle_mmap, 20000);
    printf("reserve+commit+release 64 KiB, ns per cycle (median of 5)\n");
    printf("%-34s %8.0f\n%-34s %8.0f\n%-34s %7.2fx\n", "VirtualAlloc x2 + VirtualFree", w,
           "mmap + mprotect + munmap (anchor)", m, "ratio winmem/anchor", w / m);

    static const int counts[] = { 100, 1000, 10000 };
    printf("\nquery on winmem memory, ns per call (median of 5), by live allocations\n");
    printf("%6s | %9s %6s | %12s %6s | %8s\n", "allocs", "registry", "ratio", "VirtualQuery", "ratio",
           "bsearch");
    for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if (grow_to(counts[i]) != 0) {
            fprintf(stderr, "VirtualAlloc failed at %d: %u\n", nlive, (unsigned)GetLastError());
            return 1;
        }
        double r = median5(q_registry, 400000), v = median5(q_virtualquery, 400000);
        double b = median5(q_bsearch, 400000);
        printf("%6d | %9.1f %5.1fx | %12.1f %5.1fx | %8.1f\n", nlive, r, r / b, v, v / b, b);
    }
    printf("ratios are to a bare binary search over the sorted bases (the floor);\n"
           "target: VirtualQuery on winmem memory <= 110 ns with no system call\n");
    for (int i = 0; i < nlive; i++)
        VirtualFree(bases[i], 0, MEM_RELEASE);
    bench_guard();
    return 0;
}
