/*
 * wine-tests/write_watch.c — MEM_WRITE_WATCH allocations.
 *
 * Windows: the allocation itself looks like any private read-write memory
 * (MEM_COMMIT, PAGE_READWRITE, MEM_PRIVATE; the watch is not a protection),
 * and GetWriteWatch lists exactly the pages written since the reset.
 * winmem has no GetWriteWatch, so that section is pe/winelib only.
 */
#include "wt.h"

START_TEST(write_watch)
{
    MEMORY_BASIC_INFORMATION mbi;

    wt_section("query");
    SetLastError(0xdeadbeef);
    char *p = VirtualAlloc(NULL, 0x4000, MEM_RESERVE | MEM_COMMIT | MEM_WRITE_WATCH, PAGE_READWRITE);
    ok(p != NULL, "VirtualAlloc(MEM_WRITE_WATCH) failed, error %u, expected an allocation\n",
       (unsigned)GetLastError());
    if (p) {
        p[0x1000] = 1;
        ok(VirtualQuery(p, &mbi, sizeof(mbi)) == sizeof(mbi), "VirtualQuery failed, error %u\n",
           (unsigned)GetLastError());
        ok(mbi.State == MEM_COMMIT, "State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
        ok(mbi.Protect == PAGE_READWRITE, "Protect %#x, expected PAGE_READWRITE (0x4), the watch is not a protection\n",
           (unsigned)mbi.Protect);
        ok(mbi.AllocationProtect == PAGE_READWRITE, "AllocationProtect %#x, expected PAGE_READWRITE (0x4)\n",
           (unsigned)mbi.AllocationProtect);
        ok(mbi.Type == MEM_PRIVATE, "Type %#x, expected MEM_PRIVATE (0x20000)\n", (unsigned)mbi.Type);
        ok(mbi.RegionSize == 0x4000, "RegionSize %#llx, expected 0x4000 (writes do not split the region)\n",
           (unsigned long long)mbi.RegionSize);
    }

#ifdef WT_NATIVE
    wt_skip_section("get_write_watch", "GetWriteWatch is not part of winmem");
#else
    wt_section("get_write_watch");
    if (p) {
        void *pages[8];
        ULONG_PTR count = 8;
        ULONG gran = 0;
        UINT r = GetWriteWatch(WRITE_WATCH_FLAG_RESET, p, 0x4000, pages, &count, &gran);
        ok(r == 0, "GetWriteWatch returned %u, expected 0\n", r);
        ok(count == 1, "%llu pages written, expected 1\n", (unsigned long long)count);
        ok(count < 1 || pages[0] == p + 0x1000, "written page %p, expected %p\n", pages[0], p + 0x1000);
        ok(gran == 0x1000, "granularity %#x, expected 0x1000\n", (unsigned)gran);
        count = 8;
        r = GetWriteWatch(0, p, 0x4000, pages, &count, &gran);
        ok(r == 0 && count == 0, "after the reset: %llu pages, expected 0\n", (unsigned long long)count);
    }
#endif
    if (p)
        VirtualFree(p, 0, MEM_RELEASE);
}
