/*
 * core/prim_linux.c — address spaces, VMAs, pagemap and fault-safe copies
 * (prim.h). Images are in prim_image.c, system facts in prim_sys.c.
 *
 * VMAs come from the PROCMAP_QUERY ioctl on a /proc/PID/maps descriptor kept
 * open for the life of the space (~0.4 µs a query, flat in VMA count); on
 * kernels without it (< 6.11) or when a test forces it, from the text of the
 * same descriptor. The descriptor is bound to the process's memory when it is
 * opened, which is what makes a space behave like a Windows process handle.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>
#include "prim_linux.h"
#include "winview.h"

/* uapi linux/fs.h of 6.11+; the 6.1 headers here lack it. 104 bytes. */
struct wm_procmap_query {
    uint64_t size, query_flags, query_addr;
    uint64_t vma_start, vma_end, vma_flags, vma_page_size, vma_offset, inode;
    uint32_t dev_major, dev_minor, vma_name_size, build_id_size;
    uint64_t vma_name_addr, build_id_addr;
};
_Static_assert(sizeof(struct wm_procmap_query) == 104, "procmap_query layout");
#define WM_PROCMAP_QUERY _IOWR('f', 17, struct wm_procmap_query)
#define WM_PMQ_COVERING_OR_NEXT 0x10

static atomic_bool force_text;
static wm_space self_space = { .maps_fd = -1, .pagemap_fd = -1, .mem_fd = -1,
                               .lock = PTHREAD_MUTEX_INITIALIZER };
static atomic_bool self_stale = true;   /* open lazily; set again in a fork child */
static pthread_mutex_t self_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t self_pid;                  /* cached: getpid() is a real syscall */

static void after_fork_child(void)
{
    /* The inherited descriptors describe the parent's memory. Only this
     * thread exists now, so closing them races with nobody. */
    if (self_space.maps_fd >= 0)
        close(self_space.maps_fd);
    if (self_space.pagemap_fd >= 0)
        close(self_space.pagemap_fd);
    self_space.maps_fd = self_space.pagemap_fd = -1;
    pthread_mutex_init(&self_lock, NULL);
    pthread_mutex_init(&self_space.lock, NULL);
    self_pid = getpid();
    atomic_store(&self_stale, true);
}

__attribute__((constructor)) static void prim_init(void)
{
    self_pid = getpid();
    pthread_atfork(NULL, NULL, after_fork_child);
}

pid_t wm_self_pid(void) { return self_pid; }

/* Opens maps and pagemap under dir ("/proc/123", "/proc/self",
 * "/proc/thread-self") and probes whether PROCMAP_QUERY works there. */
static int open_space_fds(const char *dir, wm_space *sp)
{
    char path[64];
    snprintf(path, sizeof path, "%s/maps", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    snprintf(path, sizeof path, "%s/pagemap", dir);
    /* Optional: pagemap is 0400 and a process that dropped root privileges is
     * no longer dumpable, so it may read its own maps but not its pagemap.
     * Queries then say "not copied" and "not valid" (docs/query.md). */
    int pm = open(path, O_RDONLY | O_CLOEXEC);
    sp->maps_fd = fd;
    sp->pagemap_fd = pm;
    struct wm_procmap_query q = { .size = sizeof q, .query_flags = WM_PMQ_COVERING_OR_NEXT };
    /* ENOENT (nothing mapped) and ESRCH (no memory any more) still prove
     * the ioctl exists. */
    int r = ioctl(fd, WM_PROCMAP_QUERY, &q) == 0 ? 0 : -errno;
    sp->pmq_avail = r == 0 || r == -ENOENT || r == -ESRCH;
    sp->pmq = sp->pmq_avail && !atomic_load(&force_text);
    return r == -ESRCH ? -ESRCH : 0;
}

/* /proc/N exists for thread ids too; Windows process ids never name a
 * thread, so only a thread-group leader counts as a process. */
static bool is_process(pid_t pid)
{
    char path[40], buf[512];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (wm_proc_text(path, buf, sizeof buf) <= 0)
        return false;
    const char *t = strstr(buf, "\nTgid:");
    return t && strtol(t + 7, NULL, 10) == pid;
}

/* Only Wine processes have PE images; looking for them elsewhere would
 * cost every query of anonymous memory a walk back over its neighbours. */
static bool runs_wine(pid_t pid)
{
    char path[40], exe[512];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = 0;
    const char *b = strrchr(exe, '/');
    return strncmp(b ? b + 1 : exe, "wine", 4) == 0;
}

int wm_space_open(pid_t pid, wm_space **out)
{
    char dir[32];
    if (!is_process(pid))
        return -ESRCH;
    wm_space *sp = calloc(1, sizeof *sp);
    if (!sp)
        return -ENOMEM;
    snprintf(dir, sizeof dir, "/proc/%d", (int)pid);
    int r = open_space_fds(dir, sp);
    if (r == -ESRCH)   /* a zombie: the handle is valid, queries say it exited */
        r = 0;
    if (r < 0) {
        free(sp);
        return r;
    }
    /* mem needs ptrace attach rights, stricter than maps; optional. */
    snprintf(dir, sizeof dir, "/proc/%d/mem", (int)pid);
    sp->mem_fd = open(dir, O_RDONLY | O_CLOEXEC);
    sp->pid = pid;
    sp->refs = 1;
    sp->maybe_pe = runs_wine(pid);
    pthread_mutex_init(&sp->lock, NULL);
    *out = sp;
    return 0;
}

void wm_space_close(wm_space *sp)
{
    if (!sp || sp == &self_space)
        return;
    close(sp->maps_fd);
    if (sp->pagemap_fd >= 0)
        close(sp->pagemap_fd);
    if (sp->mem_fd >= 0)
        close(sp->mem_fd);
    pthread_mutex_destroy(&sp->lock);
    free(sp->textbuf);
    free(sp);
}

void wm_space_ref(wm_space *sp)
{
    if (sp != &self_space)
        __atomic_add_fetch(&sp->refs, 1, __ATOMIC_RELAXED);
}

void wm_space_unref(wm_space *sp)
{
    if (sp != &self_space && __atomic_sub_fetch(&sp->refs, 1, __ATOMIC_ACQ_REL) == 0)
        wm_space_close(sp);
}

/* Reopens the self space from dir. Old descriptors are left open on purpose
 * when other threads may still be inside an ioctl on them: closing would let
 * the number be reused under them. This happens once per fork-less main-thread
 * exit, so the leak is bounded. */
static void reopen_self(const char *dir)
{
    wm_space tmp = { 0 };
    int r = open_space_fds(dir, &tmp);
    if (r != 0 && strcmp(dir, "/proc/self") == 0) {
        /* The main thread is gone: /proc/self/maps is empty for the rest of
         * the process's life, /proc/thread-self/maps still works. */
        if (r == -ESRCH) {
            close(tmp.maps_fd);
            if (tmp.pagemap_fd >= 0)
                close(tmp.pagemap_fd);
        }
        r = open_space_fds("/proc/thread-self", &tmp);
    }
    if (r == 0) {
        self_space.pagemap_fd = tmp.pagemap_fd;
        self_space.pmq_avail = tmp.pmq_avail;
        self_space.pmq = tmp.pmq;
        atomic_store_explicit((atomic_int *)&self_space.maps_fd, tmp.maps_fd, memory_order_release);
    }
}

wm_space *wm_space_self(void)
{
    if (__builtin_expect(atomic_load_explicit(&self_stale, memory_order_acquire), 0)) {
        pthread_mutex_lock(&self_lock);
        if (atomic_load(&self_stale)) {
            self_space.pid = self_pid;
            self_space.mem_fd = -1;
            reopen_self("/proc/self");
            atomic_store_explicit(&self_stale, false, memory_order_release);
        }
        pthread_mutex_unlock(&self_lock);
    }
    return &self_space;
}

pid_t wm_space_pid(const wm_space *sp) { return sp == &self_space ? self_pid : sp->pid; }
bool wm_space_is_self(const wm_space *sp) { return sp == &self_space || sp->pid == self_pid; }
bool wm_space_has_procmap_query(const wm_space *sp) { return sp->pmq; }

void wm_prim_force_text_maps(bool on)
{
    atomic_store(&force_text, on);
    /* Applies to the self space from its next (re)open. */
    pthread_mutex_lock(&self_lock);
    if (self_space.maps_fd >= 0)
        self_space.pmq = !on && self_space.pmq_avail;
    pthread_mutex_unlock(&self_lock);
}

/* ---- VMA lookup: ioctl ---- */

static int find_ioctl(wm_space *sp, uint64_t addr, wm_vma *out, char *name, size_t name_size)
{
    char big[4096 + 64];
    struct wm_procmap_query q = { .size = sizeof q, .query_flags = WM_PMQ_COVERING_OR_NEXT,
                                  .query_addr = addr };
    if (name && name_size) {
        q.vma_name_addr = (uint64_t)(uintptr_t)big;
        q.vma_name_size = sizeof big;
    }
    int fd = atomic_load_explicit((atomic_int *)&sp->maps_fd, memory_order_acquire);
    if (ioctl(fd, WM_PROCMAP_QUERY, &q) != 0) {
        if (errno != ENAMETOOLONG || !q.vma_name_addr)
            return -errno;
        /* A name longer than any path (the uapi says E2BIG, the kernel says
         * ENAMETOOLONG): answer without it rather than fail the query. */
        q.vma_name_addr = 0;
        q.vma_name_size = 0;
        if (ioctl(fd, WM_PROCMAP_QUERY, &q) != 0)
            return -errno;
    }
    out->start = q.vma_start;
    out->end = q.vma_end;
    out->offset = q.vma_offset;
    out->inode = q.inode;
    out->dev_major = q.dev_major;
    out->dev_minor = q.dev_minor;
    out->flags = (uint32_t)(q.vma_flags & 0xf);   /* same bits as WM_VMA_* */
    out->page_size = (uint32_t)q.vma_page_size;
    if (name && name_size) {
        size_t n = q.vma_name_size ? q.vma_name_size - 1 : 0;   /* size counts the NUL */
        if (n >= name_size)
            n = name_size - 1;
        memcpy(name, big, n);
        name[n] = 0;
    }
    return 0;
}

/* ---- VMA lookup: text fallback ---- */

/* Lines are parsed by wm_maps_line (winview.c), the parser `winmem maps` uses. */

static int find_text(wm_space *sp, uint64_t addr, wm_vma *out, char *name, size_t name_size)
{
    enum { CHUNK = 65536, LINE = 4096 + 256 };
    int ret = -ENOENT;
    size_t have = 0;
    off_t off = 0;
    bool any = false;
    /* One reader at a time: the kernel keeps the seq_file position per
     * descriptor, and interleaved preads at different offsets would restart
     * each other's traversal. */
    pthread_mutex_lock(&sp->lock);
    /* Kept for the life of the space: a buffer allocated per query would
     * itself change the address space being described. */
    if (!sp->textbuf && !(sp->textbuf = malloc(CHUNK + LINE + 1))) {
        pthread_mutex_unlock(&sp->lock);
        return -ENOMEM;
    }
    char *buf = sp->textbuf;
    for (;;) {
        ssize_t n = pread(sp->maps_fd, buf + have, CHUNK, off);
        if (n < 0) {
            ret = -errno;
            break;
        }
        off += n;
        have += (size_t)n;
        buf[have] = 0;
        any |= n > 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            wm_vma v;
            const char *nm;
            /* [vsyscall] sits above the user range; PROCMAP_QUERY never
             * returns it, so neither does this. */
            if (wm_maps_line(line, nl, &v, &nm) && v.end > addr && v.start < WM_TASK_SIZE) {
                *out = v;
                if (name && name_size) {
                    snprintf(name, name_size, "%s", nm);
                }
                ret = 0;
                goto done;
            }
            line = nl + 1;
        }
        size_t rest = have - (size_t)(line - buf);
        if (n == 0)
            break;
        if (rest > LINE)   /* a line longer than any maps line can be */
            rest = 0;
        memmove(buf, line, rest);
        have = rest;
    }
    /* A live process always has VMAs; an empty file means it has exited
     * (the ioctl says ESRCH then, so say the same). */
    if (ret == -ENOENT && !any)
        ret = -ESRCH;
done:
    pthread_mutex_unlock(&sp->lock);
    return ret;
}

int wm_vma_find(wm_space *sp, uint64_t addr, wm_vma *out, char *name, size_t name_size)
{
    int r = sp->pmq ? find_ioctl(sp, addr, out, name, name_size)
                    : find_text(sp, addr, out, name, name_size);
    if ((r == -ESRCH || r == -EBADF) && sp == &self_space) {
        pthread_mutex_lock(&self_lock);
        reopen_self("/proc/self");
        pthread_mutex_unlock(&self_lock);
        r = sp->pmq ? find_ioctl(sp, addr, out, name, name_size)
                    : find_text(sp, addr, out, name, name_size);
    }
    if (r == 0 && out->start >= WM_TASK_SIZE)
        r = -ENOENT;
    return r;
}

int wm_pagemap_read(wm_space *sp, uint64_t addr, size_t npages, uint64_t *out)
{
    if (sp->pagemap_fd < 0)
        return -EACCES;
    size_t want = npages * sizeof(uint64_t);
    ssize_t n = pread(sp->pagemap_fd, out, want, (off_t)(addr / wm_page_size() * sizeof(uint64_t)));
    if (n < 0)
        return -errno;
    if ((size_t)n < want)   /* past the end of the user range */
        memset((char *)out + n, 0, want - (size_t)n);
    return 0;
}

/* uapi linux/fs.h of 6.7+: PAGEMAP_SCAN, absent from the 6.1 headers. */
struct wm_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct wm_page_region {
    uint64_t start, end, categories;
};
#define WM_PAGEMAP_SCAN _IOWR('f', 16, struct wm_pm_scan_arg)
#define WM_PAGE_IS_HUGE (1ULL << 6)

bool wm_pagemap_huge(wm_space *sp, uint64_t addr)
{
    if (sp->pagemap_fd < 0)
        return false;
    struct wm_page_region r = { 0 };
    struct wm_pm_scan_arg a = { .size = sizeof a, .start = addr, .end = addr + wm_page_size(),
                                .vec = (uint64_t)(uintptr_t)&r, .vec_len = 1,
                                .category_anyof_mask = WM_PAGE_IS_HUGE, .return_mask = WM_PAGE_IS_HUGE };
    return ioctl(sp->pagemap_fd, WM_PAGEMAP_SCAN, &a) == 1 && (r.categories & WM_PAGE_IS_HUGE);
}

ssize_t wm_space_read(wm_space *sp, uint64_t addr, void *buf, size_t len)
{
    if (sp != &self_space && sp->mem_fd >= 0) {
        ssize_t n = pread(sp->mem_fd, buf, len, (off_t)addr);
        return n < 0 ? -errno : n;
    }
    struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };
    ssize_t n = process_vm_readv(wm_space_pid(sp), &l, 1, &r, 1, 0);
    return n < 0 ? -errno : n;
}

/* ---- fault-safe access to this process's memory ---- */

/* The calling thread's stack [lo, hi), learned once per thread. */
static __thread uintptr_t stack_lo, stack_hi;

static bool on_my_stack(const void *p, size_t len)
{
    if (!stack_hi) {
        pthread_attr_t a;
        void *lo;
        size_t sz;
        if (pthread_getattr_np(pthread_self(), &a) != 0)
            return false;
        pthread_attr_getstack(&a, &lo, &sz);
        pthread_attr_destroy(&a);
        stack_lo = (uintptr_t)lo;
        stack_hi = (uintptr_t)lo + sz;
    }
    /* Everything between this frame and the top of the stack is mapped and
     * writable, so a buffer there cannot fault — but only while this frame
     * is on that stack: a fiber or sigaltstack frame proves nothing. */
    uintptr_t a = (uintptr_t)p, here = (uintptr_t)__builtin_frame_address(0);
    /* a < stack_hi first: stack_hi - a would wrap for a pointer above the
     * stack (the top of the address space) and let any length through. */
    return here >= stack_lo && here < stack_hi && a >= here && a < stack_hi && len <= stack_hi - a;
}

/* [p, p+len) lies in the user half without wrapping: anything else cannot be
 * the caller's memory, whichever copy path would be taken. */
static bool user_range(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    return len <= WM_TASK_SIZE && a <= WM_TASK_SIZE - len;
}

bool wm_self_read(void *dst, const void *src, size_t len)
{
    if (!len)
        return true;
    if (!user_range(src, len))
        return false;
    if (on_my_stack(src, len)) {
        memcpy(dst, src, len);
        return true;
    }
    struct iovec l = { dst, len }, r = { (void *)src, len };
    ssize_t n = process_vm_readv(self_pid, &l, 1, &r, 1, 0);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        /* A sandbox (seccomp) refused the call itself: copy plainly rather
         * than fail every API that reads the caller's memory. */
        memcpy(dst, src, len);
        return true;
    }
    return n == (ssize_t)len;
}

bool wm_self_write(void *dst, const void *src, size_t len)
{
    if (!len)
        return true;
    if (!user_range(dst, len))
        return false;
    if (on_my_stack(dst, len)) {
        memcpy(dst, src, len);
        return true;
    }
    /* The kernel copies and reports EFAULT instead of faulting. */
    struct iovec l = { (void *)src, len }, r = { dst, len };
    ssize_t n = process_vm_writev(self_pid, &l, 1, &r, 1, 0);
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
        memcpy(dst, src, len);   /* refused by a sandbox: see wm_self_read */
        return true;
    }
    return n == (ssize_t)len;
}

bool wm_self_readable(const void *addr, size_t len)
{
    char tmp[256];
    const char *p = addr;
    while (len) {
        size_t n = len < sizeof tmp ? len : sizeof tmp;
        if (!wm_self_read(tmp, p, n))
            return false;
        p += n;
        len -= n;
    }
    return true;
}

bool wm_self_writable(void *addr, size_t len)
{
    /* Writes back what is there: only for buffers the caller handed over to
     * be written, where a concurrent writer would be racing the API anyway. */
    char tmp[256];
    char *p = addr;
    while (len) {
        size_t n = len < sizeof tmp ? len : sizeof tmp;
        if (!wm_self_read(tmp, p, n) || !wm_self_write(p, tmp, n))
            return false;
        p += n;
        len -= n;
    }
    return true;
}
