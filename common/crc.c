/*
 * common/crc.c — CRC-32 (IEEE 802.3, zlib's crc32) of trace chunks, folded
 * with carry-less multiplication where the CPU has PCLMULQDQ. The shim and
 * `winmem run`'s writer both checksum every chunk they append.
 *
 * Why: the checksum of every 64 KiB chunk was the largest single cost per
 * record (~65 ns of a 200-byte record with zlib's table code). Folding 64
 * bytes per step is several times faster. The method is the published one
 * (Intel, "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ");
 * the fold constants are those of the reflected IEEE polynomial. At start
 * the result is compared with zlib's on test data; any difference, or a CPU
 * without PCLMUL/SSE4.1, and zlib's crc32 is used for everything.
 */
#include <immintrin.h>
#include <string.h>
#include <zlib.h>
#include "common/crc.h"

__attribute__((target("pclmul,sse4.1")))
static uint32_t fold(uint32_t crc, const unsigned char *buf, size_t len)
{
    /* Pre: len >= 64, a multiple of 16; crc is the inverted running value. */
    static const uint64_t k1k2[2] __attribute__((aligned(16))) = { 0x0154442bd4ULL, 0x01c6e41596ULL };
    static const uint64_t k3k4[2] __attribute__((aligned(16))) = { 0x01751997d0ULL, 0x00ccaa009eULL };
    static const uint64_t k5k0[2] __attribute__((aligned(16))) = { 0x0163cd6124ULL, 0 };
    static const uint64_t poly[2] __attribute__((aligned(16))) = { 0x01db710641ULL, 0x01f7011641ULL };
    __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8;
    x1 = _mm_loadu_si128((const __m128i *)(buf + 0x00));
    x2 = _mm_loadu_si128((const __m128i *)(buf + 0x10));
    x3 = _mm_loadu_si128((const __m128i *)(buf + 0x20));
    x4 = _mm_loadu_si128((const __m128i *)(buf + 0x30));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    x0 = _mm_load_si128((const __m128i *)k1k2);
    buf += 64, len -= 64;
    while (len >= 64) {             /* four lanes of 128 bits, 64 bytes per step */
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
        x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
        x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
        x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
        x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
        x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
        x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), _mm_loadu_si128((const __m128i *)(buf + 0x00)));
        x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), _mm_loadu_si128((const __m128i *)(buf + 0x10)));
        x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), _mm_loadu_si128((const __m128i *)(buf + 0x20)));
        x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), _mm_loadu_si128((const __m128i *)(buf + 0x30)));
        buf += 64, len -= 64;
    }
    x0 = _mm_load_si128((const __m128i *)k3k4);     /* four lanes into one */
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x2), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x3), x5);
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x4), x5);
    while (len >= 16) {
        x2 = _mm_loadu_si128((const __m128i *)buf);
        x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
        x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x11), x2), x5);
        buf += 16, len -= 16;
    }
    x2 = _mm_clmulepi64_si128(x1, x0, 0x10);        /* 128 → 64 bits */
    x3 = _mm_setr_epi32(~0, 0, ~0, 0);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2);
    x0 = _mm_loadl_epi64((const __m128i *)k5k0);
    x2 = _mm_srli_si128(x1, 4);
    x1 = _mm_and_si128(x1, x3);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, x0, 0x00), x2);
    x0 = _mm_load_si128((const __m128i *)poly);     /* Barrett reduction to 32 bits */
    x2 = _mm_and_si128(x1, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
    x2 = _mm_and_si128(x2, x3);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x1 = _mm_xor_si128(x1, x2);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}

static int use_fold = -1;   /* -1: not decided yet */

static uint32_t crc_fast(const unsigned char *p, size_t n)
{
    size_t body = n >= 64 ? n & ~(size_t)15 : 0;
    uint32_t c = 0;
    if (body)
        c = ~fold(~0u, p, body);
    return (uint32_t)crc32(c, p + body, (uInt)(n - body));
}

void wm_crc_init(void)
{
    __builtin_cpu_init();
    use_fold = 0;
    if (!__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.1"))
        return;
    unsigned char t[1000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof t; i++)
        t[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    static const size_t sizes[] = { 0, 1, 15, 63, 64, 65, 80, 127, 128, 200, 999, 1000 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (crc_fast(t, sizes[i]) != (uint32_t)crc32(0, t, (uInt)sizes[i]))
            return;
    use_fold = 1;
}

uint32_t wm_crc32(const void *p, size_t n)
{
    if (use_fold > 0)
        return crc_fast(p, n);
    return (uint32_t)crc32(0, p, (uInt)n);
}
