/*
 * shim/init.c — start and end of the shim in a process, and exec.
 *
 * The constructor decides once whether this process is recorded (the
 * filter in shim/config.c); a process that is not stays untouched: no
 * file, no patched table, no libunwind. Nothing here installs a signal
 * handler; inside Wine (which owns SIGSEGV) the core's PAGE_GUARD handler
 * is forbidden before any core code can run.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "internal.h"
#include "record.h"

/* From core/alloc.c / core/guard.c when the core is linked in. */
void wm_guard_forbid_handler(void) __attribute__((weak));

__attribute__((constructor)) static void wm_shim_init(void)
{
    wm_config_init();
    if (wm_cfg.active && !wm_fd_init())
        wm_cfg.active = false;        /* no descriptor it could take: said why */
    if (wm_cfg.active)
        wm_clock_init();              /* a process not recorded reads no clock */
    if (wm_cfg.wine && wm_guard_forbid_handler)
        wm_guard_forbid_handler();
    wm_writer_init();
    wm_native_init();
    wm_unix_init();
    if (wm_cfg.active)
        wm_stack_init();
}

__attribute__((destructor)) static void wm_shim_fini(void)
{
    wm_writer_end(WMT_END_EXIT);
}

/* exec replaces the image and its buffers: write them out first. The new
 * image loads the shim again (LD_PRELOAD is inherited) and applies the
 * filter to itself. If exec fails, recording simply goes on. */
typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);

static void before_exec(void)
{
    wm_writer_end(WMT_END_EXEC);
}

WM_EXPORTED int execve(const char *path, char *const argv[], char *const envp[])
{
    static execve_fn real;
    if (!real)
        real = (execve_fn)dlsym(RTLD_NEXT, "execve");
    before_exec();
    return real(path, argv, envp);
}

WM_EXPORTED int execv(const char *path, char *const argv[])
{
    static execv_fn real;
    if (!real)
        real = (execv_fn)dlsym(RTLD_NEXT, "execv");
    before_exec();
    return real(path, argv);
}

WM_EXPORTED int execvp(const char *file, char *const argv[])
{
    static execv_fn real;
    if (!real)
        real = (execv_fn)dlsym(RTLD_NEXT, "execvp");
    before_exec();
    return real(file, argv);
}

WM_EXPORTED int execvpe(const char *file, char *const argv[], char *const envp[])
{
    static execve_fn real;
    if (!real)
        real = (execve_fn)dlsym(RTLD_NEXT, "execvpe");
    before_exec();
    return real(file, argv, envp);
}

/* execl* are variadic and call glibc's internal execve, never ours: collect
 * the arguments and go through the interposed execv* above. */
#define MAX_ARGS 1024
#define COLLECT(first, argv, ap, ok)                  \
    char *argv[MAX_ARGS];                             \
    int ok = 1, n_ = 0;                               \
    argv[n_++] = (char *)(first);                     \
    while (argv[n_ - 1] && (ok = n_ < MAX_ARGS))      \
        argv[n_++] = va_arg(ap, char *);

WM_EXPORTED int execl(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT(arg, argv, ap, ok);
    va_end(ap);
    return ok ? execv(path, argv) : -1;
}

WM_EXPORTED int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT(arg, argv, ap, ok);
    va_end(ap);
    return ok ? execvp(file, argv) : -1;
}

WM_EXPORTED int execle(const char *path, const char *arg, ...)
{
    va_list ap;
    va_start(ap, arg);
    COLLECT(arg, argv, ap, ok);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return ok ? execve(path, argv, envp) : -1;
}

/* _exit skips destructors (fork children use it): write the buffers first. */
WM_EXPORTED void _exit(int status)
{
    wm_writer_end(WMT_END_EXIT);
    syscall(SYS_exit_group, status);
    __builtin_unreachable();
}

WM_EXPORTED void _Exit(int status) __attribute__((alias("_exit")));
