/*
 * tests/programs/noisy.c — a Windows program as noisy as a real runtime, for
 * `winmem diff` (tests/e2e/diff_noisy.sh). Built with mingw-w64 as a PE and
 * with winegcc (-DWINELIB) from this one source.
 *
 * What varies from run to run, as in a runtime with a thread pool and a GC:
 *  - 4 workers take 96 tasks in whatever order the scheduler gives them;
 *  - a heap grows in chunks whose size (64, 128 or 256 KiB) depends on the
 *    clock at the moment it grows, so the number of chunks varies;
 *  - a collector thread, woken when the heap grows (growths that come
 *    while it works or sleeps are collected together, as by real GCs),
 *    queries every chunk (VirtualQuery) and decommits chunks whose objects
 *    are all dead; whether the last collection finds work depends on who
 *    got there first;
 *  - random short sleeps everywhere (seeded from the clock).
 * What does not vary: the call sites, the protections asked for, the
 * arenas (4 MEM_COMMIT-only allocations of 64 KiB), one config page sealed
 * read-only, and everything is released before exit.
 *
 * One -D flag per build injects one change that `winmem diff` must report
 * exactly once:
 *   -DINJECT_SITE  a new call site (a VirtualQuery of the program's image)
 *   -DINJECT_FAIL  the heap first asks for an impossible chunk (refused)
 *   -DINJECT_PROT  the config page is left read-write instead of read-only
 *   -DINJECT_RWX   a new writable+executable region (a "JIT" buffer)
 *   -DINJECT_LEAK  the cache (MEM_COMMIT only) is not freed at exit
 *   -DINJECT_GROW  the arenas (MEM_COMMIT only) are 10x bigger
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>

#define WORKERS 4
#define TASKS 96
#define MAX_CHUNKS 1024

struct chunk { char *base; SIZE_T size, used; LONG live; int decommitted; };

static struct chunk chunks[MAX_CHUNKS];
static LONG nchunks;
static CRITICAL_SECTION heap_lock;
static LONG next_task, tasks_done;
static volatile LONG stop_gc;
static HANDLE gc_wake;

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static unsigned clock_bits(void)
{
    LARGE_INTEGER q;
    QueryPerformanceCounter(&q);
    return (unsigned)(q.QuadPart ^ (q.QuadPart >> 7));
}

/* The heap grows by a chunk whose size depends on when it grows. */
static __attribute__((noinline)) struct chunk *heap_grow(SIZE_T need)
{
    SIZE_T size = (SIZE_T)0x10000 << (clock_bits() % 3);
    while (size < need)
        size *= 2;
    char *p = NULL;
#ifdef INJECT_FAIL
    static int tried_big;
    if (!tried_big++)   /* "try one huge arena first": refused, fall back */
        p = VirtualAlloc(NULL, (SIZE_T)1 << 44, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);   /* 16 TiB: STATUS_NO_MEMORY */
#endif
    if (!p)
        p = VirtualAlloc(NULL, size, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (!p || nchunks >= MAX_CHUNKS)
        return NULL;
    struct chunk *c = &chunks[nchunks];
    c->base = p, c->size = size, c->used = 0, c->live = 0, c->decommitted = 0;
    InterlockedIncrement(&nchunks);
    SetEvent(gc_wake);
    return c;
}

/* Bump allocation; returns the chunk index through *ci. */
static void *heap_alloc(SIZE_T n, LONG *ci)
{
    EnterCriticalSection(&heap_lock);
    struct chunk *c = nchunks ? &chunks[nchunks - 1] : NULL;
    if (!c || c->used + n > c->size)
        c = heap_grow(n);
    void *p = NULL;
    if (c) {
        p = c->base + c->used;
        c->used += (n + 15) & ~(SIZE_T)15;
        c->live++;
        *ci = (LONG)(c - chunks);
    }
    LeaveCriticalSection(&heap_lock);
    return p;
}

static void heap_free(LONG ci)
{
    EnterCriticalSection(&heap_lock);
    chunks[ci].live--;
    LeaveCriticalSection(&heap_lock);
}

static __attribute__((noinline)) void run_task(unsigned *seed)
{
    LONG ci[8];
    void *obj[8];
    int n = 2 + (int)(rnd(seed) % 6);
    for (int i = 0; i < n; i++) {
        obj[i] = heap_alloc(1024 + rnd(seed) % 16384, &ci[i]);
        if (obj[i])
            memset(obj[i], i, 64);
        if (rnd(seed) % 4 == 0)
            Sleep(rnd(seed) % 2);
    }
    for (int i = 0; i < n; i++)
        if (obj[i])
            heap_free(ci[i]);
}

static DWORD WINAPI worker(void *arg)
{
    unsigned seed = clock_bits() ^ (unsigned)(ULONG_PTR)arg;
    while (InterlockedIncrement(&next_task) <= TASKS) {
        run_task(&seed);
        InterlockedIncrement(&tasks_done);
    }
    return 0;
}

/* The collector: queries every chunk, decommits those full of dead objects. */
static __attribute__((noinline)) void gc_cycle(void)
{
    LONG n = nchunks;
    for (LONG i = 0; i < n; i++) {
        MEMORY_BASIC_INFORMATION m;
        if (!VirtualQuery(chunks[i].base, &m, sizeof m))
            continue;
        EnterCriticalSection(&heap_lock);
        int dead = !chunks[i].decommitted && chunks[i].live == 0 && i < nchunks - 1 && m.State == MEM_COMMIT;
        if (dead)
            chunks[i].decommitted = 1;
        LeaveCriticalSection(&heap_lock);
        if (dead)
            VirtualFree(chunks[i].base, chunks[i].size, MEM_DECOMMIT);
    }
}

static DWORD WINAPI collector(void *arg)
{
    unsigned seed = clock_bits();
    (void)arg;
    while (WaitForSingleObject(gc_wake, INFINITE) == WAIT_OBJECT_0 && !stop_gc) {
        gc_cycle();
        Sleep(rnd(&seed) % 3);
    }
    return 0;
}

/* Everything the program made, released in one place at exit. */
static void *regions[16];
static int nregions;

static __attribute__((noinline)) void *arena_new(void)
{
    SIZE_T size = 0x10000;
#ifdef INJECT_GROW
    size *= 10;
#endif
    return VirtualAlloc(NULL, size, MEM_COMMIT, PAGE_READWRITE);   /* MEM_COMMIT alone reserves too */
}

static __attribute__((noinline)) void *cache_new(void)
{
    return VirtualAlloc(NULL, 0x20000, MEM_COMMIT, PAGE_READWRITE);
}

static __attribute__((noinline)) void config_seal(void *page)
{
    DWORD old;
#ifdef INJECT_PROT
    VirtualProtect(page, 0x1000, PAGE_READWRITE, &old);
#else
    VirtualProtect(page, 0x1000, PAGE_READONLY, &old);
#endif
}

#ifdef INJECT_RWX
static __attribute__((noinline)) void *jit_new(void)
{
    return VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
}
#endif

#ifdef INJECT_SITE
static __attribute__((noinline)) void probe_self(void)
{
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery((void *)probe_self, &m, sizeof m);
}
#endif

static __attribute__((noinline)) void release_all(void)
{
    for (LONG i = 0; i < nchunks; i++)
        VirtualFree(chunks[i].base, 0, MEM_RELEASE);
    for (int i = 0; i < nregions; i++)
        if (regions[i])
            VirtualFree(regions[i], 0, MEM_RELEASE);
}

int main(void)
{
    InitializeCriticalSection(&heap_lock);
    gc_wake = CreateEventA(NULL, FALSE, FALSE, NULL);
    for (int i = 0; i < 4; i++)
        regions[nregions++] = arena_new();
    void *cache = cache_new();
#ifndef INJECT_LEAK
    regions[nregions++] = cache;
#endif
    char *config = VirtualAlloc(NULL, 0x1000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    if (config)
        strcpy(config, "threads=4");
    config_seal(config);
    regions[nregions++] = config;
#ifdef INJECT_RWX
    regions[nregions++] = jit_new();
#endif
#ifdef INJECT_SITE
    probe_self();
#endif
    HANDLE gc = CreateThread(NULL, 0, collector, NULL, 0, NULL);
    HANDLE w[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        w[i] = CreateThread(NULL, 0, worker, (void *)(ULONG_PTR)(i * 7919), 0, NULL);
    WaitForMultipleObjects(WORKERS, w, TRUE, INFINITE);
    stop_gc = 1;
    SetEvent(gc_wake);
    WaitForSingleObject(gc, INFINITE);
    gc_cycle();   /* a last collection once every object is dead */
    release_all();
    printf("noisy done: %d tasks, %ld chunks\n", (int)tasks_done, (long)nchunks);
    (void)cache;
    return 0;
}
