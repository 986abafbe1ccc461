/*
 * tests/programs/shim_native.c — a native Linux program using winmem's
 * Windows API (linked with libwinmem.so), run under the shim to test the
 * native door, threads, fork, exec and the unix layer.
 *
 *   shim_native [all]   each exported memory call once; prints results
 *   shim_native threads N
 *   shim_native fork    the child makes calls too; parent waits
 *   shim_native exec    execs "shim_native all" (same pid, new image)
 *   shim_native vfork   vfork + _exit, vfork + exec, then calls (the child
 *                       shares memory with the parent: must not close its trace)
 *   shim_native dlopen  dlopens a library found only through this program's
 *                       RUNPATH ($ORIGIN/lib/libshimtest.so.0)
 *   shim_native bench N [direct]   VirtualQuery loop, ns per call; "direct"
 *                        calls libwinmem's function found with dlsym on
 *                        libwinmem.so itself (never the shim's)
 *
 * stdout: only values that must be equal with and without the shim.
 * stderr: addresses, as "key=0x...".
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "winmem/memory.h"

static __attribute__((noinline)) int all(void)
{
    char *p = VirtualAlloc(NULL, 0x30000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fprintf(stderr, "alloc=%p\n", (void *)p);
    printf("VirtualAlloc %s\n", p ? "ok" : "failed");
    MEMORY_BASIC_INFORMATION m;
    SIZE_T r = VirtualQuery(p + 0x1000, &m, sizeof m);
    printf("VirtualQuery %zu state=0x%x protect=0x%x\n", (size_t)r, m.State, m.Protect);
    r = VirtualQueryEx(GetCurrentProcess(), p, &m, sizeof m);
    printf("VirtualQueryEx %zu\n", (size_t)r);
    SIZE_T got = 0;
    NTSTATUS st = NtQueryVirtualMemory(GetCurrentProcess(), p, MemoryBasicInformation, &m, sizeof m, &got);
    printf("NtQueryVirtualMemory 0x%x %zu\n", (unsigned)st, (size_t)got);
    DWORD old = 0;
    printf("VirtualProtect %d old=0x%x\n", VirtualProtect(p, 0x1000, PAGE_READONLY, &old), old);
    printf("VirtualLock %d\n", VirtualLock(p + 0x2000, 0x1000));
    printf("VirtualUnlock %d\n", VirtualUnlock(p + 0x2000, 0x1000));
    PSAPI_WORKING_SET_EX_INFORMATION ws = { p + 0x2000, { 0 } };
    printf("QueryWorkingSetEx %d\n", QueryWorkingSetEx(GetCurrentProcess(), &ws, sizeof ws));
    /* A bad buffer: the core reports ERROR_NOACCESS, nothing crashes. */
    r = VirtualQuery(p, (MEMORY_BASIC_INFORMATION *)(uintptr_t)0x10, sizeof m);
    printf("VirtualQuery bad %zu error=%u\n", (size_t)r, GetLastError());
    printf("VirtualFree %d\n", VirtualFree(p, 0, MEM_RELEASE));
    return 0;
}

static void *worker(void *arg)
{
    for (int i = 0; i < 100; i++) {
        MEMORY_BASIC_INFORMATION m;
        char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (!p || !VirtualQuery(p, &m, sizeof m) || !VirtualFree(p, 0, MEM_RELEASE))
            return (void *)1;
    }
    return NULL;
}

static int threads(int n)
{
    pthread_t t[64];
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    printf("threads %d failed %d\n", n, bad);
    return bad != 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int bench(long n, int direct)
{
    typedef SIZE_T WINAPI (*vq_fn)(LPCVOID, PMEMORY_BASIC_INFORMATION, SIZE_T);
    vq_fn f = VirtualQuery;
    if (direct) {
        void *h = dlopen("libwinmem.so.0", RTLD_NOW | RTLD_NOLOAD);
        f = h ? (vq_fn)dlsym(h, "VirtualQuery") : NULL;
        if (!f)
            return 1;
    }
    char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    MEMORY_BASIC_INFORMATION m;
    double a = now();
    for (long i = 0; i < n; i++)
        if (!f(p + (i & 15) * 0x1000, &m, sizeof m))
            return 1;
    printf("%.1f\n", (now() - a) / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *cmd = argc > 1 ? argv[1] : "all";
    if (!strcmp(cmd, "all")) return all();
    if (!strcmp(cmd, "threads")) return threads(argc > 2 ? atoi(argv[2]) : 8);
    if (!strcmp(cmd, "bench")) return bench(argc > 2 ? atol(argv[2]) : 100000, argc > 3);
    if (!strcmp(cmd, "fork")) {
        pid_t c = fork();
        if (c == 0)
            _exit(all());
        int st;
        waitpid(c, &st, 0);
        printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return all();
    }
    if (!strcmp(cmd, "vfork")) {
        pid_t c = vfork();
        if (c == 0)
            _exit(0);
        waitpid(c, NULL, 0);
        c = vfork();
        if (c == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(1);
        }
        waitpid(c, NULL, 0);
        return all();
    }
    if (!strcmp(cmd, "dlopen")) {
        void *h = dlopen("libshimtest.so.0", RTLD_NOW | RTLD_LOCAL);
        printf("dlopen %s\n", h ? "ok" : dlerror());
        if (h)
            dlclose(h);
        return h ? all() : 1;
    }
    if (!strcmp(cmd, "exec")) {
        MEMORY_BASIC_INFORMATION m;
        VirtualQuery(&m, &m, sizeof m);          /* recorded by the first image */
        execl("/proc/self/exe", argv[0], "all", (char *)NULL);
        return 3;
    }
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
