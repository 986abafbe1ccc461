/*
 * Address Windowing Extensions, as Microsoft documents their use ("AWE
 * Example"): enable the lock-pages privilege, allocate frames, reserve a
 * MEM_PHYSICAL window, map, write, unmap, remap elsewhere, read back, free.
 * Then the documented failures. Wine 8.0 has only stubs for these
 * (ERROR_CALL_NOT_IMPLEMENTED); with winmem's shim a PE program gets
 * winmem's implementation and must give the same answers as the native run.
 */
#include "wt.h"

#define FRAMES 16

#if !defined(WT_NATIVE) && (defined(__WINE__) || defined(__WINESRC__) || !defined(_WIN32))
/* Wine's <winbase.h> declares only MapUserPhysicalPages; without these the
 * winelib build would call with the wrong convention. */
BOOL WINAPI AllocateUserPhysicalPages(HANDLE, PULONG_PTR, PULONG_PTR);
BOOL WINAPI FreeUserPhysicalPages(HANDLE, PULONG_PTR, PULONG_PTR);
#endif

static SIZE_T page;

#if !defined(WT_NATIVE)
/* The documented pattern first enables SeLockMemoryPrivilege. advapi32 is
 * loaded by hand so the test links with kernel32 alone. */
typedef BOOL (WINAPI *open_token_fn)(HANDLE, DWORD, PHANDLE);
typedef BOOL (WINAPI *lookup_fn)(LPCSTR, LPCSTR, PLUID);
typedef BOOL (WINAPI *adjust_fn)(HANDLE, BOOL, PTOKEN_PRIVILEGES, DWORD, PTOKEN_PRIVILEGES, PDWORD);
static void enable_lock_privilege(void)
{
    HMODULE adv = LoadLibraryA("advapi32.dll");
    open_token_fn open_token = adv ? (open_token_fn)(void *)GetProcAddress(adv, "OpenProcessToken") : NULL;
    lookup_fn lookup = adv ? (lookup_fn)(void *)GetProcAddress(adv, "LookupPrivilegeValueA") : NULL;
    adjust_fn adjust = adv ? (adjust_fn)(void *)GetProcAddress(adv, "AdjustTokenPrivileges") : NULL;
    HANDLE token;
    TOKEN_PRIVILEGES tp;
    if (!open_token || !lookup || !adjust || !open_token(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &token))
        return;
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    if (lookup(NULL, "SeLockMemoryPrivilege", &tp.Privileges[0].Luid))
        adjust(token, FALSE, &tp, 0, NULL, NULL);
    CloseHandle(token);
}
#else
static void enable_lock_privilege(void) {}   /* Linux: CAP_IPC_LOCK or RLIMIT_MEMLOCK */
#endif

/* MapUserPhysicalPagesScatter: Wine's headers and import libraries lack it,
 * so the winelib build looks it up (and skips when it is absent). */
typedef BOOL (WINAPI *scatter_fn)(PVOID *, ULONG_PTR, PULONG_PTR);
static scatter_fn get_scatter(void)
{
#if defined(WT_NATIVE) || !(defined(__WINE__) || defined(__WINESRC__) || !defined(_WIN32))
    return MapUserPhysicalPagesScatter;
#else
    return (scatter_fn)(void *)GetProcAddress(GetModuleHandleA("kernel32.dll"), "MapUserPhysicalPagesScatter");
#endif
}

/* QueryVirtualMemoryInformation(MemoryRegionInfo): mingw's import library
 * lacks it, so the PE builds find it in kernelbase. */
typedef struct {
    PVOID AllocationBase;
    ULONG AllocationProtect;
    ULONG Flags;             /* bit 0 Private, bit 4 MappedPhysical */
    SIZE_T RegionSize;
    SIZE_T CommitSize;
} AWE_REGION_INFO;
typedef BOOL (WINAPI *qvmi_fn)(HANDLE, const VOID *, int, PVOID, SIZE_T, PSIZE_T);
#ifdef WT_NATIVE
static BOOL WINAPI qvmi_native(HANDLE h, const VOID *a, int cls, PVOID buf, SIZE_T size, PSIZE_T ret)
{
    return QueryVirtualMemoryInformation(h, a, (WIN32_MEMORY_INFORMATION_CLASS)cls, buf, size, ret);
}
#endif
static qvmi_fn get_qvmi(void)
{
#ifdef WT_NATIVE
    return qvmi_native;
#else
    HMODULE kb = GetModuleHandleA("kernelbase.dll");
    return kb ? (qvmi_fn)(void (*)(void))GetProcAddress(kb, "QueryVirtualMemoryInformation") : NULL;
#endif
}

static void check_region(const char *p, const char *base, SIZE_T size, SIZE_T committed)
{
    qvmi_fn qvmi = get_qvmi();
    AWE_REGION_INFO ri;
    SIZE_T ret = 0;
    if (!qvmi) {
        skip("QueryVirtualMemoryInformation is not exported\n");
        return;
    }
    memset(&ri, 0xcc, sizeof ri);
    if (!ok(qvmi(GetCurrentProcess(), p, 0, &ri, sizeof ri, &ret), "QueryVirtualMemoryInformation failed, error %u\n",
            (unsigned)GetLastError()))
        return;
    ok(ri.AllocationBase == base, "region AllocationBase %p, expected %p\n", ri.AllocationBase, base);
    ok(ri.Flags & 0x10, "region Flags %#x, expected MappedPhysical (0x10) set\n", (unsigned)ri.Flags);
    ok(ri.RegionSize == size, "region RegionSize %#llx, expected the whole window %#llx\n",
       (unsigned long long)ri.RegionSize, (unsigned long long)size);
    ok(ri.CommitSize == committed, "region CommitSize %#llx, expected the mapped bytes %#llx\n",
       (unsigned long long)ri.CommitSize, (unsigned long long)committed);
}

static char *reserve_window(SIZE_T pages)
{
    return VirtualAlloc(NULL, pages * page, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
}

static void check_state(const char *p, DWORD state, DWORD protect, SIZE_T size, const char *base, const char *what)
{
    MEMORY_BASIC_INFORMATION mbi;
    ok(VirtualQuery(p, &mbi, sizeof mbi) == sizeof mbi, "%s: VirtualQuery failed, error %u\n", what, (unsigned)GetLastError());
    ok(mbi.State == state, "%s: State %#x, expected %#x\n", what, (unsigned)mbi.State, (unsigned)state);
    ok(mbi.Protect == protect, "%s: Protect %#x, expected %#x\n", what, (unsigned)mbi.Protect, (unsigned)protect);
    ok(mbi.Type == MEM_PRIVATE, "%s: Type %#x, expected MEM_PRIVATE (0x20000)\n", what, (unsigned)mbi.Type);
    ok(mbi.AllocationBase == base, "%s: AllocationBase %p, expected %p\n", what, mbi.AllocationBase, base);
    ok(mbi.AllocationProtect == PAGE_READWRITE, "%s: AllocationProtect %#x, expected PAGE_READWRITE (4)\n",
       what, (unsigned)mbi.AllocationProtect);
    if (size)
        ok(mbi.RegionSize == size, "%s: RegionSize %#llx, expected %#llx\n", what,
           (unsigned long long)mbi.RegionSize, (unsigned long long)size);
}

static void test_pattern(void)
{
    ULONG_PTR n = FRAMES, pfn[FRAMES], i;
    wt_section("pattern");
    enable_lock_privilege();
    SetLastError(0xdeadbeef);
    BOOL r = AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn);
    ok(r, "AllocateUserPhysicalPages failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    if (!r)
        return;
    ok(n == FRAMES, "NumberOfPages %llu, expected %u\n", (unsigned long long)n, FRAMES);
    char *win = reserve_window(FRAMES), *win2 = reserve_window(2 * FRAMES);
    ok(win && win2, "VirtualAlloc(MEM_RESERVE|MEM_PHYSICAL) failed, error %u\n", (unsigned)GetLastError());
    if (!win || !win2)
        return;
    ok(((ULONG_PTR)win & 0xffff) == 0, "window %p, expected 64 KiB aligned\n", win);

    r = MapUserPhysicalPages(win, n, pfn);
    ok(r, "MapUserPhysicalPages failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    if (!r)
        return;
    for (i = 0; i < n; i++)
        memset(win + i * page, (int)(0x40 + i), page);
    check_state(win, MEM_COMMIT, PAGE_READWRITE, n * page, win, "mapped window");
    check_region(win + page, win, n * page, n * page);

    ok(MapUserPhysicalPages(win, n, NULL), "unmap failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    check_state(win, MEM_RESERVE, 0, 0, win, "unmapped window");

    /* Remap at another address, in reverse order: the data moved with the frames. */
    ULONG_PTR rev[FRAMES];
    for (i = 0; i < n; i++)
        rev[i] = pfn[n - 1 - i];
    r = MapUserPhysicalPages(win2 + 3 * page, n, rev);
    ok(r, "remap failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    if (r) {
        int bad = 0;
        for (i = 0; i < n; i++)
            bad += win2[(3 + i) * page] != (char)(0x40 + n - 1 - i) || win2[(3 + i) * page + page - 1] != (char)(0x40 + n - 1 - i);
        ok(bad == 0, "%d remapped pages hold other data, expected 0\n", bad);
        check_state(win2, MEM_RESERVE, 0, 3 * page, win2, "window below the frames");
        check_state(win2 + 3 * page, MEM_COMMIT, PAGE_READWRITE, n * page, win2, "remapped frames");
        check_region(win2, win2, 2 * n * page, n * page);
        ok(MapUserPhysicalPages(win2 + 3 * page, n, NULL), "unmap failed, error %u\n", (unsigned)GetLastError());
    }
    ok(FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn), "FreeUserPhysicalPages failed, error %u\n",
       (unsigned)GetLastError());
    ok(n == FRAMES, "freed %llu pages, expected %u\n", (unsigned long long)n, FRAMES);
    ok(VirtualFree(win, 0, MEM_RELEASE), "VirtualFree failed, error %u\n", (unsigned)GetLastError());
    ok(VirtualFree(win2, 0, MEM_RELEASE), "VirtualFree failed, error %u\n", (unsigned)GetLastError());
}

static void expect_error(BOOL r, DWORD err, const char *what)
{
    DWORD got = GetLastError();
    ok(!r, "%s succeeded, expected FALSE\n", what);
    ok(got == err, "%s: error %u, expected %u\n", what, (unsigned)got, (unsigned)err);
}

static void test_errors(void)
{
    ULONG_PTR n = 4, pfn[4], bogus[2];
    wt_section("errors");
    if (!AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn) || n != 4) {
        ok(0, "AllocateUserPhysicalPages failed, error %u, expected TRUE\n", (unsigned)GetLastError());
        return;
    }
    char *win = reserve_window(8), *win2 = reserve_window(8);
    char *plain = VirtualAlloc(NULL, 4 * page, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    ok(win && win2 && plain, "VirtualAlloc failed, error %u\n", (unsigned)GetLastError());
    if (!win || !win2 || !plain)
        return;
    ok(MapUserPhysicalPages(win, 2, pfn), "map failed, error %u\n", (unsigned)GetLastError());
    win[0] = 'k';

    SetLastError(0xdeadbeef);
    expect_error(MapUserPhysicalPages(win2, 1, pfn), ERROR_INVALID_PARAMETER, "frame mapped twice");
    ok(win[0] == 'k', "the first mapping changed: %d, expected 'k'\n", win[0]);
    check_state(win2, MEM_RESERVE, 0, 0, win2, "window after the refused map");
    bogus[0] = pfn[2];
    bogus[1] = pfn[2];
    expect_error(MapUserPhysicalPages(win2, 2, bogus), ERROR_INVALID_PARAMETER, "frame listed twice");
    bogus[1] = 0x7fff0000;
    expect_error(MapUserPhysicalPages(win2, 2, bogus), ERROR_INVALID_ADDRESS, "frame never allocated");
    check_state(win2, MEM_RESERVE, 0, 0, win2, "window after the refused maps");
    expect_error(MapUserPhysicalPages(plain, 1, &pfn[2]), ERROR_INVALID_PARAMETER, "address outside a MEM_PHYSICAL window");
    ok(plain[0] == 0, "plain memory changed\n");
    expect_error(MapUserPhysicalPages(win + 7 * page, 2, &pfn[2]), ERROR_INVALID_PARAMETER, "range past the window's end");
    expect_error(MapUserPhysicalPages(win2, 0, &pfn[2]), ERROR_INVALID_PARAMETER, "zero pages");
    expect_error(AllocateUserPhysicalPages(GetCurrentProcess(), NULL, pfn), ERROR_NOACCESS, "NULL NumberOfPages");
    ULONG_PTR zero = 0;
    expect_error(FreeUserPhysicalPages(GetCurrentProcess(), &zero, pfn), ERROR_INVALID_PARAMETER, "free of 0 pages");
    n = 2;
    expect_error(FreeUserPhysicalPages(GetCurrentProcess(), &n, bogus), ERROR_INVALID_ADDRESS, "free of a bad frame list");
    ok(n == 1, "freed %llu pages before the bad one, expected 1\n", (unsigned long long)n);
    ok(win[0] == 'k', "the mapping changed: %d, expected 'k'\n", win[0]);

    /* Freed while mapped: the page goes back to reserved. */
    n = 2;
    ok(FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn), "free failed, error %u\n", (unsigned)GetLastError());
    check_state(win, MEM_RESERVE, 0, 0, win, "window after freeing its frames");
    expect_error(MapUserPhysicalPages(win, 1, pfn), ERROR_INVALID_ADDRESS, "map of a freed frame");
    n = 1;
    ok(FreeUserPhysicalPages(GetCurrentProcess(), &n, &pfn[3]), "free failed, error %u\n", (unsigned)GetLastError());
    expect_error(VirtualAlloc(NULL, page, MEM_COMMIT | MEM_PHYSICAL, PAGE_READWRITE) != NULL,
                 ERROR_INVALID_PARAMETER, "MEM_PHYSICAL without MEM_RESERVE");
    VirtualFree(win, 0, MEM_RELEASE);
    VirtualFree(win2, 0, MEM_RELEASE);
    VirtualFree(plain, 0, MEM_RELEASE);
}

static void test_scatter(void)
{
    scatter_fn scatter = get_scatter();
    ULONG_PTR n = 3, pfn[3], f[3];
    wt_section("scatter");
    if (!scatter) {
        skip("MapUserPhysicalPagesScatter is not exported\n");
        return;
    }
    if (!AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn) || n != 3) {
        ok(0, "AllocateUserPhysicalPages failed, error %u\n", (unsigned)GetLastError());
        return;
    }
    char *a = reserve_window(4), *b = reserve_window(4);
    PVOID at[3] = { a + 2 * page, b, a };
    ok(scatter(at, 3, pfn), "scatter failed, error %u, expected TRUE\n", (unsigned)GetLastError());
    a[2 * page] = 1;
    b[0] = 2;
    a[0] = 3;
    check_state(a, MEM_COMMIT, PAGE_READWRITE, page, a, "scattered page");
    check_state(a + page, MEM_RESERVE, 0, page, a, "gap between scattered pages");
    /* pfn[2] is mapped at a: moving it in the same call that unmaps a is refused. */
    f[0] = 0;
    f[1] = pfn[2];
    PVOID at2[2] = { a, b + 3 * page };
    SetLastError(0xdeadbeef);
    expect_error(scatter(at2, 2, f), ERROR_INVALID_PARAMETER, "scatter of a frame mapped elsewhere");
    ok(a[0] == 3, "refused scatter changed the page: %d, expected 3\n", a[0]);
    ok(scatter(at2, 1, f), "scatter (unmap) failed, error %u\n", (unsigned)GetLastError());
    check_state(a, MEM_RESERVE, 0, 2 * page, a, "page unmapped by a 0 entry (and the gap after it)");
    if (ok(scatter(&at2[1], 1, &f[1]), "scatter (map) failed, error %u\n", (unsigned)GetLastError()))
        ok(b[3 * page] == 3, "moved frame holds %d, expected 3\n", b[3 * page]);
    PVOID outside = &n;
    expect_error(scatter(&outside, 1, &pfn[0]), ERROR_INVALID_PARAMETER, "scatter outside a window");
    ok(scatter(NULL, 0, NULL), "scatter of 0 pages failed, error %u\n", (unsigned)GetLastError());
    n = 3;
    ok(FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn), "free failed, error %u\n", (unsigned)GetLastError());
    check_state(b, MEM_RESERVE, 0, 0, b, "after free");
    VirtualFree(a, 0, MEM_RELEASE);
    VirtualFree(b, 0, MEM_RELEASE);
}

/* ---- threads: 4 threads map and unmap their own windows at once ---- */

#ifdef WT_NATIVE
#include <pthread.h>
typedef pthread_t awe_thread;
#define THREAD_RET void *
#define THREAD_CC
#else
typedef HANDLE awe_thread;
#define THREAD_RET DWORD
#define THREAD_CC WINAPI
#endif

static THREAD_RET THREAD_CC mapper(void *arg)
{
    ULONG_PTR id = (ULONG_PTR)arg, n = 8, pfn[8], bad = 0;
    if (!AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn) || n != 8)
        return (THREAD_RET)1000;
    char *w = reserve_window(16);
    if (!w)
        return (THREAD_RET)2000;
    for (int round = 0; round < 200; round++) {
        char *at = w + (round % 9) * page;
        if (!MapUserPhysicalPages(at, 8, pfn)) {
            bad++;
            break;
        }
        if (round && at[5 * page] != (char)(id * 16 + (round - 1) % 16))
            bad++;                         /* another thread's data, or lost */
        memset(at, (int)(id * 16 + round % 16), 8 * page);
        if (!MapUserPhysicalPages(at, 8, NULL))
            bad++;
    }
    if (!FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn))
        bad++;
    VirtualFree(w, 0, MEM_RELEASE);
    return (THREAD_RET)bad;
}

/* Runs fn in 4 threads (argument 0..3) and returns what each returned. */
static void run_four(THREAD_RET (THREAD_CC *fn)(void *), ULONG_PTR r[4])
{
    awe_thread t[4];
    for (ULONG_PTR i = 0; i < 4; i++) {
#ifdef WT_NATIVE
        ok(pthread_create(&t[i], NULL, fn, (void *)i) == 0, "pthread_create failed\n");
#else
        t[i] = CreateThread(NULL, 0, (LPTHREAD_START_ROUTINE)fn, (void *)i, 0, NULL);
        ok(t[i] != NULL, "CreateThread failed, error %u\n", (unsigned)GetLastError());
#endif
    }
    for (int i = 0; i < 4; i++) {
#ifdef WT_NATIVE
        void *v;
        pthread_join(t[i], &v);
        r[i] = (ULONG_PTR)v;
#else
        DWORD code = 1;
        WaitForSingleObject(t[i], INFINITE);
        GetExitCodeThread(t[i], &code);
        CloseHandle(t[i]);
        r[i] = code;
#endif
    }
}

static void test_threads(void)
{
    ULONG_PTR r[4];
    wt_section("threads");
    run_four(mapper, r);
    for (int i = 0; i < 4; i++)
        ok(r[i] == 0, "thread %d: %llu failures (1000: no frames, 2000: no window), expected 0\n", i,
           (unsigned long long)r[i]);
}

/* ---- churn: windows released and reserved again at once by 4 threads ----
 * A released window's range goes back to the system and the next
 * reservation, in any thread, may get it at once: it must then be a
 * window like any other (the shim once kept a released window in its books
 * a moment too long, and the other thread's VirtualAlloc failed). */

static THREAD_RET THREAD_CC churner(void *arg)
{
    ULONG_PTR id = (ULONG_PTR)arg, n = 1, pfn[1], bad = 0;
    if (!AllocateUserPhysicalPages(GetCurrentProcess(), &n, pfn) || n != 1)
        return (THREAD_RET)1000000;
    for (int round = 0; round < 500; round++) {
        char *w = reserve_window(16);
        if (!w) {
            bad += 1000;
            continue;
        }
        if (!MapUserPhysicalPages(w + (round % 16) * page, 1, pfn))
            bad++;
        else if ((w[(round % 16) * page] = (char)id), !MapUserPhysicalPages(w + (round % 16) * page, 1, NULL))
            bad++;
        if (!VirtualFree(w, 0, MEM_RELEASE))
            bad++;
    }
    if (!FreeUserPhysicalPages(GetCurrentProcess(), &n, pfn))
        bad++;
    return (THREAD_RET)bad;
}

static void test_churn(void)
{
    ULONG_PTR r[4];
    wt_section("churn");
    run_four(churner, r);
    for (int i = 0; i < 4; i++)
        ok(r[i] == 0, "thread %d: %llu (x1000000: no frame, x1000: windows not reserved, units: map/unmap/release "
           "failures), expected 0\n", i, (unsigned long long)r[i]);
}

START_TEST(awe)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    page = si.dwPageSize;
    test_pattern();
    test_errors();
    test_scatter();
    test_threads();
    test_churn();
}
