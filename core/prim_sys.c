/*
 * core/prim_sys.c — system facts (prim.h): page size, the user range,
 * processors, and the memory facts AWE's lock budget needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "prim_linux.h"

size_t wm_page_size(void) { return 4096; }
uint64_t wm_user_min(void) { return 0x10000; }
/* The last address below the highest 64 KiB boundary of the 47-bit user range:
 * 0x7ffffffeffff, the same value 64-bit Windows reports. */
uint64_t wm_user_max(void) { return (WM_TASK_SIZE & ~0xffffULL) - 1; }
uint64_t wm_task_size(void) { return WM_TASK_SIZE; }

unsigned wm_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (unsigned)n;
}

ssize_t wm_proc_text(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = 0;
    return n;
}

/* The "<key> N kB" line of a /proc file, in bytes; dflt if absent. Read with
 * plain system calls: callers may hold winmem's allocation lock. */
static uint64_t proc_kb(const char *path, const char *key, uint64_t dflt)
{
    char buf[8192];
    if (wm_proc_text(path, buf, sizeof buf) <= 0)
        return dflt;
    size_t k = strlen(key);
    for (const char *l = buf; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (!strncmp(l, key, k))
            return strtoull(l + k, NULL, 10) * 1024;
    return dflt;
}

uint64_t wm_mem_available(void) { return proc_kb("/proc/meminfo", "MemAvailable:", UINT64_MAX); }
uint64_t wm_self_locked(void) { return proc_kb("/proc/self/status", "VmLck:", 0); }

uint64_t wm_memlock_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return rl.rlim_cur;
}

bool wm_can_lock_any(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0)
        return false;
    return data[CAP_IPC_LOCK / 32].effective & (1u << (CAP_IPC_LOCK % 32));
}
