/*
 * bench/cli/cli_vmas.c — a process with about N VMAs (default 60,000):
 * one large anonymous mapping whose pages alternate between read-write and
 * read-only, so none can merge. Prints its pid, then waits for stdin to close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 60000;
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)(n * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (long i = 1; i < n; i += 2)
        if (mprotect(p + i * pg, (size_t)pg, PROT_READ)) {
            perror("mprotect (vm.max_map_count?)");
            return 1;
        }
    printf("%d\n", (int)getpid());
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    return 0;
}
