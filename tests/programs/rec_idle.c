/*
 * tests/programs/rec_idle.c — a Windows program (mingw) for the recording
 * tests (tests/e2e/shim_record.sh).
 *
 *   rec_idle calls N   N VirtualQuery calls, prints "ready", then sleeps
 *                      until killed (a hung program the user kills)
 *   rec_idle env       prints its Windows environment block, one
 *                      variable a line
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "calls")) {
        int n = atoi(argv[2]);
        MEMORY_BASIC_INFORMATION m;
        for (int i = 0; i < n; i++)
            VirtualQuery(&m, &m, sizeof m);
        printf("ready\n");
        fflush(stdout);
        Sleep(INFINITE);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "env")) {
        char *env = GetEnvironmentStringsA();
        for (char *p = env; *p; p += strlen(p) + 1)
            printf("%s\n", p);
        FreeEnvironmentStringsA(env);
        return 0;
    }
    fprintf(stderr, "usage: rec_idle calls N | env\n");
    return 2;
}
