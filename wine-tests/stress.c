/*
 * wine-tests/stress.c — several threads allocate, commit, protect, decommit
 * and release at once, each keeping its own page-by-page account, and every
 * query and every old protection must match that account exactly (base,
 * allocation base, region size, state, protection). The same program in all
 * six runs: whatever answers queries (Wine, winmem natively, the shim's
 * model) must follow calls made from many threads, in any interleaving.
 */
#include "wt.h"
#include <stdint.h>
#ifdef WT_NATIVE
#include <pthread.h>
#endif

#define THREADS 4
#define ROUNDS 300
#define MAXPG 32                      /* pages per allocation, at most */

struct acct {
    char *base;
    int npages;
    DWORD state[MAXPG], prot[MAXPG];
};

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static const DWORD prots[] = { PAGE_READONLY, PAGE_READWRITE, PAGE_NOACCESS, PAGE_EXECUTE_READ,
                               PAGE_READWRITE | PAGE_GUARD };

/* Every page of the allocation against the account; at most one failure
 * message per allocation. */
static int check_all(const struct acct *a)
{
    for (int i = 0; i < a->npages;) {
        MEMORY_BASIC_INFORMATION m;
        if (VirtualQuery(a->base + i * 0x1000, &m, sizeof m) != sizeof m)
            return ok(0, "VirtualQuery failed, error %u\n", (unsigned)GetLastError());
        int j = i + 1;
        while (j < a->npages && a->state[j] == a->state[i] && a->prot[j] == a->prot[i])
            j++;
        DWORD want_prot = a->state[i] == MEM_COMMIT ? a->prot[i] : 0;
        /* A reserved run may come back in pieces: Wine 8 splits it where
         * the decommitted pages had different protections. */
        int reserved = a->state[i] == MEM_RESERVE;
        SIZE_T want = (SIZE_T)(j - i) * 0x1000;
        if (m.AllocationBase != a->base || m.BaseAddress != a->base + i * 0x1000 || m.State != a->state[i] ||
            m.Protect != want_prot || (reserved ? !m.RegionSize || m.RegionSize > want || (m.RegionSize & 0xfff)
                                                : m.RegionSize != want))
            return ok(0, "page %d of %p: AllocationBase %p BaseAddress %p State %#x Protect %#x RegionSize %#llx, "
                      "expected %p, %p, %#x, %#x, %#llx\n", i, a->base, m.AllocationBase, m.BaseAddress,
                      (unsigned)m.State, (unsigned)m.Protect, (unsigned long long)m.RegionSize, a->base,
                      a->base + i * 0x1000, (unsigned)a->state[i], (unsigned)want_prot,
                      (unsigned long long)(j - i) * 0x1000);
        i = reserved ? i + (int)(m.RegionSize / 0x1000) : j;
    }
    return ok(1, "account matches\n");
}

static void one_round(unsigned *seed)
{
    struct acct a;
    a.npages = 1 + rnd(seed) % MAXPG;
    a.base = VirtualAlloc(NULL, a.npages * 0x1000, MEM_RESERVE, PAGE_READWRITE);
    if (!ok(a.base != NULL, "reserve: error %u\n", (unsigned)GetLastError()))
        return;
    for (int i = 0; i < a.npages; i++)
        a.state[i] = MEM_RESERVE, a.prot[i] = 0;
    for (int step = 0; step < 6; step++) {
        int lo = rnd(seed) % a.npages, n = 1 + rnd(seed) % (a.npages - lo);
        DWORD p = prots[rnd(seed) % (sizeof prots / sizeof *prots)];
        switch (rnd(seed) % 3) {
        case 0:                       /* commit */
            if (ok(VirtualAlloc(a.base + lo * 0x1000, n * 0x1000, MEM_COMMIT, p) != NULL, "commit: error %u\n",
                   (unsigned)GetLastError()))
                for (int i = lo; i < lo + n; i++)
                    a.state[i] = MEM_COMMIT, a.prot[i] = p;
            break;
        case 1: {                     /* protect: committed pages only */
            int all = 1;
            for (int i = lo; i < lo + n; i++)
                all &= a.state[i] == MEM_COMMIT;
            if (!all)
                break;
            DWORD old = 0;
            if (ok(VirtualProtect(a.base + lo * 0x1000, n * 0x1000, p, &old), "protect: error %u\n",
                   (unsigned)GetLastError())) {
                ok(old == a.prot[lo], "old protection %#x, expected %#x\n", (unsigned)old, (unsigned)a.prot[lo]);
                for (int i = lo; i < lo + n; i++)
                    a.prot[i] = p;
            }
            break;
        }
        default:                      /* decommit */
            if (ok(VirtualFree(a.base + lo * 0x1000, n * 0x1000, MEM_DECOMMIT), "decommit: error %u\n",
                   (unsigned)GetLastError()))
                for (int i = lo; i < lo + n; i++)
                    a.state[i] = MEM_RESERVE, a.prot[i] = 0;
        }
        check_all(&a);
    }
    ok(VirtualFree(a.base, 0, MEM_RELEASE), "release: error %u\n", (unsigned)GetLastError());
}

static void worker(unsigned seed)
{
    for (int r = 0; r < ROUNDS; r++)
        one_round(&seed);
}

#ifdef WT_NATIVE
static void *thread_fn(void *arg) { worker((unsigned)(uintptr_t)arg); return NULL; }
#else
static DWORD WINAPI thread_fn(void *arg) { worker((unsigned)(uintptr_t)arg); return 0; }
#endif

START_TEST(stress)
{
    wt_section("threads");
#ifdef WT_NATIVE
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ok(pthread_create(&t[i], NULL, thread_fn, (void *)(uintptr_t)(i * 7919 + 1)) == 0, "pthread_create failed\n");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
#else
    HANDLE t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ok((t[i] = CreateThread(NULL, 0, thread_fn, (void *)(uintptr_t)(i * 7919 + 1), 0, NULL)) != NULL,
           "CreateThread: error %u\n", (unsigned)GetLastError());
    for (int i = 0; i < THREADS; i++)
        if (t[i]) {
            WaitForSingleObject(t[i], INFINITE);
            CloseHandle(t[i]);
        }
#endif
}
