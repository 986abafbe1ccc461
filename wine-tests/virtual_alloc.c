/*
 * wine-tests/virtual_alloc.c — the VirtualAlloc family as Windows defines it:
 * reserve, commit, decommit, release, MEM_RESET, protections, 64 KiB
 * granularity, zero-filled first commit, VirtualLock/Unlock and the Ex forms
 * on the current process. Expected values are Windows' (Wine's conformance
 * tests, kernel32 virtual.c, and the Memory Protection Constants page).
 */
#include "wt.h"

#define PG 0x1000

static void query(const void *addr, MEMORY_BASIC_INFORMATION *mbi)
{
    memset(mbi, 0xcc, sizeof(*mbi));
    ok(VirtualQuery(addr, mbi, sizeof(*mbi)) == sizeof(*mbi), "VirtualQuery(%p) failed, error %u\n", addr,
       (unsigned)GetLastError());
}

static void expect_error(DWORD want, const char *what, const char *want_name)
{
    DWORD got = GetLastError();
    ok(got == want, "%s: error %u, expected %s (%u)\n", what, (unsigned)got, want_name, (unsigned)want);
}

static void test_reserve(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    wt_section("reserve");
    SetLastError(0xdeadbeef);
    ok(!VirtualAlloc(NULL, 0, MEM_RESERVE, PAGE_NOACCESS), "zero-sized reserve succeeded, expected NULL\n");
    expect_error(ERROR_INVALID_PARAMETER, "zero size", "ERROR_INVALID_PARAMETER");

    char *a = VirtualAlloc(NULL, 0xfffc, MEM_RESERVE, PAGE_NOACCESS);
    ok(a != NULL, "reserve 0xfffc failed, error %u\n", (unsigned)GetLastError());
    if (!a)
        return;
    ok(((ULONG_PTR)a & 0xffff) == 0, "base %p, expected 64 KiB aligned\n", a);
    query(a, &mbi);
    ok(mbi.BaseAddress == a, "BaseAddress %p, expected %p\n", mbi.BaseAddress, a);
    ok(mbi.AllocationBase == a, "AllocationBase %p, expected %p\n", mbi.AllocationBase, a);
    ok(mbi.RegionSize == 0x10000, "RegionSize %#llx, expected 0x10000\n", (unsigned long long)mbi.RegionSize);
    ok(mbi.State == MEM_RESERVE, "State %#x, expected MEM_RESERVE (0x2000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == 0, "Protect %#x, expected 0\n", (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == PAGE_NOACCESS, "AllocationProtect %#x, expected PAGE_NOACCESS (0x1)\n",
       (unsigned)mbi.AllocationProtect);
    ok(mbi.Type == MEM_PRIVATE, "Type %#x, expected MEM_PRIVATE (0x20000)\n", (unsigned)mbi.Type);
    ok(VirtualFree(a, 0, MEM_RELEASE), "release failed, error %u\n", (unsigned)GetLastError());
    query(a, &mbi);
    ok(mbi.State == MEM_FREE, "State after release %#x, expected MEM_FREE (0x10000)\n", (unsigned)mbi.State);

    a = VirtualAlloc(NULL, 0x1000, MEM_RESERVE | MEM_TOP_DOWN, PAGE_READWRITE);
    ok(a && !((ULONG_PTR)a & 0xffff), "MEM_TOP_DOWN reserve %p, expected a 64 KiB aligned base\n", a);
    if (a)
        VirtualFree(a, 0, MEM_RELEASE);
}

static void test_commit_protect(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    DWORD old = 0;
    wt_section("commit_protect");
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_NOACCESS);
    if (!ok(a != NULL, "reserve failed, error %u\n", (unsigned)GetLastError()))
        return;
    SetLastError(0xdeadbeef);
    ok(!VirtualProtect(a, 0xfffc, PAGE_READONLY, &old), "VirtualProtect on reserved memory succeeded\n");
    expect_error(ERROR_INVALID_ADDRESS, "protect reserved", "ERROR_INVALID_ADDRESS");

    ok(VirtualAlloc(a, PG, MEM_COMMIT, PAGE_NOACCESS) == a, "commit one page did not return %p\n", a);
    query(a, &mbi);
    ok(mbi.RegionSize == PG, "RegionSize %#llx, expected 0x1000\n", (unsigned long long)mbi.RegionSize);
    ok(mbi.State == MEM_COMMIT, "State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);
    ok(mbi.Protect == PAGE_NOACCESS, "Protect %#x, expected PAGE_NOACCESS (0x1)\n", (unsigned)mbi.Protect);

    SetLastError(0xdeadbeef);
    ok(!VirtualProtect(a, 0xfffc, PAGE_READONLY, &old), "VirtualProtect on partly committed memory succeeded\n");
    expect_error(ERROR_INVALID_ADDRESS, "protect partly committed", "ERROR_INVALID_ADDRESS");
    query(a, &mbi);
    ok(mbi.Protect == PAGE_NOACCESS, "Protect after failed call %#x, expected PAGE_NOACCESS (0x1)\n",
       (unsigned)mbi.Protect);

    ok(VirtualProtect(a, PG, PAGE_READONLY, &old), "VirtualProtect failed, error %u\n", (unsigned)GetLastError());
    ok(old == PAGE_NOACCESS, "old protection %#x, expected PAGE_NOACCESS (0x1)\n", (unsigned)old);
    ok(VirtualProtect(a, PG, PAGE_READWRITE, &old), "VirtualProtect failed, error %u\n", (unsigned)GetLastError());
    ok(old == PAGE_READONLY, "old protection %#x, expected PAGE_READONLY (0x2)\n", (unsigned)old);
    query(a, &mbi);
    ok(mbi.AllocationProtect == PAGE_NOACCESS, "AllocationProtect %#x, expected PAGE_NOACCESS (0x1): "
       "VirtualProtect never changes it\n", (unsigned)mbi.AllocationProtect);
    memset(a, 0x55, 20);
    query(a, &mbi);
    ok(mbi.Protect == PAGE_READWRITE, "Protect after a write %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)mbi.Protect);

    /* regions split at protection boundaries and join again when equal */
    ok(VirtualAlloc(a + PG, 3 * PG, MEM_COMMIT, PAGE_READWRITE) == a + PG, "commit 3 pages failed\n");
    query(a, &mbi);
    ok(mbi.RegionSize == 4 * PG, "RegionSize %#llx, expected 0x4000 (equal pages join)\n",
       (unsigned long long)mbi.RegionSize);
    ok(VirtualProtect(a + 2 * PG, PG, PAGE_EXECUTE_READ, &old), "VirtualProtect failed\n");
    query(a, &mbi);
    ok(mbi.RegionSize == 2 * PG, "RegionSize %#llx, expected 0x2000 (split)\n", (unsigned long long)mbi.RegionSize);
    query(a + 2 * PG, &mbi);
    ok(mbi.Protect == PAGE_EXECUTE_READ && mbi.RegionSize == PG,
       "split page: Protect %#x size %#llx, expected PAGE_EXECUTE_READ (0x20), 0x1000\n",
       (unsigned)mbi.Protect, (unsigned long long)mbi.RegionSize);
    ok(VirtualProtect(a + 2 * PG, PG, PAGE_READWRITE, &old), "VirtualProtect failed\n");
    query(a, &mbi);
    ok(mbi.RegionSize == 4 * PG, "RegionSize %#llx, expected 0x4000 (joined again)\n",
       (unsigned long long)mbi.RegionSize);
    query(a + 4 * PG, &mbi);
    ok(mbi.State == MEM_RESERVE && mbi.RegionSize == 0xc000,
       "tail: State %#x size %#llx, expected MEM_RESERVE (0x2000), 0xc000\n",
       (unsigned)mbi.State, (unsigned long long)mbi.RegionSize);
    VirtualFree(a, 0, MEM_RELEASE);
}

static void test_reset(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    wt_section("reset");
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    if (!ok(a != NULL, "reserve failed\n"))
        return;
    VirtualAlloc(a, PG, MEM_COMMIT, PAGE_READWRITE);
    memset(a, 0x55, 20);
    ok(VirtualAlloc(a, PG, MEM_RESET, PAGE_NOACCESS) == a, "MEM_RESET on committed memory did not return %p, "
       "error %u\n", a, (unsigned)GetLastError());
    ok(*(DWORD *)a == 0x55555555 || *(DWORD *)a == 0, "data %#x after MEM_RESET, expected 0x55555555 or 0\n",
       (unsigned)*(DWORD *)a);
    query(a, &mbi);
    ok(mbi.State == MEM_COMMIT && mbi.Protect == PAGE_READWRITE && mbi.RegionSize == PG,
       "after MEM_RESET: State %#x Protect %#x size %#llx, expected MEM_COMMIT (0x1000), PAGE_READWRITE (0x4), 0x1000\n",
       (unsigned)mbi.State, (unsigned)mbi.Protect, (unsigned long long)mbi.RegionSize);
    ok(VirtualAlloc(a + PG, PG, MEM_RESET, PAGE_NOACCESS) == a + PG, "MEM_RESET on reserved memory failed\n");
    query(a + PG, &mbi);
    ok(mbi.State == MEM_RESERVE && mbi.Protect == 0 && mbi.RegionSize == 0xf000,
       "reserved tail: State %#x Protect %#x size %#llx, expected MEM_RESERVE (0x2000), 0, 0xf000\n",
       (unsigned)mbi.State, (unsigned)mbi.Protect, (unsigned long long)mbi.RegionSize);
    SetLastError(0xdeadbeef);
    ok(!VirtualAlloc(a + 0xf000, 0x2000, MEM_RESET, PAGE_NOACCESS), "MEM_RESET past the end succeeded\n");
    expect_error(ERROR_INVALID_ADDRESS, "MEM_RESET past the end", "ERROR_INVALID_ADDRESS");
    VirtualFree(a, 0, MEM_RELEASE);
}

static BOOL valid_private(DWORD p)
{
    return p == PAGE_NOACCESS || p == PAGE_READONLY || p == PAGE_READWRITE || p == PAGE_EXECUTE ||
           p == PAGE_EXECUTE_READ || p == PAGE_EXECUTE_READWRITE;
}

static void test_protection_values(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    DWORD old;
    wt_section("protection_values");
    for (DWORD p = 0; p < 0x100; p++) {
        SetLastError(0xdeadbeef);
        char *a = VirtualAlloc(NULL, PG, MEM_COMMIT, p);
        if (valid_private(p)) {
            if (!ok(a != NULL, "VirtualAlloc(%#x) failed, error %u, expected success\n", (unsigned)p,
                    (unsigned)GetLastError()))
                continue;
            query(a, &mbi);
            ok(mbi.Protect == p && mbi.AllocationProtect == p,
               "VirtualAlloc(%#x): Protect %#x AllocationProtect %#x, expected %#x for both\n", (unsigned)p,
               (unsigned)mbi.Protect, (unsigned)mbi.AllocationProtect, (unsigned)p);
            VirtualFree(a, 0, MEM_RELEASE);
        } else {
            ok(!a, "VirtualAlloc(%#x) succeeded, expected ERROR_INVALID_PARAMETER\n", (unsigned)p);
            if (a)
                VirtualFree(a, 0, MEM_RELEASE);
            else
                ok(GetLastError() == ERROR_INVALID_PARAMETER, "VirtualAlloc(%#x): error %u, expected "
                   "ERROR_INVALID_PARAMETER (87)\n", (unsigned)p, (unsigned)GetLastError());
        }
    }
    char *a = VirtualAlloc(NULL, PG, MEM_COMMIT, PAGE_READWRITE);
    if (!a)
        return;
    static const DWORD bad[] = { 0, PAGE_WRITECOPY, PAGE_EXECUTE_WRITECOPY, PAGE_READWRITE | PAGE_EXECUTE_WRITECOPY };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        SetLastError(0xdeadbeef);
        ok(!VirtualProtect(a, PG, bad[i], &old), "VirtualProtect(%#x) succeeded on private memory\n",
           (unsigned)bad[i]);
        expect_error(ERROR_INVALID_PARAMETER, "VirtualProtect invalid protection", "ERROR_INVALID_PARAMETER");
    }
    VirtualFree(a, 0, MEM_RELEASE);
}

static void test_nocache(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    DWORD old = 0;
    wt_section("nocache");
    char *a = VirtualAlloc(NULL, 2 * PG, MEM_COMMIT, PAGE_READWRITE | PAGE_NOCACHE);
    if (!ok(a != NULL, "VirtualAlloc(PAGE_READWRITE|PAGE_NOCACHE) failed, error %u\n", (unsigned)GetLastError()))
        return;
    query(a, &mbi);
    ok(mbi.Protect == (PAGE_READWRITE | PAGE_NOCACHE), "Protect %#x, expected PAGE_READWRITE|PAGE_NOCACHE (0x204)\n",
       (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == (PAGE_READWRITE | PAGE_NOCACHE),
       "AllocationProtect %#x, expected PAGE_READWRITE|PAGE_NOCACHE (0x204)\n", (unsigned)mbi.AllocationProtect);
    a[0] = 1;
    ok(VirtualProtect(a, PG, PAGE_READONLY, &old), "VirtualProtect failed\n");
    ok(old == (PAGE_READWRITE | PAGE_NOCACHE), "old protection %#x, expected 0x204\n", (unsigned)old);
    VirtualFree(a, 0, MEM_RELEASE);
}

static void test_free(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    wt_section("free");
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!ok(a != NULL, "allocation failed\n"))
        return;
    SetLastError(0xdeadbeef);
    ok(!VirtualFree(a, 0x10000, 0), "VirtualFree type 0 succeeded\n");
    expect_error(ERROR_INVALID_PARAMETER, "type 0", "ERROR_INVALID_PARAMETER");
    SetLastError(0xdeadbeef);
    ok(!VirtualFree(a, 0x10000, MEM_DECOMMIT | MEM_RELEASE), "DECOMMIT|RELEASE succeeded\n");
    expect_error(ERROR_INVALID_PARAMETER, "DECOMMIT|RELEASE", "ERROR_INVALID_PARAMETER");
    ok(VirtualFree(a + PG, PG, MEM_DECOMMIT), "decommit one page failed, error %u\n", (unsigned)GetLastError());
    query(a + PG, &mbi);
    ok(mbi.State == MEM_RESERVE && mbi.Protect == 0 && mbi.RegionSize == PG,
       "decommitted page: State %#x Protect %#x size %#llx, expected MEM_RESERVE (0x2000), 0, 0x1000\n",
       (unsigned)mbi.State, (unsigned)mbi.Protect, (unsigned long long)mbi.RegionSize);
    SetLastError(0xdeadbeef);
    ok(!VirtualFree(a, 1, MEM_RELEASE), "MEM_RELEASE with a size succeeded\n");
    expect_error(ERROR_INVALID_PARAMETER, "release with size", "ERROR_INVALID_PARAMETER");
    ok(VirtualFree(a, 0, MEM_DECOMMIT), "decommit all (size 0 at the base) failed\n");
    query(a, &mbi);
    ok(mbi.State == MEM_RESERVE && mbi.RegionSize == 0x10000,
       "after decommit all: State %#x size %#llx, expected MEM_RESERVE (0x2000), 0x10000\n",
       (unsigned)mbi.State, (unsigned long long)mbi.RegionSize);
    ok(VirtualFree(a, 0, MEM_RELEASE), "release failed, error %u\n", (unsigned)GetLastError());

    /* Windows: STATUS_MEMORY_NOT_ALLOCATED, which kernelbase maps to 487 */
    wt_section("release_twice");
    SetLastError(0xdeadbeef);
    ok(!VirtualFree(a, 0, MEM_RELEASE), "second release succeeded\n");
    expect_error(ERROR_INVALID_ADDRESS, "release freed memory", "ERROR_INVALID_ADDRESS");
}

static void test_zero_fill(void)
{
    wt_section("zero_fill");
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    if (!ok(a != NULL, "reserve failed\n"))
        return;
    ok(VirtualAlloc(a + 0x10, 0x2000, MEM_COMMIT, PAGE_READWRITE) == a,
       "commit at base+0x10 did not return the page-rounded base %p\n", a);
    ok(a[0] == 0 && a[0x1fff] == 0, "first commit not zero-filled\n");
    memset(a, 0xab, 0x2000);
    ok(VirtualAlloc(a, 0x3000, MEM_COMMIT, PAGE_READWRITE) == a, "recommit failed\n");
    ok((unsigned char)a[0x1fff] == 0xab, "recommit lost data: %#x, expected 0xab\n", (unsigned char)a[0x1fff]);
    ok(a[0x2000] == 0, "newly committed page not zero: %#x\n", (unsigned char)a[0x2000]);
    VirtualFree(a, PG, MEM_DECOMMIT);
    VirtualAlloc(a, PG, MEM_COMMIT, PAGE_READWRITE);
    ok(a[0] == 0, "decommit then commit: %#x, expected 0\n", (unsigned char)a[0]);
    ok((unsigned char)a[PG] == 0xab, "untouched neighbour: %#x, expected 0xab\n", (unsigned char)a[PG]);
    VirtualFree(a, 0, MEM_RELEASE);
}

static void test_granularity(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    wt_section("granularity");
    char *a = VirtualAlloc(NULL, 0x30000, MEM_RESERVE, PAGE_READWRITE);
    if (!ok(a != NULL, "reserve failed\n"))
        return;
    SetLastError(0xdeadbeef);
    ok(!VirtualAlloc(a + 0x10000, PG, MEM_RESERVE, PAGE_READWRITE), "reserve inside a reservation succeeded\n");
    expect_error(ERROR_INVALID_ADDRESS, "reserve inside a reservation", "ERROR_INVALID_ADDRESS");
    VirtualFree(a, 0, MEM_RELEASE);
    char *b = VirtualAlloc(a + 0x11234, PG, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(b == a + 0x10000, "reserve at %p returned %p, expected %p (rounded down to 64 KiB)\n", a + 0x11234, b,
       a + 0x10000);
    if (b) {
        query(b, &mbi);
        ok(mbi.State == MEM_COMMIT && mbi.RegionSize == 0x3000,
           "State %#x size %#llx, expected MEM_COMMIT (0x1000), 0x3000 (base to the end of the asked range)\n",
           (unsigned)mbi.State, (unsigned long long)mbi.RegionSize);
        VirtualFree(b, 0, MEM_RELEASE);
    }
    SetLastError(0xdeadbeef);
    ok(!VirtualAlloc(a, PG, MEM_COMMIT, PAGE_READWRITE), "commit of free memory succeeded\n");
    expect_error(ERROR_INVALID_ADDRESS, "commit free memory", "ERROR_INVALID_ADDRESS");
}

static void test_ex_self(void)
{
    MEMORY_BASIC_INFORMATION m1, m2;
    DWORD old;
    wt_section("ex_self");
    char *a = VirtualAllocEx(GetCurrentProcess(), NULL, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!ok(a != NULL, "VirtualAllocEx(GetCurrentProcess()) failed, error %u\n", (unsigned)GetLastError()))
        return;
    ok(VirtualProtectEx(GetCurrentProcess(), a, PG, PAGE_READONLY, &old) && old == PAGE_READWRITE,
       "VirtualProtectEx: old %#x, expected PAGE_READWRITE (0x4)\n", (unsigned)old);
    query(a, &m1);
    memset(&m2, 0xcc, sizeof(m2));
    ok(VirtualQueryEx(GetCurrentProcess(), a, &m2, sizeof(m2)) == sizeof(m2), "VirtualQueryEx failed\n");
    ok(m1.BaseAddress == m2.BaseAddress && m1.AllocationBase == m2.AllocationBase &&
       m1.AllocationProtect == m2.AllocationProtect && m1.RegionSize == m2.RegionSize &&
       m1.State == m2.State && m1.Protect == m2.Protect && m1.Type == m2.Type,
       "VirtualQueryEx differs from VirtualQuery, expected the same answer\n");
    ok(VirtualFreeEx(GetCurrentProcess(), a, 0, MEM_RELEASE), "VirtualFreeEx failed\n");
}

static void test_lock(void)
{
    wt_section("lock");
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    if (!ok(a != NULL, "reserve failed\n"))
        return;
    VirtualAlloc(a, 4 * PG, MEM_COMMIT, PAGE_READWRITE);
    ok(VirtualLock(a, 2 * PG), "VirtualLock failed, error %u\n", (unsigned)GetLastError());
    ok(VirtualUnlock(a, 2 * PG), "VirtualUnlock failed, error %u\n", (unsigned)GetLastError());
    SetLastError(0xdeadbeef);
    ok(!VirtualLock(a + 4 * PG, PG), "VirtualLock of reserved memory succeeded, expected failure\n");

    /* VirtualUnlock documents: pages not locked → FALSE, ERROR_NOT_LOCKED */
    wt_section("unlock_not_locked");
    SetLastError(0xdeadbeef);
    ok(!VirtualUnlock(a, PG), "VirtualUnlock of an unlocked page succeeded\n");
    expect_error(ERROR_NOT_LOCKED, "unlock unlocked", "ERROR_NOT_LOCKED");
    VirtualFree(a, 0, MEM_RELEASE);
}

/* Windows lets a program change its own image's pages (code patching,
 * write-protected tables): the protection reads back through VirtualQuery. */
static char image_data[3 * PG] = { 1 };

/* Locks are per page: unlocking part of a locked range leaves the rest
 * locked, and memory that is decommitted loses its locks. */
static void test_unlock_partial(void)
{
    wt_section("unlock_partial");
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!ok(a != NULL, "alloc failed\n"))
        return;
    ok(VirtualLock(a, 3 * PG), "VirtualLock of 3 pages failed, error %u\n", (unsigned)GetLastError());
    ok(VirtualUnlock(a + PG, PG), "VirtualUnlock of the middle page failed, error %u, expected TRUE\n",
       (unsigned)GetLastError());
    SetLastError(0xdeadbeef);
    ok(!VirtualUnlock(a + PG, PG), "second VirtualUnlock of the middle page succeeded, expected FALSE\n");
    expect_error(ERROR_NOT_LOCKED, "unlock the middle page twice", "ERROR_NOT_LOCKED");
    ok(VirtualUnlock(a + 2 * PG, PG), "VirtualUnlock of the last page failed, error %u, expected TRUE\n",
       (unsigned)GetLastError());
    ok(VirtualFree(a, PG, MEM_DECOMMIT), "decommit failed\n");
    ok(VirtualAlloc(a, PG, MEM_COMMIT, PAGE_READWRITE) == a, "recommit failed\n");
    SetLastError(0xdeadbeef);
    ok(!VirtualUnlock(a, PG), "VirtualUnlock of a page decommitted while locked succeeded, expected FALSE\n");
    expect_error(ERROR_NOT_LOCKED, "unlock after decommit", "ERROR_NOT_LOCKED");
    VirtualFree(a, 0, MEM_RELEASE);
}

static void test_protect_image(void)
{
    MEMORY_BASIC_INFORMATION mbi;
    DWORD old = 0, old2 = 0;
    wt_section("protect_image");
    char *page = (char *)(((ULONG_PTR)image_data + PG - 1) & ~(ULONG_PTR)(PG - 1));
    ok(VirtualProtect(page, PG, PAGE_READONLY, &old), "VirtualProtect of image data failed, error %u\n",
       (unsigned)GetLastError());
    query(page, &mbi);
    ok(mbi.Protect == PAGE_READONLY, "Protect %#x, expected PAGE_READONLY (0x2)\n", (unsigned)mbi.Protect);
    ok(mbi.Type == MEM_IMAGE, "Type %#x, expected MEM_IMAGE (0x1000000)\n", (unsigned)mbi.Type);
    ok(VirtualProtect(page, PG, old, &old2), "restoring failed, error %u\n", (unsigned)GetLastError());
    ok(old2 == PAGE_READONLY, "old protection %#x, expected PAGE_READONLY (0x2)\n", (unsigned)old2);
    page[0] = 2;
}

START_TEST(virtual_alloc)
{
    test_reserve();
    test_commit_protect();
    test_reset();
    test_protection_values();
    test_nocache();
    test_free();
    test_zero_fill();
    test_granularity();
    test_ex_self();
    test_lock();
    test_unlock_partial();
    test_protect_image();
}
