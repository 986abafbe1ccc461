/*
 * core/dump_kdump.c — kdump-compressed dumps (makedumpfile's "diskdump"
 * layout, written by `dump-guest-memory -z/-l/-s`), in the standard layout
 * and in the flattened stream QEMU <= 8.1 writes (a 4 KiB "makedumpfile"
 * header, then big-endian {offset, size} records each followed by the bytes
 * that belong at offset in the standard layout; -1/-1 ends it).
 *
 * Layout (block_size 4096): block 0 disk_dump_header; sub_hdr_size blocks of
 * kdump_sub_header (notes offset/size, 64-bit max_mapnr); bitmap_blocks of
 * bitmaps (first half: pfn exists, second half: pfn dumped; LSB first); then
 * one 24-byte page_desc {i64 offset, u32 size, u32 flags, u64 page_flags}
 * per dumped pfn in pfn order. Pages are read one at a time on demand: the
 * bitmaps are kept in memory, the descriptors are not.
 */
#include <endian.h>
#include <lzo/lzo1x.h>
#include <pthread.h>
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include "dump.h"

#define FLAT_HDR        4096
#define DH_ZLIB         0x1
#define DH_LZO          0x2
#define DH_SNAPPY       0x4
#define DH_ZSTD         0x20
#define MAX_BITMAP      (256u << 20)   /* 2^31 pfns per half: 8 TiB of guest */
#define MAX_NOTES       (64u << 20)

struct flat_rec { uint64_t dest, size, src; };

struct kd {
    struct flat_rec *recs;   /* flattened only: sorted by dest, disjoint */
    size_t nrecs;
    uint64_t vsize;          /* size of the standard-layout file */
    uint64_t max_mapnr;
    uint8_t *bitmap2;        /* dumped pfns */
    uint64_t *rank;          /* set bits of bitmap2 before each 64-bit word */
    uint64_t desc_off;
    uint64_t ndesc;
};

static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint64_t be64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

bool wm_dump_is_kdump(const uint8_t *b, size_t n)
{
    return (n >= 8 && !memcmp(b, "KDUMP   ", 8)) || (n >= 12 && !memcmp(b, "makedumpfile", 12));
}

/* Reads [off, off+len) of the standard layout, from the file or the records. */
static bool vread(const struct wm_dump *d, const struct kd *k, void *buf, size_t len, uint64_t off)
{
    if (off > k->vsize || len > k->vsize - off)
        return false;
    if (!k->recs)
        return wm_pread_full(d->fd, buf, len, off);
    uint8_t *out = buf;
    while (len) {
        size_t lo = 0, hi = k->nrecs;            /* last record with dest <= off */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (k->recs[mid].dest <= off)
                lo = mid;
            else
                hi = mid;
        }
        const struct flat_rec *r = &k->recs[lo];
        if (!k->nrecs || off < r->dest || off - r->dest >= r->size)
            return false;                        /* bytes no record wrote */
        uint64_t in = off - r->dest;
        size_t n = len < r->size - in ? len : (size_t)(r->size - in);
        if (!wm_pread_full(d->fd, out, n, r->src + in))
            return false;
        out += n, len -= n, off += n;
    }
    return true;
}

static int rec_cmp(const void *a, const void *b)
{
    const struct flat_rec *x = a, *y = b;
    return x->dest < y->dest ? -1 : x->dest > y->dest;
}

static HRESULT index_flat(struct wm_dump *d, struct kd *k)
{
    uint8_t h[32];
    if (d->file_size < FLAT_HDR || !wm_pread_full(d->fd, h, 32, 0) || be64(h + 16) != 1 || be64(h + 24) != 1)
        return WM_HR_BAD_FORMAT;
    size_t cap = 0;
    uint64_t off = FLAT_HDR;
    for (;;) {
        uint8_t r[16];
        if (d->file_size - off < 16 || !wm_pread_full(d->fd, r, 16, off))
            return WM_HR_BAD_FORMAT;                 /* no terminator: truncated */
        int64_t dest = (int64_t)be64(r), size = (int64_t)be64(r + 8);
        off += 16;
        if (dest == -1 && size == -1)
            break;
        if (dest < 0 || size < 0 || (uint64_t)size > d->file_size - off || (uint64_t)dest + (uint64_t)size < (uint64_t)dest)
            return WM_HR_BAD_FORMAT;
        if (size) {
            if (k->nrecs == cap) {
                cap = cap ? cap * 2 : 256;
                struct flat_rec *n = realloc(k->recs, cap * sizeof *n);
                if (!n)
                    return E_OUTOFMEMORY;
                k->recs = n;
            }
            k->recs[k->nrecs++] = (struct flat_rec){ (uint64_t)dest, (uint64_t)size, off };
            if ((uint64_t)dest + (uint64_t)size > k->vsize)
                k->vsize = (uint64_t)dest + (uint64_t)size;
        }
        off += (uint64_t)size;
    }
    if (!k->nrecs)
        return WM_HR_BAD_FORMAT;
    qsort(k->recs, k->nrecs, sizeof *k->recs, rec_cmp);
    for (size_t i = 1; i < k->nrecs; i++)
        if (k->recs[i].dest < k->recs[i - 1].dest + k->recs[i - 1].size)
            return WM_HR_BAD_FORMAT;                 /* overlapping writes */
    return S_OK;
}

static bool bit(const uint8_t *bm, uint64_t pfn)
{
    return bm[pfn / 8] >> (pfn % 8) & 1;
}

static HRESULT build_chunks(struct wm_dump *d, struct kd *k, const uint8_t *bitmap1)
{
    size_t cap = 0;
    uint64_t pfn = 0;
    while (pfn < k->max_mapnr) {
        if (!(bit(bitmap1, pfn) && bit(k->bitmap2, pfn))) {
            pfn++;
            continue;
        }
        uint64_t start = pfn;
        while (pfn < k->max_mapnr && bit(bitmap1, pfn) && bit(k->bitmap2, pfn))
            pfn++;
        if (d->nchunks == cap) {
            cap = cap ? cap * 2 : 16;
            GPA_MEMORY_CHUNK *n = realloc(d->chunks, cap * sizeof *n);
            if (!n)
                return E_OUTOFMEMORY;
            d->chunks = n;
        }
        d->chunks[d->nchunks++] = (GPA_MEMORY_CHUNK){ start, pfn - start };
    }
    return wm_dump_finish_chunks(d);
}

static pthread_once_t lzo_once = PTHREAD_ONCE_INIT;
static void lzo_setup(void) { lzo_init(); }

static HRESULT read_page(struct wm_dump *d, uint64_t pfn, void *page)
{
    const struct kd *k = d->priv;
    if (pfn >= k->max_mapnr || !bit(k->bitmap2, pfn))
        return VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND;
    uint64_t w = pfn / 64, below = pfn % 64 ? ((const uint64_t *)k->bitmap2)[w] << (64 - pfn % 64) : 0;
    uint64_t idx = k->rank[w] + (uint64_t)__builtin_popcountll(below);
    uint8_t desc[24], src[WM_DUMP_PAGE];
    if (!vread(d, k, desc, sizeof desc, k->desc_off + idx * 24))
        return WM_HR_INVALID_DATA;
    uint64_t off = le64(desc);
    uint32_t size = le32(desc + 8), flags = le32(desc + 12);
    /* Page data always follows the descriptor table; pointing elsewhere
     * (the headers, the bitmaps) is corruption, not a page. */
    if (!size || size > WM_DUMP_PAGE || (int64_t)off < 0 || off < k->desc_off + k->ndesc * 24)
        return WM_HR_INVALID_DATA;
    if (!(flags & (DH_ZLIB | DH_LZO | DH_SNAPPY | DH_ZSTD))) {
        if (size != WM_DUMP_PAGE || !vread(d, k, page, size, off))
            return WM_HR_INVALID_DATA;
        return S_OK;
    }
    if (!vread(d, k, src, size, off))
        return WM_HR_INVALID_DATA;
    bool ok = false;
    if (flags & DH_ZLIB) {
        uLongf n = WM_DUMP_PAGE;
        ok = uncompress(page, &n, src, size) == Z_OK && n == WM_DUMP_PAGE;
    } else if (flags & DH_LZO) {
        pthread_once(&lzo_once, lzo_setup);
        lzo_uint n = WM_DUMP_PAGE;
        ok = lzo1x_decompress_safe(src, size, page, &n, NULL) == LZO_E_OK && n == WM_DUMP_PAGE;
    } else if (flags & DH_SNAPPY) {
        size_t n = WM_DUMP_PAGE;
        ok = snappy_uncompressed_length((const char *)src, size, &n) == SNAPPY_OK && n == WM_DUMP_PAGE &&
             snappy_uncompress((const char *)src, size, page, &n) == SNAPPY_OK && n == WM_DUMP_PAGE;
    } else {
        size_t n = ZSTD_decompress(page, WM_DUMP_PAGE, src, size);
        ok = !ZSTD_isError(n) && n == WM_DUMP_PAGE;
    }
    return ok ? S_OK : WM_HR_INVALID_DATA;
}

static void free_kd(struct wm_dump *d)
{
    struct kd *k = d->priv;
    if (!k)
        return;
    free(k->recs);
    free(k->bitmap2);
    free(k->rank);
    free(k);
    d->priv = NULL;
}

static HRESULT load(struct wm_dump *d, struct kd *k)
{
    uint8_t h[464], sub[104];
    if (!vread(d, k, h, sizeof h, 0) || memcmp(h, "KDUMP   ", 8))
        return WM_HR_BAD_FORMAT;
    /* 64-bit header (what x86 pc guests always get): status at 424. */
    int32_t version = (int32_t)le32(h + 8);
    uint32_t bs = le32(h + 428), sub_blocks = le32(h + 432), bm_blocks = le32(h + 436);
    if (bs != WM_DUMP_PAGE)
        return bs ? WM_HR_NOT_SUPPORTED : WM_HR_BAD_FORMAT;
    if (!bm_blocks || bm_blocks % 2 || (uint64_t)bm_blocks * bs > MAX_BITMAP || sub_blocks > 1024)
        return WM_HR_BAD_FORMAT;
    if (!vread(d, k, sub, sizeof sub, bs))
        return WM_HR_BAD_FORMAT;
    uint64_t max_mapnr = version >= 6 ? le64(sub + 96) : le32(h + 440);
    uint64_t half = (uint64_t)bm_blocks * bs / 2;
    if (max_mapnr > half * 8)
        max_mapnr = half * 8;
    k->max_mapnr = max_mapnr;

    uint64_t bm_off = (1 + (uint64_t)sub_blocks) * bs;
    uint8_t *bitmap1 = malloc(half);
    k->bitmap2 = malloc(half + 8);                 /* +8: whole-word reads at the end */
    k->rank = calloc(half / 8 + 1, sizeof *k->rank);
    if (!bitmap1 || !k->bitmap2 || !k->rank) {
        free(bitmap1);
        return E_OUTOFMEMORY;
    }
    memset(k->bitmap2 + half, 0, 8);
    if (!vread(d, k, bitmap1, half, bm_off) || !vread(d, k, k->bitmap2, half, bm_off + half)) {
        free(bitmap1);
        return WM_HR_BAD_FORMAT;                   /* bitmap longer than the file */
    }
    /* Bits past max_mapnr never count: they have no descriptors. */
    for (uint64_t b = max_mapnr; b < half * 8 && b % 8; b++)
        k->bitmap2[b / 8] &= (uint8_t)~(1u << (b % 8));
    if (max_mapnr / 8 + (max_mapnr % 8 != 0) < half)
        memset(k->bitmap2 + max_mapnr / 8 + (max_mapnr % 8 != 0), 0, half - (max_mapnr / 8 + (max_mapnr % 8 != 0)));
    uint64_t total = 0;
    for (uint64_t w = 0; w < half / 8; w++) {
        k->rank[w] = total;
        total += (uint64_t)__builtin_popcountll(((const uint64_t *)k->bitmap2)[w]);
    }
    k->rank[half / 8] = total;
    k->ndesc = total;
    k->desc_off = bm_off + (uint64_t)bm_blocks * bs;
    if (total > (k->vsize - (k->desc_off < k->vsize ? k->desc_off : k->vsize)) / 24 || k->desc_off > k->vsize) {
        free(bitmap1);
        return WM_HR_BAD_FORMAT;                   /* more pages than descriptors */
    }
    HRESULT hr = build_chunks(d, k, bitmap1);
    free(bitmap1);
    if (FAILED(hr))
        return hr;

    uint64_t note_off = le64(sub + 48), note_size = le64(sub + 56);
    if (version >= 4 && note_size) {
        if (note_size > MAX_NOTES)
            return WM_HR_BAD_FORMAT;
        uint8_t *notes = malloc(note_size);
        if (!notes)
            return E_OUTOFMEMORY;
        hr = vread(d, k, notes, note_size, note_off) ? wm_dump_notes(d, notes, note_size) : WM_HR_BAD_FORMAT;
        free(notes);
    }
    return hr;
}

HRESULT wm_dump_open_kdump(struct wm_dump *d)
{
    struct kd *k = calloc(1, sizeof *k);
    if (!k)
        return E_OUTOFMEMORY;
    d->priv = k;
    d->free_priv = free_kd;
    d->read_page = read_page;
    uint8_t magic[12];
    HRESULT hr = S_OK;
    if (!wm_pread_full(d->fd, magic, sizeof magic, 0))
        return WM_HR_BAD_FORMAT;
    if (!memcmp(magic, "makedumpfile", 12)) {
        d->format = "kdump-flattened";
        hr = index_flat(d, k);
    } else {
        d->format = "kdump";
        k->vsize = d->file_size;
    }
    return SUCCEEDED(hr) ? load(d, k) : hr;
}
