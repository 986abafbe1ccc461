/*
 * wine-tests/exact.c — what a large Windows test suite showed native mode
 * getting wrong: views in every protection (copy-on-write written and not),
 * VirtualProtect's old protection agreeing with the query, stacks of many
 * new threads (also where an exited thread's stack was), a reservation's
 * whole life, and the small answers (mapped file names of pagefile views,
 * short buffers, KUSER_SHARED_DATA, a page only read).
 */
#include "wt.h"
#ifdef WT_NATIVE
#include <pthread.h>
#endif

#define STATUS_BUFFER_OVERFLOW_ ((NTSTATUS)0x80000005)

/* One reservation through its life: reserve, commit part, decommit, release. */
static void reserve_cycle(void)
{
    wt_section("reserve_cycle");
    MEMORY_BASIC_INFORMATION m;
    char *p = VirtualAlloc(NULL, 0x40000, MEM_RESERVE, PAGE_READWRITE);
    if (!ok(p != NULL, "reserve: error %u\n", (unsigned)GetLastError()))
        return;
    if (wt_query(p + 0x5000, &m))
        ok(m.State == MEM_RESERVE && m.Protect == 0 && m.AllocationBase == p && m.RegionSize == 0x3b000 &&
           m.AllocationProtect == PAGE_READWRITE,
           "reserved: State %#x Protect %#x AllocationBase %p RegionSize %#llx AllocationProtect %#x, expected "
           "MEM_RESERVE, 0, %p, 0x3b000, PAGE_READWRITE\n", (unsigned)m.State, (unsigned)m.Protect,
           m.AllocationBase, (unsigned long long)m.RegionSize, (unsigned)m.AllocationProtect, p);
    ok(VirtualAlloc(p + 0x10000, 0x8000, MEM_COMMIT, PAGE_READONLY) == p + 0x10000, "commit: error %u\n",
       (unsigned)GetLastError());
    if (wt_query(p + 0x11000, &m))
        ok(m.State == MEM_COMMIT && m.Protect == PAGE_READONLY && m.BaseAddress == p + 0x11000 &&
           m.RegionSize == 0x7000 && m.AllocationBase == p,
           "committed: State %#x Protect %#x RegionSize %#llx AllocationBase %p, expected MEM_COMMIT, "
           "PAGE_READONLY, 0x7000, %p\n", (unsigned)m.State, (unsigned)m.Protect, (unsigned long long)m.RegionSize,
           m.AllocationBase, p);
    if (wt_query(p, &m))
        ok(m.State == MEM_RESERVE && m.RegionSize == 0x10000, "below: State %#x RegionSize %#llx, expected "
           "MEM_RESERVE, 0x10000\n", (unsigned)m.State, (unsigned long long)m.RegionSize);
    ok(VirtualFree(p + 0x12000, 0x2000, MEM_DECOMMIT), "decommit: error %u\n", (unsigned)GetLastError());
    if (wt_query(p + 0x12000, &m))
        ok(m.State == MEM_RESERVE && m.Protect == 0 && m.RegionSize == 0x2000, "decommitted: State %#x Protect %#x "
           "RegionSize %#llx, expected MEM_RESERVE, 0, 0x2000\n", (unsigned)m.State, (unsigned)m.Protect,
           (unsigned long long)m.RegionSize);
    if (wt_query(p + 0x14000, &m))
        ok(m.State == MEM_COMMIT && m.RegionSize == 0x4000, "after the hole: State %#x RegionSize %#llx, expected "
           "MEM_COMMIT, 0x4000\n", (unsigned)m.State, (unsigned long long)m.RegionSize);
    ok(VirtualFree(p, 0, MEM_RELEASE), "release: error %u\n", (unsigned)GetLastError());
    if (wt_query(p + 0x11000, &m))
        ok(m.State == MEM_FREE && m.AllocationBase == NULL, "released: State %#x AllocationBase %p, expected "
           "MEM_FREE, NULL\n", (unsigned)m.State, m.AllocationBase);
}

/* MEM_COMMIT alone with no address reserves and commits in one; a decommit
 * of size 0 at the base decommits the whole allocation. */
static void commit_only(void)
{
    wt_section("commit_only");
    MEMORY_BASIC_INFORMATION m;
    char *p = VirtualAlloc(NULL, 0x20000, MEM_COMMIT, PAGE_READWRITE);
    if (!ok(p != NULL, "commit: error %u\n", (unsigned)GetLastError()))
        return;
    if (wt_query(p + 0x3000, &m))
        ok(m.State == MEM_COMMIT && m.AllocationBase == p && m.RegionSize == 0x1d000 &&
           m.AllocationProtect == PAGE_READWRITE, "committed: State %#x AllocationBase %p RegionSize %#llx "
           "AllocationProtect %#x, expected MEM_COMMIT, %p, 0x1d000, PAGE_READWRITE\n", (unsigned)m.State,
           m.AllocationBase, (unsigned long long)m.RegionSize, (unsigned)m.AllocationProtect, p);
    ok(VirtualFree(p, 0, MEM_DECOMMIT), "decommit all: error %u\n", (unsigned)GetLastError());
    if (wt_query(p + 0x3000, &m))
        ok(m.State == MEM_RESERVE && m.BaseAddress == p + 0x3000 && m.RegionSize == 0x1d000,
           "decommitted: State %#x RegionSize %#llx, expected MEM_RESERVE, 0x1d000\n", (unsigned)m.State,
           (unsigned long long)m.RegionSize);
    ok(VirtualFree(p, 0, MEM_RELEASE), "release: error %u\n", (unsigned)GetLastError());
}

/* A page only read is the process's own zero-filled page to Windows:
 * valid, not shared (Linux maps its shared zero page there). */
static void zero_page(void)
{
    wt_section("zero_page");
    volatile char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!ok(p != NULL, "alloc: error %u\n", (unsigned)GetLastError()))
        return;
    char c = p[0x1000];
    (void)c;
    MEMORY_WORKING_SET_EX_INFORMATION ws;
    memset(&ws, 0, sizeof ws);
    ws.VirtualAddress = (void *)(p + 0x1000);
    ok(QueryWorkingSetEx(GetCurrentProcess(), &ws, sizeof ws), "QueryWorkingSetEx: error %u\n",
       (unsigned)GetLastError());
    ok(!ws.VirtualAttributes.Shared && !ws.VirtualAttributes.ShareCount,
       "read-only touched private page: Shared %u ShareCount %u, expected 0 and 0\n",
       (unsigned)ws.VirtualAttributes.Shared, (unsigned)ws.VirtualAttributes.ShareCount);
    VirtualFree((void *)p, 0, MEM_RELEASE);
}

#ifdef WT_NATIVE
static void views(void)
{
    static const char *const names[] = { "view_readonly", "view_readwrite", "view_writecopy",
        "view_writecopy_written", "view_execute_read", "view_execute_readwrite", "view_execute_writecopy",
        "view_execute_writecopy_written", "view_protect_old", "view_protect_old_written", "pagefile_name", "kuser_shared" };
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
        wt_skip_section(names[i], "file mappings (CreateFileMapping/MapViewOfFile) and KUSER_SHARED_DATA are not part of winmem");
}
#else
#ifndef FILE_MAP_EXECUTE
#define FILE_MAP_EXECUTE 0x20
#endif

/* A pagefile-backed view in one access; its query, and (written) the
 * copy-on-write page turned the process's own. */
static void view_section(const char *name, DWORD access, DWORD prot, int write, DWORD after)
{
    wt_section(name);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_EXECUTE_READWRITE, 0, 0x10000, NULL);
    if (!ok(h != NULL, "CreateFileMapping: error %u\n", (unsigned)GetLastError()))
        return;
    char *v = MapViewOfFile(h, access, 0, 0, 0x10000);
    if (ok(v != NULL, "MapViewOfFile(%#x): error %u\n", (unsigned)access, (unsigned)GetLastError())) {
        MEMORY_BASIC_INFORMATION m;
        if (write)
            v[0x1000] = 1;
        if (wt_query(v, &m))
            ok(m.AllocationBase == v && m.AllocationProtect == prot && m.State == MEM_COMMIT && m.Protect == prot &&
               m.Type == MEM_MAPPED && m.RegionSize == (write ? 0x1000 : 0x10000),
               "view: AllocationBase %p AllocationProtect %#x State %#x Protect %#x Type %#x RegionSize %#llx, "
               "expected %p, %#x, MEM_COMMIT, %#x, MEM_MAPPED, %#x\n", m.AllocationBase, (unsigned)m.AllocationProtect,
               (unsigned)m.State, (unsigned)m.Protect, (unsigned)m.Type, (unsigned long long)m.RegionSize, v,
               (unsigned)prot, (unsigned)prot, write ? 0x1000 : 0x10000);
        if (write && wt_query(v + 0x1000, &m))
            ok(m.Protect == after && m.RegionSize == 0x1000 && m.AllocationBase == v,
               "written page: Protect %#x RegionSize %#llx AllocationBase %p, expected %#x, 0x1000, %p\n",
               (unsigned)m.Protect, (unsigned long long)m.RegionSize, m.AllocationBase, (unsigned)after, v);
        ok(UnmapViewOfFile(v), "UnmapViewOfFile: error %u\n", (unsigned)GetLastError());
    }
    CloseHandle(h);
}

/* VirtualProtect on a view: the old protection it returns is what the query
 * said, and the query then says the new one (two truths never). */
static void view_protect_old(void)
{
    static const DWORD news[] = { PAGE_READONLY, PAGE_WRITECOPY, PAGE_EXECUTE_READ, PAGE_NOACCESS,
                                  PAGE_READWRITE, PAGE_EXECUTE_READWRITE, PAGE_READWRITE | PAGE_GUARD };
    wt_section("view_protect_old");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_EXECUTE_READWRITE, 0, 0x10000, NULL);
    char *v = h ? MapViewOfFile(h, FILE_MAP_WRITE | FILE_MAP_EXECUTE, 0, 0, 0x10000) : NULL;
    if (!ok(v != NULL, "view: error %u\n", (unsigned)GetLastError()))
        return;
    for (unsigned i = 0; i < sizeof news / sizeof *news; i++) {
        MEMORY_BASIC_INFORMATION m;
        DWORD old = 0xdead;
        if (!wt_query(v + 0x2000, &m))
            break;
        ok(VirtualProtect(v + 0x2000, 0x1000, news[i], &old), "VirtualProtect(%#x): error %u\n", (unsigned)news[i],
           (unsigned)GetLastError());
        ok(old == m.Protect, "VirtualProtect(%#x): old %#x, but the query said %#x\n", (unsigned)news[i],
           (unsigned)old, (unsigned)m.Protect);
        if (wt_query(v + 0x2000, &m))
            /* the view's own protection again: one region with the rest */
            ok(m.Protect == news[i] && m.RegionSize == (news[i] == PAGE_EXECUTE_READWRITE ? 0xe000 : 0x1000) &&
               m.AllocationBase == v,
               "after VirtualProtect(%#x): Protect %#x RegionSize %#llx AllocationBase %p, expected %#x, %#x, %p\n",
               (unsigned)news[i], (unsigned)m.Protect, (unsigned long long)m.RegionSize, m.AllocationBase,
               (unsigned)news[i], news[i] == PAGE_EXECUTE_READWRITE ? 0xe000 : 0x1000, v);
    }
    UnmapViewOfFile(v);
    CloseHandle(h);
}

/* The same on a copy-on-write page that was written: the query and the old
 * protection VirtualProtect returns must tell one story. */
static void view_protect_old_written(void)
{
    wt_section("view_protect_old_written");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x10000, NULL);
    char *v = h ? MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0x10000) : NULL;
    if (!ok(v != NULL, "view: error %u\n", (unsigned)GetLastError()))
        return;
    v[0x2000] = 1;
    MEMORY_BASIC_INFORMATION m;
    DWORD old = 0xdead;
    if (wt_query(v + 0x2000, &m)) {
        ok(VirtualProtect(v + 0x2000, 0x1000, PAGE_READONLY, &old), "VirtualProtect: error %u\n",
           (unsigned)GetLastError());
        ok(old == m.Protect, "written copy-on-write page: VirtualProtect's old protection %#x, but the query said %#x\n",
           (unsigned)old, (unsigned)m.Protect);
    }
    UnmapViewOfFile(v);
    CloseHandle(h);
}

/* A pagefile-backed view has no file: GetMappedFileName fails with
 * ERROR_FILE_INVALID. */
static void names(void)
{
    wt_section("pagefile_name");
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x10000, NULL);
    char *v = h ? MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0x10000) : NULL;
    if (ok(v != NULL, "view: error %u\n", (unsigned)GetLastError())) {
        char buf[MAX_PATH];
        SetLastError(0xdeadbeef);
        DWORD n = GetMappedFileNameA(GetCurrentProcess(), v, buf, sizeof buf);
        ok(n == 0 && GetLastError() == ERROR_FILE_INVALID, "GetMappedFileName(pagefile view): %u \"%s\", error %u, "
           "expected 0 and ERROR_FILE_INVALID (1006)\n", (unsigned)n, n ? buf : "", (unsigned)GetLastError());
        UnmapViewOfFile(v);
    }
    CloseHandle(h);
}

static void kuser_shared(void)
{
    wt_section("kuser_shared");
    MEMORY_BASIC_INFORMATION m;
    if (wt_query((void *)0x7ffe0000, &m))
        ok(m.State == MEM_COMMIT && m.Protect == PAGE_READONLY && m.Type == MEM_PRIVATE &&
           m.AllocationBase == (void *)0x7ffe0000,
           "KUSER_SHARED_DATA: State %#x Protect %#x Type %#x AllocationBase %p, expected MEM_COMMIT, PAGE_READONLY, "
           "MEM_PRIVATE, 0x7ffe0000\n", (unsigned)m.State, (unsigned)m.Protect, (unsigned)m.Type, m.AllocationBase);
}

static void views(void)
{
    view_section("view_readonly", FILE_MAP_READ, PAGE_READONLY, 0, 0);
    view_section("view_readwrite", FILE_MAP_WRITE, PAGE_READWRITE, 0, 0);
    view_section("view_writecopy", FILE_MAP_COPY, PAGE_WRITECOPY, 0, 0);
    view_section("view_writecopy_written", FILE_MAP_COPY, PAGE_WRITECOPY, 1, PAGE_READWRITE);
    view_section("view_execute_read", FILE_MAP_READ | FILE_MAP_EXECUTE, PAGE_EXECUTE_READ, 0, 0);
    view_section("view_execute_readwrite", FILE_MAP_WRITE | FILE_MAP_EXECUTE, PAGE_EXECUTE_READWRITE, 0, 0);
    view_section("view_execute_writecopy", FILE_MAP_COPY | FILE_MAP_EXECUTE, PAGE_EXECUTE_WRITECOPY, 0, 0);
    view_section("view_execute_writecopy_written", FILE_MAP_COPY | FILE_MAP_EXECUTE, PAGE_EXECUTE_WRITECOPY, 1,
                 PAGE_EXECUTE_READWRITE);
    view_protect_old();
    view_protect_old_written();
    names();
    kuser_shared();
}
#endif

/* Short buffers for the mapped file name: the address is judged first, then
 * the length, with the size needed in ReturnLength. */
static void filename_short(void)
{
    wt_section("filename_short");
    char nb[16];
    SIZE_T len = 0;
    NTSTATUS st = NtQueryVirtualMemory(GetCurrentProcess(), wt_image_base(), MemoryMappedFilenameInformation, nb, 8,
                                       &len);
    ok(st == STATUS_INFO_LENGTH_MISMATCH && len > 16, "exe, 8 bytes: status %#x ReturnLength %llu, expected "
       "STATUS_INFO_LENGTH_MISMATCH and the size the name needs\n", (unsigned)st, (unsigned long long)len);
    len = 0;
    st = NtQueryVirtualMemory(GetCurrentProcess(), wt_image_base(), MemoryMappedFilenameInformation, nb, sizeof nb,
                              &len);
    ok(st == STATUS_BUFFER_OVERFLOW_ && len > 16, "exe, 16 bytes: status %#x ReturnLength %llu, expected "
       "STATUS_BUFFER_OVERFLOW and the size the name needs\n", (unsigned)st, (unsigned long long)len);
    st = NtQueryVirtualMemory(GetCurrentProcess(), (void *)0x1234, MemoryMappedFilenameInformation, nb, 8, &len);
    ok(st == STATUS_INVALID_ADDRESS, "0x1234, 8 bytes: status %#x, expected STATUS_INVALID_ADDRESS (0xc0000141)\n",
       (unsigned)st);
}

/* The whole address space, region by region: every image is a module the
 * program has loaded (a PE under Wine, an ELF natively), so nothing else —
 * Wine's unix-side libraries, the C library's heap — shows as committed
 * image memory a conservative collector would scan; and the walk advances
 * with no gap or overlap. */
static void walk(void)
{
    wt_section("walk");
    char *a = NULL;
    int bad = 0, regions = 0;
    while (bad < 5 && regions < 100000) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(a, &m, sizeof m) != sizeof m)
            break;                    /* the end of the user range */
        regions++;
        if (!ok(m.BaseAddress == a && m.RegionSize && !(m.RegionSize & 0xfff),
                "at %p: BaseAddress %p RegionSize %#llx, expected %p and whole pages\n", a, m.BaseAddress,
                (unsigned long long)m.RegionSize, a)) {
            bad++;
            break;
        }
        if (m.State != MEM_FREE && !ok((char *)m.AllocationBase <= a, "at %p: AllocationBase %p above it\n", a,
                                      m.AllocationBase))
            bad++;
        if (m.Type == MEM_IMAGE) {
            char magic[4] = "";
#ifdef WT_NATIVE
            memcpy(magic, m.AllocationBase, sizeof magic);   /* an ELF header: mapped readable */
            int module = !memcmp(magic, "\177ELF", 4);
#else
            SIZE_T got = 0;
            ReadProcessMemory(GetCurrentProcess(), m.AllocationBase, magic, sizeof magic, &got);
            HMODULE h = NULL;
            int module = got >= 2 && !memcmp(magic, "MZ", 2) &&
                         GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                                            GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, (LPCSTR)m.AllocationBase, &h);
#endif
            if (!ok(module, "at %p (%#llx bytes, State %#x Protect %#x): MEM_IMAGE whose AllocationBase %p is no "
                    "module of the program\n", a, (unsigned long long)m.RegionSize, (unsigned)m.State,
                    (unsigned)m.Protect, m.AllocationBase))
                bad++;
        }
        if ((char *)m.BaseAddress + m.RegionSize < a)
            break;
        a = (char *)m.BaseAddress + m.RegionSize;
    }
    ok(regions > 10, "only %d regions walked\n", regions);
}

/* ---- stacks of new threads, several at once and after others exited ---- */
static void check_own_stack(void)
{
    MEMORY_BASIC_INFORMATION m;
    volatile char local = 1;
    char *dealloc;
#ifdef WT_NATIVE
    pthread_attr_t attr;
    void *addr;
    size_t size, guard;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_getguardsize(&attr, &guard);
    pthread_attr_destroy(&attr);
    dealloc = (char *)addr - guard;
#else
    dealloc = *(char **)((char *)NtCurrentTeb() + 0x1478);
#endif
    if (VirtualQuery((const void *)&local, &m, sizeof m) == sizeof m)
        ok(m.AllocationBase == dealloc && m.State == MEM_COMMIT && m.Protect == PAGE_READWRITE,
           "thread stack: AllocationBase %p State %#x Protect %#x, expected %p, MEM_COMMIT, PAGE_READWRITE\n",
           m.AllocationBase, (unsigned)m.State, (unsigned)m.Protect, dealloc);
    if (VirtualQuery(dealloc, &m, sizeof m) == sizeof m)
        ok(m.AllocationBase == dealloc && m.State == MEM_RESERVE && m.AllocationProtect == PAGE_READWRITE,
           "stack bottom: AllocationBase %p State %#x AllocationProtect %#x, expected %p, MEM_RESERVE, PAGE_READWRITE\n",
           m.AllocationBase, (unsigned)m.State, (unsigned)m.AllocationProtect, dealloc);
}

#ifdef WT_NATIVE
static void *thread_fn(void *arg) { check_own_stack(); return arg; }
static void run_threads(int n)
{
    pthread_t t[8];
    for (int i = 0; i < n; i++)
        ok(pthread_create(&t[i], NULL, thread_fn, NULL) == 0, "pthread_create failed\n");
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}
#else
static DWORD WINAPI thread_fn(void *arg) { check_own_stack(); return 0; }
static void run_threads(int n)
{
    HANDLE t[8];
    for (int i = 0; i < n; i++)
        ok((t[i] = CreateThread(NULL, 0, thread_fn, NULL, 0, NULL)) != NULL, "CreateThread: error %u\n",
           (unsigned)GetLastError());
    for (int i = 0; i < n; i++)
        if (t[i]) {
            WaitForSingleObject(t[i], INFINITE);
            CloseHandle(t[i]);
        }
}
#endif

START_TEST(exact)
{
    reserve_cycle();
    commit_only();
    zero_page();
    views();
    filename_short();
    walk();
    wt_section("new_threads");
    for (int round = 0; round < 4; round++)
        run_threads(4);               /* later rounds may get earlier rounds' stacks */
}
