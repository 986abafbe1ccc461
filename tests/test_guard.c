/* PAGE_GUARD: one shot per page, visible through winmem_GuardPageHits, and
 * the handler never takes a fault that is not its own. Tests that depend on
 * what was installed before the handler run in forked children, first. */
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "internal.h"
#include "registry.h"

#define PG 0x1000u

static char *guarded(size_t size)
{
    return VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD);
}

static char *foreign_noaccess(void)
{
    char *p = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Runs fn in a child; returns its wait status. */
static int in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static void set_handler(int sig, void (*h)(int))
{
    struct sigaction sa = { .sa_handler = h };
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* --- the handler before ours was SIG_DFL: our guard works, a real fault kills --- */
static void child_default(void)
{
    set_handler(SIGSEGV, SIG_DFL);
    volatile char *g = guarded(PG);
    if (!g || g[0] != 0 || winmem_GuardPageHits() != 1)
        _exit(10);
    volatile char *f = foreign_noaccess();
    f[0] = 1;     /* must kill by SIGSEGV */
    _exit(11);
}

static void test_default_action_still_kills(void)
{
    int st = in_child(child_default);
    CU_ASSERT_TRUE(WIFSIGNALED(st));
    if (WIFSIGNALED(st))
        CU_ASSERT_EQUAL(WTERMSIG(st), SIGSEGV);
}

/* --- an SA_SIGINFO handler installed first keeps getting foreign faults --- */
static volatile sig_atomic_t foreign_calls;
static volatile char *foreign_addr;
static void info_handler(int sig, siginfo_t *si, void *uc)
{
    foreign_calls++;
    _exit(si->si_addr == (void *)foreign_addr ? 42 : 40);
}

static void child_siginfo(void)
{
    struct sigaction sa = { .sa_sigaction = info_handler, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    volatile char *g = guarded(2 * PG);
    g[PG] = 5;             /* ours: handled, not passed on */
    if (foreign_calls || g[PG] != 5 || winmem_GuardPageHits() != 1)
        _exit(12);
    foreign_addr = foreign_noaccess();
    foreign_addr[0] = 1;
    _exit(13);
}

static void test_siginfo_handler_chained(void)
{
    int st = in_child(child_siginfo);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 42);
}

/* --- a plain handler installed first, too --- */
static void plain_handler(int sig) { _exit(sig == SIGSEGV ? 43 : 41); }

static void child_plain(void)
{
    set_handler(SIGSEGV, plain_handler);
    volatile char *g = guarded(PG);
    (void)g[0];
    volatile char *f = foreign_noaccess();
    f[0] = 1;
    _exit(14);
}

static void test_plain_handler_chained(void)
{
    int st = in_child(child_plain);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 43);
}

/* --- SIG_IGN before: a sent SIGSEGV stays ignored, a real fault still kills --- */
static void child_ignored(void)
{
    set_handler(SIGSEGV, SIG_IGN);
    volatile char *g = guarded(PG);
    (void)g[0];
    kill(getpid(), SIGSEGV);     /* ignored, as before winmem */
    volatile char *f = foreign_noaccess();
    f[0] = 1;
    _exit(15);
}

static void test_ignored_then_real_fault(void)
{
    int st = in_child(child_ignored);
    CU_ASSERT_TRUE(WIFSIGNALED(st));
    if (WIFSIGNALED(st))
        CU_ASSERT_EQUAL(WTERMSIG(st), SIGSEGV);
}

/* --- forbidden (the shim inside Wine): recorded, never installed, never fires --- */
static void child_forbidden(void)
{
    set_handler(SIGSEGV, SIG_DFL);
    wm_guard_forbid_handler();
    volatile char *g = guarded(PG);
    MEMORY_BASIC_INFORMATION m;
    if (!g || !VirtualQuery((void *)g, &m, sizeof(m)) || m.Protect != (PAGE_READWRITE | PAGE_GUARD))
        _exit(16);
    g[0] = 1;                       /* no fault: the guard is inert */
    struct sigaction now;
    sigaction(SIGSEGV, NULL, &now);
    _exit(winmem_GuardPageHits() == 0 && now.sa_handler == SIG_DFL ? 0 : 17);
}

static void test_forbidden_handler(void)
{
    int st = in_child(child_forbidden);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* --- stack overflow into a guard page, as a thread on a stack it manages:
 * the fault comes with the stack pointer inside the guard page, so the
 * handler can only run on an alternate signal stack. The thread arms its
 * own guard, which is when winmem gives it one --- */
static char *probe_stack;
static void __attribute__((noinline)) deep_frame(void)
{
    volatile char buf[1600];
    buf[0] = 1;                  /* the lowest byte lies in the guard page */
    buf[sizeof(buf) - 1] = 1;
}

static void *probe_thread(void *arg)
{
    /* No alternate stack of its own (ASan gives every thread one): arming a
     * guard must give the thread one. */
    stack_t off = { .ss_flags = SS_DISABLE };
    DWORD old;
    sigaltstack(&off, NULL);
    if (!VirtualProtect(probe_stack, PG, PAGE_READWRITE | PAGE_GUARD, &old))
        return NULL;
    volatile char here = 0;
    uint64_t guard_end = (uint64_t)probe_stack + PG;
    volatile char *pad = alloca((uint64_t)&here - guard_end - 1024);
    pad[0] = here;               /* the stack now ends ~1 KiB above the guard */
    deep_frame();
    return (void *)(uintptr_t)winmem_GuardPageHits();
}

static void child_stack(void)
{
    enum { STACK = 0x40000 };
    probe_stack = VirtualAlloc(NULL, STACK, MEM_RESERVE, PAGE_READWRITE);
    if (!probe_stack || !VirtualAlloc(probe_stack, STACK, MEM_COMMIT, PAGE_READWRITE))
        _exit(18);
    pthread_attr_t at;
    pthread_t t;
    void *hits = NULL;
    pthread_attr_init(&at);
    pthread_attr_setstack(&at, probe_stack + PG, STACK - PG);
    if (pthread_create(&t, &at, probe_thread, NULL) != 0)
        _exit(19);
    pthread_join(t, &hits);
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(probe_stack, &m, sizeof(m));
    _exit(hits == (void *)1 && m.Protect == PAGE_READWRITE ? 0 : 20);
}

static void test_stack_probe(void)
{
    int st = in_child(child_stack);
    CU_ASSERT_TRUE(WIFEXITED(st));
    CU_ASSERT_EQUAL(WEXITSTATUS(st), 0);
}

/* --- in this process --- */
static void test_one_shot_like_windows(void)
{
    DWORD old = 0;
    char *base = guarded(PG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(base);
    volatile int *v = (volatile int *)base;
    MEMORY_BASIC_INFORMATION m;
    CU_ASSERT_EQUAL(VirtualQuery(base, &m, sizeof(m)), sizeof(m));
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE | PAGE_GUARD);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_READWRITE | PAGE_GUARD);
    CU_ASSERT_TRUE(VirtualProtect(base, PG, PAGE_READWRITE, &old));
    CU_ASSERT_EQUAL(old, PAGE_READWRITE | PAGE_GUARD);
    v[0] = 1;
    v[1] = 2;
    CU_ASSERT_TRUE(VirtualProtect(base, PG, PAGE_READWRITE | PAGE_GUARD, &old));
    CU_ASSERT_EQUAL(old, PAGE_READWRITE);

    /* VirtualLock fails once with the guard status and clears the guard */
    ULONG64 before = winmem_GuardPageHits();
    CU_ASSERT_FALSE(VirtualLock(base, PG));
    CU_ASSERT_EQUAL(GetLastError(), (DWORD)STATUS_GUARD_PAGE_VIOLATION);
    CU_ASSERT_TRUE(VirtualLock(base, PG));
    CU_ASSERT_TRUE(VirtualUnlock(base, PG));
    VirtualQuery(base, &m, sizeof(m));
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(winmem_GuardPageHits(), before);   /* no exception was raised */

    CU_ASSERT_TRUE(VirtualProtect(base, PG, PAGE_READWRITE | PAGE_GUARD, &old));
    int got = v[0];
    CU_ASSERT_EQUAL(got, 1);
    CU_ASSERT_EQUAL(winmem_GuardPageHits(), before + 1);
    got = v[1];
    CU_ASSERT_EQUAL(got, 2);
    CU_ASSERT_EQUAL(winmem_GuardPageHits(), before + 1);   /* one shot */
    VirtualQuery(base, &m, sizeof(m));
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(m.AllocationProtect, PAGE_READWRITE | PAGE_GUARD);
    CU_ASSERT_TRUE(VirtualFree(base, 0, MEM_RELEASE));
}

static void WINMEM_API on_guard(PVOID addr, PVOID ctx) { *(void **)ctx = addr; }

static void test_callback_and_split(void)
{
    void *seen = NULL;
    char *base = guarded(3 * PG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(base);
    winmem_SetGuardPageCallback(on_guard, &seen);
    base[PG + 7] = 1;
    winmem_SetGuardPageCallback(NULL, NULL);
    CU_ASSERT_PTR_EQUAL(seen, base + PG + 7);
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(base, &m, sizeof(m));
    CU_ASSERT_EQUAL(m.RegionSize, PG);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE | PAGE_GUARD);
    VirtualQuery(base + PG, &m, sizeof(m));
    CU_ASSERT_EQUAL(m.RegionSize, PG);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    VirtualQuery(base + 2 * PG, &m, sizeof(m));
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE | PAGE_GUARD);
    CU_ASSERT_TRUE(VirtualFree(base, 0, MEM_RELEASE));
}

/* Eight threads touch one guard page at once: one exception in all. */
static volatile char *race_page;
static pthread_barrier_t race_barrier;
static void *race_thread(void *arg)
{
    pthread_barrier_wait(&race_barrier);
    (void)race_page[(uintptr_t)arg * 64];
    return (void *)(uintptr_t)winmem_GuardPageHits();
}

static void test_concurrent_touch_one_exception(void)
{
    for (int round = 0; round < 50; round++) {
        pthread_t t[8];
        race_page = guarded(PG);
        CU_ASSERT_PTR_NOT_NULL_FATAL(race_page);
        pthread_barrier_init(&race_barrier, NULL, 8);
        for (uintptr_t i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, race_thread, (void *)i);
        uintptr_t total = 0;
        for (int i = 0; i < 8; i++) {
            void *h;
            pthread_join(t[i], &h);
            total += (uintptr_t)h;
        }
        pthread_barrier_destroy(&race_barrier);
        CU_ASSERT_EQUAL(total, 1);
        CU_ASSERT_TRUE(VirtualFree((void *)race_page, 0, MEM_RELEASE));
    }
}

/* One thread re-arms a guard while another keeps touching the page: every
 * fault is either one guard exception or a retry, never a crash, and at the
 * end registry and kernel agree. */
static volatile char *rearm_page;
static atomic_int rearm_stop;
static void *toucher(void *arg)
{
    while (!atomic_load(&rearm_stop))
        rearm_page[64]++;
    return (void *)(uintptr_t)winmem_GuardPageHits();
}

static void test_rearm_while_touched(void)
{
    pthread_t t;
    DWORD old;
    int arms = 0;
    rearm_page = guarded(PG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rearm_page);
    atomic_store(&rearm_stop, 0);
    pthread_create(&t, NULL, toucher, NULL);
    for (int i = 0; i < 20000; i++)
        arms += VirtualProtect((void *)rearm_page, PG, PAGE_READWRITE | PAGE_GUARD, &old) != 0;
    atomic_store(&rearm_stop, 1);
    void *hits;
    pthread_join(t, &hits);
    CU_ASSERT_EQUAL(arms, 20000);
    CU_ASSERT_TRUE((uintptr_t)hits >= 1 && (uintptr_t)hits <= (uintptr_t)arms + 1);
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery((void *)rearm_page, &m, sizeof(m));
    wm_vma v;
    CU_ASSERT_EQUAL(wm_vma_find(wm_space_self(), (uint64_t)rearm_page, &v, NULL, 0), 0);
    bool kernel_open = v.flags & WM_VMA_WRITE;
    CU_ASSERT_EQUAL(kernel_open, m.Protect == PAGE_READWRITE);
    CU_ASSERT_TRUE(VirtualFree((void *)rearm_page, 0, MEM_RELEASE));
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("guard", NULL, NULL);
    /* children first: they need a process where the handler is not yet installed */
    WM_TEST(s, test_default_action_still_kills);
    WM_TEST(s, test_siginfo_handler_chained);
    WM_TEST(s, test_plain_handler_chained);
    WM_TEST(s, test_ignored_then_real_fault);
    WM_TEST(s, test_forbidden_handler);
    WM_TEST(s, test_stack_probe);
    WM_TEST(s, test_one_shot_like_windows);
    WM_TEST(s, test_callback_and_split);
    WM_TEST(s, test_concurrent_touch_one_exception);
    WM_TEST(s, test_rearm_while_touched);
}
