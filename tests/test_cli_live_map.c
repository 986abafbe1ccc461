/*
 * The live map's reader (cli/maps_live.c) on snapshots made here, in this
 * process's own memfd named as the shim names it: a good one laid over a
 * kernel view, and the ones a reader must refuse or clean — another format,
 * a writer that never finishes, slots that overlap or lie about their runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "unit.h"
#include "winmem/memory.h"
#include "winmem/snapshot.h"
#include "../cli/maps.h"

#define BYTES (sizeof(struct wms_header) + 8 * sizeof(struct wms_slot))

static int fd = -1;
static struct wms_header *h;
static struct wms_slot *slot;

/* A fresh memfd (the reader opens the first it finds: one at a time). */
static void make(void)
{
    if (fd >= 0) {
        munmap(h, BYTES);
        close(fd);
    }
    fd = memfd_create(WMS_NAME, MFD_CLOEXEC);
    CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, BYTES) == 0);
    h = mmap(NULL, BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CU_ASSERT_FATAL(h != MAP_FAILED);
    *h = (struct wms_header){ WMS_MAGIC, WMS_VERSION, sizeof *h, sizeof(struct wms_slot), 8, 0, 0, 0,
                              (uint32_t)getpid(), 12, { 0 } };
    slot = (struct wms_slot *)(h + 1);
}

static void put(int i, uint64_t base, uint64_t size, uint32_t ap, uint32_t n, const uint64_t *runs)
{
    slot[i] = (struct wms_slot){ base, size, ap, MEM_PRIVATE, 2, n, 0, 0, { 0 } };
    memcpy(slot[i].runs, runs, n * sizeof *runs);
    if ((uint32_t)i + 1 > h->used)
        h->used = (uint32_t)i + 1;
}

static int read_model(wm_model *m, char *why)
{
    return wm_model_read(getpid(), m, why, 200);
}

static void test_good_snapshot_over_the_kernel_view(void)
{
    make();
    /* 0x20000: page 0 reserved, 1-2 committed read-write, 3 a guard page, rest reserved */
    uint64_t a[] = { 0, 1 << 12 | WMS_RUN_COMMIT | PAGE_READWRITE, 3 << 12 | WMS_RUN_COMMIT | PAGE_READWRITE | PAGE_GUARD,
                     4 << 12 };
    uint64_t b[] = { 0 | WMS_RUN_COMMIT | PAGE_READONLY };
    put(1, 0x20000, 0x10000, PAGE_NOACCESS, 4, a);     /* out of order: the reader sorts */
    put(0, 0x40000, 0x1000, PAGE_READONLY, 1, b);
    wm_model m;
    char why[200];
    CU_ASSERT_EQUAL_FATAL(read_model(&m, why), 1);
    CU_ASSERT_EQUAL(m.n, 2);
    CU_ASSERT_EQUAL(m.a[0].base, 0x20000);
    /* The kernel: free to 0x20000, one anonymous region to 0x50000, free after. */
    wm_maps k = { 0 };
    wm_mregion kr[] = { { 0, 0x20000, 0, 0, MEM_FREE, PAGE_NOACCESS, 0, "", 0 },
                        { 0x20000, 0x30000, 0x20000, PAGE_READWRITE, MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE, "", 0 },
                        { 0x50000, 0x10000, 0, 0, MEM_FREE, PAGE_NOACCESS, 0, "", 0 } };
    k.r = malloc(sizeof kr);
    memcpy(k.r, kr, sizeof kr);
    k.n = k.cap = 3;
    CU_ASSERT_EQUAL_FATAL(wm_maps_overlay(&k, &m, NULL), 0);
    const struct { uint64_t base, size; uint32_t state, protect, ab, model; } want[] = {
        { 0, 0x20000, MEM_FREE, PAGE_NOACCESS, 0, 0 },
        { 0x20000, 0x1000, MEM_RESERVE, 0, 0x20000, 1 },
        { 0x21000, 0x2000, MEM_COMMIT, PAGE_READWRITE, 0x20000, 1 },
        { 0x23000, 0x1000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD, 0x20000, 1 },
        { 0x24000, 0xc000, MEM_RESERVE, 0, 0x20000, 1 },
        { 0x30000, 0x10000, MEM_COMMIT, PAGE_READWRITE, 0x20000, 0 },   /* the kernel's, clipped */
        { 0x40000, 0x1000, MEM_COMMIT, PAGE_READONLY, 0x40000, 1 },
        { 0x41000, 0xf000, MEM_COMMIT, PAGE_READWRITE, 0x20000, 0 },
        { 0x50000, 0x10000, MEM_FREE, PAGE_NOACCESS, 0, 0 },
    };
    CU_ASSERT_EQUAL(k.n, sizeof want / sizeof *want);
    for (size_t i = 0; i < k.n && i < sizeof want / sizeof *want; i++) {
        CU_ASSERT_EQUAL(k.r[i].base, want[i].base);
        CU_ASSERT_EQUAL(k.r[i].size, want[i].size);
        CU_ASSERT_EQUAL(k.r[i].state, want[i].state);
        CU_ASSERT_EQUAL(k.r[i].protect, want[i].protect);
        CU_ASSERT_EQUAL(k.r[i].alloc_base, want[i].ab);
        CU_ASSERT_EQUAL(k.r[i].model, want[i].model);
    }
    free(k.r);
    wm_model_free(&m);
}

static void test_other_format_refused(void)
{
    make();
    h->version = WMS_VERSION + 1;
    wm_model m;
    char why[200];
    CU_ASSERT_EQUAL(read_model(&m, why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "another winmem version"));
    make();
    h->slot_size = 8;
    CU_ASSERT_EQUAL(read_model(&m, why), -1);
}

static void test_writer_that_never_finishes(void)
{
    make();
    h->seq = 1;               /* odd: a change half-written, for ever */
    wm_model m;
    char why[200];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CU_ASSERT_EQUAL(read_model(&m, why), -1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "changed without pause"));
    CU_ASSERT(b.tv_sec - a.tv_sec < 5);    /* gives up, does not hang */
}

static void test_lying_slots_dropped(void)
{
    make();
    uint64_t ok_runs[] = { 0 | WMS_RUN_COMMIT | PAGE_READWRITE };
    uint64_t backwards[] = { 0, 2 << 12, 1 << 12 };
    uint64_t late_start[] = { 1 << 12 };
    uint64_t past_end[] = { 0, 9 << 12 };
    put(0, 0x10000, 0x10000, PAGE_READWRITE, 1, ok_runs);
    put(1, 0x18000, 0x10000, PAGE_READWRITE, 1, ok_runs);          /* overlaps the one before */
    put(2, 0x30000, 0x10000, PAGE_READWRITE, 3, backwards);
    put(3, 0x40000, 0x10000, PAGE_READWRITE, 1, late_start);
    put(4, 0x50000, 0x8000, PAGE_READWRITE, 2, past_end);
    put(5, 0x60001, 0x10000, PAGE_READWRITE, 1, ok_runs);          /* not page aligned */
    put(6, 0x7fffffff0000, 0x20000, PAGE_READWRITE, 1, ok_runs);   /* past user space */
    slot[6].nruns = WMS_RUNS + 1;
    put(7, 0x90000, 0x10000, PAGE_READWRITE, 1, ok_runs);
    slot[7].nruns = WMS_RUNS + 1;                                   /* more runs than a slot holds */
    wm_model m;
    char why[200];
    CU_ASSERT_EQUAL_FATAL(read_model(&m, why), 1);
    CU_ASSERT_EQUAL(m.n, 1);
    CU_ASSERT_EQUAL(m.dropped, 7);
    CU_ASSERT_EQUAL(m.a[0].base, 0x10000);
    wm_model_free(&m);
}

static void test_no_snapshot(void)
{
    if (fd >= 0) {
        munmap(h, BYTES);
        close(fd);
        fd = -1;
    }
    wm_model m;
    char why[200];
    CU_ASSERT_EQUAL(read_model(&m, why), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no winmem shim model"));
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli live map", NULL, NULL);
    WM_TEST(s, test_good_snapshot_over_the_kernel_view);
    WM_TEST(s, test_other_format_refused);
    WM_TEST(s, test_writer_that_never_finishes);
    WM_TEST(s, test_lying_slots_dropped);
    WM_TEST(s, test_no_snapshot);
}
