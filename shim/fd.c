/*
 * shim/fd.c — where the shim's descriptors live: never where the program
 * could want one.
 *
 * A descriptor the shim holds at a low number is one the program does not
 * get (or worse: one it later closes, gets back for its own file, and the
 * shim writes trace chunks into). So every descriptor the shim keeps (the
 * trace, the .live buffers, libunwind's validation pipe) is moved to a
 * number at or above the program's soft RLIMIT_NOFILE — a number the
 * program's open() can never return and its dup2() cannot name. The limit
 * is raised for the instant of the dup and put back; descriptors above the
 * soft limit stay valid (the limit only bounds new numbers).
 *
 * When the limit cannot be raised (soft == hard, no CAP_SYS_RESOURCE):
 * with a soft limit of at least WM_FD_TOP_MIN the shim takes the top of the
 * range (soft - 64 up), which only a program holding nearly all its
 * descriptors would miss; below that it declines to record and says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "shim.h"
#include "record.h"

#define WM_FD_TOP_MIN 4096
#define WM_FD_SPARE   16     /* numbers the shim may use above the floor */

static int floor_fd = -1;     /* first number the shim may use; -1: none */
static bool raise_needed;     /* the floor is the soft limit: raise it to dup */
static WM_TLS int moving;     /* libunwind's pipe is being made (shim/stack.c) */

/* Raise the soft (and, when allowed, hard) limit so numbers up to
 * floor + WM_FD_SPARE can be allocated; *old keeps what to restore. */
static bool raise_limit(struct rlimit *old)
{
    if (getrlimit(RLIMIT_NOFILE, old))
        return false;
    struct rlimit r = *old;
    rlim_t want = (rlim_t)floor_fd + WM_FD_SPARE;
    if (r.rlim_cur >= want)
        return true;
    r.rlim_cur = want;
    if (r.rlim_max != RLIM_INFINITY && r.rlim_max < want)
        r.rlim_max = want;            /* only with CAP_SYS_RESOURCE */
    return setrlimit(RLIMIT_NOFILE, &r) == 0;
}

static void restore_limit(const struct rlimit *old)
{
    struct rlimit now;
    if (!getrlimit(RLIMIT_NOFILE, &now) && (now.rlim_cur != old->rlim_cur || now.rlim_max != old->rlim_max))
        setrlimit(RLIMIT_NOFILE, old);
}

bool wm_fd_init(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r))
        return false;
    rlim_t soft = r.rlim_cur;
    if (soft == RLIM_INFINITY || soft > (1u << 20))
        soft = 1u << 20;
    floor_fd = (int)soft;
    raise_needed = true;
    struct rlimit old;
    bool ok = raise_limit(&old);
    if (ok)
        restore_limit(&old);
    if (ok)
        return true;
    if (soft >= WM_FD_TOP_MIN) {
        floor_fd = (int)soft - 64;
        raise_needed = false;
        return true;
    }
    floor_fd = -1;
    char n[24];
    int i = (int)sizeof n - 1;
    n[i] = 0;
    do n[--i] = (char)('0' + soft % 10); while ((soft /= 10) && i);
    wm_note("RLIMIT_NOFILE is ", n + i, " and cannot be raised: every descriptor may be the "
            "program's, so the shim takes none; recording off");
    return false;
}

int wm_fd_move_high(int fd)
{
    if (fd < 0)
        return -1;
    if (floor_fd < 0) {
        close(fd);
        return -1;
    }
    struct rlimit old;
    bool raised = !raise_needed || raise_limit(&old);
    int nfd = raised ? fcntl(fd, F_DUPFD_CLOEXEC, floor_fd) : -1;
    int e = errno;
    if (raise_needed && raised)
        restore_limit(&old);
    close(fd);
    errno = e;
    return nfd;
}

void wm_fd_moving(bool on) { moving += on ? 1 : -1; }

/* libunwind makes a pipe when it is loaded (and again if a read from it
 * fails) to test addresses for readability. Only those pipes, made while
 * shim/stack.c says so, are moved; the program's own pass through. */
typedef int (*pipe2_fn)(int[2], int);
WM_EXPORTED int pipe2(int fds[2], int flags)
{
    int r = (int)syscall(SYS_pipe2, fds, flags);
    if (r == 0 && moving) {
        int a = wm_fd_move_high(fds[0]), b = wm_fd_move_high(fds[1]);
        if (a < 0 || b < 0) {
            if (a >= 0) close(a);
            if (b >= 0) close(b);
            errno = EMFILE;
            return -1;
        }
        fds[0] = a, fds[1] = b;
    }
    return r;
}

WM_EXPORTED int pipe(int fds[2]) { return pipe2(fds, 0); }
