/*
 * tests/programs/cli_target.c — the Windows program the CLI's end-to-end
 * tests and `make demo` run under Wine (built with mingw-w64).
 *
 *   cli_target.exe            a fixed sequence of memory calls, two failing
 *   cli_target.exe --variant  the same, except ONE VirtualProtect asks for
 *                             PAGE_EXECUTE_READ instead of PAGE_READONLY:
 *                             `winmem diff` must report exactly that call
 *   cli_target.exe --hold F   allocates known regions, prints their address,
 *                             and waits until file F exists (for `winmem maps`,
 *                             and to be killed while recording)
 *
 * Nothing after the varied call looks at that page's protection, so the
 * variant differs in one call and one call only.
 */
#include <windows.h>
#include <stdio.h>
#include <string.h>

static int hold(const char *flag)
{
    /* 1 MiB reserved; first 4 pages committed read-write; page 0 read-only. */
    char *p = VirtualAlloc(NULL, 1 << 20, MEM_RESERVE, PAGE_NOACCESS);
    DWORD old;
    if (!p || !VirtualAlloc(p, 4 * 4096, MEM_COMMIT, PAGE_READWRITE) ||
        !VirtualProtect(p, 4096, PAGE_READONLY, &old))
        return 3;
    printf("region=%p\n", (void *)p);
    fflush(stdout);
    /* A query every 100 ms: the shim writes a thread's buffered records on
     * its next call after 100 ms, so a kill -9 here leaves them in the trace. */
    MEMORY_BASIC_INFORMATION mbi;
    for (int i = 0; i < 600 && GetFileAttributesA(flag) == INVALID_FILE_ATTRIBUTES; i++) {
        VirtualQuery(p, &mbi, sizeof mbi);
        Sleep(100);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--hold"))
        return hold(argv[2]);
    int variant = argc > 1 && !strcmp(argv[1], "--variant");

    char *p = VirtualAlloc(NULL, 1 << 20, MEM_RESERVE, PAGE_NOACCESS);
    if (!p)
        return 1;
    VirtualAlloc(p, 4 * 4096, MEM_COMMIT, PAGE_READWRITE);
    memset(p, 1, 4 * 4096);
    DWORD old;
    VirtualProtect(p, 4096, PAGE_READONLY, &old);
    VirtualProtect(p + 4096, 4096, variant ? PAGE_EXECUTE_READ : PAGE_READONLY, &old);  /* the switch */
    MEMORY_BASIC_INFORMATION mbi;
    VirtualQuery(p + 2 * 4096, &mbi, sizeof mbi);
    /* Two failures with known codes, for the report's error table. */
    VirtualFree(p + 4096, 0, MEM_RELEASE);              /* not the allocation's base */
    VirtualAlloc(p + 8 * 4096, 4096, MEM_COMMIT, 0x12345); /* no such protection */
    VirtualFree(p, 0, MEM_RELEASE);
    /* Many calls from one site, so the report has a clear top call site and
     * the trace spans several chunks (a cut then loses only the last). */
    for (int i = 0; i < 300; i++) {
        void *q = VirtualAlloc(NULL, 65536, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
        if (q)
            VirtualFree(q, 0, MEM_RELEASE);
    }
    printf("cli_target done%s\n", variant ? " (variant)" : "");
    return 0;
}
