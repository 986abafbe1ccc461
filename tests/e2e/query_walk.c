/* tests/e2e/query_walk.c — walks another process's address space with
 * OpenProcess + VirtualQueryEx and prints one region per line:
 *   base size state protect type allocation_base allocation_protect
 * (hex). Used by query_maps.sh, which checks it against /proc/PID/maps. */
#include <stdio.h>
#include <stdlib.h>
#include <winmem/memory.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PID\n", argv[0]);
        return 2;
    }
    HANDLE h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, (DWORD)strtoul(argv[1], NULL, 10));
    if (!h) {
        fprintf(stderr, "OpenProcess: error %u\n", (unsigned)GetLastError());
        return 1;
    }
    MEMORY_BASIC_INFORMATION m;
    char *p = NULL;
    while (VirtualQueryEx(h, p, &m, sizeof m) == sizeof m) {
        printf("%llx %llx %x %x %x %llx %x\n", (unsigned long long)(uintptr_t)m.BaseAddress,
               (unsigned long long)m.RegionSize, (unsigned)m.State, (unsigned)m.Protect, (unsigned)m.Type,
               (unsigned long long)(uintptr_t)m.AllocationBase, (unsigned)m.AllocationProtect);
        p = (char *)m.BaseAddress + m.RegionSize;
    }
    DWORD err = GetLastError();
    CloseHandle(h);
    /* The walk ends past the top of the user range with ERROR_INVALID_PARAMETER. */
    return err == ERROR_INVALID_PARAMETER ? 0 : 1;
}
