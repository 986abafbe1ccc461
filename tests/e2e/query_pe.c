/* tests/e2e/query_pe.c — a PE program for query_wine.sh: prints its module
 * base and the address of one of its functions, then waits to be walked. */
#include <windows.h>
#include <stdio.h>

static int __attribute__((noinline)) marker(int x) { return x * 7; }

int main(void)
{
    printf("%p %p\n", (void *)GetModuleHandleA(NULL), (void *)marker);
    fflush(stdout);
    Sleep(20000);
    return marker(1) == 7 ? 0 : 1;
}
