/*
 * shim/unix.c — the layer below (WINMEM_UNIX=1): mmap, munmap, mprotect,
 * mremap and madvise of the traced process, including Wine's unix side, so
 * a user sees what each Windows call became.
 *
 * Records are written complete after the call (these cannot be aborted the
 * way a Wine syscall can). They are taken even while a Wine call is in
 * progress on the thread (that is the point: its mmaps), but never for the
 * shim's own work, nor recursively (libunwind may mmap).
 * The real functions are glibc's (RTLD_NEXT); before the constructor has
 * resolved them, the raw system call does the same job.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"

static void *(*r_mmap)(void *, size_t, int, int, int, off_t);
static int (*r_munmap)(void *, size_t);
static int (*r_mprotect)(void *, size_t, int);
static void *(*r_mremap)(void *, size_t, size_t, int, ...);
static int (*r_madvise)(void *, size_t, int);

static WM_TLS int in_unix;

void wm_unix_init(void)
{
    r_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    r_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    r_mprotect = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "mprotect");
    r_mremap = (void *(*)(void *, size_t, size_t, int, ...))dlsym(RTLD_NEXT, "mremap");
    r_madvise = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "madvise");
}

/* Shall this call be recorded? Sets the guard when yes. */
static bool want(void)
{
    if (!wm_cfg.unix_layer || !wm_cfg.active || in_unix)
        return false;
    struct wm_thread *t = &wm_self;
    if (t->busy && !t->in_real)
        return false;                 /* the shim's own doing */
    in_unix = 1;
    return true;
}

static void record(uint16_t api, uint64_t start, const uint64_t *args, int nargs, uint64_t ret, int err)
{
    struct wmt_call c;
    wm_call_clear(&c);
    c.api = api;
    c.flags = WMT_DOOR_UNIX;
    c.start_ns = start;
    c.dur_ns = wm_dur_ns(start);
    for (int i = 0; i < nargs; i++)
        c.arg[i] = args[i];
    c.ret = ret;
    c.error = (uint32_t)err;
    bool was_busy = wm_self.busy;
    uint32_t guard = wm_guard_hold(); /* stack capture may mmap: not recorded */
    if (wm_cfg.wine)
        /* Inside Wine, mmap & co. run under Wine's virtual-memory lock: no
         * unwinding here (libunwind takes the loader lock, the PE side may
         * query Wine). A call made while serving a Windows call carries
         * that call's stack: it is what the Windows call became. */
        c.stack = was_busy ? wm_self.cur_stack : 0;
    else
        c.stack = wm_stack_capture(false);
    wm_call_append(&c);
    wm_guard_restore(guard);
    in_unix = 0;
}

WM_EXPORTED void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!want())
        return r_mmap ? r_mmap(addr, len, prot, flags, fd, off)
                      : (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    uint64_t t = wm_now_ns();
    void *r = r_mmap ? r_mmap(addr, len, prot, flags, fd, off)
                     : (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    int e = r == MAP_FAILED ? errno : 0;
    uint64_t a[6] = { (uintptr_t)addr, len, (uint32_t)prot, (uint32_t)flags, (uint64_t)(int64_t)fd, (uint64_t)off };
    record(WMT_API_mmap, t, a, 6, (uintptr_t)r, e);
    errno = e ? e : errno;
    return r;
}
WM_EXPORTED void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
    __attribute__((alias("mmap")));

WM_EXPORTED int munmap(void *addr, size_t len)
{
    if (!want())
        return r_munmap ? r_munmap(addr, len) : (int)syscall(SYS_munmap, addr, len);
    uint64_t t = wm_now_ns();
    int r = r_munmap ? r_munmap(addr, len) : (int)syscall(SYS_munmap, addr, len);
    int e = r ? errno : 0;
    uint64_t a[2] = { (uintptr_t)addr, len };
    record(WMT_API_munmap, t, a, 2, (uint64_t)(int64_t)r, e);
    errno = e ? e : errno;
    return r;
}

WM_EXPORTED int mprotect(void *addr, size_t len, int prot)
{
    if (!want())
        return r_mprotect ? r_mprotect(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot);
    uint64_t t = wm_now_ns();
    int r = r_mprotect ? r_mprotect(addr, len, prot) : (int)syscall(SYS_mprotect, addr, len, prot);
    int e = r ? errno : 0;
    uint64_t a[3] = { (uintptr_t)addr, len, (uint32_t)prot };
    record(WMT_API_mprotect, t, a, 3, (uint64_t)(int64_t)r, e);
    errno = e ? e : errno;
    return r;
}

WM_EXPORTED void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...)
{
    void *want_addr = NULL;
    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        want_addr = va_arg(ap, void *);
        va_end(ap);
    }
#define DO_MREMAP (r_mremap ? r_mremap(old, old_size, new_size, flags, want_addr) \
                            : (void *)syscall(SYS_mremap, old, old_size, new_size, flags, want_addr))
    if (!want())
        return DO_MREMAP;
    uint64_t t = wm_now_ns();
    void *r = DO_MREMAP;
    int e = r == MAP_FAILED ? errno : 0;
    uint64_t a[5] = { (uintptr_t)old, old_size, new_size, (uint32_t)flags, (uintptr_t)want_addr };
    record(WMT_API_mremap, t, a, 5, (uintptr_t)r, e);
    errno = e ? e : errno;
    return r;
}

WM_EXPORTED int madvise(void *addr, size_t len, int advice)
{
    if (!want())
        return r_madvise ? r_madvise(addr, len, advice) : (int)syscall(SYS_madvise, addr, len, advice);
    uint64_t t = wm_now_ns();
    int r = r_madvise ? r_madvise(addr, len, advice) : (int)syscall(SYS_madvise, addr, len, advice);
    int e = r ? errno : 0;
    uint64_t a[3] = { (uintptr_t)addr, len, (uint32_t)advice };
    record(WMT_API_madvise, t, a, 3, (uint64_t)(int64_t)r, e);
    errno = e ? e : errno;
    return r;
}
