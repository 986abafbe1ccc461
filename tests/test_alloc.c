/* VirtualAlloc family internals: the registry, VirtualQuery and the kernel
 * must agree after every call, and failed calls must change nothing. */
#include <signal.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "internal.h"
#include "registry.h"

#define PG 0x1000u

/* The kernel's protection at p, as PROT_* (-1: not mapped). */
static int kernel_prot(void *p)
{
    wm_vma v;
    if (wm_vma_find(wm_space_self(), (uint64_t)p, &v, NULL, 0) != 0 || v.start > (uint64_t)p)
        return -1;
    return ((v.flags & WM_VMA_READ) ? PROT_READ : 0) | ((v.flags & WM_VMA_WRITE) ? PROT_WRITE : 0) |
           ((v.flags & WM_VMA_EXEC) ? PROT_EXEC : 0);
}

static MEMORY_BASIC_INFORMATION query(void *p)
{
    MEMORY_BASIC_INFORMATION m;
    memset(&m, 0xcc, sizeof(m));
    CU_ASSERT_EQUAL(VirtualQuery(p, &m, sizeof(m)), sizeof(m));
    return m;
}

static void test_reserve_commit_protect_free(void)
{
    DWORD old = 0;
    char *a = VirtualAlloc(NULL, 0xfffc, MEM_RESERVE, PAGE_NOACCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL((uintptr_t)a & 0xffff, 0);
    MEMORY_BASIC_INFORMATION m = query(a);
    CU_ASSERT_EQUAL(m.RegionSize, 0x10000);
    CU_ASSERT_EQUAL(m.State, MEM_RESERVE);
    CU_ASSERT_EQUAL(m.Protect, 0);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_NOACCESS);
    CU_ASSERT_EQUAL(m.Type, MEM_PRIVATE);
    CU_ASSERT_EQUAL(kernel_prot(a), PROT_NONE);

    SetLastError(0);
    CU_ASSERT_FALSE(VirtualProtect(a, 0xfffc, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(VirtualAlloc(a, PG, MEM_COMMIT, PAGE_NOACCESS), a);
    m = query(a);
    CU_ASSERT_EQUAL(m.RegionSize, PG);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(m.Protect, PAGE_NOACCESS);
    /* a range that is partly reserved fails and changes nothing */
    CU_ASSERT_FALSE(VirtualProtect(a, 0xfffc, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(query(a).Protect, PAGE_NOACCESS);
    CU_ASSERT_EQUAL(kernel_prot(a), PROT_NONE);

    CU_ASSERT_TRUE(VirtualProtect(a, PG, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(old, PAGE_NOACCESS);
    CU_ASSERT_EQUAL(kernel_prot(a), PROT_READ);
    CU_ASSERT_TRUE(VirtualProtect(a, PG, PAGE_READWRITE, &old));
    CU_ASSERT_EQUAL(old, PAGE_READONLY);
    CU_ASSERT_EQUAL(kernel_prot(a), PROT_READ | PROT_WRITE);
    CU_ASSERT_EQUAL(query(a).AllocationProtect, PAGE_NOACCESS);
    memset(a, 0x55, 20);

    /* MEM_RESET: committed stays committed, reserved stays reserved */
    CU_ASSERT_EQUAL(VirtualAlloc(a, PG, MEM_RESET, PAGE_NOACCESS), a);
    m = query(a);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(VirtualAlloc(a + PG, PG, MEM_RESET, PAGE_NOACCESS), a + PG);
    m = query(a + PG);
    CU_ASSERT_EQUAL(m.State, MEM_RESERVE);
    CU_ASSERT_EQUAL(m.RegionSize, 0xf000);
    CU_ASSERT_PTR_NULL(VirtualAlloc(a + 0xf000, 0x2000, MEM_RESET, PAGE_NOACCESS));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);

    /* MEM_RESET_UNDO: alone, on allocated memory, state unchanged */
    CU_ASSERT_EQUAL(VirtualAlloc(a, PG, MEM_RESET_UNDO, PAGE_READWRITE), a);
    CU_ASSERT_EQUAL(query(a).State, MEM_COMMIT);
    CU_ASSERT_PTR_NULL(VirtualAlloc(a, PG, MEM_RESET | MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    char *gone = VirtualAlloc(NULL, PG, MEM_COMMIT, PAGE_READWRITE);
    CU_ASSERT_TRUE(VirtualFree(gone, 0, MEM_RELEASE));
    CU_ASSERT_PTR_NULL(VirtualAlloc(gone, PG, MEM_RESET_UNDO, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);

    CU_ASSERT_FALSE(VirtualFree(a, 0x10000, 0));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_TRUE(VirtualFree(a, 0x10000, MEM_DECOMMIT));
    CU_ASSERT_EQUAL(query(a).State, MEM_RESERVE);
    CU_ASSERT_EQUAL(kernel_prot(a), PROT_NONE);
    CU_ASSERT_FALSE(VirtualFree(a, 1, MEM_RELEASE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_FALSE(VirtualFree(a + PG, 0, MEM_RELEASE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
    CU_ASSERT_EQUAL(query(a).State, MEM_FREE);
    CU_ASSERT_EQUAL(kernel_prot(a), -1);
    CU_ASSERT_FALSE(VirtualFree(a, 0, MEM_RELEASE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
}

static void test_zero_on_first_commit_only(void)
{
    char *a = VirtualAlloc(NULL, 0x20000, MEM_RESERVE, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(VirtualAlloc(a + 0x10, 0x2000, MEM_COMMIT, PAGE_READWRITE), a);
    CU_ASSERT_EQUAL(a[0] | a[0x1fff], 0);
    memset(a, 0xab, 0x2000);
    /* committing again keeps the contents */
    CU_ASSERT_EQUAL(VirtualAlloc(a, 0x3000, MEM_COMMIT, PAGE_READWRITE), a);
    CU_ASSERT_EQUAL((unsigned char)a[0x1fff], 0xab);
    CU_ASSERT_EQUAL(a[0x2000], 0);
    MEMORY_BASIC_INFORMATION m = query(a);
    CU_ASSERT_EQUAL(m.RegionSize, 0x3000);
    /* decommit then commit: zero again */
    CU_ASSERT_TRUE(VirtualFree(a, 0x1000, MEM_DECOMMIT));
    CU_ASSERT_EQUAL(VirtualAlloc(a, 0x1000, MEM_COMMIT, PAGE_READWRITE), a);
    CU_ASSERT_EQUAL(a[0], 0);
    CU_ASSERT_EQUAL((unsigned char)a[0x1000], 0xab);
    CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
}

static void test_requested_address_and_conflicts(void)
{
    char *a = VirtualAlloc(NULL, 0x30000, MEM_RESERVE, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    /* inside an existing reservation: conflict */
    CU_ASSERT_PTR_NULL(VirtualAlloc(a + 0x10000, 0x1000, MEM_RESERVE, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
    /* a free address is rounded down to 64 KiB */
    char *b = VirtualAlloc(a + 0x11234, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    CU_ASSERT_EQUAL(b, a + 0x10000);
    MEMORY_BASIC_INFORMATION m = query(a + 0x11234);
    CU_ASSERT_EQUAL(m.AllocationBase, a + 0x10000);
    CU_ASSERT_EQUAL(m.BaseAddress, a + 0x11000);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(query(a + 0x10000).RegionSize, 0x3000);   /* 0x10000..0x13000 */
    CU_ASSERT_TRUE(VirtualFree(b, 0, MEM_RELEASE));
    /* commit where nothing is reserved */
    CU_ASSERT_PTR_NULL(VirtualAlloc(a, 0x1000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_PTR_NULL(VirtualAlloc((void *)0x1000, 0x1000, MEM_RESERVE, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, 0, MEM_RESERVE, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, 0x1000, MEM_RESERVE | 0x1, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, (SIZE_T)1 << 60, MEM_RESERVE, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);   /* larger than the user range */
    /* 100 TiB fits the range but not this machine's overcommit of PROT_NONE: the kernel refuses */
    void *huge = VirtualAlloc(NULL, (SIZE_T)100 << 40, MEM_RESERVE, PAGE_READWRITE);
    if (huge) {
        CU_ASSERT_TRUE(VirtualFree(huge, 0, MEM_RELEASE));
    } else {
        CU_ASSERT_EQUAL(GetLastError(), ERROR_NOT_ENOUGH_MEMORY);
    }
}

static void test_protection_values(void)
{
    for (unsigned p = 0; p < 0x100; p++) {
        SetLastError(0);
        void *a = VirtualAlloc(NULL, PG, MEM_COMMIT, p);
        bool valid = p == PAGE_NOACCESS || p == PAGE_READONLY || p == PAGE_READWRITE ||
                     p == PAGE_EXECUTE || p == PAGE_EXECUTE_READ || p == PAGE_EXECUTE_READWRITE;
        if (valid != (a != NULL))
            CU_FAIL("VirtualAlloc accepted an invalid protection or refused a valid one");
        if (a) {
            MEMORY_BASIC_INFORMATION m = query(a);
            CU_ASSERT_EQUAL(m.Protect, p);
            CU_ASSERT_EQUAL(m.AllocationProtect, p);
            CU_ASSERT_EQUAL(kernel_prot(a), wm_prot_to_unix(p));
            CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
        } else if (GetLastError() != ERROR_INVALID_PARAMETER) {
            CU_FAIL("invalid protection without ERROR_INVALID_PARAMETER");
        }
    }
    static const DWORD bad[] = { PAGE_NOACCESS | PAGE_GUARD, PAGE_NOACCESS | PAGE_NOCACHE,
                                 PAGE_READWRITE | PAGE_GUARD | PAGE_NOCACHE,
                                 PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE,
                                 PAGE_READWRITE | 0x800, PAGE_GUARD, 0 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, PG, MEM_COMMIT, bad[i]));
        CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    }
    /* the CFG flag: accepted with an executable base, not recorded; refused otherwise */
    char *x = VirtualAlloc(NULL, PG, MEM_COMMIT, PAGE_EXECUTE_READ | 0x40000000);
    CU_ASSERT_PTR_NOT_NULL(x);
    if (x) {
        CU_ASSERT_EQUAL(query(x).Protect, PAGE_EXECUTE_READ);
        VirtualFree(x, 0, MEM_RELEASE);
    }
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, PG, MEM_COMMIT, PAGE_READWRITE | 0x40000000));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    /* NOCACHE is recorded in both fields; the kernel gets the base protection */
    char *a = VirtualAlloc(NULL, 0x2000, MEM_COMMIT, PAGE_READWRITE | PAGE_NOCACHE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    MEMORY_BASIC_INFORMATION m = query(a);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE | PAGE_NOCACHE);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_READWRITE | PAGE_NOCACHE);
    a[0] = 1;
    DWORD old = 0;
    CU_ASSERT_FALSE(VirtualProtect(a, PG, PAGE_WRITECOPY, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_FALSE(VirtualProtect(a, PG, PAGE_READONLY, NULL));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    /* an unwritable lpflOldProtect: refused before anything changes */
    DWORD *ro = VirtualAlloc(NULL, PG, MEM_COMMIT, PAGE_READONLY);
    CU_ASSERT_FALSE(VirtualProtect(a, PG, PAGE_READONLY, ro));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_EQUAL(query(a).Protect, PAGE_READWRITE | PAGE_NOCACHE);
    CU_ASSERT_FALSE(VirtualProtect(a, PG, PAGE_READONLY, (DWORD *)0x10));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    VirtualFree(ro, 0, MEM_RELEASE);
    /* size 0: an empty range at a page boundary reports, changes nothing;
     * inside a page it is that page */
    old = 0;
    CU_ASSERT_TRUE(VirtualProtect(a + PG, 0, PAGE_EXECUTE, &old));
    CU_ASSERT_EQUAL(old, PAGE_READWRITE | PAGE_NOCACHE);
    CU_ASSERT_EQUAL(query(a + PG).Protect, PAGE_READWRITE | PAGE_NOCACHE);
    CU_ASSERT_TRUE(VirtualProtect(a + PG + 1, 0, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(query(a + PG).Protect, PAGE_READONLY);
    CU_ASSERT_TRUE(VirtualProtect(a + PG, 1, PAGE_READWRITE, &old));
    CU_ASSERT_EQUAL(old, PAGE_READONLY);
    CU_ASSERT_EQUAL(query(a).RegionSize, PG);   /* RW|NOCACHE and RW differ */
    CU_ASSERT_TRUE(VirtualProtect(a + PG, 1, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(old, PAGE_READWRITE);
    CU_ASSERT_EQUAL(query(a).RegionSize, PG);
    CU_ASSERT_EQUAL(query(a + PG).Protect, PAGE_READONLY);
    CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
}

static void test_physical_window(void)
{
    char *w = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    wm_region r;
    CU_ASSERT_TRUE(wm_registry_query((uint64_t)w, &r));
    CU_ASSERT_EQUAL(r.kind, WM_KIND_PHYSICAL);
    CU_ASSERT_EQUAL(r.state, MEM_RESERVE);
    CU_ASSERT_PTR_NULL(VirtualAlloc(w, PG, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_TRUE(VirtualFree(w, 0, MEM_RELEASE));
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_PHYSICAL, PAGE_READONLY));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT | MEM_PHYSICAL, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
}

static void test_ex_handles(void)
{
    char *a = VirtualAllocEx(GetCurrentProcess(), NULL, PG, MEM_COMMIT, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    DWORD old;
    CU_ASSERT_TRUE(VirtualProtectEx(GetCurrentProcess(), a, PG, PAGE_READONLY, &old));
    CU_ASSERT_FALSE(VirtualFreeEx((HANDLE)0x1234, a, 0, MEM_RELEASE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    HANDLE self = OpenProcess(PROCESS_ALL_ACCESS, FALSE, GetCurrentProcessId());
    CU_ASSERT_PTR_NOT_NULL(self);
    if (self) {
        CU_ASSERT_TRUE(VirtualFreeEx(self, a, 0, MEM_RELEASE));
        CU_ASSERT_TRUE(CloseHandle(self));
    }
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    HANDLE other = OpenProcess(PROCESS_ALL_ACCESS, FALSE, (DWORD)child);
    CU_ASSERT_PTR_NOT_NULL(other);
    if (other) {
        CU_ASSERT_PTR_NULL(VirtualAllocEx(other, NULL, PG, MEM_COMMIT, PAGE_READWRITE));
        CU_ASSERT_EQUAL(GetLastError(), ERROR_ACCESS_DENIED);
        CU_ASSERT_FALSE(VirtualProtectEx(other, a, PG, PAGE_READONLY, &old));
        CU_ASSERT_EQUAL(GetLastError(), ERROR_ACCESS_DENIED);
        CloseHandle(other);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

static void test_lock_unlock(void)
{
    char *a = VirtualAlloc(NULL, 0x10000, MEM_RESERVE, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL(VirtualAlloc(a, 0x4000, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_FALSE(VirtualLock(a + 0x4000, PG));   /* reserved */
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_FALSE(VirtualUnlock(a, PG));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOT_LOCKED);
    CU_ASSERT_TRUE(VirtualLock(a, 0));       /* empty range: nothing to do */
    CU_ASSERT_TRUE(VirtualUnlock(a, 0));
    CU_ASSERT_TRUE(VirtualLock(a, 0x2000));
    CU_ASSERT_TRUE(VirtualLock(a + 0x2000, 0x1000));   /* merges with the first */
    CU_ASSERT_TRUE(VirtualUnlock(a + 0x1000, 0x1000)); /* splits it */
    CU_ASSERT_FALSE(VirtualUnlock(a, 0x2000));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOT_LOCKED);
    /* a child inherits no locks (fork drops mlock), so it has none to unlock */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(!VirtualUnlock(a, 0x1000) && GetLastError() == ERROR_NOT_LOCKED ? 0 : 1);
    int st = 1;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_TRUE(VirtualUnlock(a, 0x1000));
    /* decommit forgets the lock */
    CU_ASSERT_TRUE(VirtualFree(a + 0x2000, 0x1000, MEM_DECOMMIT));
    CU_ASSERT_FALSE(VirtualUnlock(a + 0x2000, 0x1000));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOT_LOCKED);
    DWORD old;
    CU_ASSERT_TRUE(VirtualProtect(a + 0x3000, PG, PAGE_NOACCESS, &old));
    CU_ASSERT_FALSE(VirtualLock(a + 0x3000, PG));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
}

/* Memory winmem did not allocate: protected through mprotect, read back
 * through VirtualQuery; what cannot be recorded is refused. */
static char image_page[2 * 4096] __attribute__((aligned(4096)));

static void test_protect_foreign(void)
{
    DWORD old = 0;
    char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(m != MAP_FAILED);
    CU_ASSERT_TRUE(VirtualProtect(m, PG, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(old, PAGE_READWRITE);
    CU_ASSERT_EQUAL(kernel_prot(m), PROT_READ);
    CU_ASSERT_EQUAL(query(m).Protect, PAGE_READONLY);
    CU_ASSERT_EQUAL(kernel_prot(m + PG), PROT_READ | PROT_WRITE);
    CU_ASSERT_FALSE(VirtualProtect(m, PG, PAGE_READWRITE | PAGE_GUARD, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOT_SUPPORTED);
    CU_ASSERT_FALSE(VirtualProtect(m, PG, PAGE_WRITECOPY, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(kernel_prot(m), PROT_READ);   /* failures changed nothing */
    munmap(m, 2 * PG);
    CU_ASSERT_FALSE(VirtualProtect(m, PG, PAGE_READONLY, &old));   /* now free */
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);

    /* a program's own data: Windows programs patch their image this way */
    CU_ASSERT_TRUE(VirtualProtect(image_page, PG, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(kernel_prot(image_page), PROT_READ);
    CU_ASSERT_TRUE(VirtualProtect(image_page, PG, old, &old));
    CU_ASSERT_EQUAL(old, PAGE_READONLY);
    image_page[0] = 1;
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("alloc", NULL, NULL);
    WM_TEST(s, test_reserve_commit_protect_free);
    WM_TEST(s, test_zero_on_first_commit_only);
    WM_TEST(s, test_requested_address_and_conflicts);
    WM_TEST(s, test_protection_values);
    WM_TEST(s, test_physical_window);
    WM_TEST(s, test_ex_handles);
    WM_TEST(s, test_lock_unlock);
    WM_TEST(s, test_protect_foreign);
}
