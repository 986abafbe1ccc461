/*
 * cli/progress.h — one self-overwriting status line on stderr for long work
 * (reading a big trace), only when stderr is a terminal, at most ~10 times a
 * second so it costs nothing measurable.
 */
#ifndef WINMEM_CLI_PROGRESS_H
#define WINMEM_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
    bool on, shown;
    const char *what;
    uint64_t total;
    uint64_t next_ns;
    uint64_t start_ns;
} progress;

void progress_start(progress *p, bool wanted, const char *what, uint64_t total);
void progress_update(progress *p, uint64_t done);
void progress_done(progress *p);

#endif
