/* cli/html.c — see html.h. (placeholder until the page is written) */
#include <stdio.h>
#include "html.h"

int html_write(tr_trace *t, const char *path, const report_opts *o)
{
    (void)t, (void)o;
    fprintf(stderr, "winmem report: --html %s: not yet\n", path);
    return -1;
}
