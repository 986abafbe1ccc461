/* cli/progress.c — see progress.h. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "progress.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void progress_start(progress *p, bool wanted, const char *what, uint64_t total)
{
    p->on = wanted && isatty(2);
    p->shown = false;
    p->what = what;
    p->total = total ? total : 1;
    p->start_ns = now_ns();
    p->next_ns = p->start_ns + 300000000u;   /* quick work never shows a line */
}

void progress_update(progress *p, uint64_t done)
{
    if (!p->on)
        return;
    uint64_t t = now_ns();
    if (t < p->next_ns)
        return;
    p->next_ns = t + 100000000u;
    p->shown = true;
    double s = (double)(t - p->start_ns) / 1e9;
    fprintf(stderr, "\r%s: %3d%% (%.0f MiB, %.1f s)", p->what, (int)(done * 100 / p->total),
            (double)done / 1048576.0, s);
    fflush(stderr);
}

void progress_done(progress *p)
{
    if (p->on && p->shown)
        fputs("\r\033[K", stderr);
}
