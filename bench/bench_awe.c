/*
 * bench/bench_awe.c — MapUserPhysicalPages then unmapping 1,024 frames,
 * side by side with what it costs Linux to do the same to a memfd range by
 * hand (mmap MAP_FIXED + munmap, and mmap + a PROT_NONE mapping back, which
 * is what winmem does). Target: ≤ 100 µs per map+unmap of 1,024 frames.
 * Frames in allocation order map with one mmap; scattered frames need one
 * mmap per page, shown as a second line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <winmem/winmem.h>
#include "bench.h"

#define FRAMES 1024
#define ROUNDS 100
#define RUNS   7

static double now_us(void)
{
    return bench_now_ns() / 1e3;
}

/* Median over RUNS of the mean per round, in µs. */
#define MEASURE(result, body) do { \
        double runs_[RUNS]; \
        for (int r_ = 0; r_ < RUNS; r_++) { \
            double t0_ = now_us(); \
            for (int i_ = 0; i_ < ROUNDS; i_++) { body; } \
            runs_[r_] = (now_us() - t0_) / ROUNDS; \
        } \
        result = bench_median(runs_, RUNS); \
    } while (0)

int main(void)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = FRAMES * pg;
    ULONG_PTR n = FRAMES, pfn[FRAMES], rev[FRAMES];
    if (!AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn) || n != FRAMES) {
        fprintf(stderr, "bench_awe: AllocateUserPhysicalPages: error %u, %lu frames (needs CAP_IPC_LOCK or RLIMIT_MEMLOCK >= 4 MiB)\n",
                (unsigned)GetLastError(), (unsigned long)n);
        return 1;
    }
    for (int i = 0; i < FRAMES; i++)
        rev[i] = pfn[FRAMES - 1 - i];
    char *win = VirtualAlloc(NULL, len, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    char *plain = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    int fd = memfd_create("bench-awe", MFD_CLOEXEC);
    if (!win || plain == MAP_FAILED || fd < 0 || ftruncate(fd, (off_t)len) != 0) {
        perror("bench_awe: setup");
        return 1;
    }
    char *tmp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    (void)tmp;
    int bad = 0;
    double awe, awe_scattered, by_hand, by_hand_none, by_hand_scattered;
    MEASURE(awe, bad += !MapUserPhysicalPages(win, FRAMES, pfn); bad += !MapUserPhysicalPages(win, FRAMES, NULL));
    MEASURE(awe_scattered, bad += !MapUserPhysicalPages(win, FRAMES, rev); bad += !MapUserPhysicalPages(win, FRAMES, NULL));
    MEASURE(by_hand, mmap(plain, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0); munmap(plain, len));
    MEASURE(by_hand_none, mmap(plain, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
            mmap(plain, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0));
    MEASURE(by_hand_scattered,
            for (int k = 0; k < FRAMES; k++)
                mmap(plain + k * pg, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)((FRAMES - 1 - k) * pg));
            mmap(plain, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0));
    if (bad) {
        fprintf(stderr, "bench_awe: %d map calls failed (error %u)\n", bad, (unsigned)GetLastError());
        return 1;
    }
    printf("AWE map+unmap of %d frames (median of %d runs x %d rounds)\n", FRAMES, RUNS, ROUNDS);
    printf("  %-46s %9.1f us  %s\n", "MapUserPhysicalPages in order + NULL", awe,
           awe <= 100 ? "(target <= 100 us: met)" : "(target <= 100 us: MISSED)");
    printf("  %-46s %9.1f us  x%.2f\n", "mmap MAP_FIXED + munmap of the memfd range", by_hand, awe / by_hand);
    printf("  %-46s %9.1f us  x%.2f\n", "mmap MAP_FIXED + mmap PROT_NONE back", by_hand_none, awe / by_hand_none);
    printf("  %-46s %9.1f us  (frames out of order: one mmap per page)\n", "MapUserPhysicalPages reversed + NULL",
           awe_scattered);
    printf("  %-46s %9.1f us  x%.2f\n", "1,024 single-page mmaps + PROT_NONE back", by_hand_scattered,
           awe_scattered / by_hand_scattered);
    FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn);
    return 0;
}
