/*
 * live_map.exe FLAG — a Windows program for tests/e2e/shim_live_map.sh:
 * makes allocations of every shape the live map has to show (a reservation
 * with a partial commit in two protections, a guard page, a MEM_COMMIT-only
 * block, a copy-on-write view written on one page, a thread stack), prints
 * its own VirtualQuery walk over each of them, then starts a worker thread
 * that allocates and frees while `winmem maps PID` reads the map, prints
 * "ready", and waits until the file FLAG exists.
 *
 * Each walk line: "region BASE SIZE STATE PROTECT ALLOCBASE ALLOCPROTECT TYPE"
 * in hex, as MEMORY_BASIC_INFORMATION gives them.
 */
#include <windows.h>
#include <stdio.h>

static volatile LONG stop;

static void walk(const char *what, void *start)
{
    MEMORY_BASIC_INFORMATION m;
    char *a = start;
    if (!VirtualQuery(a, &m, sizeof m))
        return;
    void *ab = m.AllocationBase;
    printf("# %s\n", what);
    while (VirtualQuery(a, &m, sizeof m) && m.AllocationBase == ab && m.State != MEM_FREE) {
        printf("region %llx %llx %lx %lx %llx %lx %lx\n", (unsigned long long)(ULONG_PTR)m.BaseAddress,
               (unsigned long long)m.RegionSize, (unsigned long)m.State, (unsigned long)m.Protect,
               (unsigned long long)(ULONG_PTR)m.AllocationBase, (unsigned long)m.AllocationProtect,
               (unsigned long)m.Type);
        a = (char *)m.BaseAddress + m.RegionSize;
    }
}

/* Allocates and frees while the map is read: the snapshot must be taken
 * whole between its changes. */
static DWORD WINAPI churn(void *arg)
{
    (void)arg;
    for (unsigned i = 0; !stop; i++) {
        char *p = VirtualAlloc(NULL, 0x10000 * (1 + i % 4), MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (p)
            VirtualFree(p, 0, MEM_RELEASE);
    }
    return 0;
}

static DWORD WINAPI parked(void *arg)
{
    volatile char big[0x3000];   /* touches a few pages of its stack */
    big[0] = 1;
    *(void **)arg = (void *)big;
    while (!stop)
        Sleep(10);
    return big[0];
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    DWORD old;
    char *res = VirtualAlloc(NULL, 0x100000, MEM_RESERVE, PAGE_NOACCESS);
    if (!res || !VirtualAlloc(res + 0x2000, 0x3000, MEM_COMMIT, PAGE_READWRITE) ||
        !VirtualAlloc(res + 0x8000, 0x1000, MEM_COMMIT, PAGE_EXECUTE_READ) ||
        !VirtualAlloc(res + 0x9000, 0x1000, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD))
        return 3;
    char *commit_only = VirtualAlloc(NULL, 0x24000, MEM_COMMIT, PAGE_READONLY);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x10000, NULL);
    char *view = h ? MapViewOfFile(h, FILE_MAP_COPY, 0, 0, 0) : NULL;
    if (!commit_only || !view || !VirtualProtect(res + 0x3000, 0x1000, PAGE_READONLY, &old))
        return 4;
    view[0x4000] = 1;                 /* one copied page */
    void *stack_var = NULL;
    HANDLE th = CreateThread(NULL, 0x40000, parked, &stack_var, 0, NULL);
    while (!stack_var)
        Sleep(1);
    walk("reservation", res);
    walk("commit-only", commit_only);
    walk("view", view);
    walk("thread stack", stack_var);
    /* The churn starts after the walk: under a storm of calls the model may
     * answer a query from Wine without recording it (docs/shim.md), and the
     * map can only show what the model recorded. */
    HANDLE ch = CreateThread(NULL, 0, churn, NULL, 0, NULL);
    printf("ready\n");
    while (GetFileAttributesA(argv[1]) == INVALID_FILE_ATTRIBUTES)
        Sleep(20);
    stop = 1;
    WaitForSingleObject(th, INFINITE);
    WaitForSingleObject(ch, INFINITE);
    printf("done\n");
    return 0;
}
