/*
 * wine-tests/placeholders.c — placeholder reservations (VirtualAlloc2 with
 * MEM_RESERVE_PLACEHOLDER): split, coalesce, replace.
 *
 * winmem has no VirtualAlloc2, so the native build names each section and
 * skips it. VirtualAlloc2 lives in kernelbase; it is looked up at run time so
 * the program still starts where it is missing (the section then skips).
 *
 * Windows: a placeholder is MEM_RESERVE, MEM_PRIVATE, AllocationProtect
 * PAGE_NOACCESS and Protect 0 — like any reservation: Microsoft documents
 * Protect as undefined for reserved pages, Windows reports 0 for them
 * (shared/research/conformance.md), and Wine's own placeholder tests
 * (kernelbase/tests/process.c, ntdll/tests/virtual.c) check AllocationProtect
 * PAGE_NOACCESS and never Protect;
 * VirtualFree(MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) splits it and each part
 * reports its exact size; MEM_COALESCE_PLACEHOLDERS gives one region back;
 * VirtualAlloc2(MEM_REPLACE_PLACEHOLDER, PAGE_READONLY) on a part gives
 * MEM_COMMIT with AllocationProtect PAGE_READONLY.
 */
#include "wt.h"

#ifdef WT_NATIVE
START_TEST(placeholders)
{
    static const char *const names[] = { "reserve", "split", "coalesce", "replace" };
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        wt_skip_section(names[i], "VirtualAlloc2 placeholders are not part of winmem");
}
#else

#ifndef MEM_RESERVE_PLACEHOLDER
#define MEM_RESERVE_PLACEHOLDER 0x00040000
#endif
#ifndef MEM_REPLACE_PLACEHOLDER
#define MEM_REPLACE_PLACEHOLDER 0x00004000
#endif
#ifndef MEM_PRESERVE_PLACEHOLDER
#define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif
#ifndef MEM_COALESCE_PLACEHOLDERS
#define MEM_COALESCE_PLACEHOLDERS 0x00000001
#endif

typedef void *(WINAPI *virtual_alloc2_fn)(HANDLE, void *, SIZE_T, ULONG, ULONG, void *, ULONG);

static void expect_region(const char *what, const void *addr, SIZE_T size, DWORD state, DWORD protect,
                          DWORD alloc_protect)
{
    MEMORY_BASIC_INFORMATION mbi;
    memset(&mbi, 0xcc, sizeof(mbi));
    ok(VirtualQuery(addr, &mbi, sizeof(mbi)) == sizeof(mbi), "%s: VirtualQuery failed, error %u\n", what,
       (unsigned)GetLastError());
    ok(mbi.BaseAddress == addr, "%s: BaseAddress %p, expected %p\n", what, mbi.BaseAddress, addr);
    ok(mbi.RegionSize == size, "%s: RegionSize %#llx, expected %#llx\n", what, (unsigned long long)mbi.RegionSize,
       (unsigned long long)size);
    ok(mbi.State == state, "%s: State %#x, expected %#x\n", what, (unsigned)mbi.State, (unsigned)state);
    ok(mbi.Protect == protect, "%s: Protect %#x, expected %#x\n", what, (unsigned)mbi.Protect, (unsigned)protect);
    ok(mbi.Type == MEM_PRIVATE, "%s: Type %#x, expected MEM_PRIVATE (0x20000)\n", what, (unsigned)mbi.Type);
    ok(mbi.AllocationProtect == alloc_protect, "%s: AllocationProtect %#x, expected %#x\n", what,
       (unsigned)mbi.AllocationProtect, (unsigned)alloc_protect);
}

START_TEST(placeholders)
{
    virtual_alloc2_fn pVirtualAlloc2 =
        (virtual_alloc2_fn)(void *)GetProcAddress(GetModuleHandleA("kernelbase.dll"), "VirtualAlloc2");

    wt_section("reserve");
    if (!pVirtualAlloc2) {
        skip("kernelbase has no VirtualAlloc2\n");
        return;
    }
    char *p = pVirtualAlloc2(GetCurrentProcess(), NULL, 0x20000, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, NULL, 0);
    ok(p != NULL, "VirtualAlloc2(placeholder) failed, error %u, expected a placeholder\n",
       (unsigned)GetLastError());
    if (!p) {
        /* The rest works on that placeholder: name each part as skipped. */
        wt_skip_section("split", "no placeholder (see [reserve])");
        wt_skip_section("coalesce", "no placeholder (see [reserve])");
        wt_skip_section("replace", "no placeholder (see [reserve])");
        return;
    }
    expect_region("placeholder", p, 0x20000, MEM_RESERVE, 0, PAGE_NOACCESS);

    wt_section("split");
    ok(VirtualFree(p, 0x10000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER),
       "VirtualFree(MEM_PRESERVE_PLACEHOLDER) failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    expect_region("first part", p, 0x10000, MEM_RESERVE, 0, PAGE_NOACCESS);
    expect_region("second part", p + 0x10000, 0x10000, MEM_RESERVE, 0, PAGE_NOACCESS);

    wt_section("coalesce");
    ok(VirtualFree(p, 0x20000, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS),
       "VirtualFree(MEM_COALESCE_PLACEHOLDERS) failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    expect_region("coalesced", p, 0x20000, MEM_RESERVE, 0, PAGE_NOACCESS);

    wt_section("replace");
    ok(VirtualFree(p, 0x10000, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER), "split again failed, error %u\n",
       (unsigned)GetLastError());
    char *q = pVirtualAlloc2(GetCurrentProcess(), p, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_REPLACE_PLACEHOLDER, PAGE_READONLY,
                             NULL, 0);
    ok(q == p, "VirtualAlloc2(MEM_REPLACE_PLACEHOLDER) returned %p, expected %p; error %u\n", q, p,
       (unsigned)GetLastError());
    if (q == p) {
        expect_region("replaced", p, 0x10000, MEM_COMMIT, PAGE_READONLY, PAGE_READONLY);
        ok(VirtualFree(p, 0, MEM_RELEASE), "release replaced part failed, error %u\n", (unsigned)GetLastError());
    }
    VirtualFree(p + 0x10000, 0, MEM_RELEASE);
}
#endif
