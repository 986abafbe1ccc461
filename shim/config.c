/*
 * shim/config.c — WINMEM_* environment variables and the process filter.
 *
 * Runs once, in the constructor, before any thread exists; may use libc
 * freely (getenv, snprintf to a stack buffer) but never stdio streams, so a
 * host that closed or redirected stdio is not disturbed.
 */
#include <ctype.h>
#include <fcntl.h>
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

static int int_env(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
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
    const char *v = getenv(name);
    if (!v || !*v || !strcmp(v, "0"))
        return false;
    if (!strcmp(v, "1"))
        return true;
    wm_note(name, "= must be 0 or 1; using 0", NULL);
    return false;
}

void wm_config_init(void)
{
    /* WINMEM_QUIET first: every later note obeys it. */
    const char *q = getenv("WINMEM_QUIET");
    wm_cfg.quiet = q && !strcmp(q, "1");
    if (q && *q && strcmp(q, "0") && strcmp(q, "1"))
        wm_note("WINMEM_QUIET", "= must be 0 or 1; using 0", NULL);

    const char *out = getenv("WINMEM_OUTPUT");
    if (out && *out && strlen(out) < sizeof wm_cfg.output)
        strcpy(wm_cfg.output, out);
    else {
        if (out && *out)
            wm_note("WINMEM_OUTPUT", " is too long; using winmem-%p.trace", NULL);
        strcpy(wm_cfg.output, "winmem-%p.trace");
    }

    const char *m = getenv("WINMEM_MODE");
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
    const char *prog = exe_base;
    bool system = in_list(exe_base, native_skip);
    if (wm_cfg.wine) {
        /* Wine's loader execs itself once with WINELOADERNOEXEC set; only
         * that second image runs Windows code. */
        wm_cfg.wine_pre_exec = !getenv("WINELOADERNOEXEC");
        prog = argv1 ? wm_base_name(argv1) : "";
        system = !*prog || in_list(prog, wine_system) ||
                 (argv1 && !strncasecmp(argv1, "c:\\windows\\", 11));
    }
    size_t pl = strnlen(prog, sizeof wm_cfg.program - 1);
    memcpy(wm_cfg.program, prog, pl);
    wm_cfg.program[pl] = 0;

    const char *only = getenv("WINMEM_ONLY");
    if (only && *only)
        wm_cfg.active = in_only(only, wm_cfg.program);
    else
        wm_cfg.active = !system;
    if (wm_cfg.wine_pre_exec)
        wm_cfg.active = false;
}
