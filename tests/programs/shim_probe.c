/*
 * tests/programs/shim_probe.c — the program the shim's tests run under
 * Wine, written once and built twice: as a PE with mingw-w64 and as a
 * winelib program with winegcc (-DWINELIB).
 *
 *   shim_probe [all]        every hooked call once (default)
 *   shim_probe threads N    N threads, each 100 x alloc/query/protect/free
 *   shim_probe child        runs "shim_probe leaf" with CreateProcess, waits
 *   shim_probe loop N       N VirtualQuery calls, then prints "done"
 *   shim_probe forever      VirtualQuery until killed (for kill -9 tests)
 *   shim_probe badptr       VirtualQuery into an unwritable buffer
 *   shim_probe bench N      N VirtualQuery calls, prints ns per call
 *   shim_probe allocbench N N VirtualAlloc+VirtualFree pairs, prints ns per pair
 *   shim_probe floorbench N N system calls that do nothing (invalid class), ns per call
 *   shim_probe image        what a query says about the program's own image
 *                           (its .text and header, also through a real
 *                           handle) and about a DLL loaded and freed
 *   shim_probe mprotect     (winelib) RW page made read-only by a raw
 *                           Linux mprotect behind Wine's back, then queried
 *
 * stdout holds only what must not change under the shim (statuses, sizes,
 * protections); addresses go to stderr as "key=0x..." for the tests to find
 * in the trace.
 */
#include <windows.h>
#include <winternl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef WINELIB
#include <sys/mman.h>
#endif

typedef NTSTATUS (WINAPI *query_fn)(HANDLE, LPCVOID, int, PVOID, SIZE_T, SIZE_T *);
typedef NTSTATUS (WINAPI *alloc_ex_fn)(HANDLE, PVOID *, SIZE_T *, ULONG, ULONG, void *, ULONG);
typedef NTSTATUS (WINAPI *map_ex_fn)(HANDLE, HANDLE, PVOID *, const LARGE_INTEGER *, SIZE_T *, ULONG, ULONG, void *, ULONG);
typedef NTSTATUS (WINAPI *unmap_ex_fn)(HANDLE, PVOID, ULONG);

static void *ntfn(const char *name)
{
    return (void *)GetProcAddress(GetModuleHandleA("ntdll.dll"), name);
}

/* xmm6-15 are callee-saved in the Windows convention and Wine's dispatcher
 * does not restore them: a wrapper in the system-call table that is not
 * ms_abi would corrupt them. Set them, call ntdll's NtQueryVirtualMemory
 * from assembly (directly: kernelbase's import may pass through a filter
 * that restores them itself), compare. */
static int xmm_preserved(void *addr)
{
    void *fn = ntfn("NtQueryVirtualMemory");
    MEMORY_BASIC_INFORMATION m;
    SIZE_T got = 0;
    unsigned char in[160], out[160];
    for (int i = 0; i < 160; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    __asm__ volatile(
        "movdqu 0(%[in]), %%xmm6\n movdqu 16(%[in]), %%xmm7\n movdqu 32(%[in]), %%xmm8\n"
        "movdqu 48(%[in]), %%xmm9\n movdqu 64(%[in]), %%xmm10\n movdqu 80(%[in]), %%xmm11\n"
        "movdqu 96(%[in]), %%xmm12\n movdqu 112(%[in]), %%xmm13\n movdqu 128(%[in]), %%xmm14\n"
        "movdqu 144(%[in]), %%xmm15\n"
        "sub $48, %%rsp\n"
        "mov $-1, %%rcx\n mov %[a], %%rdx\n xor %%r8d, %%r8d\n mov %[m], %%r9\n"
        "movq $48, 32(%%rsp)\n mov %[rl], %%rax\n mov %%rax, 40(%%rsp)\n"
        "call *%[f]\n add $48, %%rsp\n"
        "movdqu %%xmm6, 0(%[out])\n movdqu %%xmm7, 16(%[out])\n movdqu %%xmm8, 32(%[out])\n"
        "movdqu %%xmm9, 48(%[out])\n movdqu %%xmm10, 64(%[out])\n movdqu %%xmm11, 80(%[out])\n"
        "movdqu %%xmm12, 96(%[out])\n movdqu %%xmm13, 112(%[out])\n movdqu %%xmm14, 128(%[out])\n"
        "movdqu %%xmm15, 144(%[out])\n"
        : : [in] "r"(in), [out] "r"(out), [a] "r"(addr), [m] "r"(&m), [rl] "r"(&got), [f] "r"(fn)
        : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
          "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
    return !memcmp(in, out, sizeof in) && got == sizeof m;
}

/* noinline: the tests look for this function's module in the stacks. */
static __attribute__((noinline)) int all(void)
{
    MEMORY_BASIC_INFORMATION m;
    SIZE_T got;
    /* VirtualAlloc → NtAllocateVirtualMemory */
    char *p = VirtualAlloc(NULL, 0x30000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
    fprintf(stderr, "alloc=%p\n", (void *)p);
    printf("VirtualAlloc %s\n", p ? "ok" : "failed");
    p[0] = 1;
    /* VirtualQuery → NtQueryVirtualMemory class 0 */
    got = VirtualQuery(p + 0x1000, &m, sizeof m);
    printf("VirtualQuery %lu state=0x%lx protect=0x%lx type=0x%lx size=0x%lx\n", (unsigned long)got,
           (unsigned long)m.State, (unsigned long)m.Protect, (unsigned long)m.Type, (unsigned long)m.RegionSize);
    printf("xmm6-15 preserved %s\n", xmm_preserved(p) ? "yes" : "NO");
    /* NtQueryVirtualMemory classes 2 (name), 3 (region), 4 (working set) */
    query_fn q = (query_fn)ntfn("NtQueryVirtualMemory");
    union { UNICODE_STRING s; char b[1024]; } name;
    NTSTATUS st = q(GetCurrentProcess(), (void *)GetModuleHandleA(NULL), 2, &name, sizeof name, &got);
    printf("NtQueryVirtualMemory class2 0x%lx\n", (unsigned long)st);
    char region[64];
    st = q(GetCurrentProcess(), p, 3, region, sizeof region, &got);
    printf("NtQueryVirtualMemory class3 0x%lx\n", (unsigned long)st);
    struct { void *va; ULONG_PTR attr; } ws = { p, 0 };
    st = q(GetCurrentProcess(), NULL, 4, &ws, sizeof ws, &got);
    printf("NtQueryVirtualMemory class4 0x%lx valid=%lu\n", (unsigned long)st, (unsigned long)(ws.attr & 1));
    /* A Wine-private class (1000, MemoryWineUnixFuncs; Windows: STATUS_INVALID_INFO_CLASS):
     * the shim passes it to Wine untouched, so the status printed is plain Wine's. */
    ULONG64 funcs = 0;
    st = q(GetCurrentProcess(), (void *)GetModuleHandleA(NULL), 1000, &funcs, sizeof funcs, NULL);
    printf("NtQueryVirtualMemory class1000 0x%lx\n", (unsigned long)st);
    /* VirtualProtect → NtProtectVirtualMemory */
    DWORD old = 0;
    BOOL ok = VirtualProtect(p + 0x2000, 0x1000, PAGE_READONLY, &old);
    printf("VirtualProtect %d old=0x%lx\n", ok, (unsigned long)old);
    /* VirtualLock / VirtualUnlock → NtLock/NtUnlockVirtualMemory */
    printf("VirtualLock %d\n", VirtualLock(p, 0x1000));
    printf("VirtualUnlock %d\n", VirtualUnlock(p, 0x1000));
    /* ReadProcessMemory / WriteProcessMemory → NtRead/NtWriteVirtualMemory */
    char buf[16] = "winmem-probe";
    SIZE_T done = 0;
    ok = WriteProcessMemory(GetCurrentProcess(), p + 16, buf, sizeof buf, &done);
    printf("WriteProcessMemory %d %lu\n", ok, (unsigned long)done);
    char back[16] = {0};
    ok = ReadProcessMemory(GetCurrentProcess(), p + 16, back, sizeof back, &done);
    printf("ReadProcessMemory %d %lu %s\n", ok, (unsigned long)done, back);
    /* NtAllocateVirtualMemoryEx */
    alloc_ex_fn ax = (alloc_ex_fn)ntfn("NtAllocateVirtualMemoryEx");
    void *q2 = NULL;
    SIZE_T sz = 0x20000;
    st = ax(GetCurrentProcess(), &q2, &sz, MEM_RESERVE, PAGE_NOACCESS, NULL, 0);
    fprintf(stderr, "allocex=%p\n", q2);
    printf("NtAllocateVirtualMemoryEx 0x%lx size=0x%lx\n", (unsigned long)st, (unsigned long)sz);
    /* VirtualFree → NtFreeVirtualMemory */
    printf("VirtualFree %d\n", VirtualFree(q2, 0, MEM_RELEASE));
    /* A section: NtMapViewOfSection, NtFlushVirtualMemory, NtUnmapViewOfSection */
    HANDLE sec = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0, 0x10000, NULL);
    char *v = MapViewOfFile(sec, FILE_MAP_WRITE, 0, 0, 0x10000);
    fprintf(stderr, "view=%p\n", (void *)v);
    printf("MapViewOfFile %s\n", v ? "ok" : "failed");
    v[0] = 2;
    printf("FlushViewOfFile %d\n", FlushViewOfFile(v, 0x1000));
    printf("UnmapViewOfFile %d\n", UnmapViewOfFile(v));
    /* NtMapViewOfSectionEx, NtUnmapViewOfSectionEx */
    map_ex_fn mx = (map_ex_fn)ntfn("NtMapViewOfSectionEx");
    unmap_ex_fn ux = (unmap_ex_fn)ntfn("NtUnmapViewOfSectionEx");
    void *v2 = NULL;
    SIZE_T vsz = 0;
    st = mx ? mx(sec, GetCurrentProcess(), &v2, NULL, &vsz, 0, PAGE_READWRITE, NULL, 0) : -1;
    fprintf(stderr, "viewex=%p\n", v2);
    printf("NtMapViewOfSectionEx 0x%lx\n", (unsigned long)st);
    st = ux ? ux(GetCurrentProcess(), v2, 0) : -1;
    printf("NtUnmapViewOfSectionEx 0x%lx\n", (unsigned long)st);
    CloseHandle(sec);
    printf("VirtualFree %d\n", VirtualFree(p, 0, MEM_RELEASE));
    return 0;
}

static DWORD WINAPI worker(void *arg)
{
    for (int i = 0; i < 100; i++) {
        MEMORY_BASIC_INFORMATION m;
        char *p = VirtualAlloc(NULL, 0x10000, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        DWORD old;
        if (!p || !VirtualQuery(p, &m, sizeof m) || !VirtualProtect(p, 0x1000, PAGE_READONLY, &old) ||
            !VirtualFree(p, 0, MEM_RELEASE))
            return 1;
    }
    return 0;
}

static int threads(int n)
{
    HANDLE h[64] = {0};
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++)
        h[i] = CreateThread(NULL, 0, worker, NULL, 0, NULL);
    WaitForMultipleObjects(n, h, TRUE, INFINITE);
    int bad = 0;
    for (int i = 0; i < n; i++) {
        DWORD code = 1;
        GetExitCodeThread(h[i], &code);
        bad += code != 0;
        CloseHandle(h[i]);
    }
    printf("threads %d failed %d\n", n, bad);
    return bad != 0;
}

static int child(const char *self)
{
    char cmd[MAX_PATH + 16];
    snprintf(cmd, sizeof cmd, "\"%s\" leaf", self);
    STARTUPINFOA si = { sizeof si };
    PROCESS_INFORMATION pi;
    if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        printf("CreateProcess failed %lu\n", (unsigned long)GetLastError());
        return 1;
    }
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 99;
    GetExitCodeProcess(pi.hProcess, &code);
    printf("child exit %lu\n", (unsigned long)code);
    MEMORY_BASIC_INFORMATION m;               /* the parent's own call */
    VirtualQuery(&m, &m, sizeof m);
    return code != 7;
}

static int leaf(void)
{
    MEMORY_BASIC_INFORMATION m;
    void *p = VirtualAlloc(NULL, 0x10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    VirtualQuery(p, &m, sizeof m);
    fflush(stdout);
    return 7;
}

static int loop(long n, int report)
{
    MEMORY_BASIC_INFORMATION m;
    char *p = VirtualAlloc(NULL, 0x10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    LARGE_INTEGER f, a, b;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&a);
    for (long i = 0; n < 0 || i < n; i++) {
        if (!VirtualQuery(p + (i & 15) * 0x1000, &m, sizeof m))
            return 1;
        if (n < 0 && i % 16 == 15)
            Sleep(1);               /* "forever" runs until killed: keep its trace small */
    }
    QueryPerformanceCounter(&b);
    if (report)
        printf("%.1f\n", (double)(b.QuadPart - a.QuadPart) * 1e9 / (double)f.QuadPart / (double)n);
    else
        printf("done\n");
    return 0;
}

/* floorbench N: N calls of NtQueryVirtualMemory with a class no Windows has
 * (STATUS_INVALID_INFO_CLASS at once): the round trip through ntdll's stub
 * and Wine's dispatcher that every system call pays, shim or not — the part
 * of a VirtualQuery native mode cannot answer faster than (bench_shim.sh). */
static int floor_loop(long n)
{
    query_fn q = (query_fn)ntfn("NtQueryVirtualMemory");
    MEMORY_BASIC_INFORMATION m;
    LARGE_INTEGER f, a, b;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&a);
    for (long i = 0; i < n; i++)
        if (q(GetCurrentProcess(), &m, 0x7fff, &m, sizeof m, NULL) != (NTSTATUS)0xC0000003)
            return 1;
    QueryPerformanceCounter(&b);
    printf("%.1f\n", (double)(b.QuadPart - a.QuadPart) * 1e9 / (double)f.QuadPart / (double)n);
    return 0;
}

/* allocbench N: N reserve+commit / release pairs of 64 KiB, ns per pair
 * (bench/bench_shim.sh: what feeding native mode's model costs a call). */
static int alloc_loop(long n)
{
    LARGE_INTEGER f, a, b;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&a);
    for (long i = 0; i < n; i++) {
        char *p = VirtualAlloc(NULL, 0x10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
        if (!p || !VirtualFree(p, 0, MEM_RELEASE))
            return 1;
    }
    QueryPerformanceCounter(&b);
    printf("%.1f\n", (double)(b.QuadPart - a.QuadPart) * 1e9 / (double)f.QuadPart / (double)n);
    return 0;
}

static int badptr(void)
{
    /* A buffer Wine cannot write: Wine's handler turns the fault into
     * STATUS_ACCESS_VIOLATION, VirtualQuery returns 0 (ERROR_NOACCESS). */
    void *ro = VirtualAlloc(NULL, 0x1000, MEM_COMMIT | MEM_RESERVE, PAGE_READONLY);
    SIZE_T r = VirtualQuery((void *)ro, (MEMORY_BASIC_INFORMATION *)ro, sizeof(MEMORY_BASIC_INFORMATION));
    DWORD e = GetLastError();
    fprintf(stderr, "badbuf=%p\n", ro);
    printf("badptr ret=%lu error=%lu\n", (unsigned long)r, (unsigned long)e);
    /* The thread goes on making calls normally. */
    MEMORY_BASIC_INFORMATION m;
    printf("after %lu\n", (unsigned long)VirtualQuery(ro, &m, sizeof m));
    return 0;
}

/* One line per query: what must be the same under plain Wine and in the
 * shim's native mode (fields relative to the module base, so the output
 * does not depend on where Wine put things). */
static void image_line(const char *what, HANDLE h, const void *addr, const char *base)
{
    MEMORY_BASIC_INFORMATION m;
    memset(&m, 0, sizeof m);
    SIZE_T got = VirtualQueryEx(h, addr, &m, sizeof m);
    printf("%s %lu state=0x%lx type=0x%lx allocbase_is_module=%d allocprotect=0x%lx protect=0x%lx\n", what,
           (unsigned long)got, (unsigned long)m.State, (unsigned long)m.Type,
           m.AllocationBase == (void *)base, (unsigned long)m.AllocationProtect, (unsigned long)m.Protect);
}

static __attribute__((noinline)) int image(void)
{
    const char *base = (const char *)GetModuleHandleA(NULL);
    fprintf(stderr, "module=%p text=%p\n", (void *)base, (void *)image);
    image_line("text", GetCurrentProcess(), (const void *)image, base);
    image_line("header", GetCurrentProcess(), base, base);
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, GetCurrentProcessId());
    image_line("text-by-handle", h, (const void *)image, base);
    CloseHandle(h);
    /* A DLL this program does not import: loaded, queried, freed, queried. */
    HMODULE dll = LoadLibraryA("version.dll");
    const char *dbase = (const char *)dll;
    if (!dll)
        return 1;
    fprintf(stderr, "dll=%p\n", (void *)dbase);
    image_line("dll-text", GetCurrentProcess(), dbase + 0x1000, dbase);
    FreeLibrary(dll);
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(dbase + 0x1000, &m, sizeof m);
    printf("dll-freed type=0x%lx\n", (unsigned long)m.Type);
    return 0;
}

#ifdef WINELIB
static int behind_back(void)
{
    char *p = VirtualAlloc(NULL, 0x10000, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(p, &m, sizeof m);            /* before: Wine and kernel agree */
    mprotect(p + 0x1000, 0x1000, PROT_READ);  /* Linux only: Wine does not know */
    fprintf(stderr, "page=%p\n", (void *)(p + 0x1000));
    VirtualQuery(p + 0x1000, &m, sizeof m);   /* Wine still says PAGE_READWRITE */
    printf("wine says protect=0x%lx\n", (unsigned long)m.Protect);
    return 0;
}
#endif

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *cmd = argc > 1 ? argv[1] : "all";
    long n = argc > 2 ? atol(argv[2]) : 8;
    if (!strcmp(cmd, "all")) return all();
    if (!strcmp(cmd, "threads")) return threads((int)n);
    if (!strcmp(cmd, "image")) return image();
    if (!strcmp(cmd, "child")) return child(argv[0]);
    if (!strcmp(cmd, "leaf")) return leaf();
    if (!strcmp(cmd, "loop")) return loop(n, 0);
    if (!strcmp(cmd, "forever")) return loop(-1, 0);
    if (!strcmp(cmd, "badptr")) return badptr();
    if (!strcmp(cmd, "bench")) return loop(n, 1);
    if (!strcmp(cmd, "allocbench")) return alloc_loop(n);
    if (!strcmp(cmd, "floorbench")) return floor_loop(n);
#ifdef WINELIB
    if (!strcmp(cmd, "mprotect")) return behind_back();
#endif
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
