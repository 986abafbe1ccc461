/*
 * tests/programs/cli_native.c — a native Linux program using winmem's
 * Windows memory API, for the CLI's end-to-end test of native traces (the
 * shim's native door, ELF stacks named through libdw).
 */
#include <stdio.h>
#include <winmem/winmem.h>

__attribute__((noinline)) static void *reserve_and_commit(void)
{
    char *p = VirtualAlloc(NULL, 1 << 20, MEM_RESERVE, PAGE_NOACCESS);
    if (p)
        VirtualAlloc(p, 4096, MEM_COMMIT, PAGE_READWRITE);
    return p;
}

int main(void)
{
    for (int i = 0; i < 20; i++) {
        char *p = reserve_and_commit();
        DWORD old;
        MEMORY_BASIC_INFORMATION mbi;
        VirtualProtect(p, 4096, PAGE_READONLY, &old);
        VirtualQuery(p, &mbi, sizeof mbi);
        VirtualFree(p, 0, MEM_RELEASE);
    }
    VirtualFree((void *)0x1000, 0, MEM_RELEASE);   /* fails: ERROR_INVALID_ADDRESS */
    puts("cli_native done");
    return 0;
}
