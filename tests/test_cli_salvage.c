/*
 * The reader's thread identity and TRACE.live (cli/salvage.c): two threads
 * with one tid stay apart by their serial (and an older trace without
 * serials reads as before); a dead process's .live is read by the reader
 * and appended by the salvager, also after a torn last chunk; a .live whose
 * process still runs is left alone; a hostile .live is refused; of a
 * call's two records the complete one is kept, whichever the file has last.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "cli_tracegen.h"
#include "../cli/salvage.h"
#include "../cli/trace_read.h"

static char dir[] = "/tmp/wm-salvage-XXXXXX";
static char tpath[64], lpath[80];

/* One chunk of thread (tid, serial) holding a THREAD and n CALLs seq 1..n. */
static void chunk(FILE *f, uint32_t tid, uint32_t serial, uint32_t no, int n)
{
    uint8_t buf[4096];
    size_t len = 0;
    struct wmt_thread th = { .h = { WMT_REC_THREAD, sizeof th }, .tid = tid, .name = "t", .thread = serial };
    if (no == 0)
        memcpy(buf, &th, sizeof th), len = sizeof th;
    for (int i = 0; i < n; i++) {
        struct wmt_call c = tg_call_init(WMT_API_NtQueryVirtualMemory, tid, (uint64_t)i + 1, 100 + (uint64_t)i, 5, 0);
        memcpy(buf + len, &c, sizeof c);
        len += sizeof c;
    }
    struct wmt_chunk h = { .magic = WMT_CHUNK_MAGIC, .tid = tid, .length = (uint32_t)len,
                           .crc = (uint32_t)crc32(0, buf, (uInt)len) };
    h.chunk_no = no, h.thread = serial;
    fwrite(&h, 1, sizeof h, f);
    fwrite(buf, 1, len, f);
}

static void header(FILE *f, uint32_t flags)
{
    tg g;
    tg_open(&g, f, 4242, WMT_MODE_TRACE, flags, "/usr/bin/app", "app");
    tg_close(&g);
}

/* A chunk of thread (tid 9, serial 1) with one CALL seq 1, PENDING or not. */
static void one_call_chunk(FILE *f, uint32_t no, bool pending)
{
    struct wmt_call c = tg_call_init(WMT_API_NtQueryVirtualMemory, 9, 1, 100, 5, 0);
    if (pending)
        c.flags |= WMT_CF_PENDING, c.dur_ns = 0;
    struct wmt_chunk h = { .magic = WMT_CHUNK_MAGIC, .tid = 9, .length = sizeof c,
                           .crc = (uint32_t)crc32(0, (const uint8_t *)&c, sizeof c) };
    h.chunk_no = no, h.thread = 1;
    fwrite(&h, 1, sizeof h, f);
    fwrite(&c, 1, sizeof c, f);
}

/* Under `winmem run` a thread's chunks can reach the file out of order (its
 * writer appends some, the thread others): a call's PENDING copy may come
 * after its complete record, and the complete one is what the call was. */
static void test_complete_record_wins_over_a_later_pending_copy(void)
{
    for (int order = 0; order < 2; order++) {
        FILE *f = fopen(tpath, "wb");
        header(f, WMT_HF_THREAD_SERIAL);
        one_call_chunk(f, order ? 0 : 1, order == 0);   /* order 0: pending first (in file order) */
        one_call_chunk(f, order ? 1 : 0, order != 0);
        fclose(f);
        tr_trace t;
        char err[256];
        CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
        CU_ASSERT_EQUAL(t.ncalls, 1);
        CU_ASSERT_EQUAL_FATAL(t.nthreads, 1);
        CU_ASSERT_EQUAL(t.threads[0].calls[0]->flags & WMT_CF_PENDING, 0);
        CU_ASSERT_EQUAL(t.threads[0].calls[0]->dur_ns, 5);
        tr_close(&t);
    }
}

static void test_reused_tid_stays_two_threads(void)
{
    FILE *f = fopen(tpath, "wb");
    header(f, WMT_HF_THREAD_SERIAL);
    chunk(f, 77, 1, 0, 2);
    chunk(f, 77, 2, 0, 2);   /* a new thread Linux gave the same tid */
    fclose(f);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.nthreads, 2);
    CU_ASSERT_EQUAL(t.ncalls, 4);
    tr_close(&t);

    f = fopen(tpath, "wb");   /* an older trace: no serials, read as before */
    header(f, 0);
    chunk(f, 77, 0, 0, 2);
    chunk(f, 77, 0, 1, 2);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.nthreads, 1);
    CU_ASSERT_EQUAL(t.ncalls, 2);
    tr_close(&t);
}

/* A .live for pid with start time st: slot 0 holds n CALLs of (tid 9,
 * serial 1), seq 3 on. WMTLIVE2 (live_v1 false): in two buffers, the
 * first ones in a FULL buffer the writer had not appended, the rest in the
 * one being filled; WMTLIVE1: one buffer, the chunk at the slot's start. */
static bool live_v1;
#define LIVE_BUF (sizeof(struct wmt_live_buf) + WMT_CHUNK_SIZE + 4096)
static void live(uint32_t pid, uint64_t st, uint32_t end_reason, uint32_t stop, uint64_t lost_n, int n)
{
    size_t slot = live_v1 ? WMT_CHUNK_SIZE + 4096 : 2 * LIVE_BUF;
    uint8_t *m = calloc(1, WMT_LIVE_HEADER + slot);
    struct wmt_live *h = (struct wmt_live *)m;
    memcpy(h->magic, live_v1 ? WMT_LIVE_MAGIC1 : WMT_LIVE_MAGIC, 8);
    h->pid = pid, h->start_time = st, h->slot_size = (uint32_t)slot, h->nslots = 1;
    h->nbuf = 2, h->buf_size = (uint32_t)LIVE_BUF;
    h->end_reason = end_reason, h->stop = stop, h->lost[stop ? stop : WMT_LOST_BUSY] = lost_n;
    uint8_t *b0 = m + WMT_LIVE_HEADER, *b1 = live_v1 ? b0 : b0 + LIVE_BUF;
    struct wmt_chunk *cur = (struct wmt_chunk *)(live_v1 ? b0 : b0 + sizeof(struct wmt_live_buf));
    struct wmt_chunk *full = live_v1 ? cur : (struct wmt_chunk *)(b1 + sizeof(struct wmt_live_buf));
    if (!live_v1)
        ((struct wmt_live_buf *)b1)->state = WMT_BUF_FULL;
    cur->magic = full->magic = WMT_CHUNK_MAGIC, cur->tid = full->tid = 9, cur->thread = full->thread = 1;
    full->chunk_no = 1, cur->chunk_no = live_v1 ? 1 : 2;
    for (int i = 0; i < n; i++) {
        struct wmt_call k = tg_call_init(WMT_API_NtQueryVirtualMemory, 9, 3 + (uint64_t)i, 500, 5, 0);
        struct wmt_chunk *c = !live_v1 && i < n / 2 ? full : cur;
        memcpy((uint8_t *)(c + 1) + c->length, &k, sizeof k);
        c->length += sizeof k;
    }
    FILE *f = fopen(lpath, "wb");
    fwrite(m, 1, WMT_LIVE_HEADER + slot, f);
    fclose(f);
    free(m);
}

static uint32_t dead_pid(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return (uint32_t)p;
}

static uint64_t my_start_time(void)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *s = strrchr(buf, ')');
    for (int i = 2; s && i < 22; i++)
        s = strchr(s + 1, ' ');
    return s ? strtoull(s + 1, NULL, 10) : 0;
}

static void test_live_of_a_dead_process(void)
{
    FILE *f = fopen(tpath, "wb");
    header(f, WMT_HF_THREAD_SERIAL);
    chunk(f, 9, 1, 0, 2);
    fclose(f);
    live(dead_pid(), 1, 0, 0, 4, 3);

    /* The reader reads it beside the trace, without changing anything. */
    tr_trace t;
    char err[256], buf[400];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.ncalls, 5);
    CU_ASSERT_EQUAL(t.nthreads, 1);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_BUSY], 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(tr_end_text(&t, buf, sizeof buf), "killed or died"));
    CU_ASSERT_PTR_NULL(strstr(buf, "exited normally"));
    tr_close(&t);
    CU_ASSERT_EQUAL(access(lpath, F_OK), 0);

    /* A process killed inside a write left a torn chunk: the salvager cuts
     * it off, appends the .live's chunk, LOST and END(salvaged), removes it. */
    f = fopen(tpath, "ab");
    struct wmt_chunk torn = { .magic = WMT_CHUNK_MAGIC, .tid = 9, .length = 4000 };
    fwrite(&torn, 1, sizeof torn, f);
    fwrite("partial", 1, 7, f);
    fclose(f);
    char msg[512];
    CU_ASSERT_EQUAL(live_salvage(tpath, msg, sizeof msg), 0);
    CU_ASSERT_NOT_EQUAL(access(lpath, F_OK), 0);
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.cut[0], 0);
    CU_ASSERT_EQUAL(t.ncalls, 5);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_BUSY], 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t.end);
    CU_ASSERT_EQUAL(t.end->reason, WMT_END_SALVAGED);
    CU_ASSERT_PTR_NOT_NULL(strstr(tr_end_text(&t, buf, sizeof buf), "no END record from the program"));
    tr_close(&t);
    CU_ASSERT_EQUAL(live_salvage(tpath, msg, sizeof msg), 1);   /* nothing left to do */
}

/* A .live an earlier winmem made (one buffer a slot) is read the same. */
static void test_live_of_the_first_layout(void)
{
    live_v1 = true;
    test_live_of_a_dead_process();
    live_v1 = false;
}

static void test_live_says_why_it_stopped(void)
{
    FILE *f = fopen(tpath, "wb");
    header(f, WMT_HF_THREAD_SERIAL);
    chunk(f, 9, 1, 0, 2);
    fclose(f);
    /* It exited, but the descriptor was taken: END could not be written. */
    live(dead_pid(), 1, WMT_END_EXIT, WMT_LOST_DESCRIPTOR, 100, 0);
    tr_trace t;
    char err[256], buf[400];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.stop, WMT_LOST_DESCRIPTOR);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_DESCRIPTOR], 100);
    tr_end_text(&t, buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "exited normally, but could not write its END record"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "closed or replaced the trace's descriptor"));
    CU_ASSERT_PTR_NULL(strstr(buf, "killed"));
    tr_close(&t);
    unlink(lpath);
}

static void test_live_of_a_running_process_is_left_alone(void)
{
    FILE *f = fopen(tpath, "wb");
    header(f, WMT_HF_THREAD_SERIAL);
    chunk(f, 9, 1, 0, 2);
    fclose(f);
    live((uint32_t)getpid(), my_start_time(), 0, 0, 0, 3);
    tr_trace t;
    char err[256], buf[400], msg[512];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.ncalls, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(tr_end_text(&t, buf, sizeof buf), "still running"));
    tr_close(&t);
    CU_ASSERT_EQUAL(live_salvage(tpath, msg, sizeof msg), -1);
    CU_ASSERT_EQUAL(access(lpath, F_OK), 0);
    unlink(lpath);
}

static void test_hostile_live_is_refused(void)
{
    FILE *f = fopen(tpath, "wb");
    header(f, WMT_HF_THREAD_SERIAL);
    chunk(f, 9, 1, 0, 2);
    fclose(f);
    /* Slots the file does not hold, a length past its slot. */
    live(dead_pid(), 1, 0, 0, 0, 3);
    int fd = open(lpath, O_RDWR);
    struct wmt_live h;
    CU_ASSERT_EQUAL(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    h.nslots = 100000;
    CU_ASSERT_EQUAL(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    uint32_t len = 1u << 30;
    for (size_t b = 0; b < 2; b++)   /* both buffers of slot 0 */
        CU_ASSERT_EQUAL(pwrite(fd, &len, 4, WMT_LIVE_HEADER + b * LIVE_BUF + sizeof(struct wmt_live_buf) + 16), 4);
    close(fd);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.ncalls, 2);   /* nothing read from the bad slot */
    tr_close(&t);
    /* A FIFO in its place is not opened for reading (no hang). */
    unlink(lpath);
    CU_ASSERT_EQUAL(mkfifo(lpath, 0600), 0);
    CU_ASSERT_EQUAL_FATAL(tr_open(&t, tpath, false, err, sizeof err), 0);
    CU_ASSERT_EQUAL(t.ncalls, 2);
    tr_close(&t);
    unlink(lpath);
}

static int setup(void)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(tpath, sizeof tpath, "%s/t.wmt", dir);
    snprintf(lpath, sizeof lpath, "%s/t.wmt.live", dir);
    return 0;
}

static int teardown(void)
{
    unlink(tpath);
    unlink(lpath);
    rmdir(dir);
    return 0;
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli thread identity and salvage", setup, teardown);
    WM_TEST(s, test_reused_tid_stays_two_threads);
    WM_TEST(s, test_complete_record_wins_over_a_later_pending_copy);
    WM_TEST(s, test_live_of_a_dead_process);
    WM_TEST(s, test_live_of_the_first_layout);
    WM_TEST(s, test_live_says_why_it_stopped);
    WM_TEST(s, test_live_of_a_running_process_is_left_alone);
    WM_TEST(s, test_hostile_live_is_refused);
}
