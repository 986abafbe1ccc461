/*
 * cli/files.h — opening files whose names the CLI did not choose: trace and
 * dump paths from the command line, and the module paths a trace records
 * (which a crafted trace can point anywhere: a FIFO would block the reader
 * forever, a device node would be opened with the reader's rights).
 */
#ifndef WINMEM_CLI_FILES_H
#define WINMEM_CLI_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Opens path read-only if it is a regular file, and only then: the type is
 * checked with stat() before any open(), the open cannot block
 * (O_NONBLOCK) or take a terminal, and fstat() of the descriptor must show
 * the same regular file. untrusted: the path comes from a trace; symlinks
 * are resolved first (realpath) and the final open refuses to follow one,
 * so a link swapped in between cannot redirect it. Returns the descriptor
 * (O_CLOEXEC, blocking mode restored) with *st filled, or -1 with err set to
 * "PATH: why" ("is a FIFO, not a regular file", "No such file ..."). */
int file_open_regular(const char *path, bool untrusted, struct stat *st, char *err, size_t errlen);

/* What kind of file st is, for messages: "a FIFO", "a directory", ... */
const char *file_kind(const struct stat *st);

/* true when a and b name the same file (device and inode), so an output
 * path that is the input can be refused before it is truncated. false
 * when either does not exist. */
bool file_same(const char *a, const char *b);

#endif
