/*
 * wine-tests/adjacent.c — two reservations side by side: a region never
 * crosses an allocation boundary, so a query at any page of one reports
 * that allocation's base and a RegionSize that ends at its end at the
 * latest, and releasing or decommitting what the query reported succeeds.
 *
 * Why: Boehm GC decommits exactly the RegionSize VirtualQuery gives it.
 * Linux merges two adjacent anonymous mappings of one protection into one,
 * and a query that believes the kernel reports both reservations as one
 * region (with Wine's write-watch protection showing through): the
 * decommit then fails with ERROR_INVALID_PARAMETER.
 */
#include "wt.h"

#define A64K 0x10000

#ifndef MEM_WRITE_WATCH
#define MEM_WRITE_WATCH 0x200000
#endif

/* Two adjacent 64 KiB reservations (a 128 KiB hole found first). */
static int reserve_pair(char **a, char **b, DWORD type_a, DWORD prot_a, DWORD type_b, DWORD prot_b)
{
    for (int tries = 0; tries < 16; tries++) {
        char *hole = VirtualAlloc(NULL, 2 * A64K, MEM_RESERVE, PAGE_NOACCESS);
        if (!hole)
            return 0;
        VirtualFree(hole, 0, MEM_RELEASE);
        *a = VirtualAlloc(hole, A64K, type_a, prot_a);
        *b = *a ? VirtualAlloc(hole + A64K, A64K, type_b, prot_b) : NULL;
        if (*a && *b)
            return 1;
        if (*a)
            VirtualFree(*a, 0, MEM_RELEASE);
    }
    return 0;
}

/* Every page of [base, base + 64K) reports base as its allocation, a
 * region inside it and the expected state and protection. */
static void check_pages(const char *what, char *base, DWORD state, DWORD prot)
{
    int bad = 0;
    for (SIZE_T off = 0; off < A64K && bad < 3; off += 0x1000) {
        MEMORY_BASIC_INFORMATION m;
        if (!wt_query(base + off, &m)) {
            bad++;
            continue;
        }
        int good = m.AllocationBase == base && m.BaseAddress == base + off &&
                   (char *)m.BaseAddress + m.RegionSize <= base + A64K && m.State == state && m.Protect == prot;
        ok(good, "%s +%#llx: AllocationBase %p BaseAddress %p RegionSize %#llx State %#x Protect %#x, expected "
           "AllocationBase %p, the page, a region ending by %p, State %#x, Protect %#x\n", what,
           (unsigned long long)off, m.AllocationBase, m.BaseAddress, (unsigned long long)m.RegionSize,
           (unsigned)m.State, (unsigned)m.Protect, base, base + A64K, (unsigned)state, (unsigned)prot);
        bad += !good;
    }
}

static void pair_section(const char *name, DWORD type_a, DWORD prot_a, DWORD type_b, DWORD prot_b)
{
    char *a, *b;
    wt_section(name);
    if (!ok(reserve_pair(&a, &b, type_a, prot_a, type_b, prot_b), "no two adjacent reservations, error %u\n",
            (unsigned)GetLastError()))
        return;
    check_pages("first", a, (type_a & MEM_COMMIT) ? MEM_COMMIT : MEM_RESERVE, (type_a & MEM_COMMIT) ? prot_a : 0);
    check_pages("second", b, (type_b & MEM_COMMIT) ? MEM_COMMIT : MEM_RESERVE, (type_b & MEM_COMMIT) ? prot_b : 0);
    ok(VirtualFree(a, 0, MEM_RELEASE), "release first: error %u\n", (unsigned)GetLastError());
    ok(VirtualFree(b, 0, MEM_RELEASE), "release second: error %u\n", (unsigned)GetLastError());
}

/* What Boehm GC does: query inside a committed allocation, decommit the
 * reported run, and find it reserved with the same size. */
static void decommit_reported(DWORD type_a)
{
    char *a, *b;
    wt_section(type_a & MEM_WRITE_WATCH ? "decommit_write_watch" : "decommit_reported");
    if (!ok(reserve_pair(&a, &b, type_a, PAGE_READWRITE, MEM_RESERVE, PAGE_READWRITE), "no two adjacent reservations\n"))
        return;
    ok(VirtualAlloc(a, A64K, MEM_COMMIT, PAGE_READWRITE) == a, "commit first: error %u\n", (unsigned)GetLastError());
    ok(VirtualAlloc(b, A64K, MEM_COMMIT, PAGE_READWRITE) == b, "commit second: error %u\n", (unsigned)GetLastError());
    a[0x1000] = 1;                     /* a written page, as a collector's heap has */
    MEMORY_BASIC_INFORMATION m;
    if (wt_query(a + 0x1000, &m)) {
        ok(m.AllocationBase == a && m.RegionSize == 0xf000 && m.Protect == PAGE_READWRITE,
           "+0x1000: AllocationBase %p RegionSize %#llx Protect %#x, expected %p, 0xf000, PAGE_READWRITE\n",
           m.AllocationBase, (unsigned long long)m.RegionSize, (unsigned)m.Protect, a);
        SIZE_T size = m.RegionSize;
        BOOL freed = VirtualFree(a + 0x1000, size, MEM_DECOMMIT);
        ok(freed, "decommit of the reported %#llx bytes: error %u, expected success\n", (unsigned long long)size,
           (unsigned)GetLastError());
        if (freed && wt_query(a + 0x1000, &m))
            ok(m.State == MEM_RESERVE && m.RegionSize == size && m.AllocationBase == a,
               "after decommit: State %#x RegionSize %#llx AllocationBase %p, expected MEM_RESERVE, %#llx, %p\n",
               (unsigned)m.State, (unsigned long long)m.RegionSize, m.AllocationBase, (unsigned long long)size, a);
    }
    if (wt_query(b, &m))
        ok(m.AllocationBase == b && m.State == MEM_COMMIT && m.RegionSize == A64K,
           "second after: AllocationBase %p State %#x RegionSize %#llx, expected %p, MEM_COMMIT, 0x10000\n",
           m.AllocationBase, (unsigned)m.State, (unsigned long long)m.RegionSize, b);
    ok(VirtualFree(a, 0, MEM_RELEASE), "release first: error %u\n", (unsigned)GetLastError());
    ok(VirtualFree(b, 0, MEM_RELEASE), "release second: error %u\n", (unsigned)GetLastError());
}

START_TEST(adjacent)
{
    const DWORD rc = MEM_RESERVE | MEM_COMMIT;
    pair_section("plain", rc, PAGE_READWRITE, rc, PAGE_READWRITE);
    pair_section("write_watch", rc | MEM_WRITE_WATCH, PAGE_READWRITE, rc, PAGE_READWRITE);
    pair_section("protections", rc, PAGE_READONLY, rc, PAGE_READWRITE);
    pair_section("reserved", MEM_RESERVE, PAGE_READWRITE, MEM_RESERVE, PAGE_NOACCESS);
    pair_section("reserved_committed", MEM_RESERVE, PAGE_READWRITE, rc, PAGE_READWRITE);
    decommit_reported(MEM_RESERVE);
    decommit_reported(MEM_RESERVE | MEM_WRITE_WATCH);
}
