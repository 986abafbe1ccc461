/*
 * cli/files.c — see files.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "files.h"

const char *file_kind(const struct stat *st)
{
    switch (st->st_mode & S_IFMT) {
    case S_IFREG:  return "a regular file";
    case S_IFDIR:  return "a directory";
    case S_IFIFO:  return "a FIFO";
    case S_IFCHR:  return "a character device";
    case S_IFBLK:  return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK:  return "a symbolic link";
    default:       return "not a regular file";
    }
}

static int refuse(char *err, size_t len, const char *path, const struct stat *st, int e)
{
    if (st)
        snprintf(err, len, "%s: is %s, not a regular file", path, file_kind(st));
    else
        snprintf(err, len, "%s: %s", path, strerror(e));
    return -1;
}

int file_open_regular(const char *path, bool untrusted, struct stat *st, char *err, size_t errlen)
{
    char real[PATH_MAX];
    const char *p = path;
    if (untrusted) {
        if (!realpath(path, real))
            return refuse(err, errlen, path, NULL, errno);
        p = real;
    }
    struct stat before;
    if (stat(p, &before) != 0)
        return refuse(err, errlen, path, NULL, errno);
    if (!S_ISREG(before.st_mode))
        return refuse(err, errlen, path, &before, 0);
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (untrusted ? O_NOFOLLOW : 0));
    if (fd < 0)
        return refuse(err, errlen, path, NULL, errno);
    /* Replaced between stat and open: whatever it is now, it is not what
     * was checked. */
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return refuse(err, errlen, path, NULL, e);
    }
    if (!S_ISREG(st->st_mode) || st->st_dev != before.st_dev || st->st_ino != before.st_ino) {
        close(fd);
        if (!S_ISREG(st->st_mode))
            return refuse(err, errlen, path, st, 0);
        snprintf(err, errlen, "%s: replaced while being opened", path);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

bool file_same(const char *a, const char *b)
{
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}
