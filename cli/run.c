/*
 * cli/run.c — `winmem run [options] -- COMMAND ...`: runs a program under
 * libwinmem-shim.so, waits for it, and prints exactly the traces this run
 * wrote with a one-screen summary. The exit status is the program's
 * (128 + signal when it was killed).
 *
 * The program must see what it would see without winmem: no
 * WINMEM_* variable reaches it. run makes a directory of its own with a
 * link to the shim, the shim's settings (winmem.conf) and an empty
 * manifest; LD_PRELOAD names the link, the shim reads winmem.conf beside
 * itself and appends every file it creates to the manifest. So run knows
 * what this run wrote — never an older file matching the name, never
 * "nothing" when something was written — and salvages the .live buffers
 * of a process that was killed (cli/salvage.h).
 *
 * The CLI itself never runs inside the traced program: it only prepares the
 * environment, forks, and reads the traces afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "common/names.h"
#include "report.h"
#include "options.h"
#include "run_writer.h"
#include "salvage.h"

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
               "  --max-size SIZE     stop recording when a trace would pass SIZE bytes\n"
               "                      (K, M, G suffixes); the report says it stopped\n"
               "  --no-summary        only say where the trace went\n"
               "  --no-writer         the program appends its own records to the trace (as\n"
               "                      under a bare LD_PRELOAD); by default run does it for\n"
               "                      the program's threads, which then pay less per call\n\n"
               "example: winmem run -- wine notepad.exe && winmem report notepad.exe.*.wmt\n");
}

/* The run's directory: the shim's link, winmem.conf, the manifest. */
typedef struct run_dir {
    char dir[PATH_MAX], link[PATH_MAX + 32], conf[PATH_MAX + 32], manifest[PATH_MAX + 32];
} run_dir;

static int run_dir_make(run_dir *d, const char *shim, const char *const *kv)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/winmem-run.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->dir))
        return -1;
    snprintf(d->link, sizeof d->link, "%s/libwinmem-shim.so", d->dir);
    snprintf(d->conf, sizeof d->conf, "%s/winmem.conf", d->dir);
    snprintf(d->manifest, sizeof d->manifest, "%s/manifest", d->dir);
    if (symlink(shim, d->link))
        return -1;
    FILE *f = fopen(d->conf, "wx");
    if (!f)
        return -1;
    for (; kv[0]; kv += 2)
        if (kv[1])
            fprintf(f, "%s=%s\n", kv[0], kv[1]);
    if (fclose(f))
        return -1;
    int m = open(d->manifest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return m < 0 ? -1 : close(m);
}

static void run_dir_remove(run_dir *d)
{
    run_writer_stop();
    unlink(d->link);
    unlink(d->conf);
    unlink(d->manifest);
    rmdir(d->dir);
}

/* SIGINT, SIGTERM, SIGHUP sent to run (not typed at the terminal, which
 * reaches the program too) go on to the program; run stays to report. */
static volatile sig_atomic_t child_pid, forwarded;
static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (si && si->si_code == SI_KERNEL)
        return;                       /* the terminal: the program got it already */
    if (child_pid > 0)
        kill(child_pid, sig);
    forwarded = sig;
}

/* Waits for the program; after a forwarded signal it has 5 s to end
 * before SIGKILL (its records are safe in its .live buffers either way). */
static int wait_program(pid_t pid)
{
    int st = 0, waited_ms = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, forwarded ? WNOHANG : 0);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            return 127;
        if (forwarded && r == 0) {
            if (waited_ms >= 5000) {
                kill(pid, SIGKILL);
                forwarded = 0;
            }
            struct timespec ts = { 0, 50 * 1000000 };
            nanosleep(&ts, NULL);
            waited_ms += 50;
        }
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* out with %p replaced by pid: the name a process asked for. */
static void expand(const char *out, long pid, char *buf, size_t len)
{
    size_t o = 0;
    for (const char *p = out; *p && o + 24 < len; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(buf + o, len - o, "%ld", pid);
            p++;
        } else
            buf[o++] = *p;
    }
    buf[o] = 0;
}

/* A path as the user would write it: relative to the current directory
 * when it is under it (the shim and the manifest use absolute paths). */
static const char *shown(const char *path)
{
    static char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return path;
    size_t n = strlen(cwd);
    return !strncmp(path, cwd, n) && path[n] == '/' ? path + n + 1 : path;
}

/* A Wine process's trace names the image Wine loaded (PROCESS record): say
 * so when it is not the program the user named. */
static void check_image(const tr_trace *t, const char *name)
{
    if (!t->image)
        return;
    char ran[256], asked[256];
    wm_program_name(t->image, ran, sizeof ran);
    wm_program_name(name, asked, sizeof asked);
    if (!strcasecmp(ran, asked))
        return;
    if (!strcasecmp(ran, "start.exe"))
        fprintf(stderr, "winmem run: warning: Wine did not run %s: the process recorded ran %s,\n"
                        "  Wine's way of reporting a program it cannot find or start (check the path)\n",
                name, t->image);
    else
        fprintf(stderr, "winmem run: warning: the process recorded as %s ran %s\n", name, t->image);
}

static void summarise(const char *abs, const char *name, int rc, const char *asked, bool summary)
{
    const char *path = shown(abs);
    char msg[PATH_MAX + 256];
    int sv = live_salvage(abs, msg, sizeof msg);
    if (sv != 1)
        fprintf(stderr, "winmem run: %s\n", msg);
    fprintf(stderr, "winmem run: %s exited with status %d; trace: %s\n", name, rc, path);
    if (strcmp(abs, asked))
        fprintf(stderr, "winmem run: %s existed and was not overwritten; this run's trace is %s\n", shown(asked), path);
    tr_trace t;
    char err[512];
    if (tr_open(&t, path, false, err, sizeof err)) {
        fprintf(stderr, "winmem run: %s\n", err);
        return;
    }
    check_image(&t, name);
    if (summary) {
        report_opts o = { .top_sites = 3, .frames = 0, .top_errors = 5, .brief = true };
        report_print(&t, stderr, &o);
        fprintf(stderr, "\nMore: winmem report %s | winmem export --format chrome %s\n", path, path);
    }
    tr_close(&t);
}

/* The manifest's lines, "PID PATH": each trace this run's processes made. */
static int report_manifest(const run_dir *d, const char *out, const char *name, int rc, bool summary)
{
    FILE *f = fopen(d->manifest, "re");
    int found = 0;
    char line[PATH_MAX + 64];
    while (f && fgets(line, sizeof line, f)) {
        char *nl = strchr(line, '\n'), *sp = strchr(line, ' ');
        if (!nl || !sp)
            continue;
        *nl = 0;
        const char *path = sp + 1;
        size_t pl = strlen(path);
        if (pl > 5 && !strcmp(path + pl - 5, ".live"))
            continue;                 /* a trace's buffers: salvaged with it */
        char asked[PATH_MAX];
        expand(out, strtol(line, NULL, 10), asked, sizeof asked);
        summarise(path, name, rc, asked, summary);
        found++;
    }
    if (f)
        fclose(f);
    return found;
}

typedef struct run_opts {
    const char *mode, *out, *only, *stack, *max_size;
    bool unix_layer, all, summary, writer;
} run_opts;

/* Options into o; -1 to go on, else the exit status (help, a bad option). */
static int parse_opts(int argc, char **argv, run_opts *o)
{
    static const struct option lo[] = {
        { "help", no_argument, 0, 'h' }, { "mode", required_argument, 0, 'm' },
        { "output", required_argument, 0, 'o' }, { "stack", required_argument, 0, 's' },
        { "only", required_argument, 0, 'O' }, { "unix", no_argument, 0, 'u' },
        { "all", no_argument, 0, 'a' }, { "no-summary", no_argument, 0, 'n' },
        { "max-size", required_argument, 0, 'M' }, { "no-writer", no_argument, 0, 'W' }, { 0, 0, 0, 0 }
    };
    *o = (run_opts){ .mode = "trace", .stack = "16", .summary = true, .writer = true };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+ho:", lo, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'm': o->mode = optarg; break;
        case 'o': o->out = optarg; break;
        case 's': o->stack = optarg; break;
        case 'O': o->only = optarg; break;
        case 'u': o->unix_layer = true; break;
        case 'a': o->all = true; break;
        case 'n': o->summary = false; break;
        case 'M': o->max_size = optarg; break;
        case 'W': o->writer = false; break;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (wm_mode_parse(o->mode) < 0) {
        fprintf(stderr, "winmem run: --mode must be trace, check or native (not '%s')\n", o->mode);
        return 2;
    }
    if (o->max_size) {
        char *end;
        unsigned long long v = strtoull(o->max_size, &end, 10);
        if (end == o->max_size || *o->max_size == '-' || v == 0 ||
            (*end && (strchr("KkMmGg", *end) == NULL || end[1]))) {
            fprintf(stderr, "winmem run: --max-size must be a positive number of bytes, with K, M or G (not '%s')\n", o->max_size);
            return 2;
        }
    }
    if (!opt_int("run", "stack", o->stack, 0, 64, &(int){ 0 }))
        return 2;
    return -1;
}

/* -o FILE that exists: the shim never overwrites (it would write FILE.1),
 * so a script reading FILE would read the last run's trace. The old one
 * moves aside, as FILE.old, and run says so. 0, or 2 when it cannot. */
static int move_aside(const char *outabs, const char *out)
{
    struct stat ost;
    if (strstr(outabs, "%p") || lstat(outabs, &ost) != 0)
        return 0;
    char old_name[2 * PATH_MAX + 16];
    snprintf(old_name, sizeof old_name, "%s.old", outabs);
    if (!S_ISREG(ost.st_mode)) {
        fprintf(stderr, "winmem run: %s exists and is not a regular file: not touched; choose another -o\n", out);
        return 2;
    }
    if (rename(outabs, old_name)) {
        fprintf(stderr, "winmem run: %s exists and cannot be moved to %s: %s\n", out, old_name, strerror(errno));
        return 2;
    }
    fprintf(stderr, "winmem run: %s existed: moved to %s\n", out, old_name);
    char live[2 * PATH_MAX + 16], old_live[2 * PATH_MAX + 24];
    snprintf(live, sizeof live, "%s.live", outabs);
    snprintf(old_live, sizeof old_live, "%s.live", old_name);
    rename(live, old_live);       /* the old trace's buffers, if any, go with it */
    return 0;
}

/* Runs cmd with the shim preloaded from d; the program's status, or -1. */
static int launch(char **cmd, const run_dir *d)
{
    char *preload = NULL;
    const char *old = getenv("LD_PRELOAD");
    if (asprintf(&preload, "%s%s%s", d->link, old && *old ? ":" : "", old && *old ? old : "") < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        perror("winmem run: fork");
        free(preload);
        return -1;
    }
    if (pid == 0) {
        setenv("LD_PRELOAD", preload, 1);
        execvp(cmd[0], cmd);
        fprintf(stderr, "winmem run: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    free(preload);
    child_pid = pid;
    struct sigaction sa = { .sa_sigaction = forward, .sa_flags = SA_SIGINFO | SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGQUIT, SIG_IGN);
    return wait_program(pid);
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    char **cmd = argv + optind;
    char *shim = find_shim();
    if (!shim) {
        fprintf(stderr, "winmem run: cannot find libwinmem-shim.so next to this winmem or in ../lib\n"
                        "  (build it with `make`, or point WINMEM_SHIM at it)\n");
        return 2;
    }
    /* The program the user means: X.exe for `wine X.exe` (X.exe for a
     * winelib X.exe.so, as the shim names it), else the command. */
    bool wine = wm_is_wine_name(wm_base_name(cmd[0])) && cmd[1];
    char name[256], names[3 * 256 + 4];
    wm_program_name(wine ? cmd[1] : cmd[0], name, sizeof name);
    if (!o.only && !o.all) {
        if (wine)
            o.only = name;
        else
            native_names(cmd[0], names, sizeof names), o.only = names;
    }
    char outbuf[PATH_MAX], cwd[PATH_MAX], outabs[2 * PATH_MAX + 8];
    if (!o.out) {
        snprintf(outbuf, sizeof outbuf, "%s.%%p.wmt", name);
        o.out = outbuf;
    }
    if (o.out[0] != '/' && getcwd(cwd, sizeof cwd))
        snprintf(outabs, sizeof outabs, "%s/%s", cwd, o.out);
    else
        snprintf(outabs, sizeof outabs, "%s", o.out);
    if (move_aside(outabs, o.out)) {
        free(shim);
        return 2;
    }
    const char *kv[] = { "WINMEM_OUTPUT", outabs, "WINMEM_MODE", o.mode, "WINMEM_STACK", o.stack,
                         "WINMEM_ONLY", o.only, "WINMEM_UNIX", o.unix_layer ? "1" : "0",
                         "WINMEM_MAX_SIZE", o.max_size, "WINMEM_QUIET", getenv("WINMEM_QUIET"), NULL, NULL };
    run_dir d;
    int made = run_dir_make(&d, shim, kv);
    free(shim);
    if (made) {
        fprintf(stderr, "winmem run: cannot make its directory under %s: %s\n",
                getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
        run_dir_remove(&d);
        return 2;
    }
    if (o.writer && !run_writer_start(d.dir))
        fprintf(stderr, "winmem run: no writer (%s): the program appends its own records\n", strerror(errno));
    rc = launch(cmd, &d);
    run_writer_stop();                /* before any .live is salvaged: it may still append */
    if (rc < 0) {
        run_dir_remove(&d);
        return 2;
    }
    if (!report_manifest(&d, outabs, name, rc, o.summary))
        fprintf(stderr, "winmem run: %s exited with status %d; no trace was written:\n"
                        "  either no process named %s ran (--only NAME chooses it) or it made no\n"
                        "  memory call the shim records\n",
                name, rc, o.only ? o.only : "(any)");
    run_dir_remove(&d);
    return rc;
}
