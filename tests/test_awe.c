/* AWE (core/awe.c): frames, windows, the documented errors, privilege and
 * partial allocation, threads. Windows are reserved here the way
 * VirtualAlloc(MEM_RESERVE|MEM_PHYSICAL) does it: a PROT_NONE reservation
 * registered as WM_KIND_PHYSICAL. */
#include <linux/capability.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "internal.h"
#include "registry.h"
#include "awe_internal.h"
#include "winmem/awe.h"

#define PG 4096UL
#define ME ((HANDLE)(intptr_t)-1)

/* NULL on failure; no CUnit call, so threads may use it. */
static char *try_window(size_t pages)
{
    size_t size = pages * PG;
    char *p = mmap(NULL, size + WM_ALLOC_GRANULARITY, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    char *base = (char *)(((uintptr_t)p + WM_ALLOC_GRANULARITY - 1) & ~(WM_ALLOC_GRANULARITY - 1));
    return wm_registry_add((uint64_t)(uintptr_t)base, size, PAGE_READWRITE, WM_KIND_PHYSICAL) ? base : NULL;
}

static char *window(size_t pages)
{
    char *base = try_window(pages);
    CU_ASSERT_PTR_NOT_NULL_FATAL(base);
    return base;
}

static void release(char *base, size_t pages)
{
    wm_awe_forget_window((uint64_t)(uintptr_t)base, pages * PG);
    wm_registry_remove((uint64_t)(uintptr_t)base);
    munmap(base, pages * PG);
}

/* true when reading p kills a child with SIGSEGV: the page is inaccessible. */
static bool inaccessible(const volatile char *p)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);       /* not the sanitizer's report */
        (void)*p;
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

static uint32_t state_at(const void *p, uint32_t *protect)
{
    wm_region r;
    if (!wm_registry_query((uint64_t)(uintptr_t)p, &r))
        return 0;
    *protect = r.protect;
    return r.state;
}

static void test_usage_pattern(void)
{
    ULONG_PTR n = 4, pfn[4];
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    CU_ASSERT_EQUAL_FATAL(n, 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT(pfn[i] != 0);
    char *a = window(8), *b = window(8);
    uint32_t prot = 99;
    CU_ASSERT_EQUAL(state_at(a, &prot), MEM_RESERVE);

    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(a, 4, pfn));
    CU_ASSERT_EQUAL(state_at(a + 3 * PG, &prot), MEM_COMMIT);
    CU_ASSERT_EQUAL(prot, PAGE_READWRITE);
    CU_ASSERT_EQUAL(state_at(a + 4 * PG, &prot), MEM_RESERVE);
    for (int i = 0; i < 4; i++)
        memset(a + i * PG, 'A' + i, PG);

    CU_ASSERT_TRUE(MapUserPhysicalPages(a, 4, NULL));
    CU_ASSERT_EQUAL(state_at(a, &prot), MEM_RESERVE);
    CU_ASSERT_TRUE(inaccessible(a));
    CU_ASSERT_TRUE(inaccessible(a + 3 * PG));

    /* Remap in another window, in reverse order: the data followed the frames. */
    ULONG_PTR rev[4] = { pfn[3], pfn[2], pfn[1], pfn[0] };
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(b + 2 * PG, 4, rev));
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(b[(2 + i) * PG], 'A' + 3 - i);
        CU_ASSERT_EQUAL(b[(2 + i) * PG + PG - 1], 'A' + 3 - i);
    }
    /* pfn[0..1] are mapped at b+5, b+4: not again elsewhere. */
    CU_ASSERT_FALSE(MapUserPhysicalPages(b + 2 * PG, 2, &pfn[0]));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(b[2 * PG], 'D');
    /* Mapping over a mapped range replaces it; the old frames become free to map. */
    CU_ASSERT_TRUE(MapUserPhysicalPages(b + 4 * PG, 2, NULL));
    CU_ASSERT_TRUE(MapUserPhysicalPages(b + 2 * PG, 2, &pfn[0]));
    CU_ASSERT_EQUAL(b[2 * PG], 'A');
    CU_ASSERT_TRUE(MapUserPhysicalPages(a, 2, &pfn[2]));   /* were at b+2, b+3 */
    CU_ASSERT_EQUAL(a[0], 'C');

    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, pfn));
    CU_ASSERT_EQUAL(n, 4);
    release(a, 8);
    release(b, 8);
}

static void test_double_map_and_bad_frames(void)
{
    ULONG_PTR n = 3, pfn[3];
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    char *a = window(4), *b = window(4);
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(a, 1, pfn));
    a[0] = 'x';

    /* Already mapped at a: mapping it at b too is refused; a keeps it. */
    SetLastError(0);
    CU_ASSERT_FALSE(MapUserPhysicalPages(b, 1, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(a[0], 'x');
    CU_ASSERT_TRUE(inaccessible(b));
    /* Even at the same place. */
    CU_ASSERT_FALSE(MapUserPhysicalPages(a, 1, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    /* Listed twice in one call. */
    ULONG_PTR twice[2] = { pfn[1], pfn[1] };
    CU_ASSERT_FALSE(MapUserPhysicalPages(b, 2, twice));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_TRUE(MapUserPhysicalPages(b, 1, &pfn[1]));   /* the failure left it free */

    /* Frame numbers never allocated: ERROR_INVALID_ADDRESS, nothing changed. */
    ULONG_PTR bogus[3] = { pfn[2], 12345678, 0 };
    CU_ASSERT_FALSE(MapUserPhysicalPages(b + PG, 2, bogus));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_TRUE(inaccessible(b + PG));
    CU_ASSERT_FALSE(MapUserPhysicalPages(b + PG, 1, &bogus[2]));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);

    /* Addresses outside any MEM_PHYSICAL window, or running past its end. */
    static char plain[2 * 4096] __attribute__((aligned(4096)));
    CU_ASSERT_FALSE(MapUserPhysicalPages(plain, 1, &pfn[2]));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_FALSE(MapUserPhysicalPages(a + 3 * PG, 2, &pfn[1]));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_FALSE(MapUserPhysicalPages(a, 0, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    /* An unreadable array. */
    CU_ASSERT_FALSE(MapUserPhysicalPages(a, 1, (PULONG_PTR)8));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_EQUAL(a[0], 'x');

    n = 3;
    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, pfn));
    release(a, 4);
    release(b, 4);
}

static void test_scatter(void)
{
    ULONG_PTR n = 3, pfn[3];
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    char *a = window(4), *b = window(4);
    PVOID at[3] = { a + 2 * PG, b, a };
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPagesScatter(at, 3, pfn));
    a[2 * PG] = 1; b[0] = 2; a[0] = 3;
    /* 0 unmaps that entry only; the others move. */
    PVOID at2[3] = { a, b + 3 * PG, a + 2 * PG };
    ULONG_PTR f2[3] = { 0, 0, 0 };
    CU_ASSERT_TRUE(MapUserPhysicalPagesScatter(at2, 1, f2));
    CU_ASSERT_TRUE(inaccessible(a));
    f2[0] = pfn[2];
    CU_ASSERT_TRUE(MapUserPhysicalPagesScatter(&at2[1], 1, f2));
    CU_ASSERT_EQUAL(b[3 * PG], 3);
    /* A bad address anywhere in the list: nothing happens. */
    static char plain[4096] __attribute__((aligned(4096)));
    PVOID bad[2] = { a + PG, plain };
    ULONG_PTR f3[2] = { pfn[2], pfn[2] };
    CU_ASSERT_FALSE(MapUserPhysicalPagesScatter(bad, 2, f3));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(b[3 * PG], 3);
    CU_ASSERT_TRUE(MapUserPhysicalPagesScatter(NULL, 0, NULL));
    CU_ASSERT_FALSE(MapUserPhysicalPagesScatter((PVOID *)8, 1, NULL));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    /* NULL frames: unmap every address listed. */
    PVOID all[3] = { a + 2 * PG, b, b + 3 * PG };
    CU_ASSERT_TRUE(MapUserPhysicalPagesScatter(all, 3, NULL));
    CU_ASSERT_TRUE(inaccessible(b));
    CU_ASSERT_TRUE(inaccessible(b + 3 * PG));
    n = 3;
    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, pfn));
    release(a, 4);
    release(b, 4);
}

static void test_free_while_mapped_and_bad_free(void)
{
    ULONG_PTR n = 4, pfn[4];
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    char *a = window(4);
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(a, 4, pfn));
    memset(a, 7, 4 * PG);
    /* Free 2 and a bogus one: the first two are freed (and unmapped), then it stops. */
    ULONG_PTR some[3] = { pfn[0], pfn[1], 5 };
    n = 3;
    CU_ASSERT_FALSE(FreeUserPhysicalPages(ME, &n, some));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(n, 2);
    uint32_t prot;
    CU_ASSERT_EQUAL(state_at(a, &prot), MEM_RESERVE);
    CU_ASSERT_TRUE(inaccessible(a));
    CU_ASSERT_TRUE(inaccessible(a + PG));
    CU_ASSERT_EQUAL(a[2 * PG], 7);            /* the others stay */
    /* Freed frames are no longer held. */
    CU_ASSERT_FALSE(MapUserPhysicalPages(a, 1, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    n = 2;
    CU_ASSERT_FALSE(FreeUserPhysicalPages(ME, &n, pfn));   /* twice */
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(n, 0);
    n = 0;
    CU_ASSERT_FALSE(FreeUserPhysicalPages(ME, &n, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    CU_ASSERT_FALSE(FreeUserPhysicalPages(ME, NULL, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    n = 1;
    CU_ASSERT_FALSE(FreeUserPhysicalPages((HANDLE)0x1234, &n, &pfn[2]));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
    /* Reused frames come back zeroed. */
    n = 2;
    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, &pfn[2]));
    n = 4;
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(a, n, pfn));
    for (ULONG_PTR i = 0; i < n; i++)
        CU_ASSERT_EQUAL(a[i * PG + 100], 0);
    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, pfn));
    release(a, 4);
}

static void test_allocate_bad_input(void)
{
    ULONG_PTR n = 0, pfn[2] = { 42, 42 };
    CU_ASSERT_TRUE(AllocateUserPhysicalPages(ME, &n, pfn));   /* 0 pages: nothing */
    CU_ASSERT_EQUAL(pfn[0], 42);
    CU_ASSERT_FALSE(AllocateUserPhysicalPages(ME, NULL, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    n = 2;
    CU_ASSERT_FALSE(AllocateUserPhysicalPages(ME, &n, NULL));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_FALSE(AllocateUserPhysicalPages(ME, &n, (PULONG_PTR)8));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    CU_ASSERT_EQUAL(n, 2);
    n = ~(ULONG_PTR)0;
    CU_ASSERT_FALSE(AllocateUserPhysicalPages(ME, &n, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    n = 2;
    CU_ASSERT_FALSE(AllocateUserPhysicalPages((HANDLE)0x1234, &n, pfn));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
}

/* Child: no CAP_IPC_LOCK, RLIMIT_MEMLOCK = what is locked now + extra. */
static void drop_lock_privilege(rlim_t extra_pages)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &hdr, d);
    d[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    d[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
    if (syscall(SYS_capset, &hdr, d) != 0)
        _exit(90);
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmLck: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    struct rlimit rl = { kb * 1024 + extra_pages * PG, kb * 1024 + extra_pages * PG };
    if (extra_pages == 0)
        rl.rlim_cur = rl.rlim_max = 0;
    if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        _exit(91);
}

static int in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void child_privilege(void)
{
    drop_lock_privilege(0);
    ULONG_PTR n = 4, pfn[4];
    if (AllocateUserPhysicalPages(ME, &n, pfn))
        _exit(1);
    if (GetLastError() != ERROR_PRIVILEGE_NOT_HELD)
        _exit(2);
    if (n != 4)
        _exit(3);
}

static void child_partial(void)
{
    drop_lock_privilege(16);
    ULONG_PTR n = 64, pfn[64];
    if (!AllocateUserPhysicalPages(ME, &n, pfn))
        _exit(10 + (int)(GetLastError() % 100));
    if (n == 0 || n > 16)
        _exit(4);
    /* The frames work. */
    char *a = window(64);
    if (!MapUserPhysicalPages(a, n, pfn))
        _exit(5);
    memset(a, 1, n * PG);
    /* The limit is used up now: the next request gets nothing at all. */
    ULONG_PTR m = 64, more[64];
    more[0] = 77;
    if (AllocateUserPhysicalPages(ME, &m, more) || m != 64 || more[0] != 77) {
        fprintf(stderr, "second: m=%lu err=%u n=%lu\n", (unsigned long)m, GetLastError(), (unsigned long)n);
        _exit(6);
    }
    if (!FreeUserPhysicalPages(ME, &n, pfn))
        _exit(7);
}

static void test_privilege_not_held(void)
{
    CU_ASSERT_EQUAL(in_child(child_privilege), 0);
}

static void test_partial_allocation(void)
{
    int rc = in_child(child_partial);
    if (rc)
        fprintf(stderr, "partial child: %d\n", rc);
    CU_ASSERT_EQUAL(rc, 0);
}

static void *mapper(void *arg)
{
    uintptr_t id = (uintptr_t)arg, bad = 0;
    ULONG_PTR n = 8, pfn[8];
    if (!AllocateUserPhysicalPages(ME, &n, pfn) || n != 8)
        return (void *)1;
    char *w = try_window(16);
    if (!w)
        return (void *)1;
    for (int round = 0; round < 300; round++) {
        char *at = w + (round % 9) * PG;
        if (!MapUserPhysicalPages(at, 8, pfn)) {
            bad++;
            break;
        }
        if (round && at[0] != (char)(id * 16 + (round - 1) % 16))
            bad++;
        memset(at, (int)(id * 16 + round % 16), 8 * PG);
        if (!MapUserPhysicalPages(at, 8, NULL))
            bad++;
    }
    if (!FreeUserPhysicalPages(ME, &n, pfn))
        bad++;
    release(w, 16);
    return (void *)bad;
}

static void test_four_threads(void)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, mapper, (void *)i), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        CU_ASSERT_EQUAL(r, NULL);
    }
}

static void test_released_window_forgets_frames(void)
{
    ULONG_PTR n = 1, pfn[1];
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    char *a = window(4);
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(a, 1, pfn));
    a[0] = 'q';
    release(a, 4);                       /* VirtualFree(MEM_RELEASE) */
    char *b = window(4);
    CU_ASSERT_TRUE(MapUserPhysicalPages(b, 1, pfn));   /* free to map again */
    CU_ASSERT_EQUAL(b[0], 'q');
    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, pfn));
    release(b, 4);
}

/* Windows from the real VirtualAlloc, released by the real VirtualFree
 * (which does not tell core/awe.c): the frames must be mappable again, also
 * when the next window lands at the same address with the same size. */
static void test_virtualalloc_windows(void)
{
    ULONG_PTR n = 2, pfn[2];
    CU_ASSERT_TRUE_FATAL(AllocateUserPhysicalPages(ME, &n, pfn));
    char *a = VirtualAlloc(NULL, 4 * PG, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(a, 2, pfn));
    a[0] = 'v';
    CU_ASSERT_TRUE(VirtualFree(a, 0, MEM_RELEASE));
    char *b = VirtualAlloc(NULL, 4 * PG, MEM_RESERVE | MEM_PHYSICAL, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_TRUE(inaccessible(b));
    CU_ASSERT_TRUE_FATAL(MapUserPhysicalPages(b + PG, 2, pfn));
    CU_ASSERT_EQUAL(b[PG], 'v');
    /* Freeing must unmap b+PG, and nothing at the old address. */
    CU_ASSERT_TRUE(FreeUserPhysicalPages(ME, &n, pfn));
    CU_ASSERT_TRUE(inaccessible(b + PG));
    CU_ASSERT_TRUE(VirtualFree(b, 0, MEM_RELEASE));
    /* MEM_PHYSICAL needs MEM_RESERVE and PAGE_READWRITE. */
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, PG, MEM_COMMIT | MEM_PHYSICAL, PAGE_READWRITE));
    CU_ASSERT_PTR_NULL(VirtualAlloc(NULL, PG, MEM_RESERVE | MEM_PHYSICAL, PAGE_READONLY));
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("awe", NULL, NULL);
    WM_TEST(s, test_usage_pattern);
    WM_TEST(s, test_double_map_and_bad_frames);
    WM_TEST(s, test_scatter);
    WM_TEST(s, test_free_while_mapped_and_bad_free);
    WM_TEST(s, test_allocate_bad_input);
    WM_TEST(s, test_privilege_not_held);
    WM_TEST(s, test_partial_allocation);
    WM_TEST(s, test_four_threads);
    WM_TEST(s, test_released_window_forgets_frames);
    WM_TEST(s, test_virtualalloc_windows);
}
