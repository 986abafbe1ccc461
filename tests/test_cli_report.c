/*
 * The collection step of `winmem report` (cli/report_collect.c and the
 * ledger) on a trace written from the format's own structs: a program that
 * reserves an arena, commits it from one function at two return addresses,
 * makes a page writable+executable, leaks a buffer, fails one free, then
 * decommits and releases the arena from another thread; Wine's loader
 * allocates on its own. Symbol tables are given from ranges, so every
 * number asserted follows from the calls written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "cli_tracegen.h"
#include "winmem/memory.h"
#include "../cli/report_stats.h"

static char path[] = "/tmp/wm-cli-report-XXXXXX";

enum { APP = 1, NTDLL = 2, KBASE = 3 };
enum { S_GROW1 = 1, S_GROW2, S_PROT, S_FREE, S_LOADER, S_LEAK };

static void stack4(tg *g, uint32_t id, uint64_t kb, uint64_t app)
{
    struct wmt_frame fr[4] = { { NTDLL, WMT_FR_PE, 0x114 }, { KBASE, WMT_FR_PE, kb }, { APP, WMT_FR_PE, app },
                               { APP, WMT_FR_PE, 0x1910 } };
    tg_stack(g, 7, id, 4, fr);
}

static void call(tg *g, uint32_t tid, uint64_t seq, uint16_t api, uint64_t t, uint32_t stack, uint64_t type,
                 uint64_t prot, uint64_t base, uint64_t size)
{
    struct wmt_call c = tg_call_init(api, tid, seq, t, 10, stack);
    if (api == WMT_API_NtAllocateVirtualMemory)
        c.arg[4] = type, c.arg[5] = prot;
    else if (api == WMT_API_NtFreeVirtualMemory)
        c.arg[3] = type;
    else if (api == WMT_API_NtProtectVirtualMemory)
        c.arg[3] = prot;
    c.out[0] = base, c.out[1] = size;
    tg_rec(g, tid, &c, sizeof c);
}

static void write_trace(const char *p)
{
    FILE *f = fopen(p, "wb");
    tg g;
    tg_open(&g, f, 77, WMT_MODE_TRACE, WMT_HF_WINE | WMT_HF_WINE_HOOKED, "/usr/bin/wine64", "app.exe");
    /* in system32, as Wine's own programs are: still the program's own code, being the program */
    tg_module(&g, 0, APP, WMT_MOD_PE, 0x140000000, 0x140000000, 0x140010000, "\\??\\C:\\windows\\system32\\app.exe");
    tg_module(&g, 0, NTDLL, WMT_MOD_PE, 0x170000000, 0x170000000, 0x170100000, "\\??\\C:\\windows\\system32\\ntdll.dll");
    tg_module(&g, 0, KBASE, WMT_MOD_PE, 0x180000000, 0x180000000, 0x180100000, "\\??\\C:\\windows\\system32\\kernelbase.dll");
    tg_flush(&g);
    tg_thread(&g, 7, "main");
    stack4(&g, S_GROW1, 0x2010, 0x1510);   /* VirtualAlloc from arena_grow */
    stack4(&g, S_GROW2, 0x2010, 0x1540);   /* same function, another call */
    stack4(&g, S_PROT, 0x3010, 0x1610);    /* VirtualProtect from jit */
    stack4(&g, S_FREE, 0x4010, 0x1710);    /* VirtualFree from bad_free */
    struct wmt_frame ld[2] = { { NTDLL, WMT_FR_PE, 0x114 }, { NTDLL, WMT_FR_PE, 0x5020 } };
    tg_stack(&g, 7, S_LOADER, 2, ld);
    struct wmt_frame lk[3] = { { NTDLL, WMT_FR_PE, 0x114 }, { APP, WMT_FR_PE, 0x1810 }, { APP, WMT_FR_PE, 0x1910 } };
    tg_stack(&g, 7, S_LEAK, 3, lk);
    call(&g, 7, 1, WMT_API_NtAllocateVirtualMemory, 50, S_LOADER, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, 0x500000, 0x1000);
    call(&g, 7, 2, WMT_API_NtAllocateVirtualMemory, 100, S_GROW1, MEM_RESERVE, PAGE_NOACCESS, 0x100000, 0x100000);
    call(&g, 7, 3, WMT_API_NtAllocateVirtualMemory, 200, S_GROW2, MEM_COMMIT, PAGE_READWRITE, 0x100000, 0x10000);
    call(&g, 7, 4, WMT_API_NtAllocateVirtualMemory, 300, S_GROW1, MEM_COMMIT, PAGE_READWRITE, 0x110000, 0x10000);
    call(&g, 7, 5, WMT_API_NtAllocateVirtualMemory, 400, S_LEAK, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, 0x300000, 0x20000);
    call(&g, 7, 6, WMT_API_NtProtectVirtualMemory, 500, S_PROT, 0, PAGE_EXECUTE_READWRITE, 0x110000, 0x1000);
    struct wmt_call bad = tg_call_init(WMT_API_NtFreeVirtualMemory, 7, 7, 600, 10, S_FREE);
    bad.arg[3] = MEM_RELEASE, bad.status = 0xC000009F, bad.ret = (uint64_t)(int64_t)(int32_t)bad.status;
    tg_rec(&g, 7, &bad, sizeof bad);
    call(&g, 7, 8, WMT_API_NtFreeVirtualMemory, 700, S_FREE, MEM_DECOMMIT, 0, 0x100000, 0x10000);
    tg_flush(&g);
    tg_thread(&g, 8, "worker");
    call(&g, 8, 1, WMT_API_NtFreeVirtualMemory, 800, S_FREE, MEM_RELEASE, 0, 0x100000, 0x100000);
    tg_end(&g, 8, 9);
    tg_close(&g);
    fclose(f);
}

static tr_trace t;

static void give_symbols(void)
{
    static const sym_range app[] = { { 0x1500, 0x100, "arena_grow" }, { 0x1600, 0x100, "jit" },
                                     { 0x1700, 0x100, "bad_free" }, { 0x1800, 0x100, "_Z11leak_bufferi" },
                                     { 0x1900, 0x100, "main" } };
    static const sym_range nt[] = { { 0x100, 0x20, "NtAllocateVirtualMemory" }, { 0x5000, 0x100, "LdrInitializeThunk" } };
    static const sym_range kb[] = { { 0x2000, 0x100, "VirtualAlloc" }, { 0x3000, 0x100, "VirtualProtect" },
                                    { 0x4000, 0x100, "VirtualFree" } };
    const struct { const sym_range *r; size_t n; const char *key; } by[] = { { app, 5, "t-app" }, { nt, 2, "t-nt" }, { kb, 3, "t-kb" } };
    for (size_t i = 0; i < t.nmods; i++) {
        tr_module *m = &t.mods[i];
        m->syms = sym_table_from_ranges(t.sym, by[m->rec->id - 1].key, by[m->rec->id - 1].r, by[m->rec->id - 1].n);
        m->syms_tried = true;
    }
}

static int setup(void)
{
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    write_trace(path);
    char err[256];
    if (tr_open(&t, path, false, err, sizeof err))
        return -1;
    give_symbols();
    return 0;
}

static int teardown(void)
{
    tr_close(&t);
    unlink(path);
    return 0;
}

static const rs_site *site(const report_stats *s, const char *name)
{
    for (size_t i = 0; i < s->nsites; i++)
        if (!strcmp(s->sites[i].name, name))
            return &s->sites[i];
    return NULL;
}

static void test_sites_and_bytes(void)
{
    report_stats s;
    CU_ASSERT_FATAL(report_collect(&t, NULL, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 9);
    const rs_site *g = site(&s, "arena_grow"), *l = site(&s, "leak_buffer(int)"), *b = site(&s, "bad_free");
    const rs_site *w = site(&s, "LdrInitializeThunk");
    CU_ASSERT_FATAL(g && l && b && w);
    /* two return addresses, one function: one site */
    CU_ASSERT_EQUAL(g->calls, 3);
    CU_ASSERT_EQUAL(g->reserved, 0x100000);
    CU_ASSERT_EQUAL(g->committed, 0x20000);
    CU_ASSERT_EQUAL(g->held_commit, 0);
    CU_ASSERT_TRUE(g->own);
    CU_ASSERT_EQUAL(g->nnamed, 1);
    CU_ASSERT_STRING_EQUAL(g->named[0].w32, "VirtualAlloc");
    CU_ASSERT_EQUAL(g->named[0].api, WMT_API_NtAllocateVirtualMemory);
    /* the leak is held at exit, by who allocated it; no kernelbase frame: the Nt call is the name */
    CU_ASSERT_EQUAL(l->committed, 0x20000);
    CU_ASSERT_EQUAL(l->held_commit, 0x20000);
    CU_ASSERT_PTR_NULL(l->named[0].w32);
    /* the failing free is a failure at its site; its later decommit and release free 128 KiB */
    CU_ASSERT_EQUAL(b->failed, 1);
    CU_ASSERT_EQUAL(b->freed, 0x20000);
    CU_ASSERT_EQUAL(b->released, 0x100000);   /* the arena's whole reservation */
    CU_ASSERT_EQUAL(s.nfails, 1);
    CU_ASSERT_EQUAL(s.fails[0].site, (int)(b - s.sites));
    CU_ASSERT_STRING_EQUAL(s.fails[0].w32, "VirtualFree");
    CU_ASSERT_EQUAL(s.fails[0].code, 0xC000009F);
    /* Wine on its own is not the program */
    CU_ASSERT_FALSE(w->own);
    CU_ASSERT_EQUAL(w->held_commit, 0x1000);
    /* peak: loader page + 128 KiB arena + 128 KiB leak, when the leak returned */
    CU_ASSERT_EQUAL(s.peak_commit, 0x41000);
    CU_ASSERT_EQUAL(s.peak_ns, 410 - 50);
    CU_ASSERT_EQUAL(s.committed, 0x21000);
    CU_ASSERT_EQUAL(s.reserved, 0x21000);
    /* the writable+executable page, made by jit through VirtualProtect, gone with the arena */
    CU_ASSERT_EQUAL(s.nwx, 1);
    CU_ASSERT_EQUAL(s.wx[0].bytes, 0x1000);
    CU_ASSERT_STRING_EQUAL(s.sites[s.wx[0].site].name, "jit");
    CU_ASSERT_STRING_EQUAL(s.wx[0].w32, "VirtualProtect");
    CU_ASSERT_EQUAL(s.wx_held, 0);
    /* the map at the end: the loader's page and the leak */
    CU_ASSERT_EQUAL(s.nregions, 2);
    if (s.nregions == 2) {
        CU_ASSERT_EQUAL(s.regions[0].base, 0x300000);
        CU_ASSERT_EQUAL(s.regions[0].committed, 0x20000);
        CU_ASSERT_STRING_EQUAL(s.sites[s.regions[0].site].name, "leak_buffer(int)");
    }
    /* own sites first, most committed (then reserved) first */
    CU_ASSERT_PTR_EQUAL(&s.sites[s.order[0]], g);
    CU_ASSERT_PTR_EQUAL(&s.sites[s.order[1]], l);
    CU_ASSERT_FALSE(s.sites[s.order[s.nsites - 1]].own);
    report_stats_free(&s);
}

static void test_filters(void)
{
    report_stats s;
    call_filter f = { 0 };
    char th[] = "8";
    CU_ASSERT_FATAL(filter_add(&f, "thread", th) == 0);
    CU_ASSERT_FATAL(report_collect(&t, &f, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 1);
    const rs_site *b = site(&s, "bad_free");
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT_EQUAL(b->calls, 1);
    CU_ASSERT_EQUAL(b->freed, 0x10000);   /* only the release: the decommit was thread 7's */
    CU_ASSERT_EQUAL(b->released, 0x100000);
    CU_ASSERT_EQUAL(s.committed, 0x21000); /* the ledger still replays every call */
    report_stats_free(&s);
    filter_free(&f);

    call_filter g = { 0 };
    char api[] = "VirtualProtect", tm[] = "150ns-440ns";
    CU_ASSERT_FATAL(filter_add(&g, "api", api) == 0);
    CU_ASSERT_FATAL(report_collect(&t, &g, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 1);
    report_stats_free(&s);
    filter_free(&g);

    call_filter h = { 0 };
    CU_ASSERT_FATAL(filter_add(&h, "time", tm) == 0);   /* 150-440 ns after the first call at 50 */
    CU_ASSERT_FATAL(report_collect(&t, &h, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 3);   /* starts at 200, 300, 400 */
    report_stats_free(&s);
    filter_free(&h);

    call_filter k = { 0 };
    char from[] = "leak_buffer(int)";
    CU_ASSERT_FATAL(filter_add(&k, "only-from", from) == 0);
    CU_ASSERT_FATAL(report_collect(&t, &k, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 1);
    report_stats_free(&s);
    filter_free(&k);

    call_filter m = { 0 };
    char qual[] = "app.exe!arena_grow", wrong[] = "ntdll.dll!arena_grow";
    CU_ASSERT_FATAL(filter_add(&m, "only-from", qual) == 0);
    CU_ASSERT_FATAL(report_collect(&t, &m, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 3);   /* module!function */
    report_stats_free(&s);
    filter_free(&m);
    call_filter m2 = { 0 };
    CU_ASSERT_FATAL(filter_add(&m2, "only-from", wrong) == 0);
    CU_ASSERT_FATAL(report_collect(&t, &m2, false, &s) == 0);
    CU_ASSERT_EQUAL(s.counted, 0);
    report_stats_free(&s);
    filter_free(&m2);

    char bad[] = "5-1";
    call_filter z = { 0 };
    CU_ASSERT_EQUAL(filter_add(&z, "time", bad), -1);
}

static void test_all_frames(void)
{
    report_stats s;
    CU_ASSERT_FATAL(report_collect(&t, NULL, true, &s) == 0);
    /* not folded: the innermost frame past the Nt stub is the site */
    const rs_site *v = site(&s, "VirtualAlloc");
    CU_ASSERT_FATAL(v != NULL);
    CU_ASSERT_EQUAL(v->calls, 3);
    CU_ASSERT_PTR_NULL(site(&s, "arena_grow"));
    report_stats_free(&s);
}

/* The native door's Win32 calls (a native program on winmem's API):
 * VirtualAlloc returns the base, sizes are rounded to pages, a decommit of
 * size 0 runs to the end of the allocation, MEM_RELEASE takes the base. */
static void test_win32_door(void)
{
    char p[] = "/tmp/wm-cli-report-w32-XXXXXX";
    int fd = mkstemp(p);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    FILE *f = fopen(p, "wb");
    tg g;
    tg_open(&g, f, 78, WMT_MODE_TRACE, 0, "/usr/bin/app", "app");
    tg_thread(&g, 3, "app");
    struct wmt_call c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = tg_call_init(0, 3, (uint64_t)i + 1, 100 * ((uint64_t)i + 1), 10, 0);
        c[i].flags = WMT_DOOR_NATIVE;
    }
    c[0].api = WMT_API_VirtualAlloc, c[0].ret = 0x200000;            /* reserve 1 MiB - 1 byte: 1 MiB */
    c[0].arg[1] = 0xfffff, c[0].arg[2] = MEM_RESERVE, c[0].arg[3] = PAGE_NOACCESS;
    c[1].api = WMT_API_VirtualAlloc, c[1].ret = 0x201000;            /* commit 2 pages from 0x201800 */
    c[1].arg[0] = 0x201800, c[1].arg[1] = 0x1000, c[1].arg[2] = MEM_COMMIT, c[1].arg[3] = PAGE_READWRITE;
    c[2].api = WMT_API_VirtualProtect, c[2].ret = 1;                  /* one page RWX */
    c[2].arg[0] = 0x201000, c[2].arg[1] = 0x1000, c[2].arg[2] = PAGE_EXECUTE_READWRITE;
    c[3].api = WMT_API_VirtualFree, c[3].ret = 1;                     /* decommit size 0 from 0x202000 */
    c[3].arg[0] = 0x202000, c[3].arg[1] = 0, c[3].arg[2] = MEM_DECOMMIT;
    c[4].api = WMT_API_VirtualFree, c[4].ret = 0, c[4].error = 487;   /* fails: not the base */
    c[4].arg[0] = 0x201000, c[4].arg[2] = MEM_RELEASE;
    c[5].api = WMT_API_VirtualAlloc, c[5].ret = 0x400000;             /* reserve+commit 8 KiB, held */
    c[5].arg[1] = 0x2000, c[5].arg[2] = MEM_RESERVE | MEM_COMMIT, c[5].arg[3] = PAGE_READWRITE;
    for (int i = 0; i < 6; i++)
        tg_rec(&g, 3, &c[i], sizeof c[i]);
    tg_end(&g, 3, 6);
    tg_close(&g);
    fclose(f);
    tr_trace w;
    char err[256];
    CU_ASSERT_FATAL(tr_open(&w, p, false, err, sizeof err) == 0);
    report_stats s;
    CU_ASSERT_FATAL(report_collect(&w, NULL, false, &s) == 0);
    CU_ASSERT_EQUAL(s.peak_commit, 0x1000 + 0x2000);   /* one page left after the decommit, then 8 KiB more */
    CU_ASSERT_EQUAL(s.committed, 0x1000 + 0x2000);
    CU_ASSERT_EQUAL(s.reserved, 0x100000 + 0x2000);
    CU_ASSERT_EQUAL(s.wx_held, 0x1000);
    CU_ASSERT_EQUAL(s.nwx, 1);
    CU_ASSERT_EQUAL(s.nregions, 2);
    CU_ASSERT_EQUAL(s.api[WMT_API_VirtualFree].failed, 1);
    report_stats_free(&s);
    tr_close(&w);
    unlink(p);
}

/* The ledger replays in the order calls returned across threads: thread 1
 * commits and later releases A, thread 2 commits B in between, so the peak
 * is A + B (replaying thread by thread would never hold both). */
static void test_cross_thread_order(void)
{
    char p[] = "/tmp/wm-cli-report-order-XXXXXX";
    int fd = mkstemp(p);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    FILE *f = fopen(p, "wb");
    tg g;
    tg_open(&g, f, 79, WMT_MODE_TRACE, 0, "/usr/bin/app", "app");
    tg_thread(&g, 1, "one");
    call(&g, 1, 1, WMT_API_NtAllocateVirtualMemory, 100, 0, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, 0x100000, 0x10000);
    call(&g, 1, 2, WMT_API_NtFreeVirtualMemory, 300, 0, MEM_RELEASE, 0, 0x100000, 0x10000);
    tg_flush(&g);
    tg_thread(&g, 2, "two");
    call(&g, 2, 1, WMT_API_NtAllocateVirtualMemory, 200, 0, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE, 0x200000, 0x20000);
    tg_end(&g, 2, 3);
    tg_close(&g);
    fclose(f);
    tr_trace w;
    char err[256];
    CU_ASSERT_FATAL(tr_open(&w, p, false, err, sizeof err) == 0);
    report_stats s;
    CU_ASSERT_FATAL(report_collect(&w, NULL, false, &s) == 0);
    CU_ASSERT_EQUAL(s.peak_commit, 0x30000);
    CU_ASSERT_EQUAL(s.peak_ns, 210 - 100);
    CU_ASSERT_EQUAL(s.committed, 0x20000);
    CU_ASSERT_EQUAL(s.npoints, 3);
    report_stats_free(&s);
    tr_close(&w);
    unlink(p);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli report collection", setup, teardown);
    WM_TEST(s, test_sites_and_bytes);
    WM_TEST(s, test_filters);
    WM_TEST(s, test_all_frames);
    WM_TEST(s, test_win32_door);
    WM_TEST(s, test_cross_thread_order);
}
