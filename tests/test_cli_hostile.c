/*
 * The trace reader on crafted traces: every
 * trace is read from an exact-size heap copy, so AddressSanitizer sees a
 * read past its end; paths a trace names are FIFOs and devices; a sequence
 * number bomb must not cost memory; records after a torn chunk are found.
 * Hangs are caught by running the step in a child with a deadline (a hang
 * detector, not a speed test: the deadline is minutes away from normal).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "unit.h"
#include "cli_tracegen.h"
#include "../cli/trace_read.h"
#include "winmem/vmsavedstatedump.h"

/* The AddressSanitizer runtime's count of live heap bytes (its header,
 * sanitizer/allocator_interface.h, is not in gcc's Debian package). */
size_t __sanitizer_get_current_allocated_bytes(void);

static char dir[] = "/tmp/wm-cli-hostile-XXXXXX";

/* The bytes a generator wrote, in a heap block of exactly that size. */
typedef struct mem { uint8_t *p; size_t n; } mem;

static FILE *mem_begin(char **buf, size_t *len) { return open_memstream(buf, len); }

static mem mem_end(FILE *f, char **buf, size_t *len)
{
    fclose(f);
    mem m = { malloc(*len ? *len : 1), *len };
    memcpy(m.p, *buf, *len);
    free(*buf);
    return m;
}

static int open_mem(tr_trace *t, mem m, char *err)
{
    return tr_open_buffer(t, "crafted", m.p, m.n, err, 256);
}

/* A MODULE record of 8 bytes, the last thing in the file: its fields lie
 * past the end and must not be read. */
static void test_final_short_module_record(void)
{
    char *buf;
    size_t len;
    FILE *f = mem_begin(&buf, &len);
    tg g;
    tg_open(&g, f, 1, WMT_MODE_TRACE, 0, "/bin/x", "x");
    uint64_t rec = WMT_REC_MODULE | 8u << 16;   /* type 1, size 8 */
    tg_rec(&g, 0, &rec, sizeof rec);
    tg_close(&g);
    mem m = mem_end(f, &buf, &len);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(open_mem(&t, m, err), 0);
    CU_ASSERT_EQUAL(t.nmods, 0);
    CU_ASSERT_EQUAL(t.skipped, 1);
    tr_close(&t);
    free(m.p);
}

/* A full disk: a chunk torn by a short write, then the LOST and END records
 * the shim wrote once it could. The reader reports the damage and still
 * finds what came after it. */
static void test_records_after_torn_chunk_found(void)
{
    char *buf;
    size_t len;
    FILE *f = mem_begin(&buf, &len);
    tg g;
    tg_open(&g, f, 1, WMT_MODE_TRACE, 0, "/bin/x", "x");
    struct wmt_call c = tg_call_init(WMT_API_NtAllocateVirtualMemory, 7, 1, 100, 10, 0);
    tg_rec(&g, 7, &c, sizeof c);
    tg_flush(&g);
    /* The torn chunk: its header promises 20 calls, 1000 bytes made it. */
    uint8_t torn[24 + 1000];
    memset(torn, 0xab, sizeof torn);
    struct wmt_chunk th = { WMT_CHUNK_MAGIC, 7, 1, 20 * sizeof c, 0x12345678 };
    memcpy(torn, &th, sizeof th);
    fwrite(torn, 1, sizeof torn, f);
    struct wmt_lost l = { { WMT_REC_LOST, sizeof l }, WMT_LOST_WRITE, 0, 21 };
    tg_rec(&g, 0, &l, sizeof l);
    tg_end(&g, 0, 21);
    tg_close(&g);
    mem m = mem_end(f, &buf, &len);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(open_mem(&t, m, err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.cut, "trace cut at byte"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.cut, "1 intact chunks after it were read (1024 bytes skipped)"));
    CU_ASSERT_EQUAL(t.ncalls, 1);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_WRITE], 21);
    CU_ASSERT_PTR_NOT_NULL(t.end);
    CU_ASSERT_EQUAL(t.resumed, 1);
    tr_close(&t);
    free(m.p);
}

/* Reasons the reader does not know are lost data too, counted apart (not
 * folded onto WRITE by reason & 7); what END counts beyond the LOST
 * records found is kept as well. */
static void test_lost_counts_summed(void)
{
    char *buf;
    size_t len;
    FILE *f = mem_begin(&buf, &len);
    tg g;
    tg_open(&g, f, 1, WMT_MODE_TRACE, 0, "/bin/x", "x");
    struct wmt_lost a = { { WMT_REC_LOST, sizeof a }, 9, 0, 5 };
    struct wmt_lost b = { { WMT_REC_LOST, sizeof b }, WMT_LOST_THREADS, 0, 76 };
    tg_rec(&g, 0, &a, sizeof a);
    tg_rec(&g, 0, &b, sizeof b);
    struct wmt_end e = { { WMT_REC_END, sizeof e }, WMT_END_EXIT, 0, 0, 152 };
    tg_rec(&g, 0, &e, sizeof e);
    tg_close(&g);
    mem m = mem_end(f, &buf, &len);
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(open_mem(&t, m, err), 0);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_WRITE], 0);
    CU_ASSERT_EQUAL(t.lost[WMT_LOST_THREADS], 76);
    CU_ASSERT_EQUAL(t.lost[0], 5 + (152 - 81));
    tr_close(&t);
    free(m.p);
}

/* ~20 KB of CALL records, each of its own made-up thread with a huge seq:
 * the reader's tables must grow with the 100 records, not with the seqs. */
static void test_seq_bomb_stays_small(void)
{
    char *buf;
    size_t len;
    FILE *f = mem_begin(&buf, &len);
    tg g;
    tg_open(&g, f, 1, WMT_MODE_TRACE, 0, "/bin/x", "x");
    for (uint32_t i = 0; i < 100; i++) {
        /* below the old "damage" limit (size/8 + 2^20) and far above it */
        uint64_t seq = i % 2 ? (1u << 20) + 2000 + i : (1ull << 40) + i;
        struct wmt_call c = tg_call_init(WMT_API_NtAllocateVirtualMemory, 1000 + i, seq, 100 + i, 10, 0);
        tg_rec(&g, 1000 + i, &c, sizeof c);
    }
    tg_close(&g);
    mem m = mem_end(f, &buf, &len);
    CU_ASSERT(m.n > 19000 && m.n < 30000);
    size_t before = __sanitizer_get_current_allocated_bytes();
    tr_trace t;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(open_mem(&t, m, err), 0);
    size_t used = __sanitizer_get_current_allocated_bytes() - before;
    CU_ASSERT_EQUAL(t.ncalls, 100);
    CU_ASSERT_EQUAL(t.nthreads, 100);
    CU_ASSERT(t.missing > (1ull << 40));
    if (used > (2u << 20))
        fprintf(stderr, "\nreader holds %zu bytes for a %zu-byte trace\n", used, m.n);
    CU_ASSERT(used < (2u << 20));   /* the old reader: 16 MB per thread */
    tr_close(&t);
    free(m.p);
}

/* Runs fn in a child; false if it has not finished within a minute. */
static bool finishes(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return false;
}

static char fifo[64], bad_trace[64];

/* A trace whose modules are a FIFO and /dev/zero, with a frame in each:
 * naming the frames must neither block nor read the device. */
static void name_frames_of_hostile_modules(void)
{
    char *buf;
    size_t len;
    FILE *f = mem_begin(&buf, &len);
    tg g;
    tg_open(&g, f, 1, WMT_MODE_TRACE, 0, "/bin/x", "x");
    tg_module(&g, 0, 1, WMT_MOD_ELF, 0x1000000, 0x1000000, 0x1100000, fifo);
    tg_module(&g, 0, 2, WMT_MOD_ELF, 0x2000000, 0x2000000, 0x2100000, "/dev/zero");
    tg_module(&g, 0, 3, WMT_MOD_PE, 0x3000000, 0x3000000, 0x3100000, fifo);   /* Z: is / */
    tg_close(&g);
    mem m = mem_end(f, &buf, &len);
    tr_trace t;
    char err[256], name[256];
    if (open_mem(&t, m, err) != 0 || t.nmods != 3)
        _exit(2);
    for (uint32_t id = 1; id <= 3; id++) {
        struct wmt_frame fr = { id, 0, 0x10 };
        tr_frame_name(&t, &fr, name, sizeof name);
        const tr_module *mod = tr_module_by_id(&t, id);
        if (!mod || (mod->syms && !strstr(sym_table_error(mod->syms) ? sym_table_error(mod->syms) : "", "not a regular file")))
            _exit(3);
    }
    tr_close(&t);
    free(m.p);
}

static void test_module_paths_fifo_and_device(void)
{
    CU_ASSERT_TRUE(finishes(name_frames_of_hostile_modules));
}

static void open_bad_trace(void)
{
    tr_trace t;
    char err[256] = "";
    if (tr_open(&t, bad_trace, false, err, sizeof err) != -1 || !strstr(err, "not a regular file"))
        _exit(1);
}

static void test_trace_path_fifo_device_directory(void)
{
    snprintf(bad_trace, sizeof bad_trace, "%s", fifo);
    CU_ASSERT_TRUE(finishes(open_bad_trace));
    snprintf(bad_trace, sizeof bad_trace, "/dev/zero");
    CU_ASSERT_TRUE(finishes(open_bad_trace));
    snprintf(bad_trace, sizeof bad_trace, "%s", dir);
    CU_ASSERT_TRUE(finishes(open_bad_trace));
    tr_trace t;
    char err[256] = "";
    CU_ASSERT_EQUAL(tr_open(&t, "/dev/null", false, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/dev/null: is a character device, not a regular file"));
}

/* 600 module files in one trace: symbol tables are loaded for at most 512
 * (a crafted trace could otherwise make the reader load a libc per module
 * record, ~25 ms and megabytes each). */
static void test_module_files_capped(void)
{
    char *buf;
    size_t len;
    FILE *f = mem_begin(&buf, &len);
    tg g;
    tg_open(&g, f, 1, WMT_MODE_TRACE, 0, "/bin/x", "x");
    char p[64];
    for (uint32_t id = 1; id <= 600; id++) {
        snprintf(p, sizeof p, "/nonexistent/m%u.so", id);
        tg_module(&g, 0, id, WMT_MOD_ELF, 0x1000000ull * id, 0x1000000ull * id, 0x1000000ull * id + 0x1000, p);
    }
    tg_close(&g);
    mem m = mem_end(f, &buf, &len);
    tr_trace t;
    char err[256], name[256];
    CU_ASSERT_EQUAL_FATAL(open_mem(&t, m, err), 0);
    CU_ASSERT_EQUAL_FATAL(t.nmods, 600);
    for (uint32_t id = 1; id <= 600; id++) {
        struct wmt_frame fr = { id, 0, 0x10 };
        tr_frame_name(&t, &fr, name, sizeof name);
    }
    const tr_module *first = tr_module_by_id(&t, 1), *last = tr_module_by_id(&t, 600);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first && first->syms ? first : NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(last && last->syms ? last : NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(sym_table_error(first->syms), "No such file"));
    CU_ASSERT_PTR_NOT_NULL(strstr(sym_table_error(last->syms), "more than 512 module files"));
    tr_close(&t);
    free(m.p);
}

/* The dump loader (guest's library) on a FIFO: refused, not blocked in open. */
static void load_fifo_as_dump(void)
{
    VM_SAVED_STATE_DUMP_HANDLE h;
    if (winmem_LoadSavedStateFileUtf8(fifo, &h) == S_OK)
        _exit(1);
    if (winmem_LoadSavedStateFilesUtf8("/dev/zero", fifo, &h) == S_OK)
        _exit(1);
}

static void test_dump_path_fifo(void)
{
    CU_ASSERT_TRUE(finishes(load_fifo_as_dump));
}

static int setup(void)
{
    if (!mkdtemp(dir))
        return 1;
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    return mkfifo(fifo, 0600);
}

static int teardown(void)
{
    unlink(fifo);
    rmdir(dir);
    return 0;
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli reader on crafted traces", setup, teardown);
    WM_TEST(s, test_final_short_module_record);
    WM_TEST(s, test_records_after_torn_chunk_found);
    WM_TEST(s, test_lost_counts_summed);
    WM_TEST(s, test_seq_bomb_stays_small);
    WM_TEST(s, test_module_paths_fifo_and_device);
    WM_TEST(s, test_trace_path_fifo_device_directory);
    WM_TEST(s, test_dump_path_fifo);
    WM_TEST(s, test_module_files_capped);
}
