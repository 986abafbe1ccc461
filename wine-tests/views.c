/*
 * wine-tests/views.c — file mappings and sections seen through VirtualQuery:
 * plain file views, SEC_RESERVE sections and copy-on-write views.
 *
 * winmem has no CreateFileMapping/MapViewOfFile, so the native build names
 * each section and skips it; pe and winelib run them under Wine.
 *
 * Windows: a view reports BaseAddress = AllocationBase = the view, RegionSize
 * = the view size rounded up to pages, MEM_COMMIT, MEM_MAPPED and
 * AllocationProtect = the view's access, and survives closing its handles;
 * once unmapped it is MEM_FREE. A SEC_RESERVE view is MEM_RESERVE with
 * Protect 0 and AllocationProtect PAGE_READWRITE; committing through one view
 * commits the page for every view; decommitting a view is refused with
 * ERROR_INVALID_PARAMETER. A written copy-on-write page turns PAGE_WRITECOPY
 * into PAGE_READWRITE (EXECUTE_WRITECOPY into EXECUTE_READWRITE) and the
 * region splits at that page.
 */
#include "wt.h"

#ifdef WT_NATIVE
START_TEST(views)
{
    static const char *const names[] = { "file_view", "view_after_close", "unmapped", "sec_reserve",
                                         "sec_reserve_shared_commit", "sec_reserve_decommit", "cow_protect",
                                         "cow_split", "cow_execute" };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        wt_skip_section(names[i], "file mappings (CreateFileMapping/MapViewOfFile) are not part of winmem");
}
#else

/* A temporary file of `size` bytes filled with 'a'; access as asked. */
static HANDLE temp_file(DWORD size, DWORD access)
{
    char dir[MAX_PATH], path[MAX_PATH];
    GetTempPathA(sizeof(dir), dir);
    GetTempFileNameA(dir, "wtv", 0, path);
    HANDLE f = CreateFileA(path, access, 0, NULL, CREATE_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, NULL);
    ok(f != INVALID_HANDLE_VALUE, "CreateFile(%s) failed, error %u\n", path, (unsigned)GetLastError());
    char *buf = malloc(size);
    memset(buf, 'a', size);
    DWORD done = 0;
    WriteFile(f, buf, size, &done, NULL);
    ok(done == size, "wrote %u bytes, expected %u\n", (unsigned)done, (unsigned)size);
    free(buf);
    return f;
}

static void test_file_view(void)
{
    MEMORY_BASIC_INFORMATION mbi;

    wt_section("file_view");
    HANDLE f = temp_file(0x3123, GENERIC_READ | GENERIC_WRITE);
    HANDLE m = CreateFileMappingA(f, NULL, PAGE_READWRITE, 0, 0, NULL);
    ok(m != NULL, "CreateFileMapping failed, error %u\n", (unsigned)GetLastError());
    char *v = MapViewOfFile(m, FILE_MAP_READ, 0, 0, 0);
    ok(v != NULL, "MapViewOfFile failed, error %u\n", (unsigned)GetLastError());
    if (!v)
        return;
    wt_query(v + 0x1234, &mbi);
    ok(mbi.BaseAddress == v + 0x1000, "BaseAddress %p, expected %p (the address rounded down to a page)\n",
       mbi.BaseAddress, v + 0x1000);
    ok(mbi.AllocationBase == v, "AllocationBase %p, expected the view %p\n", mbi.AllocationBase, v);
    wt_query(v, &mbi);
    ok(mbi.RegionSize == 0x4000, "RegionSize %#llx, expected 0x4000 (0x3123 rounded up to pages)\n",
       (unsigned long long)mbi.RegionSize);
    ok(mbi.State == MEM_COMMIT, "State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
    ok(mbi.Type == MEM_MAPPED, "Type %#x, expected MEM_MAPPED (0x40000)\n", (unsigned)mbi.Type);
    ok(mbi.Protect == PAGE_READONLY, "Protect %#x, expected PAGE_READONLY (0x2)\n", (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == PAGE_READONLY, "AllocationProtect %#x, expected PAGE_READONLY (0x2), the view's access\n",
       (unsigned)mbi.AllocationProtect);

    wt_section("view_after_close");
    CloseHandle(m);
    CloseHandle(f);
    wt_query(v, &mbi);
    ok(mbi.State == MEM_COMMIT && mbi.Type == MEM_MAPPED && mbi.AllocationBase == v,
       "after CloseHandle: State %#x Type %#x AllocationBase %p, expected MEM_COMMIT MEM_MAPPED %p\n",
       (unsigned)mbi.State, (unsigned)mbi.Type, mbi.AllocationBase, v);
    ok(v[0x3122] == 'a', "view byte 0x3122 is %#x, expected 'a' (0x61)\n", (unsigned char)v[0x3122]);

    wt_section("unmapped");
    ok(UnmapViewOfFile(v), "UnmapViewOfFile failed, error %u\n", (unsigned)GetLastError());
    wt_query(v, &mbi);
    ok(mbi.State == MEM_FREE, "State %#x, expected MEM_FREE (0x10000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == PAGE_NOACCESS, "Protect %#x, expected PAGE_NOACCESS (0x1)\n", (unsigned)mbi.Protect);
    ok(mbi.AllocationBase == NULL, "AllocationBase %p, expected NULL\n", mbi.AllocationBase);
    ok(mbi.AllocationProtect == 0, "AllocationProtect %#x, expected 0\n", (unsigned)mbi.AllocationProtect);
    ok(mbi.Type == 0, "Type %#x, expected 0\n", (unsigned)mbi.Type);
}

static void test_sec_reserve(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    HANDLE m = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, 0, 0x20000, NULL);

    wt_section("sec_reserve");
    ok(m != NULL, "CreateFileMapping(SEC_RESERVE) failed, error %u\n", (unsigned)GetLastError());
    char *v1 = MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0);
    char *v2 = MapViewOfFile(m, FILE_MAP_WRITE, 0, 0, 0);
    ok(v1 && v2, "MapViewOfFile failed, error %u\n", (unsigned)GetLastError());
    if (!v1 || !v2)
        return;
    wt_query(v1, &mbi);
    ok(mbi.State == MEM_RESERVE, "State %#x, expected MEM_RESERVE (0x2000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == 0, "Protect %#x, expected 0\n", (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == PAGE_READWRITE, "AllocationProtect %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)mbi.AllocationProtect);
    ok(mbi.Type == MEM_MAPPED, "Type %#x, expected MEM_MAPPED (0x40000)\n", (unsigned)mbi.Type);
    ok(mbi.RegionSize == 0x20000, "RegionSize %#llx, expected 0x20000\n", (unsigned long long)mbi.RegionSize);

    ok(VirtualAlloc(v1, 0x1000, MEM_COMMIT, PAGE_READWRITE) == v1, "commit through the view failed, error %u\n",
       (unsigned)GetLastError());
    wt_query(v1, &mbi);
    ok(mbi.State == MEM_COMMIT && mbi.Protect == PAGE_READWRITE && mbi.RegionSize == 0x1000,
       "view 1 after commit: State %#x Protect %#x RegionSize %#llx, expected MEM_COMMIT PAGE_READWRITE 0x1000\n",
       (unsigned)mbi.State, (unsigned)mbi.Protect, (unsigned long long)mbi.RegionSize);

    /* The commit belongs to the section, so the other view sees it too. */
    wt_section("sec_reserve_shared_commit");
    v1[5] = 'x';
    wt_query(v2, &mbi);
    ok(mbi.State == MEM_COMMIT, "view 2 after commit through view 1: State %#x, expected MEM_COMMIT (0x1000)\n",
       (unsigned)mbi.State);
    ok(mbi.Protect == PAGE_READWRITE, "view 2: Protect %#x, expected PAGE_READWRITE (0x4)\n", (unsigned)mbi.Protect);
    if (mbi.State == MEM_COMMIT)
        ok(v2[5] == 'x', "view 2 byte 5 is %#x, expected 'x' (0x78) written through view 1\n", (unsigned char)v2[5]);

    wt_section("sec_reserve_decommit");
    SetLastError(0xdeadbeef);
    BOOL r = VirtualFree(v1, 0x1000, MEM_DECOMMIT);
    ok(!r, "VirtualFree(view, MEM_DECOMMIT) succeeded, expected FALSE\n");
    ok(GetLastError() == ERROR_INVALID_PARAMETER, "error %u, expected ERROR_INVALID_PARAMETER (87)\n",
       (unsigned)GetLastError());

    UnmapViewOfFile(v1);
    UnmapViewOfFile(v2);
    CloseHandle(m);
}

/* Copy-on-write view of three pages; writes the middle one. */
static void test_cow(DWORD map_prot, DWORD file_access, DWORD view_access, DWORD expect_before,
                     DWORD expect_after, const char *prot_section, const char *split_section)
{
    MEMORY_BASIC_INFORMATION mbi;

    wt_section(prot_section);
    HANDLE f = temp_file(0x3000, file_access);
    HANDLE m = CreateFileMappingA(f, NULL, map_prot, 0, 0, NULL);
    ok(m != NULL, "CreateFileMapping(%#x) failed, error %u\n", (unsigned)map_prot, (unsigned)GetLastError());
    char *v = m ? MapViewOfFile(m, view_access, 0, 0, 0) : NULL;
    ok(v != NULL, "MapViewOfFile(%#x) failed, error %u\n", (unsigned)view_access, (unsigned)GetLastError());
    if (!v) {
        CloseHandle(f);
        return;
    }
    wt_query(v, &mbi);
    ok(mbi.Protect == expect_before, "before the write: Protect %#x, expected %#x\n", (unsigned)mbi.Protect,
       (unsigned)expect_before);
    ok(mbi.AllocationProtect == expect_before, "AllocationProtect %#x, expected %#x\n",
       (unsigned)mbi.AllocationProtect, (unsigned)expect_before);
    v[0x1000] = 'b';
    wt_query(v + 0x1000, &mbi);
    ok(mbi.Protect == expect_after, "written page: Protect %#x, expected %#x\n", (unsigned)mbi.Protect,
       (unsigned)expect_after);
    ok(mbi.AllocationProtect == expect_before, "written page: AllocationProtect %#x, expected %#x (unchanged)\n",
       (unsigned)mbi.AllocationProtect, (unsigned)expect_before);

    if (split_section) {
        wt_section(split_section);
        ok(mbi.BaseAddress == v + 0x1000 && mbi.RegionSize == 0x1000,
           "written page: region %p+%#llx, expected %p+0x1000 (split at the written page)\n", mbi.BaseAddress,
           (unsigned long long)mbi.RegionSize, v + 0x1000);
        wt_query(v, &mbi);
        ok(mbi.RegionSize == 0x1000 && mbi.Protect == expect_before,
           "first page: RegionSize %#llx Protect %#x, expected 0x1000 %#x\n", (unsigned long long)mbi.RegionSize,
           (unsigned)mbi.Protect, (unsigned)expect_before);
    }
    UnmapViewOfFile(v);
    CloseHandle(m);
    CloseHandle(f);
}

START_TEST(views)
{
    test_file_view();
    test_sec_reserve();
    test_cow(PAGE_READWRITE, GENERIC_READ | GENERIC_WRITE, FILE_MAP_COPY, PAGE_WRITECOPY, PAGE_READWRITE,
             "cow_protect", "cow_split");
    test_cow(PAGE_EXECUTE_READWRITE, GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE, FILE_MAP_COPY | FILE_MAP_EXECUTE,
             PAGE_EXECUTE_WRITECOPY, PAGE_EXECUTE_READWRITE, "cow_execute", NULL);
}
#endif
