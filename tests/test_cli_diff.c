/*
 * `winmem diff` by behaviour on traces written from the format's own
 * structs: thread order is no difference, a MEM_COMMIT-only allocation is
 * tracked (its size change and its leak are seen), made-up frames at the
 * end of a stack do not split a call site, --exact still compares call by
 * call, and --baseline learns the noise.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "cli_tracegen.h"
#include "../cli/commands.h"

static char pa[] = "/tmp/wm-diff-a-XXXXXX", pb[] = "/tmp/wm-diff-b-XXXXXX", pc[] = "/tmp/wm-diff-c-XXXXXX";

typedef struct spec {
    bool swap_threads;      /* the workers' calls come in the other order */
    uint64_t arena_size;    /* MEM_COMMIT-only allocation */
    bool leak_arena;        /* not released at exit */
    int junk;               /* 0: clean stacks; 1, 2: made-up frames after the last real one */
    int queries;            /* queries by the collector */
} spec;

enum { K32 = 1, NTDLL = 2, APP = 3 };

static void write_trace(const char *p, const spec *s)
{
    FILE *f = fopen(p, "wb");
    tg g;
    tg_open(&g, f, 77, WMT_MODE_TRACE, WMT_HF_WINE | WMT_HF_WINE_HOOKED, "/usr/bin/wine64", "app.exe");
    tg_module(&g, 1, K32, WMT_MOD_PE, 0x170000000, 0x170000000, 0x170100000, "\\??\\C:\\windows\\system32\\kernel32.dll");
    tg_module(&g, 1, NTDLL, WMT_MOD_PE, 0x180000000, 0x180000000, 0x180100000, "\\??\\C:\\windows\\system32\\ntdll.dll");
    tg_module(&g, 1, APP, WMT_MOD_PE, 0x140000000, 0x140000000, 0x140010000, "\\??\\C:\\nowhere\\app.exe");
    tg_thread(&g, 1, "main");
    struct wmt_frame alloc_fr[3] = { { NTDLL, WMT_FR_PE, 0x1014 }, { APP, WMT_FR_PE, 0x1234 }, { 0, 0, 0 } };
    if (s->junk == 1)
        alloc_fr[2] = (struct wmt_frame){ 0, WMT_FR_PE, 0x80000000 };        /* absolute junk */
    else if (s->junk == 2)
        alloc_fr[2] = (struct wmt_frame){ K32, WMT_FR_PE, 0x0 };             /* kernel32.dll+0x0 */
    tg_stack(&g, 1, 1, s->junk ? 3 : 2, alloc_fr);
    struct wmt_frame free_fr[2] = { { NTDLL, WMT_FR_PE, 0x2014 }, { APP, WMT_FR_PE, 0x1300 } };
    tg_stack(&g, 1, 2, 2, free_fr);
    struct wmt_frame q_fr[2] = { { NTDLL, WMT_FR_PE, 0x3014 }, { APP, WMT_FR_PE, 0x1400 } };
    tg_stack(&g, 1, 3, 2, q_fr);
    uint64_t t = 1000, seq[3] = { 0 };
    /* main: the arena, MEM_COMMIT alone */
    struct wmt_call c = tg_call_init(WMT_API_NtAllocateVirtualMemory, 1, ++seq[0], t += 100, 10, 1);
    c.arg[0] = UINT64_MAX, c.arg[1] = 0, c.arg[3] = s->arena_size, c.arg[4] = 0x1000, c.arg[5] = 0x04;
    c.out[0] = 0x7f0000000000, c.out[1] = s->arena_size;
    tg_rec(&g, 1, &c, sizeof c);
    /* two workers query the arena; which one runs first depends on the scheduler */
    for (int w = 0; w < 2; w++) {
        uint32_t tid = s->swap_threads ? 3 - (uint32_t)w : 2 + (uint32_t)w;
        tg_thread(&g, tid, "worker");
        for (int k = 0; k < s->queries; k++) {
            struct wmt_call q = tg_call_init(WMT_API_NtQueryVirtualMemory, tid, ++seq[tid - 1], t += 100, 10, 3);
            q.arg[0] = UINT64_MAX, q.arg[1] = 0x7f0000000000 + (uint64_t)k * 0x1000, q.arg[2] = 0;
            tg_rec(&g, tid, &q, sizeof q);
        }
    }
    if (!s->leak_arena) {
        struct wmt_call fr = tg_call_init(WMT_API_NtFreeVirtualMemory, 1, ++seq[0], t += 100, 10, 2);
        fr.arg[0] = UINT64_MAX, fr.arg[1] = 0x7f0000000000, fr.arg[3] = 0x8000;
        fr.out[0] = 0x7f0000000000, fr.out[1] = s->arena_size;
        tg_rec(&g, 1, &fr, sizeof fr);
    }
    tg_end(&g, 1, seq[0] + seq[1] + seq[2]);
    tg_close(&g);
    fclose(f);
}

/* Runs `winmem diff ARGS...`; its stdout into *out (caller frees). */
static int run_diff(char **out, int argc, char **argv)
{
    fflush(stdout);
    FILE *tmp = tmpfile();
    int saved = dup(1);
    dup2(fileno(tmp), 1);
    int rc = cmd_diff(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    long n = ftell(tmp);
    *out = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(tmp);
    if (n > 0 && fread(*out, 1, (size_t)n, tmp) != (size_t)n)
        (*out)[0] = 0;
    fclose(tmp);
    return rc;
}

static int diff2(const char *a, const char *b, const char *flag, char **out)
{
    char *argv[] = { "diff", (char *)(flag ? flag : a), (char *)(flag ? a : b), (char *)b, NULL };
    return run_diff(out, flag ? 4 : 3, argv);
}

static const spec base = { .arena_size = 0x10000, .queries = 5 };

static void test_thread_order_is_no_difference(void)
{
    spec s = base;
    write_trace(pa, &s);
    s.swap_threads = true;
    write_trace(pb, &s);
    char *out;
    CU_ASSERT_EQUAL(diff2(pa, pb, NULL, &out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "same: 0 differences"));
    free(out);
}

static void test_commit_only_size_change_reported(void)
{
    spec s = base;
    write_trace(pa, &s);
    s.arena_size *= 10;
    write_trace(pb, &s);
    char *out;
    CU_ASSERT_EQUAL(diff2(pa, pb, NULL, &out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[calls/bytes] app.exe+0x1234: bytes 64 KiB -> 640 KiB (x10.0)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "different: 1 difference\n"));
    free(out);
}

static void test_commit_only_leak_reported(void)
{
    spec s = base;
    write_trace(pa, &s);
    s.leak_arena = true;
    write_trace(pb, &s);
    char *out;
    int rc = diff2(pa, pb, NULL, &out);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[leak at exit] app.exe+0x1234: still allocated at exit: 1 region, 64 KiB"));
    /* and the free that is gone is the other (one) difference */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "different: 2 differences"));
    free(out);
}

static void test_made_up_frames_do_not_split_a_site(void)
{
    spec s = base;
    s.junk = 1;
    write_trace(pa, &s);
    s.junk = 2;
    write_trace(pb, &s);
    char *out;
    CU_ASSERT_EQUAL(diff2(pa, pb, NULL, &out), 0);
    free(out);
    s.junk = 0;
    write_trace(pc, &s);
    CU_ASSERT_EQUAL(diff2(pa, pc, "--explain", &out), 0);
    /* the same site, not two sites that a noise rule had to merge */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Hidden by the noise rules (--explain): 0\n"));
    free(out);
}

static void test_exact_still_call_by_call(void)
{
    spec s = base;
    write_trace(pa, &s);
    s.queries = 6;
    write_trace(pb, &s);
    char *out;
    CU_ASSERT_EQUAL(diff2(pa, pb, NULL, &out), 0);   /* 10 -> 12 queries: within the tolerance */
    free(out);
    CU_ASSERT_EQUAL(diff2(pa, pb, "--exact", &out), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "only in B"));
    free(out);
}

static void test_baseline_learns_the_noise(void)
{
    spec s = base;
    s.queries = 1;
    write_trace(pa, &s);
    s.queries = 40;
    write_trace(pb, &s);
    s.queries = 30;
    write_trace(pc, &s);
    char *out;
    /* against one run, 2 -> 60 queries is beyond the x4 tolerance ... */
    CU_ASSERT_EQUAL(diff2(pa, pc, NULL, &out), 1);
    free(out);
    /* ... but two baselines that span 2..80 make 60 ordinary */
    char *argv[] = { "diff", "--baseline", pa, pb, "--", pc, NULL };
    CU_ASSERT_EQUAL(run_diff(&out, 6, argv), 0);
    free(out);
    char *bad[] = { "diff", "--exact", "--baseline", pa, pb, "--", pc, NULL };
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    CU_ASSERT_EQUAL(run_diff(&out, 7, bad), 2);   /* --exact takes two traces */
    dup2(saved, 2);
    close(saved);
    close(null);
    free(out);
}

/* --baseline A1 A2 -- B with A1, A2 and B making 2*qa, 2*qb and 2*qc queries */
static int baseline_diff(int qa, int qb, int qc)
{
    spec s = base;
    s.queries = qa;
    write_trace(pa, &s);
    s.queries = qb;
    write_trace(pb, &s);
    s.queries = qc;
    write_trace(pc, &s);
    char *out, *argv[] = { "diff", "--baseline", pa, pb, "--", pc, NULL };
    int rc = run_diff(&out, 6, argv);
    free(out);
    return rc;
}

static void test_baseline_band_grows_with_the_spread(void)
{
    /* Two baselines rarely show a noisy site's whole range: one that made
     * 100 and 160 calls (x1.6) may make 280 in the next run, which a band
     * of 1.5x the range alone (up to 248) reported in one run of six of
     * tests/e2e/diff_noisy.sh's collector. */
    CU_ASSERT_EQUAL(baseline_diff(50, 80, 140), 0);
    CU_ASSERT_EQUAL(baseline_diff(50, 80, 30), 0);      /* 60: below the range as far */
    /* a site the baselines agree on keeps the narrow band ... */
    CU_ASSERT_EQUAL(baseline_diff(50, 50, 140), 1);
    /* ... and a noisy site's tenfold growth is still a difference */
    CU_ASSERT_EQUAL(baseline_diff(50, 80, 800), 1);
}

static int setup(void)
{
    char *ps[] = { pa, pb, pc };
    for (int i = 0; i < 3; i++) {
        int fd = mkstemp(ps[i]);
        if (fd < 0)
            return 1;
        close(fd);
    }
    return 0;
}

static int teardown(void)
{
    unlink(pa), unlink(pb), unlink(pc);
    return 0;
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli diff by behaviour", setup, teardown);
    WM_TEST(s, test_thread_order_is_no_difference);
    WM_TEST(s, test_commit_only_size_change_reported);
    WM_TEST(s, test_commit_only_leak_reported);
    WM_TEST(s, test_made_up_frames_do_not_split_a_site);
    WM_TEST(s, test_exact_still_call_by_call);
    WM_TEST(s, test_baseline_learns_the_noise);
    WM_TEST(s, test_baseline_band_grows_with_the_spread);
}
