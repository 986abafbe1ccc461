/*
 * shim/config.c — WINMEM_* environment variables and the process filter.
 *
 * Runs once, in the constructor, before any thread exists; may use libc
 * freely (getenv, snprintf to a stack buffer) but never stdio streams, so a
 * host that closed or redirected stdio is not disturbed.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "common/names.h"
#include "shim.h"

struct wm_config wm_cfg;

void wm_note(const char *a, const char *b, const char *c)
{
    if (wm_cfg.quiet)
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "winmem-shim[%d]: %s%s%s\n", (int)getpid(),
                     a ? a : "", b ? b : "", c ? c : "");
    if (n > (int)sizeof line - 1)
        n = sizeof line - 1, line[n - 1] = '\n';
    if (n > 0 && write(2, line, n) < 0) { /* nothing to do: stderr is gone */ }
}

/* Wine's own processes: the session starts them, the user did not name them. */
static const char *const wine_system[] = {
    "wineboot.exe", "winemenubuilder.exe", "services.exe", "explorer.exe",
    "winedevice.exe", "plugplay.exe", "svchost.exe", "rpcss.exe", "conhost.exe",
    "start.exe", "winedbg.exe", "rundll32.exe", "tabtip.exe", "wineconsole.exe",
    NULL
};
/* Native helpers that inherit LD_PRELOAD but are never "the program". */
static const char *const native_skip[] = {
    "sh", "dash", "bash", "wineserver", "wineserver64", "wine", "wine64",
    "wine-preloader", "wine64-preloader", NULL
};

static bool in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcasecmp(name, *list))
            return true;
    return false;
}

/* WINMEM_ONLY: comma-separated basenames, case-insensitive. */
static bool in_only(const char *only, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = only; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncasecmp(p, name, n))
            return true;
        p += len + (e ? 1 : 0);
    }
    return false;
}

static void read_cmdline(char *buf, size_t size, const char **argv1)
{
    *argv1 = NULL;
    buf[0] = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, size - 2);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0, buf[n + 1] = 0;
    size_t l0 = strlen(buf);
    if ((ssize_t)l0 + 1 < n)
        *argv1 = buf + l0 + 1;
}

/* `winmem run` configures the shim without one variable in the program's
 * environment (the program must see what it would see without
 * winmem, and Wine copies every variable into the Windows environment
 * block): it preloads the shim through a symbolic link in a directory of
 * its own, with winmem.conf (KEY=VALUE lines, the WINMEM_* names) beside
 * it. Every process that inherits LD_PRELOAD — Wine's re-executed loader,
 * Windows children, native children however they are started — finds the
 * same file. Without it the WINMEM_* variables are read. */
static char conf[4096];
static bool have_conf;

static void read_run_conf(void)
{
    Dl_info di;
    if (!dladdr((void *)&wm_config_init, &di) || !di.dli_fname || di.dli_fname[0] != '/')
        return;
    char dir[512];
    if (strlen(di.dli_fname) >= sizeof dir)
        return;
    strcpy(dir, di.dli_fname);
    char *d = dirname(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/winmem.conf", d);
    int f = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (f < 0)
        return;
    struct stat st;
    ssize_t n = -1;
    if (!fstat(f, &st) && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        n = read(f, conf, sizeof conf - 1);
    close(f);
    if (n < 0)
        return;
    conf[n] = 0;
    have_conf = true;
    snprintf(wm_cfg.run_dir, sizeof wm_cfg.run_dir, "%s", d);
}

/* A setting: winmem.conf's line when run wrote one, else the variable. */
static const char *setting(const char *name)
{
    if (!have_conf)
        return getenv(name);
    size_t nl = strlen(name);
    for (char *p = conf; *p;) {
        char *e = strchr(p, '\n');
        if (!strncmp(p, name, nl) && p[nl] == '=') {
            static char val[16][600];     /* constructor only, one per name used */
            static int used;
            char *v = val[used++ & 15];
            size_t len = (e ? (size_t)(e - p) : strlen(p)) - nl - 1;
            if (len >= sizeof val[0])
                len = sizeof val[0] - 1;
            memcpy(v, p + nl + 1, len);
            v[len] = 0;
            return v;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return NULL;
}

void wm_manifest_note(const char *path)
{
    if (!wm_cfg.run_dir[0])
        return;
    char m[600], line[700];
    snprintf(m, sizeof m, "%s/manifest", wm_cfg.run_dir);
    int n = snprintf(line, sizeof line, "%d %s\n", (int)getpid(), path);
    int f = open(m, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (f < 0)
        return;
    if (n > 0 && n < (int)sizeof line && write(f, line, (size_t)n) < 0) { /* run will say nothing was written */ }
    close(f);
}

/* "123", "64K", "10M", "2G" → bytes; 0 on garbage. */
static uint64_t size_value(const char *v)
{
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *v == '-')
        return 0;
    int sh = 0;
    if (*end == 'K' || *end == 'k') sh = 10, end++;
    else if (*end == 'M' || *end == 'm') sh = 20, end++;
    else if (*end == 'G' || *end == 'g') sh = 30, end++;
    if (*end || x > (UINT64_MAX >> sh))
        return 0;
    return (uint64_t)x << sh;
}

static int int_env(const char *name, int def, int lo, int hi)
{
    const char *v = setting(name);
    if (!v || !*v)
        return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || x < lo || x > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "=%s is not a number in %d..%d; using %d", v, lo, hi, def);
        wm_note(name, msg, NULL);
        return def;
    }
    return (int)x;
}

static bool bool_env(const char *name)
{
    const char *v = setting(name);
    if (!v || !*v || !strcmp(v, "0"))
        return false;
    if (!strcmp(v, "1"))
        return true;
    wm_note(name, "= must be 0 or 1; using 0", NULL);
    return false;
}

void wm_config_init(void)
{
    read_run_conf();
    /* WINMEM_QUIET first: every later note obeys it. */
    const char *q = setting("WINMEM_QUIET");
    wm_cfg.quiet = q && !strcmp(q, "1");
    if (q && *q && strcmp(q, "0") && strcmp(q, "1"))
        wm_note("WINMEM_QUIET", "= must be 0 or 1; using 0", NULL);

    const char *out = setting("WINMEM_OUTPUT");
    if (!out || !*out || strlen(out) >= sizeof wm_cfg.output - 256) {
        if (out && *out)
            wm_note("WINMEM_OUTPUT", " is too long; using winmem-%p.trace", NULL);
        out = "winmem-%p.trace";
    }
    /* Made absolute now: a program that changes directory before its first
     * call still writes where it was asked to (and run finds it). */
    char cwd[256];
    if (out[0] != '/' && getcwd(cwd, sizeof cwd))
        snprintf(wm_cfg.output, sizeof wm_cfg.output, "%s/%s", cwd, out);
    else
        snprintf(wm_cfg.output, sizeof wm_cfg.output, "%s", out);

    const char *ms = setting("WINMEM_MAX_SIZE");
    if (ms && *ms && !(wm_cfg.max_size = size_value(ms)))
        wm_note("WINMEM_MAX_SIZE=", ms, " is not a size (bytes, or a number with K, M or G); no limit");

    const char *m = setting("WINMEM_MODE");
    wm_cfg.mode = WMT_MODE_TRACE;
    if (m && *m) {
        int mode = wm_mode_parse(m);
        if (mode >= 0) wm_cfg.mode = mode;
        else wm_note("WINMEM_MODE=", m, " is not trace|check|native; using trace");
    }
    wm_cfg.stack_depth = int_env("WINMEM_STACK", 16, 0, 64);
    wm_cfg.unix_layer = bool_env("WINMEM_UNIX");
    wm_cfg.test_hook = int_env("WINMEM_TEST_CORRUPT_NTDLL", 0, 0, 1);

    /* Which program is this? For Wine's loader, the Windows program it runs. */
    ssize_t n = readlink("/proc/self/exe", wm_cfg.exe, sizeof wm_cfg.exe - 1);
    wm_cfg.exe[n > 0 ? n : 0] = 0;
    char cmd[4096];
    const char *argv1;
    read_cmdline(cmd, sizeof cmd, &argv1);
    const char *exe_base = wm_base_name(wm_cfg.exe);
    wm_cfg.wine = wm_is_wine_name(exe_base);
    /* The name as given ("prog.exe.so") and as known (wm_program_name). */
    const char *given = exe_base;
    bool system = in_list(exe_base, native_skip);
    if (wm_cfg.wine) {
        /* Wine's loader execs itself once with WINELOADERNOEXEC set; only
         * that second image runs Windows code. */
        wm_cfg.wine_pre_exec = !getenv("WINELOADERNOEXEC");
        given = argv1 ? wm_base_name(argv1) : "";
        system = !*given || in_list(given, wine_system) ||
                 (argv1 && !strncasecmp(argv1, "c:\\windows\\", 11));
    }
    wm_program_name(given, wm_cfg.program, sizeof wm_cfg.program);

    const char *only = setting("WINMEM_ONLY");
    if (only && *only)
        wm_cfg.active = in_only(only, wm_cfg.program) || in_only(only, given);
    else
        wm_cfg.active = !system;
    if (wm_cfg.wine_pre_exec)
        wm_cfg.active = false;
}
