/*
 * cli/run.c — `winmem run [options] -- COMMAND ...`: runs a program under
 * libwinmem-shim.so with every WINMEM_* variable set, waits for it, and
 * prints where the trace went and a one-screen summary. The exit status is
 * the program's (128 + signal when it was killed).
 *
 * The CLI itself never runs inside the traced program: it only prepares the
 * environment, forks, and reads the trace afterwards.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/names.h"
#include "report.h"
#include "options.h"

/* The shim sits next to the winmem binary (build/), one level up (the ASan
 * build in build/san/), or in the install's lib directories. */
static char *find_shim(void)
{
    char exe[PATH_MAX], buf[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *dir = dirname(exe);
        static const char *const rel[] = { "", "/..", "/../lib", "/../lib/winmem", "/../lib/x86_64-linux-gnu" };
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            snprintf(buf, sizeof buf, "%s%s/libwinmem-shim.so", dir, rel[i]);
            char *r = realpath(buf, NULL);
            if (r)
                return r;
        }
    }
    const char *env = getenv("WINMEM_SHIM");
    return env && access(env, R_OK) == 0 ? realpath(env, NULL) : NULL;
}

/* The names the shim can know a native command by: it matches the basename
 * of /proc/self/exe, so "python3" must also be allowed as "python3.11" (a
 * symlink) and a script as its interpreter. Comma-separated for WINMEM_ONLY. */
static void native_names(const char *cmd, char *out, size_t len)
{
    snprintf(out, len, "%s", wm_base_name(cmd));
    char path[PATH_MAX] = "";
    if (strchr(cmd, '/')) {
        snprintf(path, sizeof path, "%s", cmd);
    } else {
        const char *p = getenv("PATH");
        for (const char *d = p ? p : "/usr/bin:/bin"; *d;) {
            const char *e = strchr(d, ':');
            size_t n = e ? (size_t)(e - d) : strlen(d);
            snprintf(path, sizeof path, "%.*s/%s", (int)n, d, cmd);
            if (access(path, X_OK) == 0)
                break;
            path[0] = 0;
            d += n + (e ? 1 : 0);
        }
    }
    char *real = path[0] ? realpath(path, NULL) : NULL;
    if (!real)
        return;
    const char *names[2] = { wm_base_name(real), NULL };
    char interp[PATH_MAX] = "";
    FILE *f = fopen(real, "re");
    if (f) {   /* "#!/usr/bin/env python3" or "#!/bin/sh -e" */
        char line[512];
        if (fgets(line, sizeof line, f) && line[0] == '#' && line[1] == '!') {
            char a[256] = "", b[256] = "";
            if (sscanf(line + 2, " %255s %255s", a, b) >= 1) {
                snprintf(interp, sizeof interp, "%s", !strcmp(wm_base_name(a), "env") && b[0] ? b : wm_base_name(a));
                names[1] = interp;
            }
        }
        fclose(f);
    }
    for (int i = 0; i < 2; i++) {
        size_t used = strlen(out);
        if (names[i] && *names[i] && strcmp(names[i], out) && used + strlen(names[i]) + 2 < len)
            snprintf(out + used, len - used, ",%s", names[i]);
    }
    free(real);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: winmem run [options] -- COMMAND [ARGS...]\n\n"
               "Runs COMMAND under libwinmem-shim.so and records every memory call of the\n"
               "program into a trace; for `wine X.exe` that is X.exe's calls through Wine's\n"
               "system calls. Prints where the trace went and a summary; exits with the\n"
               "program's status.\n\n"
               "  --mode trace|check|native  trace: record (default); check: also compare\n"
               "                      Wine's answers with the kernel (divergences in the report);\n"
               "                      native: answer queries with winmem's own implementation\n"
               "  -o FILE             trace file; %%p is replaced by the pid\n"
               "                      (default: NAME.%%p.wmt in the current directory)\n"
               "  --stack N           frames per call stack (default 16; 0: none)\n"
               "  --only NAME         record only processes whose executable is NAME\n"
               "                      (NAME,NAME... for several; default: X.exe for `wine X.exe`,\n"
               "                      else COMMAND's name, the file it links to, and for a\n"
               "                      script its interpreter)\n"
               "  --all               record every process (Wine's services too)\n"
               "  --unix              also record mmap, munmap, mprotect, mremap, madvise\n"
               "  --no-summary        only say where the trace went\n\n"
               "example: winmem run -- wine notepad.exe && winmem report notepad.exe.*.wmt\n");
}

int cmd_run(int argc, char **argv)
{
    const char *mode = "trace", *out = NULL, *only = NULL, *stack = "16";
    bool unix_layer = false, all = false, summary = true;
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "mode", required_argument, 0, 'm' },
        { "output", required_argument, 0, 'o' }, { "stack", required_argument, 0, 's' },
        { "only", required_argument, 0, 'O' }, { "unix", no_argument, 0, 'u' },
        { "all", no_argument, 0, 'a' }, { "no-summary", no_argument, 0, 'n' }, { 0, 0, 0, 0 }
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'm': mode = optarg; break;
        case 'o': out = optarg; break;
        case 's': if (!opt_int("run", "stack", optarg, 0, 64, &(int){ 0 })) return 2; stack = optarg; break;
        case 'O': only = optarg; break;
        case 'u': unix_layer = true; break;
        case 'a': all = true; break;
        case 'n': summary = false; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (wm_mode_parse(mode) < 0) {
        fprintf(stderr, "winmem run: --mode must be trace, check or native (not '%s')\n", mode);
        return 2;
    }
    char **cmd = argv + optind;
    char *shim = find_shim();
    if (!shim) {
        fprintf(stderr, "winmem run: cannot find libwinmem-shim.so next to this winmem or in ../lib\n"
                        "  (build it with `make`, or point WINMEM_SHIM at it)\n");
        return 2;
    }
    /* The program the user means: X.exe for `wine X.exe`, else the command. */
    bool wine = wm_is_wine_name(wm_base_name(cmd[0])) && cmd[1];
    const char *name = wine ? wm_base_name(cmd[1]) : wm_base_name(cmd[0]);
    char names[3 * 256 + 4];
    if (!only && !all) {
        if (wine)
            only = name;
        else
            native_names(cmd[0], names, sizeof names), only = names;
    }
    char outbuf[PATH_MAX];
    if (!out) {
        snprintf(outbuf, sizeof outbuf, "%s.%%p.wmt", name);
        out = outbuf;
    }

    char *preload = NULL;
    const char *old = getenv("LD_PRELOAD");
    if (asprintf(&preload, "%s%s%s", shim, old && *old ? ":" : "", old && *old ? old : "") < 0)
        return 2;
    setenv("LD_PRELOAD", preload, 1);
    setenv("WINMEM_OUTPUT", out, 1);
    setenv("WINMEM_MODE", mode, 1);
    setenv("WINMEM_STACK", stack, 1);
    if (only)
        setenv("WINMEM_ONLY", only, 1);
    else
        unsetenv("WINMEM_ONLY");
    setenv("WINMEM_UNIX", unix_layer ? "1" : "0", 1);
    free(preload);

    time_t started = time(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("winmem run: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(cmd[0], cmd);
        fprintf(stderr, "winmem run: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    /* Ctrl-C goes to the program (same process group); we stay to report. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    unsetenv("LD_PRELOAD");

    /* The traces this run wrote: the pattern with %p as a wildcard, newer
     * than the start (older runs may match the same pattern). */
    char pat[PATH_MAX];
    wm_pattern_fill(out, "*", pat, sizeof pat);
    glob_t g;
    int found = 0;
    if (glob(pat, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat sb;
            /* lstat, a regular file of ours: a symlink planted under a name
             * the pattern matches is not what the shim wrote (it never
             * follows one), and its target is nobody's business here. */
            if (lstat(g.gl_pathv[i], &sb) || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
                sb.st_mtime < started - 1)
                continue;
            found++;
            fprintf(stderr, "winmem run: %s exited with status %d; trace: %s\n", name, rc, g.gl_pathv[i]);
            if (!summary)
                continue;
            tr_trace t;
            char err[512];
            if (tr_open(&t, g.gl_pathv[i], false, err, sizeof err)) {
                fprintf(stderr, "winmem run: %s\n", err);
                continue;
            }
            report_opts o = { .top_sites = 3, .frames = 0, .top_errors = 5, .brief = true };
            report_print(&t, stderr, &o);
            fprintf(stderr, "\nMore: winmem report %s | winmem export --format chrome %s\n", g.gl_pathv[i], g.gl_pathv[i]);
            tr_close(&t);
        }
        globfree(&g);
    }
    if (!found)
        fprintf(stderr, "winmem run: %s exited with status %d; no trace matching %s was written:\n"
                        "  either no process named %s ran (--only NAME chooses it) or it made no\n"
                        "  memory call the shim records\n",
                name, rc, pat, only ? only : "(any)");
    free(shim);
    return rc;
}
