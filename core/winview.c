/*
 * core/winview.c — the Windows view of Linux facts (winview.h): the maps
 * line parser and the VMA → Windows field rules both core/query_model.c and
 * cli/maps.c apply.
 *
 * The parser is on `winmem maps`' hot path (60,000 lines in well under the
 * kernel's own time to produce them), hence by hand and bounded by the
 * line's end rather than sscanf.
 */
#include <string.h>
#include "winview.h"

static uint64_t hexnum(const char **pp, const char *end)
{
    const char *p = *pp;
    uint64_t v = 0;
    for (; p < end; p++) {
        unsigned c = (unsigned char)*p, d;
        if (c - '0' < 10)
            d = c - '0';
        else if ((c | 32) - 'a' < 6)
            d = (c | 32) - 'a' + 10;
        else
            break;
        v = v << 4 | d;
    }
    *pp = p;
    return v;
}

bool wm_maps_line(char *line, char *end, wm_vma *v, const char **name)
{
    const char *p = line;
    *end = 0;
    v->start = hexnum(&p, end);
    if (p >= end || *p++ != '-')
        return false;
    v->end = hexnum(&p, end);
    if (end - p < 6 || *p++ != ' ')
        return false;
    v->flags = (p[0] == 'r' ? WM_VMA_READ : 0) | (p[1] == 'w' ? WM_VMA_WRITE : 0) |
               (p[2] == 'x' ? WM_VMA_EXEC : 0) | (p[3] == 's' ? WM_VMA_SHARED : 0);
    p += 5;
    v->offset = hexnum(&p, end);
    if (p >= end || *p++ != ' ')
        return false;
    v->dev_major = (uint32_t)hexnum(&p, end);
    if (p >= end || *p++ != ':')
        return false;
    v->dev_minor = (uint32_t)hexnum(&p, end);
    if (p >= end || *p++ != ' ')
        return false;
    uint64_t ino = 0;
    while (p < end && (unsigned)(*p - '0') < 10)
        ino = ino * 10 + (uint64_t)(*p++ - '0');
    v->inode = ino;
    while (p < end && *p == ' ')
        p++;
    *name = p;
    v->page_size = (uint32_t)wm_page_size();
    return v->start < v->end;
}

wm_view_attr wm_view_of(const wm_vma *v, bool image, bool copied)
{
    wm_view_attr a = { MEM_COMMIT, 0, image ? MEM_IMAGE : v->inode ? MEM_MAPPED : MEM_PRIVATE };
    bool none = !(v->flags & (WM_VMA_READ | WM_VMA_WRITE | WM_VMA_EXEC));
    /* How Wine, the .NET PAL and ld.so (gaps between segments) reserve. */
    if (none && !(v->flags & WM_VMA_SHARED) && (!v->inode || image))
        a.state = MEM_RESERVE;
    else
        a.protect = wm_prot_from_vma(v->flags, wm_view_cow_capable(v) && !copied);
    return a;
}

uint32_t wm_view_alloc_protect(const wm_vma *first, const wm_view_attr *a, bool image)
{
    if (image)
        return PAGE_EXECUTE_WRITECOPY;
    if (first->inode)
        return wm_prot_from_vma(first->flags, wm_view_cow_capable(first));
    return a->state == MEM_RESERVE ? PAGE_NOACCESS : a->protect;
}

bool wm_view_same_view(const wm_vma *prev, const wm_vma *next)
{
    return prev->end == next->start && prev->inode == next->inode && prev->inode &&
           prev->dev_major == next->dev_major && prev->dev_minor == next->dev_minor &&
           prev->offset + (prev->end - prev->start) == next->offset;
}

uint64_t wm_view_image_start(const wm_vma *v, const char *name)
{
    if (v->inode && v->offset == 0 && name[0] == '/')
        return wm_image_file_span(name, v);
    if (!strcmp(name, "[vdso]"))
        return v->end - v->start;
    return 0;
}
