/*
 * kdump pages compressed with lzo, snappy and zstd. Debian's QEMU writes
 * only zlib, so the test makes the other variants from the QEMU dump itself:
 * each page of the standard lm16.kdump is inflated with zlib and stored again
 * with the library's own compressor (flags 0x2 / 0x4 / 0x20, as makedumpfile
 * writes them). Every page winmem reads must then equal the fixture script's
 * flat copy of guest memory (lm16.rawcat), and the header-only variants (raw
 * pages, mixed) must too.
 */
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include "unit.h"
#include "savedstate_fx.h"

enum { Z_ZLIB = 1, Z_LZO = 2, Z_SNAPPY = 4, Z_ZSTD = 0x20, Z_RAW = 0, Z_MIXED = -1 };

/* Recompresses every page of the standard kdump in kd; writes the result to path. */
static bool recompress(const uint8_t *kd, size_t len, int method, const char *path)
{
    uint32_t bs, sub, bm;
    memcpy(&bs, kd + 428, 4), memcpy(&sub, kd + 432, 4), memcpy(&bm, kd + 436, 4);
    uint64_t desc_off = (1ULL + sub + bm) * bs;
    /* Descriptors: one per set bit of the second bitmap half. */
    const uint8_t *bitmap2 = kd + (1ULL + sub) * bs + (uint64_t)bm * bs / 2;
    uint64_t ndesc = 0;
    for (uint64_t i = 0; i < (uint64_t)bm * bs / 2; i++)
        ndesc += (uint64_t)__builtin_popcount(bitmap2[i]);
    uint64_t data_off = desc_off + ndesc * 24;
    size_t cap = data_off + ndesc * (bs + 64);
    uint8_t *out = malloc(cap), page[4096], packed[8192];
    static uint8_t wrk[LZO1X_1_MEM_COMPRESS];
    memcpy(out, kd, data_off);
    uint64_t w = data_off;
    for (uint64_t i = 0; i < ndesc; i++) {
        uint8_t *d = out + desc_off + i * 24;
        uint64_t off;
        uint32_t size, flags;
        memcpy(&off, d, 8), memcpy(&size, d + 8, 4), memcpy(&flags, d + 12, 4);
        if (off + size > len)
            return false;
        uLongf n = sizeof page;
        if (flags & Z_ZLIB) {
            if (uncompress(page, &n, kd + off, size) != Z_OK || n != sizeof page)
                return false;
        } else if (size == sizeof page)
            memcpy(page, kd + off, sizeof page);
        else
            return false;
        int m = method == Z_MIXED ? (int[]){ Z_RAW, Z_LZO, Z_SNAPPY, Z_ZSTD, Z_ZLIB }[i % 5] : method;
        size_t plen = 0;
        if (m == Z_LZO) {
            lzo_uint l = sizeof packed;
            lzo1x_1_compress(page, sizeof page, packed, &l, wrk);
            plen = l;
        } else if (m == Z_SNAPPY) {
            plen = sizeof packed;
            snappy_compress((const char *)page, sizeof page, (char *)packed, &plen);
        } else if (m == Z_ZSTD)
            plen = ZSTD_compress(packed, sizeof packed, page, sizeof page, 1);
        else if (m == Z_ZLIB) {
            uLongf l = sizeof packed;
            compress2(packed, &l, page, sizeof page, 6);
            plen = l;
        }
        if (m == Z_RAW || plen >= sizeof page) {        /* incompressible: stored raw, as makedumpfile does */
            memcpy(packed, page, sizeof page);
            plen = sizeof page;
            m = 0;
        }
        memcpy(out + w, packed, plen);
        uint32_t sz = (uint32_t)plen, fl = (uint32_t)m;
        memcpy(d, &w, 8), memcpy(d + 8, &sz, 4), memcpy(d + 12, &fl, 4);
        w += plen;
    }
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(out, 1, w, f) == w;
    if (f)
        fclose(f);
    free(out);
    return ok;
}

static void check_method(int method, const char *label)
{
    size_t klen, clen;
    uint8_t *kd = fx_slurp(fx("lm16.kdump"), &klen), *cat = fx_slurp(fx("lm16.rawcat"), &clen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(kd);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cat);
    lzo_init();
    char path[64];
    snprintf(path, sizeof path, "/tmp/wm-kdump-%s-%d", label, (int)getpid());
    CU_ASSERT_FATAL(recompress(kd, klen, method, path));
    VM_SAVED_STATE_DUMP_HANDLE h;
    CU_ASSERT_EQUAL_FATAL(winmem_LoadSavedStateFileUtf8(path, &h), S_OK);
    UINT64 size = 0;
    GetGuestRawSavedMemorySize(h, &size);
    CU_ASSERT_EQUAL(size, clen);
    static uint8_t b[1 << 16];
    int bad = 0;
    for (UINT64 off = 0; off < size; off += sizeof b) {
        UINT32 got;
        if (ReadGuestRawSavedMemory(h, off, b, sizeof b, &got) != S_OK || got != sizeof b || memcmp(b, cat + off, got))
            bad++;
    }
    if (bad)
        fprintf(stderr, "%s: %d blocks differ\n", label, bad);
    CU_ASSERT_EQUAL(bad, 0);
    VIRTUAL_PROCESSOR_REGISTER r;
    CU_ASSERT_EQUAL(GetRegisterValue(h, 0, X64_RegisterCr3, &r), S_OK);
    CU_ASSERT_EQUAL(r.Reg64, 0x10000);
    ReleaseSavedStateFiles(h);
    unlink(path);
    free(kd);
    free(cat);
}

static void test_lzo(void) { check_method(Z_LZO, "lzo"); }
static void test_snappy(void) { check_method(Z_SNAPPY, "snappy"); }
static void test_zstd(void) { check_method(Z_ZSTD, "zstd"); }
static void test_raw_pages(void) { check_method(Z_RAW, "raw"); }
static void test_mixed(void) { check_method(Z_MIXED, "mixed"); }

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("savedstate-compress", NULL, NULL);
    WM_TEST(s, test_lzo);
    WM_TEST(s, test_snappy);
    WM_TEST(s, test_zstd);
    WM_TEST(s, test_raw_pages);
    WM_TEST(s, test_mixed);
}
