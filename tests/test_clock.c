/*
 * tests/test_clock.c — the shim's clock (shim/clock.c): the TSC function
 * it switches to must never run backwards within a thread or between
 * threads, and must stay on CLOCK_MONOTONIC.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "unit.h"
#include "../shim/clock.c"

#define THREADS 4
#define RUN_NS  (400 * 1000000ull)   /* past both fixes (CAL_FINE is ~200 ms at 2.6 GHz) */

static uint64_t latest;              /* the latest time any thread has read */
static int backwards_in_thread, backwards_across;

static void *reader(void *arg)
{
    uint64_t first = wm_now_ns(), prev = first;
    for (;;) {
        uint64_t seen = __atomic_load_n(&latest, __ATOMIC_ACQUIRE);
        uint64_t t = wm_now_ns();
        if (t < prev)
            __atomic_fetch_add(&backwards_in_thread, 1, __ATOMIC_RELAXED);
        if (t < seen)   /* read after another thread's read was visible: must not be earlier */
            __atomic_fetch_add(&backwards_across, 1, __ATOMIC_RELAXED);
        uint64_t l = seen;
        while (t > l && !__atomic_compare_exchange_n(&latest, &l, t, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            ;
        prev = t;
        if (t - first > RUN_NS)
            return NULL;
    }
}

static void test_monotonic_across_threads_and_fixes(void)
{
    wm_clock_init();
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, reader, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(backwards_in_thread, 0);
    CU_ASSERT_EQUAL(backwards_across, 0);
#if defined(__x86_64__)
    /* Where the kernel's clock is the TSC, the shim must have switched. */
    if (tsc_is_the_clock())
        CU_ASSERT_PTR_EQUAL(__atomic_load_n(&cur, __ATOMIC_ACQUIRE), &fns[1]);
#endif
}

static void test_stays_on_clock_monotonic(void)
{
    /* After the fixes: within 50 us of the kernel's clock, either side. */
    int off = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = mono_ns(), t = wm_now_ns(), b = mono_ns();
        off += !(t + 50000 >= a && t <= b + 50000);
    }
    CU_ASSERT_EQUAL(off, 0);
}

static void test_durations(void)
{
    /* Back to back: never wrapped below zero. */
    int wrapped = 0;
    for (int i = 0; i < 100000; i++)
        wrapped += wm_dur_ns(wm_now_ns()) >= 1000000;
    CU_ASSERT_EQUAL(wrapped, 0);
    /* A 10 ms sleep measures 10 ms (the kernel's own clock, +- 2 ms). */
    uint64_t a = mono_ns(), s = wm_now_ns();
    struct timespec ts = { 0, 10 * 1000000 };
    nanosleep(&ts, NULL);
    uint64_t d = wm_dur_ns(s), k = mono_ns() - a;
    CU_ASSERT(d + 2000000 >= k && d <= k + 2000000);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("clock", NULL, NULL);
    CU_add_test(s, "monotonic across threads and fixes", test_monotonic_across_threads_and_fixes);
    CU_add_test(s, "stays on CLOCK_MONOTONIC", test_stays_on_clock_monotonic);
    CU_add_test(s, "durations", test_durations);
}
