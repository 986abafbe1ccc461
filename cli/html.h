/*
 * cli/html.h — `winmem report --html FILE`: one self-contained page (no
 * network): committed and reserved bytes over time as inline SVG, a
 * sortable call-site table, the failures, the address space at the end.
 */
#ifndef WINMEM_CLI_HTML_H
#define WINMEM_CLI_HTML_H

#include "report_stats.h"

/* Writes the page from the report's collection (source lines already
 * resolved); returns 0, or -1 after saying why on stderr. */
int html_write(tr_trace *t, const char *path, const report_stats *s);

#endif
