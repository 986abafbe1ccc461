/* Eight threads reserve, commit, protect, decommit, release and query for
 * about two seconds. Each keeps a page-by-page model of its own allocations;
 * VirtualQuery, the kernel and the memory contents must match the model
 * after every step, and queries of other threads' memory must stay sane. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "unit.h"
#include "internal.h"
#include "registry.h"

#define PG 0x1000u
#define NTHREADS 8
#define SLOTS 6
#define MAXPG 24

typedef struct slot {
    char *base;
    unsigned npages;
    DWORD alloc_prot;
    DWORD prot[MAXPG];   /* 0 = reserved */
} slot;

static atomic_int failures;
static atomic_ullong operations;
static char *published[NTHREADS * SLOTS];   /* read racily by others, on purpose */

#define CHECK(cond) do { if (!(cond)) { atomic_fetch_add(&failures, 1); return; } } while (0)

static const DWORD prots[] = { PAGE_NOACCESS, PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE_READ,
                               PAGE_READWRITE | PAGE_NOCACHE, PAGE_READWRITE | PAGE_GUARD };

static int unix_of(DWORD p) { return p ? wm_prot_to_unix(p) : PROT_NONE; }

static void check_slot(const slot *s, unsigned seed)
{
    for (unsigned p = 0; p < s->npages; p++) {
        MEMORY_BASIC_INFORMATION m;
        CHECK(VirtualQuery(s->base + p * PG + (seed % PG), &m, sizeof(m)) == sizeof(m));
        unsigned q = p;
        while (q < s->npages && s->prot[q] == s->prot[p])
            q++;
        CHECK(m.BaseAddress == s->base + p * PG && m.AllocationBase == s->base);
        CHECK(m.AllocationProtect == s->alloc_prot && m.Type == MEM_PRIVATE);
        CHECK(m.State == (s->prot[p] ? MEM_COMMIT : MEM_RESERVE) && m.Protect == s->prot[p]);
        CHECK(m.RegionSize == (q - p) * PG);
        wm_vma v;
        CHECK(wm_vma_find(wm_space_self(), (uint64_t)m.BaseAddress, &v, NULL, 0) == 0);
        int k = ((v.flags & WM_VMA_READ) ? PROT_READ : 0) | ((v.flags & WM_VMA_WRITE) ? PROT_WRITE : 0) |
                ((v.flags & WM_VMA_EXEC) ? PROT_EXEC : 0);
        CHECK(k == unix_of(s->prot[p]));
        if ((s->prot[p] & 0xff) == PAGE_READWRITE && !(s->prot[p] & PAGE_GUARD)) {
            /* each page holds its own address once written, or zero if never */
            uint64_t *w = (uint64_t *)(s->base + p * PG);
            CHECK(*w == 0 || *w == (uint64_t)w);
            *w = (uint64_t)w;
        }
    }
}

static void op(slot *s, unsigned *seed)
{
    unsigned r = rand_r(seed);
    if (!s->base) {
        s->npages = 1 + r % MAXPG;
        s->alloc_prot = prots[r / 7 % 5];
        s->base = VirtualAlloc(NULL, s->npages * PG, MEM_RESERVE, s->alloc_prot);
        CHECK(s->base && !((uintptr_t)s->base & 0xffff));
        memset(s->prot, 0, sizeof(s->prot));
        return;
    }
    unsigned p0 = r / 3 % s->npages, n = 1 + r / 11 % (s->npages - p0);
    DWORD np = prots[r / 13 % 6], old = 0;
    switch (r % 7) {
    case 0: case 1:
        CHECK(VirtualAlloc(s->base + p0 * PG, n * PG, MEM_COMMIT, np) == s->base + p0 * PG);
        for (unsigned p = p0; p < p0 + n; p++) {
            if (!s->prot[p] && (np & 0xff) == PAGE_READWRITE && !(np & PAGE_GUARD))
                CHECK(*(uint64_t *)(s->base + p * PG) == 0);   /* zero on first commit */
            s->prot[p] = np;
        }
        break;
    case 2: {
        bool all = true;
        for (unsigned p = p0; p < p0 + n; p++)
            all &= s->prot[p] != 0;
        BOOL ok = VirtualProtect(s->base + p0 * PG, n * PG, np, &old);
        CHECK(ok == all);
        if (!ok) {
            CHECK(GetLastError() == ERROR_INVALID_ADDRESS);
            break;
        }
        CHECK(old == s->prot[p0]);
        for (unsigned p = p0; p < p0 + n; p++)
            s->prot[p] = np;
        break;
    }
    case 3:
        CHECK(VirtualFree(s->base + p0 * PG, n * PG, MEM_DECOMMIT));
        for (unsigned p = p0; p < p0 + n; p++)
            s->prot[p] = 0;
        break;
    case 4:
        CHECK(VirtualFree(s->base, 0, MEM_RELEASE));
        s->base = NULL;
        break;
    default:
        check_slot(s, r);
        break;
    }
}

/* Someone else's memory, mid-change: only answers Windows could give. */
static void peek(unsigned *seed)
{
    char *b = published[rand_r(seed) % (NTHREADS * SLOTS)];
    MEMORY_BASIC_INFORMATION m;
    if (!b)
        return;
    char *a = b + rand_r(seed) % (MAXPG * PG);
    CHECK(VirtualQuery(a, &m, sizeof(m)) == sizeof(m));
    CHECK(m.BaseAddress == (void *)((uintptr_t)a & ~(uintptr_t)(PG - 1)));
    CHECK(m.RegionSize && !(m.RegionSize & (PG - 1)));
    CHECK(m.State == MEM_FREE || m.State == MEM_RESERVE || m.State == MEM_COMMIT);
    CHECK(m.State != MEM_RESERVE || m.Protect == 0);
}

static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg, seed = id * 7919 + 1;
    slot slots[SLOTS] = { 0 };
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 64; i++) {
            int k = rand_r(&seed) % SLOTS;
            op(&slots[k], &seed);
            published[id * SLOTS + k] = slots[k].base;
            peek(&seed);
        }
        atomic_fetch_add(&operations, 64);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 2000000000L);
    for (int k = 0; k < SLOTS; k++) {
        published[id * SLOTS + k] = NULL;
        if (slots[k].base) {
            check_slot(&slots[k], seed);
            if (!VirtualFree(slots[k].base, 0, MEM_RELEASE))
                atomic_fetch_add(&failures, 1);
        }
    }
    return NULL;
}

static void test_eight_threads(void)
{
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(atomic_load(&failures), 0);
    CU_ASSERT_TRUE(atomic_load(&operations) > 1000);
}

/* fork() while other threads are inside winmem: every child must be able
 * to allocate and query (no lock inherited in the held state). */
static atomic_int stop;
static void *churn(void *arg)
{
    while (!atomic_load(&stop)) {
        char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        MEMORY_BASIC_INFORMATION m;
        VirtualQuery(p, &m, sizeof(m));
        VirtualFree(p, 0, MEM_RELEASE);
    }
    return NULL;
}

static void test_fork_while_busy(void)
{
    pthread_t t[3];
    atomic_store(&stop, 0);
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, churn, NULL);
    int stuck = 0, bad = 0;
    for (int round = 0; round < 100 && !stuck; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(2);   /* a child stuck on a lock dies of SIGALRM */
            char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
            MEMORY_BASIC_INFORMATION m;
            _exit(p && VirtualQuery(p, &m, sizeof(m)) && m.State == MEM_COMMIT &&
                  VirtualFree(p, 0, MEM_RELEASE) ? 0 : 1);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        stuck += WIFSIGNALED(st);
        bad += WIFEXITED(st) && WEXITSTATUS(st) != 0;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(stuck, 0);
    CU_ASSERT_EQUAL(bad, 0);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("alloc-threads", NULL, NULL);
    WM_TEST(s, test_eight_threads);
    WM_TEST(s, test_fork_while_busy);
}
