/*
 * core/dump_lime.c — LiME ranges: a 32-byte header {u32 magic "EMiL",
 * u32 version 1, u64 start, u64 end (inclusive), u8 reserved[8]} then the
 * bytes, repeated to the end of the file. No vCPU state. Loading walks the
 * headers only (one pread per range).
 */
#include <stdlib.h>
#include <string.h>
#include "dump.h"

#define LIME_MAGIC 0x4C694D45u
#define LIME_HDR   32

bool wm_dump_is_lime(const uint8_t *b, size_t n)
{
    uint32_t m;
    if (n < 4)
        return false;
    memcpy(&m, b, 4);
    return m == LIME_MAGIC;
}

HRESULT wm_dump_open_lime(struct wm_dump *d)
{
    size_t cap = 0;
    uint64_t off = 0;
    d->format = "lime";
    while (off < d->file_size) {
        uint8_t h[LIME_HDR];
        uint32_t magic, version;
        uint64_t s, e;
        if (d->file_size - off < LIME_HDR || !wm_pread_full(d->fd, h, LIME_HDR, off))
            return WM_HR_BAD_FORMAT;
        memcpy(&magic, h, 4), memcpy(&version, h + 4, 4), memcpy(&s, h + 8, 8), memcpy(&e, h + 16, 8);
        if (magic != LIME_MAGIC || version != 1 || e < s || e == UINT64_MAX)
            return WM_HR_BAD_FORMAT;
        uint64_t len = e - s + 1;
        off += LIME_HDR;
        if (len > d->file_size - off)
            return WM_HR_BAD_FORMAT;
        if (d->nsegs == cap) {
            cap = cap ? cap * 2 : 16;
            struct wm_seg *n = realloc(d->segs, cap * sizeof *n);
            if (!n)
                return E_OUTOFMEMORY;
            d->segs = n;
        }
        d->segs[d->nsegs++] = (struct wm_seg){ s, len, off };
        off += len;
    }
    return wm_dump_finish_segs(d);
}
