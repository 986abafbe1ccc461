/* The query APIs on real memory of real processes: error paths, foreign
 * memory (mmap, files, shared memory, images), another process through
 * OpenProcess, a fork, the text fallback against the ioctl, the working set,
 * and 8 threads mapping, protecting and querying with invariants. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gnu/libc-version.h>
#include "unit.h"
#include "internal.h"

#define U(p) ((uint64_t)(uintptr_t)(p))
static MEMORY_BASIC_INFORMATION mbi_of(HANDLE h, const void *a)
{
    MEMORY_BASIC_INFORMATION m;
    memset(&m, 0xcc, sizeof m);
    CU_ASSERT_EQUAL(VirtualQueryEx(h, a, &m, sizeof m), sizeof m);
    return m;
}

static void test_error_paths(void)
{
    MEMORY_BASIC_INFORMATION m;
    int local;
    SetLastError(0);
    CU_ASSERT_EQUAL(VirtualQuery(&local, NULL, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_EQUAL(VirtualQuery(&local, &m, sizeof m - 1), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_BAD_LENGTH);
    CU_ASSERT_EQUAL(VirtualQuery((void *)0x7fffffff0000ULL, &m, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(VirtualQuery((void *)~0ULL, &m, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(VirtualQuery((void *)0x7ffffffeffffULL, &m, sizeof m), sizeof m);
    CU_ASSERT_EQUAL(VirtualQueryEx((HANDLE)0x1234, &local, &m, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    CU_ASSERT_EQUAL(VirtualQueryEx(NULL, &local, &m, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);

    /* An unwritable buffer or ReturnLength: an error, not a crash. */
    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_EQUAL(VirtualQuery(&local, (void *)ro, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    SIZE_T len = 7;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), &local, MemoryBasicInformation, &m, sizeof m,
                                         (SIZE_T *)ro), STATUS_ACCESS_VIOLATION);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), &local, MemoryBasicInformation, &m, 8, &len),
                    STATUS_INFO_LENGTH_MISMATCH);
    CU_ASSERT_EQUAL(len, 7);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), &local, MemoryBasicInformation, &m, sizeof m, &len),
                    STATUS_SUCCESS);
    CU_ASSERT_EQUAL(len, sizeof m);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), (void *)0x800000000000ULL, MemoryBasicInformation,
                                         &m, sizeof m, NULL), STATUS_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory((HANDLE)0x10004, &local, MemoryBasicInformation, &m, sizeof m, NULL),
                    STATUS_INVALID_HANDLE);
    int classes[] = { MemoryWorkingSetInformation, MemorySharedCommitInformation, MemoryImageInformation,
                      MemoryRegionInformationEx, 99, -1 };
    for (unsigned i = 0; i < sizeof classes / sizeof *classes; i++)
        CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), &local, (MEMORY_INFORMATION_CLASS)classes[i],
                                             &m, sizeof m, NULL), STATUS_INVALID_INFO_CLASS);
    CU_ASSERT_EQUAL(ZwQueryVirtualMemory(GetCurrentProcess(), &local, (MEMORY_INFORMATION_CLASS)99, &m, sizeof m,
                                         NULL), STATUS_INVALID_INFO_CLASS);
    munmap(ro, 4096);
}

static void test_foreign_memory(void)
{
    HANDLE self = GetCurrentProcess();
    char *r = mmap(NULL, 16 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(r + 4 * 4096, 2 * 4096, PROT_READ | PROT_WRITE);
    MEMORY_BASIC_INFORMATION m = mbi_of(self, r + 5);
    CU_ASSERT_EQUAL(m.BaseAddress, r);
    CU_ASSERT_EQUAL(m.AllocationBase, r);
    CU_ASSERT_EQUAL(m.RegionSize, 4 * 4096);
    CU_ASSERT_EQUAL(m.State, MEM_RESERVE);
    CU_ASSERT_EQUAL(m.Protect, 0);
    CU_ASSERT_EQUAL(m.Type, MEM_PRIVATE);
    m = mbi_of(self, r + 4 * 4096 + 17);
    CU_ASSERT_EQUAL(m.BaseAddress, r + 4 * 4096);
    CU_ASSERT_EQUAL(m.RegionSize, 2 * 4096);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    /* Re-coalesce when protections match again. */
    mprotect(r + 4 * 4096, 2 * 4096, PROT_NONE);
    m = mbi_of(self, r);
    CU_ASSERT_EQUAL(m.RegionSize, 16 * 4096);
    munmap(r, 16 * 4096);
    m = mbi_of(self, r);
    CU_ASSERT_EQUAL(m.State, MEM_FREE);
    CU_ASSERT_EQUAL(m.Protect, PAGE_NOACCESS);
    CU_ASSERT_EQUAL(m.AllocationBase, NULL);
    CU_ASSERT_EQUAL(m.AllocationProtect, 0);
    CU_ASSERT_EQUAL(m.Type, 0);
    CU_ASSERT_TRUE(m.RegionSize >= 16 * 4096);
    m = mbi_of(self, NULL);
    CU_ASSERT_EQUAL(m.State, MEM_FREE);

    /* Heap and stack: committed read-write private memory. */
    void *h = malloc(32);
    int local;
    m = mbi_of(self, h);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(m.Type, MEM_PRIVATE);
    free(h);
    m = mbi_of(self, &local);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(m.Type, MEM_PRIVATE);

    /* An image: code is EXECUTE_READ, the allocation is the whole object. */
    m = mbi_of(self, (void *)gnu_get_libc_version);
    CU_ASSERT_EQUAL(m.Type, MEM_IMAGE);
    CU_ASSERT_EQUAL(m.Protect, PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_EXECUTE_WRITECOPY);
    MEMORY_BASIC_INFORMATION hdr = mbi_of(self, m.AllocationBase);
    CU_ASSERT_EQUAL(hdr.Protect, PAGE_READONLY);
    CU_ASSERT_EQUAL(hdr.AllocationBase, m.AllocationBase);
    CU_ASSERT_EQUAL(hdr.Type, MEM_IMAGE);
}

/* A span registered as an image (Wine's PE images, through the shim) reads
 * as one: one AllocationBase, MEM_IMAGE, EXECUTE_WRITECOPY, its file name. */
static void test_registered_image(void)
{
    char *m = mmap(NULL, 4 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(m + 4096, 4096, PROT_READ | PROT_EXEC);
    CU_ASSERT_TRUE(wm_image_register(U(m), U(m) + 4 * 4096, "/opt/app/app.exe"));
    MEMORY_BASIC_INFORMATION q = mbi_of(GetCurrentProcess(), m + 4096);
    CU_ASSERT_EQUAL(q.Type, MEM_IMAGE);
    CU_ASSERT_EQUAL(q.AllocationBase, m);
    CU_ASSERT_EQUAL(q.AllocationProtect, PAGE_EXECUTE_WRITECOPY);
    CU_ASSERT_EQUAL(q.Protect, PAGE_EXECUTE_READ);
    char nb[300];
    MEMORY_SECTION_NAME *sn = (void *)nb;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), m + 3 * 4096, MemoryMappedFilenameInformation, nb,
                                         sizeof nb, NULL), 0);
    CU_ASSERT_EQUAL(sn->SectionFileName.Length, 2 * strlen("\\??\\unix\\opt\\app\\app.exe"));
    wm_image_unregister(U(m));
    q = mbi_of(GetCurrentProcess(), m + 4096);
    CU_ASSERT_EQUAL(q.Type, MEM_PRIVATE);
    munmap(m, 4 * 4096);
}

static char tmpl[] = "/tmp/wm-query-XXXXXX";

static void test_file_and_shared_views(void)
{
    HANDLE self = GetCurrentProcess();
    int fd = mkstemp(tmpl);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ftruncate(fd, 4 * 4096), 0);
    char *v = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    MEMORY_BASIC_INFORMATION m = mbi_of(self, v);
    CU_ASSERT_EQUAL(m.Type, MEM_MAPPED);
    CU_ASSERT_EQUAL(m.Protect, PAGE_WRITECOPY);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_WRITECOPY);
    CU_ASSERT_EQUAL(m.RegionSize, 4 * 4096);
    (void)v[4096];            /* reading leaves it WRITECOPY */
    v[2 * 4096] = 1;          /* writing copies that one page */
    m = mbi_of(self, v);
    CU_ASSERT_EQUAL(m.RegionSize, 2 * 4096);
    CU_ASSERT_EQUAL(m.Protect, PAGE_WRITECOPY);
    m = mbi_of(self, v + 2 * 4096);
    CU_ASSERT_EQUAL(m.RegionSize, 4096);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(m.AllocationBase, v);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_WRITECOPY);
    /* A view split by protection is still one allocation. */
    mprotect(v + 3 * 4096, 4096, PROT_READ);
    m = mbi_of(self, v + 3 * 4096);
    CU_ASSERT_EQUAL(m.AllocationBase, v);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READONLY);

    MEMORY_REGION_INFORMATION ri;
    SIZE_T len = 0;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, v + 3 * 4096, MemoryRegionInformation, &ri, sizeof ri, &len), 0);
    CU_ASSERT_EQUAL(len, sizeof ri);
    CU_ASSERT_EQUAL(ri.AllocationBase, v);
    CU_ASSERT_EQUAL(ri.RegionSize, 4 * 4096);
    CU_ASSERT_EQUAL(ri.RegionType, 2);   /* MappedDataFile */

    char buf[600];
    MEMORY_SECTION_NAME *sn = (void *)buf;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, v + 5, MemoryMappedFilenameInformation, buf, sizeof buf, &len), 0);
    char narrow[300] = "";
    for (int i = 0; i < sn->SectionFileName.Length / 2 && i < 299; i++)
        narrow[i] = (char)sn->SectionFileName.Buffer[i];
    char want[300];
    snprintf(want, sizeof want, "\\??\\unix%s", tmpl);
    for (char *c = want; *c; c++)
        if (*c == '/')
            *c = '\\';
    CU_ASSERT_STRING_EQUAL(narrow, want);
    CU_ASSERT_EQUAL((char *)sn->SectionFileName.Buffer, buf + sizeof *sn);
    CU_ASSERT_EQUAL(len, sizeof *sn + sn->SectionFileName.MaximumLength);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, v, MemoryMappedFilenameInformation, buf, sizeof *sn + 4, &len),
                    STATUS_BUFFER_OVERFLOW);   /* ReturnLength = needed */
    CU_ASSERT_EQUAL(len, sizeof *sn + sn->SectionFileName.MaximumLength);
    len = 0;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, v, MemoryMappedFilenameInformation, buf, 8, &len),
                    STATUS_INFO_LENGTH_MISMATCH);
    CU_ASSERT_EQUAL(len, sizeof *sn + sn->SectionFileName.MaximumLength);   /* the size needed, as Windows */
    munmap(v, 4 * 4096);
    close(fd);
    unlink(tmpl);

    char *s = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    m = mbi_of(self, s);
    CU_ASSERT_EQUAL(m.Type, MEM_MAPPED);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, s, MemoryRegionInformation, &ri, sizeof ri, NULL), 0);
    CU_ASSERT_EQUAL(ri.RegionType, 8);   /* MappedPageFile */
    /* A view of a pagefile-backed section has no file: STATUS_FILE_INVALID
     * (GetMappedFileName's ERROR_FILE_INVALID), not "no view here". */
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, s, MemoryMappedFilenameInformation, buf, sizeof buf, NULL),
                    (NTSTATUS)0xC0000098);
    munmap(s, 8192);
}

static void test_region_information(void)
{
    HANDLE self = GetCurrentProcess();
    char *r = mmap(NULL, 8 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    MEMORY_REGION_INFORMATION ri;
    SIZE_T len = 0;
    memset(&ri, 0x11, sizeof ri);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, r, MemoryRegionInformation, &ri, 16, &len),
                    STATUS_INFO_LENGTH_MISMATCH);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, r, MemoryRegionInformation, &ri, 28, &len), 0);
    CU_ASSERT_EQUAL(ri.RegionSize, 8 * 4096);
    CU_ASSERT_EQUAL(ri.CommitSize, (SIZE_T)0x1111111111111111ULL);   /* did not fit */
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, r, MemoryRegionInformation, &ri, 32, &len), 0);
    CU_ASSERT_EQUAL(ri.CommitSize, 0);
    CU_ASSERT_EQUAL(ri.RegionType, 1);   /* Private */
    CU_ASSERT_EQUAL(len, sizeof ri);
    munmap(r, 8 * 4096);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, r, MemoryRegionInformation, &ri, sizeof ri, &len),
                    STATUS_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, (void *)0x800000000000ULL, MemoryRegionInformation, &ri,
                                         sizeof ri, &len), STATUS_INVALID_PARAMETER);

    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, (void *)gnu_get_libc_version, MemoryRegionInformation, &ri,
                                         sizeof ri, NULL), 0);
    CU_ASSERT_EQUAL(ri.RegionType, 4);   /* MappedImage */
    MEMORY_BASIC_INFORMATION m = mbi_of(self, (void *)gnu_get_libc_version);
    CU_ASSERT_EQUAL(ri.AllocationBase, m.AllocationBase);
    CU_ASSERT_TRUE(ri.RegionSize > m.RegionSize);

    WIN32_MEMORY_REGION_INFORMATION wi;
    SIZE_T rs = 0;
    CU_ASSERT_TRUE(QueryVirtualMemoryInformation(self, (void *)gnu_get_libc_version, MemoryRegionInfo, &wi,
                                                 sizeof wi, &rs));
    CU_ASSERT_EQUAL(rs, sizeof wi);
    CU_ASSERT_EQUAL(wi.AllocationBase, ri.AllocationBase);
    CU_ASSERT_EQUAL(wi.RegionSize, ri.RegionSize);
    CU_ASSERT_EQUAL(wi.Flags, 4);
    CU_ASSERT_FALSE(QueryVirtualMemoryInformation(self, r, MemoryRegionInfo, &wi, sizeof wi, &rs));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_FALSE(QueryVirtualMemoryInformation(self, &rs, (WIN32_MEMORY_INFORMATION_CLASS)1, &wi, sizeof wi, &rs));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_FALSE(QueryVirtualMemoryInformation(self, &rs, MemoryRegionInfo, &wi, 16, &rs));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_BAD_LENGTH);
}

static void test_working_set(void)
{
    HANDLE self = GetCurrentProcess();
    char *m = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[4096] = 1;
    m[2 * 4096] = 1;
    mprotect(m + 2 * 4096, 4096, PROT_NONE);
    PSAPI_WORKING_SET_EX_INFORMATION ws[5];
    memset(ws, 0xcc, sizeof ws);
    ws[0].VirtualAddress = m;             /* untouched */
    ws[1].VirtualAddress = m + 4096 + 9;  /* touched */
    ws[2].VirtualAddress = m + 2 * 4096;  /* no access */
    ws[3].VirtualAddress = NULL;
    ws[4].VirtualAddress = (void *)gnu_get_libc_version;
    CU_ASSERT_TRUE(QueryWorkingSetEx(self, ws, sizeof ws));
    CU_ASSERT_EQUAL(ws[0].VirtualAttributes.Valid, 0);
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.Valid, 1);
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.Shared, 0);
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.ShareCount, 0);
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.Win32Protection, PAGE_READWRITE);
    CU_ASSERT_EQUAL(ws[1].VirtualAddress, m + 4096 + 9);   /* caller's order, untouched */
    CU_ASSERT_EQUAL(ws[2].VirtualAttributes.Valid, 0);
    CU_ASSERT_EQUAL(ws[3].VirtualAttributes.Valid, 0);
    CU_ASSERT_EQUAL(ws[4].VirtualAttributes.Valid, 1);   /* libc code is in use */
    CU_ASSERT_EQUAL(ws[4].VirtualAttributes.Shared, 1);
    CU_ASSERT_TRUE(ws[4].VirtualAttributes.ShareCount > 0);
    CU_ASSERT_EQUAL(ws[4].VirtualAttributes.Win32Protection, PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(ws[4].VirtualAttributes.Node, 0);
    CU_ASSERT_EQUAL(ws[4].VirtualAttributes.LargePage, 0);

    SIZE_T len = 77;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, NULL, MemoryWorkingSetExInformation, ws, 0, &len),
                    STATUS_INFO_LENGTH_MISMATCH);
    CU_ASSERT_EQUAL(len, 77);
    ws[1].VirtualAttributes.Flags = 0;
    ws[2].VirtualAttributes.Flags = 0x5a5a;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(self, NULL, MemoryWorkingSetExInformation, &ws[1],
                                         sizeof ws[0] * 3 / 2, &len), 0);   /* 1.5 entries */
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.Valid, 1);
    CU_ASSERT_EQUAL(ws[2].VirtualAttributes.Flags, 0x5a5a);
    CU_ASSERT_FALSE(QueryWorkingSetEx(self, ws, 8));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_BAD_LENGTH);
    CU_ASSERT_FALSE(K32QueryWorkingSetEx(self, NULL, sizeof ws));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);

    /* After fork, a touched private page is shared copy-on-write. */
    pid_t pid = fork();
    if (pid == 0) {
        PSAPI_WORKING_SET_EX_INFORMATION e = { .VirtualAddress = m + 4096 };
        _exit(QueryWorkingSetEx(GetCurrentProcess(), &e, sizeof e) && e.VirtualAttributes.Valid &&
              e.VirtualAttributes.Shared && e.VirtualAttributes.ShareCount >= 2 ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
    munmap(m, 4 * 4096);
}

/* Kilobytes of transparent huge pages in the VMA at a, from smaps: the
 * kernel's own account, independent of pagemap. */
static long anon_huge_kb(const void *a)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    long kb = -1;
    int in = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
            in = (uintptr_t)a >= lo && (uintptr_t)a < hi;
        else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb;
}

/* LargePage follows what the kernel did: a transparent huge page when it
 * gave one (smaps says so), a 4 KiB page otherwise. */
static void test_large_page(void)
{
    size_t two = 2 << 20;
    char *raw = mmap(NULL, 2 * two, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *m = (char *)(((uintptr_t)raw + two - 1) & ~(uintptr_t)(two - 1));
    madvise(m, two, MADV_HUGEPAGE);
    memset(m, 1, two);
    long kb = anon_huge_kb(m);
    PSAPI_WORKING_SET_EX_INFORMATION ws[2] = { { .VirtualAddress = m + 4096 }, { .VirtualAddress = &kb } };
    CU_ASSERT_TRUE(QueryWorkingSetEx(GetCurrentProcess(), ws, sizeof ws));
    CU_ASSERT_EQUAL(ws[0].VirtualAttributes.Valid, 1);
    CU_ASSERT_EQUAL(ws[0].VirtualAttributes.LargePage, kb >= 2048 ? 1 : 0);
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.LargePage, 0);   /* the stack */
    if (kb < 2048)
        fprintf(stderr, "test_large_page: the kernel gave no huge page (AnonHugePages %ld kB)\n", kb);
    munmap(raw, 2 * two);
}

/* A child with known mappings, queried through OpenProcess: the answers must
 * equal the child's own VirtualQuery of the same addresses. */
static void test_other_process(void)
{
    int req[2], rep[2];
    CU_ASSERT_FATAL(pipe(req) == 0 && pipe(rep) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        char *r = mmap(NULL, 16 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(r + 4096, 4096, PROT_READ | PROT_EXEC);
        char *s = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        void *addrs[5] = { r, r + 4096, r + 2 * 4096, s, (void *)gnu_get_libc_version };
        MEMORY_BASIC_INFORMATION mine[5];
        for (int i = 0; i < 5; i++)
            VirtualQuery(addrs[i], &mine[i], sizeof mine[i]);
        if (write(rep[1], addrs, sizeof addrs) < 0 || write(rep[1], mine, sizeof mine) < 0)
            _exit(1);
        char c;
        if (read(req[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    void *addrs[5];
    MEMORY_BASIC_INFORMATION mine[5];
    CU_ASSERT_EQUAL_FATAL(read(rep[0], addrs, sizeof addrs), (ssize_t)sizeof addrs);
    CU_ASSERT_EQUAL_FATAL(read(rep[0], mine, sizeof mine), (ssize_t)sizeof mine);
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)pid);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    for (int i = 0; i < 5; i++) {
        MEMORY_BASIC_INFORMATION m = mbi_of(h, addrs[i]);
        CU_ASSERT_EQUAL(memcmp(&m, &mine[i], sizeof m), 0);
    }
    CU_ASSERT_EQUAL(mine[0].State, MEM_RESERVE);
    CU_ASSERT_EQUAL(mine[1].Protect, PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(mine[3].Type, MEM_MAPPED);
    CU_ASSERT_EQUAL(mine[4].Type, MEM_IMAGE);

    /* The other classes through the handle. */
    MEMORY_REGION_INFORMATION ri;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, addrs[1], MemoryRegionInformation, &ri, sizeof ri, NULL), 0);
    CU_ASSERT_EQUAL(ri.AllocationBase, addrs[1]);   /* foreign anonymous: the VMA */
    CU_ASSERT_EQUAL(ri.RegionType, 1);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, addrs[4], MemoryRegionInformation, &ri, sizeof ri, NULL), 0);
    CU_ASSERT_EQUAL(ri.RegionType, 4);
    CU_ASSERT_EQUAL(ri.AllocationBase, mine[4].AllocationBase);
    char nb[600];
    MEMORY_SECTION_NAME *sn = (void *)nb;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, addrs[4], MemoryMappedFilenameInformation, nb, sizeof nb, NULL), 0);
    CU_ASSERT_TRUE(sn->SectionFileName.Length > 20 && sn->SectionFileName.Buffer[0] == '\\');
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, addrs[0], MemoryMappedFilenameInformation, nb, sizeof nb, NULL),
                    STATUS_INVALID_ADDRESS);
    PSAPI_WORKING_SET_EX_INFORMATION ws[2] = { { .VirtualAddress = addrs[4] }, { .VirtualAddress = addrs[0] } };
    CU_ASSERT_TRUE(QueryWorkingSetEx(h, ws, sizeof ws));
    CU_ASSERT_EQUAL(ws[0].VirtualAttributes.Valid, 1);
    CU_ASSERT_EQUAL(ws[0].VirtualAttributes.Win32Protection, PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(ws[1].VirtualAttributes.Valid, 0);
    /* The child's process exits; the handle stays bound to it. */
    CU_ASSERT_EQUAL(write(req[1], "x", 1), 1);
    waitpid(pid, NULL, 0);
    MEMORY_BASIC_INFORMATION m;
    CU_ASSERT_EQUAL(VirtualQueryEx(h, addrs[0], &m, sizeof m), 0);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_ACCESS_DENIED);
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(h, addrs[0], MemoryBasicInformation, &m, sizeof m, NULL),
                    STATUS_PROCESS_IS_TERMINATING);
    CU_ASSERT_TRUE(CloseHandle(h));
    close(req[0]); close(req[1]); close(rep[0]); close(rep[1]);
}

/* A fork child sees its own space, including what winmem allocated before
 * the fork (the registry comes along with the memory) and what it maps after. */
static void test_after_fork(void)
{
    char *v = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READONLY);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    MEMORY_BASIC_INFORMATION m = mbi_of(GetCurrentProcess(), v);   /* parent's descriptors in use */
    pid_t pid = fork();
    if (pid == 0) {
        int bad = 0;
        char *n = mmap(NULL, 3 * 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (!VirtualQuery(n, &m, sizeof m) || m.BaseAddress != n || m.RegionSize != 3 * 4096 ||
            m.Protect != PAGE_EXECUTE_READ)
            bad |= 1;
        if (!VirtualQuery(v, &m, sizeof m) || m.State != MEM_RESERVE || m.AllocationProtect != PAGE_READONLY)
            bad |= 2;
        _exit(bad);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
    VirtualFree(v, 0, MEM_RELEASE);
}

/* fork() while other threads are inside the query path (and its locks):
 * every child can still query, and answers about its own space. */
static atomic_bool fork_stop;

static void *fork_querier(void *arg)
{
    MEMORY_BASIC_INFORMATION m;
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId());
    while (!atomic_load(&fork_stop)) {
        for (int i = 0; i < 50; i++)   /* mostly inside the handle table's lock */
            GetProcessId(h);
        VirtualQuery(arg, &m, sizeof m);
        VirtualQuery((void *)gnu_get_libc_version, &m, sizeof m);   /* image lookup */
        VirtualQueryEx(h, arg, &m, sizeof m);                       /* handle table */
    }
    CloseHandle(h);
    return NULL;
}

static void test_fork_while_querying(void)
{
    pthread_t t[3];
    int local;
    atomic_store(&fork_stop, false);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, fork_querier, &local);
    int bad = 0;
    for (int i = 0; i < 40; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(5);   /* a deadlocked child dies of SIGALRM instead of hanging the test */
            MEMORY_BASIC_INFORMATION m;
            char *n = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId());
            int ok = VirtualQuery(n, &m, sizeof m) && m.BaseAddress == n && m.Protect == PAGE_READONLY &&
                     VirtualQuery((void *)gnu_get_libc_version, &m, sizeof m) && m.Type == MEM_IMAGE &&
                     h && VirtualQueryEx(h, n, &m, sizeof m) && m.Protect == PAGE_READONLY;
            _exit(ok ? 0 : 1);
        }
        int st;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad++;
    }
    atomic_store(&fork_stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(bad, 0);
}

/* Whole-space walks with PROCMAP_QUERY and with the text parser agree. */
static void test_text_fallback_walk(void)
{
    enum { N = 2048 };
    static MEMORY_BASIC_INFORMATION a[N], b[N];
    int na = 0, nb = 0;
    char *p = NULL;
    for (int pass = 0; pass < 3; pass++) {
        wm_prim_force_text_maps(pass == 1);
        MEMORY_BASIC_INFORMATION *out = pass == 2 ? a : b;
        int n = 0;
        p = NULL;
        while (n < N && VirtualQuery(p, &out[n], sizeof out[n])) {
            p = (char *)out[n].BaseAddress + out[n].RegionSize;
            n++;
        }
        if (pass == 1)
            nb = n;
        else
            na = n;
    }
    CU_ASSERT_TRUE(na > 10);
    CU_ASSERT_EQUAL(na, nb);
    for (int i = 0; i < na && i < nb; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
            CU_FAIL("walks differ");
            fprintf(stderr, "  at %p: %p/%zx vs %p/%zx\n", a[i].BaseAddress, a[i].AllocationBase,
                    (size_t)a[i].RegionSize, b[i].AllocationBase, (size_t)b[i].RegionSize);
            break;
        }
}

/* ---- winmem's own allocations come from the registry ---- */

static void test_registry_first(void)
{
    char *p = VirtualAlloc(NULL, 0xFFFC, MEM_RESERVE, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    MEMORY_BASIC_INFORMATION m = mbi_of(GetCurrentProcess(), p + 0x100);
    CU_ASSERT_EQUAL(m.BaseAddress, p);
    CU_ASSERT_EQUAL(m.AllocationBase, p);
    CU_ASSERT_EQUAL(m.RegionSize, 0x10000);
    CU_ASSERT_EQUAL(m.State, MEM_RESERVE);
    CU_ASSERT_EQUAL(m.Protect, 0);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(m.Type, MEM_PRIVATE);
    CU_ASSERT_PTR_NOT_NULL(VirtualAlloc(p + 0x2000, 0x1000, MEM_COMMIT, PAGE_NOACCESS));
    m = mbi_of(GetCurrentProcess(), p + 0x2000);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(m.Protect, PAGE_NOACCESS);
    CU_ASSERT_EQUAL(m.RegionSize, 0x1000);
    MEMORY_REGION_INFORMATION ri;
    CU_ASSERT_EQUAL(NtQueryVirtualMemory(GetCurrentProcess(), p + 0x8000, MemoryRegionInformation, &ri,
                                         sizeof ri, NULL), 0);
    CU_ASSERT_EQUAL(ri.AllocationBase, p);
    CU_ASSERT_EQUAL(ri.RegionSize, 0x10000);
    CU_ASSERT_EQUAL(ri.CommitSize, 0x1000);
    CU_ASSERT_EQUAL(ri.RegionType, 1);
    /* A foreign mapping right after it, same protection: the answer still
     * stops at the allocation's edge. */
    char *after = mmap(p + 0x10000, 0x4000, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (after != MAP_FAILED) {
        m = mbi_of(GetCurrentProcess(), p + 0x4000);
        CU_ASSERT_EQUAL(m.BaseAddress, p + 0x4000);
        CU_ASSERT_EQUAL((char *)m.BaseAddress + m.RegionSize, p + 0x10000);
        m = mbi_of(GetCurrentProcess(), after);
        CU_ASSERT_EQUAL(m.AllocationBase, after);
        CU_ASSERT_EQUAL(m.RegionSize, 0x4000);
        munmap(after, 0x4000);
    }
    CU_ASSERT_TRUE(VirtualFree(p, 0, MEM_RELEASE));
    m = mbi_of(GetCurrentProcess(), p);
    CU_ASSERT_EQUAL(m.State, MEM_FREE);
}

/* ---- 8 threads ---- */

static atomic_bool stop;
static atomic_int violations;

static void violation(int where, const void *a, const MEMORY_BASIC_INFORMATION *q)
{
    if (atomic_fetch_add(&violations, 1) < 3)
        fprintf(stderr, "violation %d at %p: base %p alloc %p size %zx state %x prot %x type %x\n", where, a,
                q->BaseAddress, q->AllocationBase, (size_t)q->RegionSize, (unsigned)q->State,
                (unsigned)q->Protect, (unsigned)q->Type);
}

static void *stress(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC };
    static const DWORD wprot[] = { 0, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ };
    while (!atomic_load(&stop)) {
        char *m = mmap(NULL, 8 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int k = rand_r(&seed) % 4;
        mprotect(m + 4096, 4096, prots[k]);
        MEMORY_BASIC_INFORMATION q;
        /* This thread owns m: its answers are exact whatever others do. A
         * failure here that names a 64 KiB-aligned AllocationBase means the
         * registry still held an allocation another thread had already
         * unmapped (VirtualFree must unregister before the range can be
         * reused). */
        if (VirtualQuery(m + 4096 + 100, &q, sizeof q) != sizeof q || q.BaseAddress != m + 4096 ||
            (k == 0 ? q.State != MEM_RESERVE : q.State != MEM_COMMIT || q.Protect != wprot[k]) ||
            q.Type != MEM_PRIVATE)
            violation(k, m + 4096, &q);
        char *v = VirtualAlloc(NULL, 0x20000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (v) {
            DWORD old;
            VirtualProtect(v + 0x1000, 0x1000, PAGE_READONLY, &old);
            if (!VirtualQuery(v + 0x1000, &q, sizeof q) || q.AllocationBase != v || q.RegionSize != 0x1000 ||
                q.Protect != PAGE_READONLY)
                violation(10, v + 0x1000, &q);
            VirtualFree(v, 0, MEM_RELEASE);
        }
        /* Walk a stretch of the space: regions are contiguous, page aligned. */
        char *a = m;
        for (int i = 0; i < 16; i++) {
            if (!VirtualQuery(a, &q, sizeof q) || q.BaseAddress != a || !q.RegionSize || q.RegionSize % 4096 ||
                (q.State == MEM_FREE && q.AllocationBase))
                violation(20, a, &q);
            a = (char *)q.BaseAddress + q.RegionSize;
            if ((uintptr_t)a > 0x7ffffffeffffULL)
                break;
        }
        munmap(m, 8 * 4096);
    }
    return NULL;
}

static void test_eight_threads(void)
{
    pthread_t t[8];
    atomic_store(&stop, false);
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, stress, (void *)(uintptr_t)(i + 1));
    struct timespec d = { 2, 0 };
    nanosleep(&d, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(atomic_load(&violations), 0);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("query", NULL, NULL);
    WM_TEST(s, test_error_paths);
    WM_TEST(s, test_foreign_memory);
    WM_TEST(s, test_file_and_shared_views);
    WM_TEST(s, test_registered_image);
    WM_TEST(s, test_region_information);
    WM_TEST(s, test_working_set);
    WM_TEST(s, test_large_page);
    WM_TEST(s, test_other_process);
    WM_TEST(s, test_after_fork);
    WM_TEST(s, test_fork_while_querying);
    WM_TEST(s, test_text_fallback_walk);
    WM_TEST(s, test_registry_first);
    WM_TEST(s, test_eight_threads);
}
