/*
 * tests/programs/rec_host.c — hosts that are hard on a preloaded recorder
 * (tests/e2e/shim_record.sh). Linked with libwinmem, so the shim's native
 * door records its VirtualQuery calls.
 *
 *   rec_host closeall FILE   400 calls (a chunk's worth: the trace is open),
 *                            closes every descriptor from 3 up (close_range,
 *                            as closefrom() does), opens FILE.0 to FILE.7,
 *                            writes "hello\n" to each, 3000 calls, "bye\n"
 *   rec_host dup2 N          finds the shim's trace descriptor, dup2()s
 *                            /dev/null over it, then N calls; exit 0
 *   rec_host nofile          prints how many files it can open (/dev/null
 *                            until EMFILE) after one call
 *   rec_host burst T         T threads released at once, one call each
 *   rec_host calls N         N calls, prints "ready", sleeps until killed
 *   rec_host tidreuse K      (as pid 1 of a new pid namespace, root) K pairs
 *                            of threads that get the same tid (ns_last_pid),
 *                            two calls each; prints "reused R" (pairs whose
 *                            tids really matched) after "threads T"
 *   rec_host env             prints its environment, one variable a line
 *   rec_host spin T N [US]   T threads of N calls each, released at once
 *                            (with a US microsecond pause every 1000 calls);
 *                            then prints "wchar B": the bytes this process
 *                            wrote with write() so far (/proc/self/io),
 *                            which under `winmem run`'s writer is the
 *                            trace's header and little more
 *   rec_host hold T          T threads alive at once, one call each; prints
 *                            "rss KB" (VmRSS) while they all still live
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "winmem/memory.h"

extern char **environ;

static void calls(int n)
{
    MEMORY_BASIC_INFORMATION m;
    for (int i = 0; i < n; i++)
        VirtualQuery(&m, &m, sizeof m);
}

static int closeall(const char *file)
{
    calls(400);
    syscall(SYS_close_range, 3u, ~0u, 0u);
    int fd[8];
    for (int i = 0; i < 8; i++) {     /* numbers 3 to 10 again, as a daemon's files */
        char name[4096];
        snprintf(name, sizeof name, "%s.%d", file, i);
        fd[i] = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd[i] < 0 || write(fd[i], "hello\n", 6) != 6)
            return perror(name), 1;
    }
    calls(3000);
    for (int i = 0; i < 8; i++)
        if (write(fd[i], "bye\n", 4) != 4 || close(fd[i]))
            return 1;
    return 0;
}

static int trace_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    int found = -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[300], l[512];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(p, l, sizeof l - 1);
        if (n > 6 && (l[n] = 0, !strcmp(l + n - 6, ".trace")))
            found = atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return found;
}

static int over(int n)
{
    calls(10);
    int t = trace_fd();
    if (t < 0)
        return fprintf(stderr, "no trace descriptor\n"), 1;
    /* It sits above the soft limit, where dup2 cannot reach: raise it. */
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    if ((rlim_t)t >= r.rlim_cur) {
        r.rlim_cur = (rlim_t)t + 1;
        if (r.rlim_max < r.rlim_cur)
            r.rlim_max = r.rlim_cur;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    int nul = open("/dev/null", O_WRONLY);
    if (dup2(nul, t) != t)
        return perror("dup2"), 1;
    calls(n);
    return 0;
}

static int nofile(void)
{
    calls(1);
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0)
        n++;
    printf("opened %d\n", n);
    return 0;
}

static pthread_barrier_t bar;
static void *burst_one(void *a)
{
    pthread_barrier_wait(&bar);
    calls(1);
    return a;
}

static int burst(int t)
{
    pthread_t th[64];
    if (t > 64)
        t = 64;
    pthread_barrier_init(&bar, NULL, (unsigned)t);
    for (int i = 0; i < t; i++)
        pthread_create(&th[i], NULL, burst_one, NULL);
    for (int i = 0; i < t; i++)
        pthread_join(th[i], NULL);
    return 0;
}

static int spin_n, spin_us;
static void *spin_one(void *a)
{
    pthread_barrier_wait(&bar);
    for (int done = 0; done < spin_n; done += 1000) {
        calls(spin_n - done < 1000 ? spin_n - done : 1000);
        if (spin_us)
            usleep((useconds_t)spin_us);
    }
    return a;
}

static int spin(int t, int n, int us)
{
    pthread_t th[64];
    if (t > 64)
        t = 64;
    spin_n = n;
    spin_us = us;
    pthread_barrier_init(&bar, NULL, (unsigned)t);
    for (int i = 0; i < t; i++)
        pthread_create(&th[i], NULL, spin_one, NULL);
    for (int i = 0; i < t; i++)
        pthread_join(th[i], NULL);
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "wchar:", 6))
            printf("wchar %s", line + 7);
    if (f)
        fclose(f);
    return 0;
}

static pthread_barrier_t held, go;
static void *hold_one(void *a)
{
    calls(1);
    pthread_barrier_wait(&held);
    pthread_barrier_wait(&go);
    return a;
}

static int hold(int t)
{
    pthread_t *th = calloc((size_t)t, sizeof *th);
    pthread_barrier_init(&held, NULL, (unsigned)t + 1);
    pthread_barrier_init(&go, NULL, (unsigned)t + 1);
    for (int i = 0; i < t; i++)
        if (pthread_create(&th[i], NULL, hold_one, NULL))
            return perror("pthread_create"), 1;
    pthread_barrier_wait(&held);
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            printf("rss %ld\n", atol(line + 6));
    if (f)
        fclose(f);
    pthread_barrier_wait(&go);
    for (int i = 0; i < t; i++)
        pthread_join(th[i], NULL);
    free(th);
    return 0;
}

static void *two_calls(void *tid)
{
    *(pid_t *)tid = (pid_t)syscall(SYS_gettid);
    calls(2);
    return NULL;
}

static int tidreuse(int k)
{
    int reused = 0, threads = 0;
    for (int i = 0; i < k; i++) {
        pid_t a = 0, b = 0;
        pthread_t t;
        pthread_create(&t, NULL, two_calls, &a);
        pthread_join(t, NULL);
        threads++;
        /* The next tid is ns_last_pid + 1 once a's is free again (join can
         * return a moment before the kernel lets go of it): retry a little. */
        for (int tries = 0; tries < 20 && b != a; tries++) {
            int f = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
            char num[16];
            int len = snprintf(num, sizeof num, "%d", (int)a - 1);
            if (f < 0 || write(f, num, (size_t)len) != len)
                return perror("ns_last_pid"), 1;
            close(f);
            pthread_create(&t, NULL, two_calls, &b);
            pthread_join(t, NULL);
            threads++;
        }
        reused += a == b;
    }
    printf("threads %d reused %d\n", threads, reused);
    return 0;
}

int main(int argc, char **argv)
{
    const char *m = argc > 1 ? argv[1] : "";
    int n = argc > 2 ? atoi(argv[2]) : 0;
    if (!strcmp(m, "closeall") && argc > 2)
        return closeall(argv[2]);
    if (!strcmp(m, "dup2"))
        return over(n);
    if (!strcmp(m, "nofile"))
        return nofile();
    if (!strcmp(m, "burst"))
        return burst(n);
    if (!strcmp(m, "hold"))
        return hold(n);
    if (!strcmp(m, "spin") && argc > 3)
        return spin(n, atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 0);
    if (!strcmp(m, "tidreuse"))
        return tidreuse(n);
    if (!strcmp(m, "calls")) {
        calls(n);
        printf("ready\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    if (!strcmp(m, "chdir") && argc > 3) {   /* moves before its first call */
        if (chdir(argv[2]))
            return 1;
        calls(atoi(argv[3]));
        return 0;
    }
    if (!strcmp(m, "env")) {
        for (char **e = environ; *e; e++)
            printf("%s\n", *e);
        return 0;
    }
    fprintf(stderr, "usage: rec_host closeall FILE | dup2 N | nofile | burst T | calls N | chdir DIR N | tidreuse K | env\n");
    return 2;
}
