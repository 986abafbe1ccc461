/*
 * shim/clock.c — the time every record carries, in CLOCK_MONOTONIC
 * nanoseconds, at the cost of one TSC read.
 *
 * Why: a recorded call reads the clock twice, and the vDSO's
 * clock_gettime costs 15.7 ns here against 13.0 ns for LFENCE+RDTSC and
 * 7.2 ns for a bare RDTSC (measured 2026-12-04; docs/shim.md "Cost"). A
 * call's start is read fenced: a bare RDTSC may execute before the loads
 * ahead of it and ran up to 90 ns early, so a thread that had seen
 * another's later time could read an earlier one (tests/test_clock.c). Its
 * end needs no fence (wm_dur_ns: an early end is never later than what
 * another thread sees of the call's effects). The kernel's own
 * CLOCK_MONOTONIC is TSC-based on such machines, so the shim converts the
 * TSC itself with one linear function:
 *
 *     ns = ns1 + ((tsc - tsc1) * mult) >> 32
 *
 * The function is fixed twice. After CAL_FIRST ticks (~1.6 ms at the
 * 2.6 GHz measured here) from the pair read at start and one read then:
 * until that moment every read is clock_gettime's, and the function is
 * anchored at the end of that read's bracket, so no earlier clock_gettime
 * value is later than what follows (no call gets a negative duration).
 * After CAL_FINE ticks (~200 ms) the slope is measured again over the
 * longer span and the new function starts where the old one stands (the
 * two agree at the switch: times stay continuous). Each function is
 * published whole with one pointer store; a thread that still uses the
 * old one for a moment differs by far less than a nanosecond.
 * One function at a time for all threads and CPUs is monotonic wherever
 * the TSC is: the kernel only uses it as its clocksource when the TSC is
 * invariant and synchronised across CPUs, and the CPU must say "invariant
 * TSC" (CPUID 0x80000007 EDX bit 8). Both are checked once, at start.
 * Anything else, or anything but x86-64: clock_gettime for every read.
 *
 * Cost of the choice: the function does not follow NTP's slewing of
 * CLOCK_MONOTONIC. A read pair is exact to ~20-40 ns, so the first slope
 * is off by up to ~2.5e-5 (a constant offset of a few microseconds from
 * the kernel's clock after the second fix) and the second by ~2e-7 (under
 * a millisecond per hour of drift). Within the process, order and
 * durations are exact to the TSC.
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#define CAL_FIRST (1ull << 22)
#define CAL_FINE  (1ull << 29)

struct tsc_fn { uint64_t tsc, ns, mult; };   /* ns = ns + ((t - tsc) * mult) >> 32 */

static struct tsc_fn fns[2];
static struct tsc_fn *cur;            /* published with release: NULL until the first fix */
static int usable;                    /* the TSC is the kernel's clock */
static int fixed;                     /* fixes made (0, 1, 2), taken by CAS */
static uint64_t tsc0, ns0;            /* the pair read at start */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t apply(const struct tsc_fn *f, uint64_t t)
{
    uint64_t d = t > f->tsc ? t - f->tsc : 0;   /* an early read (reordered) is the anchor */
    return f->ns + (uint64_t)(((unsigned __int128)d * f->mult) >> 32);
}

#if defined(__x86_64__)
/* A TSC value and the clock's time at the same instant (the middle of the
 * tightest of three clock_gettime / rdtsc / clock_gettime brackets), and
 * the bracket's end. */
static void pair(uint64_t *tsc, uint64_t *ns, uint64_t *hi)
{
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        uint64_t a = mono_ns(), t = __rdtsc(), b = mono_ns();
        if (b - a < best)
            best = b - a, *tsc = t, *ns = a + (b - a) / 2, *hi = b;
    }
}

static bool tsc_is_the_clock(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
        return false;
    char src[16] = "";
    int f = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return false;
    ssize_t n = read(f, src, sizeof src - 1);
    close(f);
    return n >= 3 && !memcmp(src, "tsc", 3) && (n == 3 || src[3] == '\n');
}

/* Fix number k (0: the first, 1: the fine one). Pre: its tick count has
 * passed since tsc0 and this thread won fixed's CAS from k to k + 1. */
static void fix(int k)
{
    uint64_t t, n, hi;
    pair(&t, &n, &hi);
    if (t <= tsc0 || n <= ns0) {
        usable = 0;                   /* a clock that went backwards: never trusted */
        __atomic_store_n(&cur, NULL, __ATOMIC_RELEASE);
        return;
    }
    struct tsc_fn *f = &fns[k];
    f->mult = (uint64_t)(((unsigned __int128)(n - ns0) << 32) / (t - tsc0));
    f->tsc = t;
    f->ns = k ? apply(&fns[0], t) : hi;
    __atomic_store_n(&cur, f, __ATOMIC_RELEASE);
}
#endif

void wm_clock_init(void)
{
#if defined(__x86_64__)
    if (!tsc_is_the_clock())
        return;
    uint64_t hi;
    pair(&tsc0, &ns0, &hi);
    usable = 1;
#endif
}

uint64_t wm_now_ns(void)
{
#if defined(__x86_64__)
    const struct tsc_fn *f = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
    if (f == &fns[1])                 /* the common case: both fixes made */
        return apply(f, (_mm_lfence(), __rdtsc()));
    if (usable) {
        uint64_t t = (_mm_lfence(), __rdtsc());
        int k = __atomic_load_n(&fixed, __ATOMIC_RELAXED);
        if (k < 2 && t - tsc0 >= (k ? CAL_FINE : CAL_FIRST) &&
            __atomic_compare_exchange_n(&fixed, &k, k + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            fix(k);
            f = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
        }
        if (f)
            return apply(f, t);
    }
#endif
    return mono_ns();
}

/* The end of a call needs no fence: an unordered read can only be taken
 * early, and the call's own effects are visible to another thread only
 * after they happened, so no thread that saw them reads an earlier time;
 * the start was fenced, so this read is not before it (clamped anyway). */
uint64_t wm_dur_ns(uint64_t start)
{
#if defined(__x86_64__)
    const struct tsc_fn *f = __atomic_load_n(&cur, __ATOMIC_ACQUIRE);
    if (f == &fns[1]) {
        uint64_t t = apply(f, __rdtsc());
        return t > start ? t - start : 0;
    }
#endif
    uint64_t t = wm_now_ns();
    return t > start ? t - start : 0;
}
