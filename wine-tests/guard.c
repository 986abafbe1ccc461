/*
 * wine-tests/guard.c — PAGE_GUARD as Windows defines it: a one-shot alarm.
 *
 * Windows: a guard page reports PAGE_GUARD in Protect and AllocationProtect;
 * the first access raises one STATUS_GUARD_PAGE_VIOLATION and clears the
 * guard (Protect drops PAGE_GUARD, AllocationProtect keeps it), so the
 * access succeeds when the handler continues, and a second access raises
 * nothing. VirtualLock on a guard page fails once with
 * STATUS_GUARD_PAGE_VIOLATION as the error and clears the guard.
 *
 * The exception is counted by a vectored handler in pe/winelib and by
 * winmem_GuardPageHits() natively (Linux has no SEH; docs/allocation.md).
 */
#include "wt.h"

#ifndef STATUS_GUARD_PAGE_VIOLATION
#define STATUS_GUARD_PAGE_VIOLATION ((NTSTATUS)0x80000001)
#endif

#ifdef WT_NATIVE
static ULONG64 hits_start;
static void hits_reset(void) { hits_start = winmem_GuardPageHits(); }
static unsigned hits(void) { return (unsigned)(winmem_GuardPageHits() - hits_start); }
#else
static volatile LONG guard_hits;
static LONG WINAPI on_exception(EXCEPTION_POINTERS *ep)
{
    if (ep->ExceptionRecord->ExceptionCode != (DWORD)STATUS_GUARD_PAGE_VIOLATION)
        return EXCEPTION_CONTINUE_SEARCH;
    InterlockedIncrement(&guard_hits);
    return EXCEPTION_CONTINUE_EXECUTION;   /* the guard is gone: the access now succeeds */
}
static void hits_reset(void) { guard_hits = 0; }
static unsigned hits(void) { return (unsigned)guard_hits; }
#endif

START_TEST(guard)
{
    MEMORY_BASIC_INFORMATION mbi;
    DWORD old;

#ifndef WT_NATIVE
    void *veh = AddVectoredExceptionHandler(1, on_exception);
#endif
    wt_section("query");
    volatile char *p = VirtualAlloc(NULL, 0x2000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
    ok(p != NULL, "VirtualAlloc(PAGE_READWRITE | PAGE_GUARD) failed, error %u\n", (unsigned)GetLastError());
    if (!p)
        return;
    wt_query((const void *)p, &mbi);
    ok(mbi.Protect == (PAGE_READWRITE | PAGE_GUARD), "Protect %#x, expected PAGE_READWRITE | PAGE_GUARD (0x104)\n",
       (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == (PAGE_READWRITE | PAGE_GUARD),
       "AllocationProtect %#x, expected PAGE_READWRITE | PAGE_GUARD (0x104)\n", (unsigned)mbi.AllocationProtect);
    ok(mbi.State == MEM_COMMIT, "State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)mbi.State);

    wt_section("first_access");
    hits_reset();
    char c = p[0];
    ok(c == 0, "guard page byte %d, expected 0\n", c);
    ok(hits() == 1, "%u guard-page exceptions on the first access, expected 1\n", hits());
    c = p[1];
    ok(hits() == 1, "%u guard-page exceptions after a second access, expected still 1 (one-shot)\n", hits());
    wt_query((const void *)p, &mbi);
    ok(mbi.Protect == PAGE_READWRITE, "after the access: Protect %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)mbi.Protect);
    ok(mbi.AllocationProtect == (PAGE_READWRITE | PAGE_GUARD),
       "after the access: AllocationProtect %#x, expected PAGE_READWRITE | PAGE_GUARD (0x104), unchanged\n",
       (unsigned)mbi.AllocationProtect);
    wt_query((const void *)(p + 0x1000), &mbi);
    ok(mbi.Protect == (PAGE_READWRITE | PAGE_GUARD), "untouched second page: Protect %#x, expected 0x104\n",
       (unsigned)mbi.Protect);

    wt_section("virtual_lock");
    SetLastError(0xdeadbeef);
    BOOL r = VirtualLock((void *)(p + 0x1000), 0x1000);
    ok(!r, "VirtualLock on a guard page succeeded, expected FALSE\n");
    ok(GetLastError() == (DWORD)STATUS_GUARD_PAGE_VIOLATION,
       "VirtualLock error %#x, expected STATUS_GUARD_PAGE_VIOLATION (0x80000001)\n", (unsigned)GetLastError());
    wt_query((const void *)(p + 0x1000), &mbi);
    ok(mbi.Protect == PAGE_READWRITE, "after VirtualLock: Protect %#x, expected PAGE_READWRITE (0x4), guard cleared\n",
       (unsigned)mbi.Protect);
    r = VirtualLock((void *)(p + 0x1000), 0x1000);
    ok(r, "second VirtualLock failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    if (r)
        VirtualUnlock((void *)(p + 0x1000), 0x1000);

    wt_section("reprotect");
    ok(VirtualProtect((void *)p, 0x1000, PAGE_READONLY | PAGE_GUARD, &old), "VirtualProtect failed, error %u\n",
       (unsigned)GetLastError());
    ok(old == PAGE_READWRITE, "old protection %#x, expected PAGE_READWRITE (0x4)\n", (unsigned)old);
    wt_query((const void *)p, &mbi);
    ok(mbi.Protect == (PAGE_READONLY | PAGE_GUARD), "Protect %#x, expected PAGE_READONLY | PAGE_GUARD (0x102)\n",
       (unsigned)mbi.Protect);
    hits_reset();
    c = p[0];
    ok(hits() == 1, "%u guard-page exceptions, expected 1 after re-arming\n", hits());

    VirtualFree((void *)p, 0, MEM_RELEASE);
#ifndef WT_NATIVE
    RemoveVectoredExceptionHandler(veh);
#endif
}
