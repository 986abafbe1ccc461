/*
 * core/dump_raw.c — raw guest-memory images. Alone, an image is GPA 0
 * onwards (QMP pmemsave). With a layout file (LoadSavedStateFiles), the
 * image is guest ranges back to back (e.g. a memory-backend-file: RAM below
 * 4 GiB then RAM above) and the layout names them in file order:
 *     # comment
 *     START LENGTH        (each hex with 0x, or decimal)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dump.h"

#define MAX_LAYOUT (1u << 20)     /* bytes of layout text */

HRESULT wm_dump_open_raw(struct wm_dump *d)
{
    d->format = "raw";
    if (!d->file_size)
        return WM_HR_BAD_FORMAT;
    d->segs = calloc(1, sizeof *d->segs);
    if (!d->segs)
        return E_OUTOFMEMORY;
    d->segs[0] = (struct wm_seg){ 0, d->file_size, 0 };
    d->nsegs = 1;
    return wm_dump_finish_segs(d);
}

static bool parse_u64(char **p, uint64_t *v)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p < '0' || **p > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long x = strtoull(*p, &end, 0);
    if (errno || end == *p)
        return false;
    *v = x;
    *p = end;
    return true;
}

HRESULT wm_dump_open_raw_layout(struct wm_dump *d, int lfd)
{
    d->format = "raw+layout";
    char *text = malloc(MAX_LAYOUT + 1);
    if (!text)
        return E_OUTOFMEMORY;
    size_t n = 0;
    ssize_t r;
    while (n < MAX_LAYOUT && (r = read(lfd, text + n, MAX_LAYOUT - n)) > 0)
        n += (size_t)r;
    text[n] = 0;
    if (n == MAX_LAYOUT || memchr(text, 0, n)) {   /* too long, or not text */
        free(text);
        return WM_HR_BAD_FORMAT;
    }
    HRESULT hr = S_OK;
    size_t cap = 0;
    uint64_t off = 0;
    for (char *line = text, *next; line && *line && SUCCEEDED(hr); line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p || *p == '#')
            continue;
        uint64_t gpa, len;
        if (!parse_u64(&p, &gpa) || !parse_u64(&p, &len) || !len) {
            hr = WM_HR_BAD_FORMAT;
            break;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p || len > d->file_size - off) {
            hr = WM_HR_BAD_FORMAT;
            break;
        }
        if (d->nsegs == cap) {
            cap = cap ? cap * 2 : 16;
            struct wm_seg *s = realloc(d->segs, cap * sizeof *s);
            if (!s) {
                hr = E_OUTOFMEMORY;
                break;
            }
            d->segs = s;
        }
        d->segs[d->nsegs++] = (struct wm_seg){ gpa, len, off };
        off += len;
    }
    free(text);
    if (FAILED(hr))
        return hr;
    if (!d->nsegs)
        return WM_HR_BAD_FORMAT;
    return wm_dump_finish_segs(d);
}
