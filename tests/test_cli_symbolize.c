/*
 * The CLI's symbolizer: sorted-table lookup rules, this very ELF program
 * named through libdwfl, and a real PE file (one of Wine's builtin DLLs)
 * named from its export table.
 */

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "../cli/symbolize.h"

static void test_ranges(void)
{
    sym_cache *c = sym_cache_new();
    sym_range r[] = { { 0x2000, 0x100, "second" }, { 0x1000, 0x10, "first" }, { 0x3000, 0, "unsized" } };
    sym_table *t = sym_table_from_ranges(c, "test", r, 3);
    uint64_t off = 99;
    CU_ASSERT_PTR_NULL(sym_table_lookup(t, 0xfff, NULL));
    CU_ASSERT_STRING_EQUAL(sym_table_lookup(t, 0x1000, &off), "first");
    CU_ASSERT_EQUAL(off, 0);
    CU_ASSERT_PTR_NULL(sym_table_lookup(t, 0x1010, NULL));   /* past a sized symbol: no guess */
    CU_ASSERT_STRING_EQUAL(sym_table_lookup(t, 0x20ff, &off), "second");
    CU_ASSERT_EQUAL(off, 0xff);
    CU_ASSERT_STRING_EQUAL(sym_table_lookup(t, 0x9000, NULL), "unsized");
    sym_cache_free(c);
}

__attribute__((noinline)) int wm_symbolize_probe(int x)
{
    return x * 3 + 1;
}

static void test_elf_self(void)
{
    setenv("DEBUGINFOD_URLS", "http://127.0.0.1:9/", 1);   /* must be ignored */
    sym_cache *c = sym_cache_new();
    CU_ASSERT_PTR_NULL(getenv("DEBUGINFOD_URLS"));
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CU_ASSERT_FATAL(n > 0);
    exe[n] = 0;
    sym_table *t = sym_table_get(c, SYM_ELF, exe, NULL, 0);
    CU_ASSERT_PTR_NULL(sym_table_error(t));
    CU_ASSERT(sym_table_count(t) > 10);
    Dl_info info;
    struct link_map *lm;
    CU_ASSERT_FATAL(dladdr1((void *)wm_symbolize_probe, &info, (void **)&lm, RTLD_DL_LINKMAP) != 0);
    uint64_t file_addr = (uint64_t)(uintptr_t)wm_symbolize_probe - lm->l_addr;
    uint64_t off;
    const char *name = sym_table_lookup(t, file_addr + 3, &off);
    CU_ASSERT_PTR_NOT_NULL_FATAL(name);
    CU_ASSERT_STRING_EQUAL(name, "wm_symbolize_probe");
    CU_ASSERT_EQUAL(off, 3);
    int line = 0;
    const char *src = sym_table_source(t, file_addr + 3, &line);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);   /* built with -g */
    CU_ASSERT_STRING_EQUAL(src, "test_cli_symbolize.c");
    CU_ASSERT(line > 20 && line < 40);
    /* the same file asked again: the cached table, not a second load */
    CU_ASSERT_PTR_EQUAL(sym_table_get(c, SYM_ELF, exe, NULL, 0), t);
    /* a build id that does not match the file: no names rather than wrong ones */
    uint8_t bogus[20] = { 1, 2, 3 };
    sym_table *s = sym_table_get(c, SYM_ELF, exe, bogus, sizeof bogus);
    CU_ASSERT_EQUAL(sym_table_count(s), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(sym_table_error(s), "changed since the trace"));
    sym_cache_free(c);
}

static void test_pe_exports(void)
{
    const char *dll = "/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernelbase.dll";
    CU_ASSERT_EQUAL_FATAL(access(dll, R_OK), 0);
    sym_cache *c = sym_cache_new();
    sym_table *t = sym_table_get(c, SYM_PE, dll, NULL, 0);
    CU_ASSERT_PTR_NULL(sym_table_error(t));
    CU_ASSERT(sym_table_count(t) > 500);
    /* Every export can be found again by an address inside it; sample the
     * table by walking addresses until VirtualProtect shows up. */
    int found = 0;
    for (uint64_t a = 0x1000; a < 0x200000 && !found; a += 16) {
        const char *n = sym_table_lookup(t, a, NULL);
        found = n && !strcmp(n, "VirtualProtect");
    }
    CU_ASSERT_TRUE(found);
    sym_table *bad = sym_table_get(c, SYM_PE, "/etc/hostname", NULL, 0);
    CU_ASSERT_EQUAL(sym_table_count(bad), 0);
    CU_ASSERT_PTR_NOT_NULL(sym_table_error(bad));
    sym_cache_free(c);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli symbolizer", NULL, NULL);
    WM_TEST(s, test_ranges);
    WM_TEST(s, test_elf_self);
    WM_TEST(s, test_pe_exports);
}
