/* cli/srcline.c — see srcline.h. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "files.h"
#include "srcline.h"

extern char **environ;

const char *srcline_tool(void)
{
    static const char *tool;
    static bool looked;
    if (looked)
        return tool;
    looked = true;
    const char *env = getenv("WINMEM_SYMBOLIZER");
    static const char *const names[] = { "llvm-symbolizer", "llvm-symbolizer-16", "llvm-symbolizer-15", "llvm-symbolizer-14" };
    const char *path = getenv("PATH");
    char buf[4096];
    if (env && *env)
        return tool = access(env, X_OK) == 0 ? env : NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !tool; i++) {
        char *dirs = strdup(path ? path : "/usr/bin:/bin");
        for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !tool; d = strtok_r(NULL, ":", &save)) {
            snprintf(buf, sizeof buf, "%s/%s", d, names[i]);
            if (access(buf, X_OK) == 0)
                tool = strdup(buf);
        }
        free(dirs);
    }
    return tool;
}

static void base_copy(char *dst, size_t len, const char *path)
{
    const char *b = strrchr(path, '/');
    snprintf(dst, len, "%.95s", b ? b + 1 : path);
}

/* LLVM output style: per address, pairs of lines "function" and
 * "file:line:column", innermost inlined frame first, then an empty line. */
static void parse(FILE *in, src_info *out, size_t n)
{
    char fn[1024], loc[4096];
    size_t i = 0;
    while (i < n && fgets(fn, sizeof fn, in)) {
        fn[strcspn(fn, "\n")] = 0;
        if (!fn[0]) {   /* end of this address's frames */
            i++;
            continue;
        }
        if (!fgets(loc, sizeof loc, in))
            break;
        loc[strcspn(loc, "\n")] = 0;
        src_info *s = &out[i];
        if (s->n == SRC_LEVELS)
            continue;
        char *c2 = strrchr(loc, ':');   /* file:line:column */
        if (c2)
            *c2 = 0;
        char *c1 = strrchr(loc, ':');
        int line = c1 ? atoi(c1 + 1) : 0;
        if (c1)
            *c1 = 0;
        if (!strcmp(fn, "??") && line == 0)
            continue;
        src_frame *f = &s->lev[s->n++];
        snprintf(f->func, sizeof f->func, "%.159s", strcmp(fn, "??") ? fn : "");
        if (line > 0 && strcmp(loc, "??"))
            base_copy(f->file, sizeof f->file, loc);
        else
            f->file[0] = 0;
        f->line = line;
    }
}

/* One batch: argv holds the addresses; the output is read until EOF so the
 * tool never blocks on a full pipe. */
static int run_batch(const char *tool, int objfd, const uint64_t *addrs, size_t n, src_info *out)
{
    char objarg[] = "--obj=/dev/fd/3";
    char **argv = calloc(n + 6, sizeof *argv);
    char (*hex)[24] = calloc(n, sizeof *hex);
    int pfd[2] = { -1, -1 }, rc = -1;
    posix_spawn_file_actions_t fa;
    if (!argv || !hex || pipe2(pfd, O_CLOEXEC) != 0)
        goto out;
    size_t k = 0;
    argv[k++] = (char *)tool;
    argv[k++] = objarg;
    argv[k++] = (char *)"--inlining";
    argv[k++] = (char *)"--demangle";
    for (size_t i = 0; i < n; i++) {
        snprintf(hex[i], sizeof hex[i], "0x%llx", (unsigned long long)addrs[i]);
        argv[k++] = hex[i];
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, objfd, 3);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int e = posix_spawn(&pid, tool, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    pfd[1] = -1;
    if (e == 0) {
        FILE *in = fdopen(pfd[0], "r");
        if (in) {
            pfd[0] = -1;
            parse(in, out, n);
            fclose(in);
        }
        int st;
        while (waitpid(pid, &st, 0) < 0)
            ;
        rc = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
    }
out:
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    free(argv);
    free(hex);
    return rc;
}

/* The tool reads the module through a descriptor the CLI opened itself
 * (cli/files.h): a trace names the path, so it may be a FIFO or a device,
 * and the tool's search for a separate debug file beside the module (its
 * .gnu_debuglink) could open one too; through /dev/fd/3 it finds the
 * module's bytes and nothing beside them. */
int srcline_resolve(const char *path, const uint64_t *addrs, size_t n, src_info *out)
{
    memset(out, 0, n * sizeof *out);
    const char *tool = srcline_tool();
    if (!tool || !path)
        return -1;
    struct stat st;
    char err[256];
    int fd = file_open_regular(path, true, &st, err, sizeof err);
    if (fd < 0)
        return -1;
    if (fd <= 3) {              /* dup2 onto itself would keep O_CLOEXEC */
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);
        close(fd);
        if ((fd = hi) < 0)
            return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i += 256)
        rc = run_batch(tool, fd, addrs + i, n - i < 256 ? n - i : 256, out + i);
    close(fd);
    return rc;
}

void srcline_format(const src_info *s, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < s->n && w < len; i++) {
        const src_frame *f = &s->lev[i];
        int k;
        if (f->file[0])
            k = snprintf(buf + w, len - w, "%s%s (%s:%d)", i ? " inlined in " : "", f->func, f->file, f->line);
        else
            k = snprintf(buf + w, len - w, "%s%s", i ? " inlined in " : "", f->func);
        if (k < 0)
            break;
        w += (size_t)k;
    }
}
