/*
 * cli/options.c — see options.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "options.h"
#include "winmem/trace.h"

bool opt_int(const char *cmd, const char *opt, const char *arg, long min, long max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(arg, &end, 10);
    /* strtol accepts leading blanks and a sign; a count does neither. */
    bool digits = (arg[0] >= '0' && arg[0] <= '9') || (min < 0 && arg[0] == '-' && arg[1] >= '0' && arg[1] <= '9');
    if (!digits || errno || *end || v < min || v > max || v < INT_MIN || v > INT_MAX) {
        fprintf(stderr, "winmem %s: --%s wants a whole number from %ld to %ld, not '%s'\n", cmd, opt, min, max, arg);
        return false;
    }
    *out = (int)v;
    return true;
}

bool opt_choice(const char *cmd, const char *opt, const char *arg, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(arg, names[i]))
            return true;
    fprintf(stderr, "winmem %s: --%s: unknown name '%s'; one of:", cmd, opt, arg);
    for (size_t i = 0, col = 80; i < n; i++) {
        size_t w = strlen(names[i]) + 1;
        if (col + w > 78) {
            fputs("\n   ", stderr);
            col = 3;
        }
        fprintf(stderr, " %s", names[i]);
        col += w;
    }
    fputc('\n', stderr);
    return false;
}

size_t opt_api_names(const char **names, size_t max)
{
    size_t n = 0;
    for (unsigned a = 0; a < WMT_API_MAX && n < max; a++)
        if (wmt_api_name(a))
            names[n++] = wmt_api_name(a);
    return n;
}
