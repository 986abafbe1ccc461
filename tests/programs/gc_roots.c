/*
 * gc_roots.exe — the root set a conservative collector registers on
 * Windows: Boehm GC's GC_register_dynamic_libraries walks the address space
 * with VirtualQuery and scans every committed, writable MEM_IMAGE region as
 * roots. Prints each such region and the total ("roots N regions B bytes"):
 * tests/e2e/shim_gc.sh compares native mode's total with trace mode's, so
 * memory that is not the program's never becomes a collector's roots.
 */
#include <windows.h>
#include <stdio.h>

int main(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    char *p = si.lpMinimumApplicationAddress;
    MEMORY_BASIC_INFORMATION b;
    unsigned long long total = 0;
    int n = 0;
    while (p < (char *)si.lpMaximumApplicationAddress && VirtualQuery(p, &b, sizeof b)) {
        DWORD pr = b.Protect;
        if (b.State == MEM_COMMIT && b.Type == MEM_IMAGE &&
            (pr == PAGE_EXECUTE_READWRITE || pr == PAGE_EXECUTE_WRITECOPY || pr == PAGE_READWRITE || pr == PAGE_WRITECOPY)) {
            printf("root %p %llx %lx\n", b.BaseAddress, (unsigned long long)b.RegionSize, (unsigned long)pr);
            total += b.RegionSize;
            n++;
        }
        p = (char *)b.BaseAddress + b.RegionSize;
    }
    printf("roots %d regions %llu bytes\n", n, total);
    return 0;
}
