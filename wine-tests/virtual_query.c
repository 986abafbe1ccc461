/*
 * wine-tests/virtual_query.c — VirtualQuery(Ex), NtQueryVirtualMemory and
 * QueryVirtualMemoryInformation: return values, error codes, region
 * boundaries and the region class, as Windows documents them
 * (research/conformance.md). Images, stacks, views, guard pages and the
 * working set have their own programs.
 */
#include "wt.h"

#ifndef STATUS_BUFFER_OVERFLOW
#define STATUS_BUFFER_OVERFLOW ((NTSTATUS)0x80000005)
#endif
#ifndef STATUS_INVALID_HANDLE
#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008)
#endif

/* MEMORY_SECTION_NAME under a name of our own: not every header set has it. */
typedef struct {
    UNICODE_STRING SectionFileName;
} VQ_SECTION_NAME;

/* WIN32_MEMORY_REGION_INFORMATION and the class enum exist in mingw's
 * memoryapi.h only for newer _WIN32_WINNT; same layout under our names. */
typedef struct {
    PVOID AllocationBase;
    ULONG AllocationProtect;
    ULONG Flags;
    SIZE_T RegionSize;
    SIZE_T CommitSize;
} VQ_REGION_INFO;
#define VQ_MEMORY_REGION_INFO 0

#ifdef WT_NATIVE
static BOOL WINAPI qvmi_native(HANDLE h, const VOID *a, int cls, PVOID buf, SIZE_T size, PSIZE_T ret)
{
    return QueryVirtualMemoryInformation(h, a, (WIN32_MEMORY_INFORMATION_CLASS)cls, buf, size, ret);
}
#endif

typedef BOOL (WINAPI *qvmi_fn)(HANDLE, const VOID *, int, PVOID, SIZE_T, PSIZE_T);

static qvmi_fn get_qvmi(void)
{
#ifdef WT_NATIVE
    return qvmi_native;
#else
    /* Not in mingw's import library; kernelbase exports it. */
    HMODULE kb = GetModuleHandleA("kernelbase.dll");
    return kb ? (qvmi_fn)(void (*)(void))GetProcAddress(kb, "QueryVirtualMemoryInformation") : NULL;
#endif
}

static MEMORY_BASIC_INFORMATION query(const void *p)
{
    MEMORY_BASIC_INFORMATION m;
    memset(&m, 0xcc, sizeof m);
    SIZE_T r = VirtualQuery(p, &m, sizeof m);
    ok(r == sizeof m, "VirtualQuery(%p) returned %llu, expected sizeof(MEMORY_BASIC_INFORMATION) (%llu)\n",
       p, (unsigned long long)r, (unsigned long long)sizeof m);
    return m;
}

static int same(const MEMORY_BASIC_INFORMATION *a, const MEMORY_BASIC_INFORMATION *b)
{
    return a->BaseAddress == b->BaseAddress && a->AllocationBase == b->AllocationBase &&
           a->AllocationProtect == b->AllocationProtect && a->RegionSize == b->RegionSize &&
           a->State == b->State && a->Protect == b->Protect && a->Type == b->Type;
}

static void check_free(const char *what, const MEMORY_BASIC_INFORMATION *m)
{
    ok(m->State == MEM_FREE, "%s: State %#x, expected MEM_FREE (0x10000)\n", what, (unsigned)m->State);
    ok(m->Protect == PAGE_NOACCESS, "%s: Protect %#x, expected PAGE_NOACCESS (0x1)\n", what, (unsigned)m->Protect);
    ok(m->AllocationBase == NULL, "%s: AllocationBase %p, expected NULL\n", what, m->AllocationBase);
    ok(m->AllocationProtect == 0, "%s: AllocationProtect %#x, expected 0\n", what, (unsigned)m->AllocationProtect);
    ok(m->Type == 0, "%s: Type %#x, expected 0\n", what, (unsigned)m->Type);
}

START_TEST(virtual_query)
{
    MEMORY_BASIC_INFORMATION m;
    SYSTEM_INFO si;
    SIZE_T r, len;
    NTSTATUS st;
    int local = 0;

    wt_section("system_info");
    GetSystemInfo(&si);
    ok(si.dwPageSize == 0x1000, "dwPageSize %#x, expected 0x1000\n", (unsigned)si.dwPageSize);
    ok(si.dwAllocationGranularity == 0x10000, "dwAllocationGranularity %#x, expected 0x10000\n",
       (unsigned)si.dwAllocationGranularity);
    ok(si.lpMinimumApplicationAddress == (void *)0x10000, "lpMinimumApplicationAddress %p, expected 0x10000\n",
       si.lpMinimumApplicationAddress);
    ok(si.lpMaximumApplicationAddress == (void *)0x7ffffffeffffULL,
       "lpMaximumApplicationAddress %p, expected 0x7ffffffeffff\n", si.lpMaximumApplicationAddress);

    wt_section("errors");
    SetLastError(0xdeadbeef);
    r = VirtualQuery(&local, NULL, sizeof m);
    ok(r == 0 && GetLastError() == ERROR_NOACCESS, "NULL buffer: %llu, error %u, expected 0 and ERROR_NOACCESS (998)\n",
       (unsigned long long)r, (unsigned)GetLastError());
    SetLastError(0xdeadbeef);
    r = VirtualQuery(&local, &m, sizeof m - 1);
    ok(r == 0 && GetLastError() == ERROR_BAD_LENGTH, "short buffer: %llu, error %u, expected 0 and ERROR_BAD_LENGTH (24)\n",
       (unsigned long long)r, (unsigned)GetLastError());
    SetLastError(0xdeadbeef);
    r = VirtualQuery((char *)si.lpMaximumApplicationAddress + 1, &m, sizeof m);
    ok(r == 0 && GetLastError() == ERROR_INVALID_PARAMETER,
       "above the user range: %llu, error %u, expected 0 and ERROR_INVALID_PARAMETER (87)\n",
       (unsigned long long)r, (unsigned)GetLastError());
    SetLastError(0xdeadbeef);
    r = VirtualQueryEx((HANDLE)(ULONG_PTR)0xdead0, &local, &m, sizeof m);
    ok(r == 0 && GetLastError() == ERROR_INVALID_HANDLE, "bad handle: %llu, error %u, expected 0 and ERROR_INVALID_HANDLE (6)\n",
       (unsigned long long)r, (unsigned)GetLastError());
    r = VirtualQuery(si.lpMaximumApplicationAddress, &m, sizeof m);
    ok(r == sizeof m, "at lpMaximumApplicationAddress: %llu, expected %llu\n", (unsigned long long)r,
       (unsigned long long)sizeof m);

    wt_section("free");
    m = query(NULL);
    check_free("address 0", &m);
    char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    ok(p != NULL, "VirtualAlloc reserve failed: %u\n", (unsigned)GetLastError());
    VirtualFree(p, 0, MEM_RELEASE);
    m = query(p + 0x1234);
    check_free("released", &m);
    ok(m.BaseAddress == p + 0x1000, "BaseAddress %p, expected the address rounded down to a page (%p)\n",
       m.BaseAddress, p + 0x1000);

    wt_section("reserve");
    p = VirtualAlloc(NULL, 0xfffc, MEM_RESERVE, PAGE_EXECUTE_READ);
    ok(p && ((ULONG_PTR)p & 0xffff) == 0, "allocation base %p, expected 64 KiB aligned\n", p);
    m = query(p + 0x10);
    ok(m.BaseAddress == p, "BaseAddress %p, expected %p\n", m.BaseAddress, p);
    ok(m.AllocationBase == p, "AllocationBase %p, expected %p\n", m.AllocationBase, p);
    ok(m.RegionSize == 0x10000, "RegionSize %#llx, expected 0x10000\n", (unsigned long long)m.RegionSize);
    ok(m.State == MEM_RESERVE, "State %#x, expected MEM_RESERVE (0x2000)\n", (unsigned)m.State);
    ok(m.Protect == 0, "Protect %#x, expected 0\n", (unsigned)m.Protect);
    ok(m.AllocationProtect == PAGE_EXECUTE_READ, "AllocationProtect %#x, expected PAGE_EXECUTE_READ (0x20)\n",
       (unsigned)m.AllocationProtect);
    ok(m.Type == MEM_PRIVATE, "Type %#x, expected MEM_PRIVATE (0x20000)\n", (unsigned)m.Type);

    wt_section("commit_noaccess");
    ok(VirtualAlloc(p + 0x3000, 0x1000, MEM_COMMIT, PAGE_NOACCESS) == p + 0x3000, "commit failed: %u\n",
       (unsigned)GetLastError());
    m = query(p + 0x3000);
    ok(m.State == MEM_COMMIT, "State %#x, expected MEM_COMMIT (0x1000)\n", (unsigned)m.State);
    ok(m.Protect == PAGE_NOACCESS, "Protect %#x, expected PAGE_NOACCESS (0x1)\n", (unsigned)m.Protect);
    ok(m.RegionSize == 0x1000, "RegionSize %#llx, expected 0x1000\n", (unsigned long long)m.RegionSize);
    m = query(p);
    ok(m.RegionSize == 0x3000, "reserved head: RegionSize %#llx, expected 0x3000\n", (unsigned long long)m.RegionSize);
    m = query(p + 0x4000);
    ok(m.RegionSize == 0xc000 && m.State == MEM_RESERVE,
       "reserved tail: RegionSize %#llx State %#x, expected 0xc000 and MEM_RESERVE (0x2000)\n",
       (unsigned long long)m.RegionSize, (unsigned)m.State);
    VirtualFree(p, 0, MEM_RELEASE);

    wt_section("protect_split");
    DWORD old;
    p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    ok(VirtualProtect(p + 0x2000, 0x1000, PAGE_READONLY, &old) && old == PAGE_READWRITE,
       "VirtualProtect: old %#x, expected PAGE_READWRITE (0x4)\n", (unsigned)old);
    m = query(p);
    ok(m.RegionSize == 0x2000, "before the change: RegionSize %#llx, expected 0x2000\n", (unsigned long long)m.RegionSize);
    m = query(p + 0x2000);
    ok(m.RegionSize == 0x1000 && m.Protect == PAGE_READONLY,
       "changed page: RegionSize %#llx Protect %#x, expected 0x1000 and PAGE_READONLY (0x2)\n",
       (unsigned long long)m.RegionSize, (unsigned)m.Protect);
    ok(m.AllocationProtect == PAGE_READWRITE, "AllocationProtect %#x, expected PAGE_READWRITE (0x4): never changes\n",
       (unsigned)m.AllocationProtect);
    m = query(p + 0x3000);
    ok(m.RegionSize == 0xd000 && m.BaseAddress == p + 0x3000, "after the change: %p/%#llx, expected %p/0xd000\n",
       m.BaseAddress, (unsigned long long)m.RegionSize, p + 0x3000);
    p[0x5000] = 1;   /* writing does not change Protect */
    VirtualProtect(p + 0x2000, 0x1000, PAGE_READWRITE, &old);
    m = query(p);
    ok(m.RegionSize == 0x10000 && m.Protect == PAGE_READWRITE,
       "coalesced: RegionSize %#llx Protect %#x, expected 0x10000 and PAGE_READWRITE (0x4)\n",
       (unsigned long long)m.RegionSize, (unsigned)m.Protect);

    wt_section("query_ex_same");
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId());
    ok(h != NULL, "OpenProcess(own pid) failed: %u\n", (unsigned)GetLastError());
    const void *addrs[] = { NULL, p, p + 0x2000, &local, (const void *)query };
    for (unsigned i = 0; h && i < sizeof addrs / sizeof *addrs; i++) {
        MEMORY_BASIC_INFORMATION a = query(addrs[i]), b;
        memset(&b, 0xcc, sizeof b);
        r = VirtualQueryEx(h, addrs[i], &b, sizeof b);
        ok(r == sizeof b && same(&a, &b),
           "VirtualQueryEx(%p) through a process handle differs from VirtualQuery: expected the same answer\n",
           addrs[i]);
        r = VirtualQueryEx(GetCurrentProcess(), addrs[i], &b, sizeof b);
        ok(r == sizeof b && same(&a, &b),
           "VirtualQueryEx(GetCurrentProcess(), %p) differs from VirtualQuery: expected the same answer\n", addrs[i]);
    }
    if (h)
        CloseHandle(h);

    wt_section("handles");
    SetLastError(0xdeadbeef);
    ok(!CloseHandle((HANDLE)(ULONG_PTR)0xdead0) && GetLastError() == ERROR_INVALID_HANDLE,
       "CloseHandle(bogus): error %u, expected FALSE and ERROR_INVALID_HANDLE (6)\n", (unsigned)GetLastError());
    SetLastError(0xdeadbeef);
    ok(OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, 0) == NULL && GetLastError() == ERROR_INVALID_PARAMETER,
       "OpenProcess(0): error %u, expected NULL and ERROR_INVALID_PARAMETER (87)\n", (unsigned)GetLastError());
    ok(GetProcessId(GetCurrentProcess()) == GetCurrentProcessId(), "GetProcessId(GetCurrentProcess()) %u, expected %u\n",
       (unsigned)GetProcessId(GetCurrentProcess()), (unsigned)GetCurrentProcessId());

    wt_section("nt_basic");
    len = 0xdead;
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryBasicInformation, &m, sizeof m, &len);
    ok(st == STATUS_SUCCESS && len == sizeof m, "status %#x len %llu, expected STATUS_SUCCESS (0) and %llu\n",
       (unsigned)st, (unsigned long long)len, (unsigned long long)sizeof m);
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryBasicInformation, &m, sizeof m - 1, &len);
    ok(st == STATUS_INFO_LENGTH_MISMATCH, "short: status %#x, expected STATUS_INFO_LENGTH_MISMATCH (0xc0000004)\n",
       (unsigned)st);
    st = NtQueryVirtualMemory(GetCurrentProcess(), (char *)si.lpMaximumApplicationAddress + 1, MemoryBasicInformation,
                              &m, sizeof m, &len);
    ok(st == STATUS_INVALID_PARAMETER, "out of range: status %#x, expected STATUS_INVALID_PARAMETER (0xc000000d)\n",
       (unsigned)st);
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, (MEMORY_INFORMATION_CLASS)0x55, &m, sizeof m, &len);
    ok(st == STATUS_INVALID_INFO_CLASS, "unknown class: status %#x, expected STATUS_INVALID_INFO_CLASS (0xc0000003)\n",
       (unsigned)st);
    st = NtQueryVirtualMemory((HANDLE)(ULONG_PTR)0xdead0, p, MemoryBasicInformation, &m, sizeof m, &len);
    ok(st == STATUS_INVALID_HANDLE, "bad handle: status %#x, expected STATUS_INVALID_HANDLE (0xc0000008)\n", (unsigned)st);

    wt_section("region_info");
    MEMORY_REGION_INFORMATION ri;
    VirtualProtect(p + 0x2000, 0x1000, PAGE_READONLY, &old);
    VirtualFree(p + 0x8000, 0x8000, MEM_DECOMMIT);
    memset(&ri, 0x11, sizeof ri);
    len = 0;
    st = NtQueryVirtualMemory(GetCurrentProcess(), p + 0x2000, MemoryRegionInformation, &ri, sizeof ri, &len);
    ok(st == STATUS_SUCCESS, "status %#x, expected STATUS_SUCCESS (0)\n", (unsigned)st);
    ok(len == sizeof ri, "ReturnLength %llu, expected %llu\n", (unsigned long long)len, (unsigned long long)sizeof ri);
    ok(ri.AllocationBase == p, "AllocationBase %p, expected %p (the whole allocation)\n", ri.AllocationBase, p);
    ok(ri.AllocationProtect == PAGE_READWRITE, "AllocationProtect %#x, expected PAGE_READWRITE (0x4)\n",
       (unsigned)ri.AllocationProtect);
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryRegionInformation, &ri, 16, &len);
    ok(st == STATUS_INFO_LENGTH_MISMATCH, "length 16: status %#x, expected STATUS_INFO_LENGTH_MISMATCH (0xc0000004)\n",
       (unsigned)st);
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryRegionInformation, &ri, 24, &len);
    ok(st == STATUS_SUCCESS, "length 24 (ends at CommitSize): status %#x, expected STATUS_SUCCESS (0)\n", (unsigned)st);
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryRegionInformation, &ri, 32, &len);
    ok(st == STATUS_SUCCESS, "length 32 (ends at PartitionId): status %#x, expected STATUS_SUCCESS (0)\n", (unsigned)st);

    wt_section("region_whole");
    memset(&ri, 0x11, sizeof ri);
    NtQueryVirtualMemory(GetCurrentProcess(), p + 0x2000, MemoryRegionInformation, &ri, sizeof ri, &len);
    ok(ri.RegionSize == 0x10000, "RegionSize %#llx, expected 0x10000 (the whole allocation)\n",
       (unsigned long long)ri.RegionSize);
    ok(ri.CommitSize == 0x8000, "CommitSize %#llx, expected 0x8000 (committed bytes of the allocation)\n",
       (unsigned long long)ri.CommitSize);

    wt_section("region_free");
    void *freed = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    VirtualFree(freed, 0, MEM_RELEASE);
    st = NtQueryVirtualMemory(GetCurrentProcess(), freed, MemoryRegionInformation, &ri, sizeof ri, &len);
    ok(st == STATUS_INVALID_ADDRESS, "free memory: status %#x, expected STATUS_INVALID_ADDRESS (0xc0000141)\n",
       (unsigned)st);

    wt_section("region_type");
    memset(&ri, 0, sizeof ri);
    NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryRegionInformation, &ri, sizeof ri, &len);
    ok(ri.RegionType == 1, "private memory: RegionType %#x, expected 0x1 (Private)\n", (unsigned)ri.RegionType);
    NtQueryVirtualMemory(GetCurrentProcess(), (const void *)query, MemoryRegionInformation, &ri, sizeof ri, &len);
    ok(ri.RegionType == 4, "the program's code: RegionType %#x, expected 0x4 (MappedImage)\n", (unsigned)ri.RegionType);

    wt_section("query_vmi");
    qvmi_fn qvmi = get_qvmi();
    if (!qvmi) {
        skip("QueryVirtualMemoryInformation is not exported here\n");
    } else {
        VQ_REGION_INFO wi;
        SIZE_T rs = 0;
        memset(&wi, 0, sizeof wi);
        ok(qvmi(GetCurrentProcess(), p + 0x2000, VQ_MEMORY_REGION_INFO, &wi, sizeof wi, &rs),
           "QueryVirtualMemoryInformation failed: %u, expected TRUE\n", (unsigned)GetLastError());
        ok(wi.AllocationBase == p, "AllocationBase %p, expected %p\n", wi.AllocationBase, p);
    }

    wt_section("query_vmi_whole");
    if (qvmi) {
        VQ_REGION_INFO wi;
        SIZE_T rs = 0;
        memset(&wi, 0, sizeof wi);
        qvmi(GetCurrentProcess(), p + 0x2000, VQ_MEMORY_REGION_INFO, &wi, sizeof wi, &rs);
        ok(wi.RegionSize == 0x10000 && wi.CommitSize == 0x8000,
           "RegionSize %#llx CommitSize %#llx, expected 0x10000 and 0x8000 (the whole allocation)\n",
           (unsigned long long)wi.RegionSize, (unsigned long long)wi.CommitSize);
    }

    wt_section("query_vmi_free");
    if (qvmi) {
        VQ_REGION_INFO wi;
        SIZE_T rs = 0;
        SetLastError(0xdeadbeef);
        ok(!qvmi(GetCurrentProcess(), freed, VQ_MEMORY_REGION_INFO, &wi, sizeof wi, &rs),
           "unallocated address: TRUE, expected FALSE\n");
    }

    wt_section("mapped_filename");
    char nb[1024];
    VQ_SECTION_NAME *sn = (VQ_SECTION_NAME *)nb;
    st = NtQueryVirtualMemory(GetCurrentProcess(), (const void *)query, MemoryMappedFilenameInformation, nb, sizeof nb,
                              &len);
    ok(st == STATUS_SUCCESS, "the program's code: status %#x, expected STATUS_SUCCESS (0)\n", (unsigned)st);
    if (st == STATUS_SUCCESS) {
        char tail[64] = "";
        int n = sn->SectionFileName.Length / 2, k = 0;
        for (int i = n > 20 ? n - 20 : 0; i < n && k < 63; i++)
            tail[k++] = (char)sn->SectionFileName.Buffer[i];
        tail[k] = 0;
        ok(strstr(tail, "virtual_query") != NULL, "name ends in \"%s\", expected the program's file name\n", tail);
        ok(sn->SectionFileName.Buffer == (PWSTR)(nb + sizeof *sn), "Buffer %p, expected right after the header (%p)\n",
           sn->SectionFileName.Buffer, nb + sizeof *sn);
    }
    st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryMappedFilenameInformation, nb, sizeof nb, &len);
    ok(st == STATUS_INVALID_ADDRESS, "private memory: status %#x, expected STATUS_INVALID_ADDRESS (0xc0000141)\n",
       (unsigned)st);
    VirtualFree(p, 0, MEM_RELEASE);
}
