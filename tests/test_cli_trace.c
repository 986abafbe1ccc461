/*
 * The CLI's trace reader, report and export on traces written from the
 * format's own structs: a whole trace, a cut one, flipped bytes, an empty
 * file, a foreign file, and random damage under AddressSanitizer.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"
#include "winmem/errors.h"
#include "cli_tracegen.h"
#include "../cli/trace_read.h"
#include "../cli/report.h"
#include "../cli/commands.h"

static char path[] = "/tmp/wm-cli-test-XXXXXX";
static long chunk2_off;   /* where the second chunk starts in the good trace */

/* Two threads; thread 7 has a call whose completed copy comes later
 * (the "last record for a (tid, seq) wins" rule), thread 8 one failure. */
static void write_good(const char *p)
{
    FILE *f = fopen(p, "wb");
    tg g;
    tg_open(&g, f, 4242, WMT_MODE_TRACE, WMT_HF_WINE | WMT_HF_WINE_HOOKED, "/usr/bin/wine64", "app.exe");
    tg_module(&g, 7, 1, WMT_MOD_PE, 0x140000000, 0x140000000, 0x140010000, "\\??\\C:\\app.exe");
    tg_flush(&g);
    chunk2_off = ftell(f);
    tg_thread(&g, 7, "main");
    struct wmt_frame fr[2] = { { 1, WMT_FR_PE, 0x1234 }, { 0, 0, 0x7fff0000 } };
    tg_stack(&g, 7, 5, 2, fr);
    struct wmt_call c = tg_call_init(WMT_API_NtAllocateVirtualMemory, 7, 1, 100, 0, 5);
    c.flags |= WMT_CF_PENDING;
    tg_rec(&g, 7, &c, sizeof c);
    struct wmt_call d = tg_call_init(WMT_API_NtProtectVirtualMemory, 7, 2, 300, 50, 5);
    tg_rec(&g, 7, &d, sizeof d);
    tg_flush(&g);
    tg_thread(&g, 8, "worker");
    struct wmt_call e = tg_call_init(WMT_API_NtFreeVirtualMemory, 8, 1, 150, 20, 0);
    e.status = (uint32_t)STATUS_FREE_VM_NOT_AT_BASE;
    e.ret = (uint64_t)(int64_t)(int32_t)e.status;
    tg_rec(&g, 8, &e, sizeof e);
    tg_flush(&g);
    struct wmt_lost l = { { WMT_REC_LOST, sizeof l }, WMT_LOST_BUSY, 0, 2 };
    tg_rec(&g, 8, &l, sizeof l);
    struct wmt_divergence dv;
    memset(&dv, 0, sizeof dv);
    dv.h.type = WMT_REC_DIVERGENCE, dv.h.size = sizeof dv;
    dv.api = WMT_API_NtQueryVirtualMemory, dv.kind = WMT_DIV_PROTECT, dv.tid = 8, dv.call_seq = 1;
    tg_rec(&g, 8, &dv, sizeof dv);
    tg_flush(&g);
    c.flags &= (uint16_t)~WMT_CF_PENDING;   /* the completed copy, written again */
    c.dur_ns = 40;
    c.out[0] = 0x10000, c.out[1] = 0x1000;
    tg_rec(&g, 7, &c, sizeof c);
    tg_end(&g, 7, 3);
    tg_close(&g);
    fclose(f);
}

static void test_whole_trace(void)
{
    tr_trace t;
    char err[256];
    write_good(path);
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, path, false, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(t.cut, "");
    CU_ASSERT_EQUAL(t.ncalls, 3);
    CU_ASSERT_EQUAL(t.nrecords, 4);
    CU_ASSERT_EQUAL(t.nthreads, 2);
    CU_ASSERT_PTR_NOT_NULL(t.end);
    CU_ASSERT_STRING_EQUAL(t.prog, "app.exe");
    const tr_thread *th = t.threads[0].tid == 7 ? &t.threads[0] : &t.threads[1];
    CU_ASSERT_STRING_EQUAL(th->name, "main");
    CU_ASSERT_EQUAL_FATAL(th->ncalls, 2);
    CU_ASSERT_EQUAL(th->calls[0]->dur_ns, 40);   /* last record won */
    CU_ASSERT_FALSE(th->calls[0]->flags & WMT_CF_PENDING);
    CU_ASSERT_PTR_NOT_NULL(tr_stack(&t, 5));
    CU_ASSERT_PTR_NULL(tr_stack(&t, 6));
    char name[256];
    tr_frame_name(&t, &tr_frames(tr_stack(&t, 5))[0], name, sizeof name);
    CU_ASSERT_STRING_EQUAL(name, "app.exe+0x1234");   /* file not on this machine: module+offset */
    FILE *out = tmpfile();
    report_opts o = { .top_sites = 10, .frames = 8, .top_errors = 10 };
    report_print(&t, out, &o);
    long n = ftell(out);
    char *text = calloc(1, (size_t)n + 1);
    rewind(out);
    CU_ASSERT_EQUAL(fread(text, 1, (size_t)n, out), (size_t)n);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "NtFreeVirtualMemory"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "STATUS_FREE_VM_NOT_AT_BASE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "the program exited normally"));
    CU_ASSERT_PTR_NULL(strstr(text, "trace cut"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "worker"));   /* two threads: listed by name */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "2 records lost by the shim"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "Check-mode divergences: 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "Top call sites (1 distinct stacks;"));   /* found by the reader's hash */
    free(text);
    fclose(out);
    tr_close(&t);
}

static void write_bytes(const char *p, const void *b, size_t n)
{
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static uint8_t *slurp(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*n);
    if (fread(b, 1, *n, f) != *n)
        *n = 0;
    fclose(f);
    return b;
}

static void test_cut_trace_keeps_readable_part(void)
{
    size_t n;
    write_good(path);
    uint8_t *b = slurp(path, &n);
    write_bytes(path, b, n - 100);   /* the last chunk loses its tail */
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, path, false, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.cut, "incomplete"));
    CU_ASSERT_EQUAL(t.ncalls, 3);          /* the chunks before the cut are all there */
    CU_ASSERT_PTR_NULL(t.end);             /* END was in the lost chunk */
    CU_ASSERT(t.good_bytes < n - 100);
    tr_close(&t);
    free(b);
}

static void test_flipped_byte_is_found(void)
{
    size_t n;
    write_good(path);
    uint8_t *b = slurp(path, &n);
    b[chunk2_off + 24 + 40] ^= 0x10;   /* inside the second chunk's records */
    write_bytes(path, b, n);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, path, false, err, sizeof err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.cut, "CRC"));
    CU_ASSERT_EQUAL(t.nmods, 1);           /* the first chunk still counts */
    CU_ASSERT_EQUAL(t.good_bytes, (uint64_t)chunk2_off);
    /* The chunks after the damaged one are found again: thread 8's call and
     * thread 7's completed first call, the LOST and the END record. */
    CU_ASSERT_EQUAL(t.resumed, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.cut, "3 intact chunks after it were read"));
    CU_ASSERT_EQUAL(t.ncalls, 2);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_BUSY], 2);
    CU_ASSERT_PTR_NOT_NULL(t.end);
    tr_close(&t);
    free(b);
}

static void expect_error(const void *bytes, size_t n, const char *words)
{
    write_bytes(path, bytes, n);
    tr_trace t;
    char err[256] = "";
    CU_ASSERT_EQUAL(tr_open(&t, path, false, err, sizeof err), -1);
    if (!strstr(err, words))
        fprintf(stderr, "\nexpected \"%s\" in: %s\n", words, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, words));
}

static void test_empty_foreign_and_short_files(void)
{
    expect_error("", 0, "empty file");
    expect_error("#!/bin/sh\necho hello\n", 21, "not a winmem trace");
    expect_error("WMTRACE1\x01\x00", 10, "cut inside the header");
    expect_error("WMTR", 4, "cut inside the header");
    uint8_t h[64] = "WMTRACE1";
    h[8] = 9;   /* version 9 */
    expect_error(h, sizeof h, "version 9");
    char err[256];
    tr_trace t;
    CU_ASSERT_EQUAL(tr_open(&t, "/nonexistent/trace.wmt", false, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
}

/* Random damage with valid CRCs (so the record parser itself sees the
 * garbage) and random cuts: must never crash or read out of bounds — ASan
 * watches, on an exact-size heap copy and through the commands' files. */
static void test_random_damage_never_crashes(void)
{
    size_t n;
    write_good(path);
    uint8_t *good = slurp(path, &n);
    uint8_t *b = malloc(n);
    srand(12345);
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);   /* export's "trace cut" messages, 400 times */
    for (int iter = 0; iter < 400; iter++) {
        memcpy(b, good, n);
        int flips = 1 + rand() % 8;
        for (int k = 0; k < flips; k++)
            b[(size_t)rand() % n] ^= (uint8_t)(1 + rand() % 255);
        /* re-seal every chunk so damage reaches the records */
        size_t off = ((struct wmt_header *)b)->header_size;
        while (off % 8 == 0 && off + 24 <= n) {
            struct wmt_chunk *c = (struct wmt_chunk *)(b + off);
            if (c->length > n - off - 24)
                break;
            if (rand() % 4)
                c->crc = (uint32_t)crc32(0, b + off + 24, c->length);
            off += 24 + c->length;
        }
        size_t len = (size_t)rand() % (n + 1);
        write_bytes(path, b, len);
        tr_trace t;
        char err[256];
        /* An exact-size heap copy first: ASan sees a read past its end,
         * which the file's mapping (rounded up to a page) would hide. */
        uint8_t *heap = malloc(len ? len : 1);
        memcpy(heap, b, len);
        if (tr_open_buffer(&t, "heap copy", heap, len, err, sizeof err) == 0) {
            FILE *out = fopen("/dev/null", "w");
            report_opts o = { 10, 8, 10, false };
            report_print(&t, out, &o);
            fclose(out);
            tr_close(&t);
        }
        free(heap);
        if (tr_open(&t, path, false, err, sizeof err) == 0) {
            FILE *out = fopen("/dev/null", "w");
            report_opts o = { .top_sites = 10, .frames = 8, .top_errors = 10 };
            report_print(&t, out, &o);
            fclose(out);
            tr_close(&t);
            char *argv[] = { "export", "--format", (char *)(iter % 3 == 0 ? "chrome" : iter % 3 == 1 ? "folded" : "jsonl"),
                             "-o", "/dev/null", path, NULL };
            int rc = cmd_export(6, argv);
            CU_ASSERT(rc == 0 || rc == 1);
            /* by behaviour, call by call, and as JSON */
            char *dargv[] = { "diff", iter % 3 == 0 ? "--exact" : iter % 3 == 1 ? "--json" : "--explain", path, path, NULL };
            fflush(stdout);
            int saved_out = dup(1);
            dup2(null, 1);   /* diff prints to stdout */
            rc = cmd_diff(4, dargv);
            fflush(stdout);
            dup2(saved_out, 1);
            close(saved_out);
            CU_ASSERT(rc == 0 || rc == 2);   /* a trace equals itself; 2 when cut */
        }
    }
    dup2(saved, 2);
    close(saved);
    close(null);
    free(b);
    free(good);
}

static char *report_text(tr_trace *t)
{
    FILE *out = tmpfile();
    report_opts o = { .top_sites = 10, .frames = 8, .top_errors = 10 };
    report_print(t, out, &o);
    long n = ftell(out);
    char *text = calloc(1, (size_t)n + 1);
    rewind(out);
    if (fread(text, 1, (size_t)n, out) != (size_t)n)
        text[0] = 0;
    fclose(out);
    return text;
}

/* Check mode: a DIVERGENCE record is listed with both answers. */
static void test_divergence_reported(void)
{
    FILE *f = fopen(path, "wb");
    tg g;
    tg_open(&g, f, 77, WMT_MODE_CHECK, WMT_HF_WINE | WMT_HF_WINE_HOOKED, "/usr/bin/wine64", "app.exe");
    struct wmt_call c = tg_call_init(WMT_API_NtQueryVirtualMemory, 9, 1, 100, 10, 0);
    tg_rec(&g, 9, &c, sizeof c);
    struct wmt_divergence d;
    memset(&d, 0, sizeof d);
    d.h.type = WMT_REC_DIVERGENCE, d.h.size = sizeof d;
    d.api = WMT_API_NtQueryVirtualMemory, d.kind = WMT_DIV_NO_MAPPING, d.tid = 9, d.call_seq = 1;
    d.address = 0x7f0000001000, d.wine_state = 0x1000, d.wine_protect = 0x04;
    tg_rec(&g, 9, &d, sizeof d);
    tg_close(&g);
    fclose(f);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, path, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.ndivs, 1);
    char *text = report_text(&t);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "Check-mode divergences: 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "Wine says MEM_COMMIT PAGE_READWRITE, the kernel has nothing mapped"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "mode check"));
    free(text);
    tr_close(&t);
}

/* Latency percentiles from the log-linear histogram: within 1/16 below the
 * exact value (the bucket's lower bound), max exact. */
static void test_percentiles(void)
{
    FILE *f = fopen(path, "wb");
    tg g;
    tg_open(&g, f, 78, WMT_MODE_TRACE, 0, "/bin/prog", "prog");
    for (unsigned i = 1; i <= 1000; i++) {
        struct wmt_call c = tg_call_init(WMT_API_VirtualQuery, 5, i, i * 2000000ull, i * 1000ull, 0);
        c.ret = 48;
        tg_rec(&g, 5, &c, sizeof c);
    }
    tg_close(&g);
    fclose(f);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, path, false, err, sizeof err), 0);
    char *text = report_text(&t), *line = strstr(text, "  VirtualQuery ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    unsigned long n, failed;
    double p50, p90, p99, mx;
    CU_ASSERT_EQUAL(sscanf(line, " VirtualQuery %lu %lu %lf us %lf us %lf us %lf us", &n, &failed, &p50, &p90, &p99, &mx), 6);
    CU_ASSERT_EQUAL(n, 1000);
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT(p50 <= 500.0 && p50 >= 500.0 * 15 / 16);
    CU_ASSERT(p90 <= 900.0 && p90 >= 900.0 * 15 / 16);
    CU_ASSERT(p99 <= 990.0 && p99 >= 990.0 * 15 / 16);
    CU_ASSERT_DOUBLE_EQUAL(mx, 1000.0, 0.01);   /* "1000.0 us": exact */
    free(text);
    tr_close(&t);
}

/* A call naming a stack whose STACK record is not in the file (lost with a
 * damaged chunk): every command still works, the site is just unnamed. */
static void test_call_with_missing_stack(void)
{
    FILE *f = fopen(path, "wb");
    tg g;
    tg_open(&g, f, 79, WMT_MODE_TRACE, 0, "/bin/prog", "prog");
    struct wmt_call c = tg_call_init(WMT_API_VirtualAlloc, 5, 1, 100, 10, 42);
    tg_rec(&g, 5, &c, sizeof c);
    tg_close(&g);
    fclose(f);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, path, false, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(tr_stack(&t, 42));
    char *text = report_text(&t);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "VirtualAlloc"));
    free(text);
    tr_close(&t);
    fflush(stdout);
    int saved_out = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    char *dargv[] = { "diff", path, path, NULL };
    int rc = cmd_diff(3, dargv);
    char *eargv[] = { "export", "--format", "chrome", "-o", "/dev/null", path, NULL };
    int rc2 = cmd_export(6, eargv);
    char *fargv[] = { "export", "--format", "folded", "-o", "/dev/null", path, NULL };
    int rc3 = cmd_export(6, fargv);
    fflush(stdout);
    dup2(saved_out, 1);
    close(saved_out);
    close(null);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(rc2, 0);
    CU_ASSERT_EQUAL(rc3, 0);
}

static int setup(void)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    return 0;
}

static int teardown(void)
{
    unlink(path);
    return 0;
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli trace reader", setup, teardown);
    WM_TEST(s, test_whole_trace);
    WM_TEST(s, test_cut_trace_keeps_readable_part);
    WM_TEST(s, test_flipped_byte_is_found);
    WM_TEST(s, test_empty_foreign_and_short_files);
    WM_TEST(s, test_random_damage_never_crashes);
    WM_TEST(s, test_divergence_reported);
    WM_TEST(s, test_percentiles);
    WM_TEST(s, test_call_with_missing_stack);
}
