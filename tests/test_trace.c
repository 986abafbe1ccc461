/*
 * tests/test_trace.c — the trace format's fixed layout (what the shim
 * writes and every reader assumes) and the shim's chunk CRC against zlib's.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "unit.h"
#include "winmem/trace.h"
#include "../common/crc.c"

static void test_layout(void)
{
    CU_ASSERT_EQUAL(sizeof(struct wmt_header), WMT_HEADER_FIXED_SIZE);
    CU_ASSERT_EQUAL(sizeof(struct wmt_chunk), WMT_CHUNK_SIZE);
    CU_ASSERT_EQUAL(sizeof(struct wmt_call), WMT_CALL_SIZE);
    CU_ASSERT_EQUAL(sizeof(struct wmt_call) % 8, 0);
    CU_ASSERT_EQUAL(sizeof(struct wmt_module) % 8, 0);
    CU_ASSERT_EQUAL(sizeof(struct wmt_thread) % 8, 0);
    CU_ASSERT_EQUAL(sizeof(struct wmt_stack) % 8, 0);
    CU_ASSERT_EQUAL(sizeof(struct wmt_frame), 16);
    CU_ASSERT_EQUAL(sizeof(struct wmt_divergence) % 8, 0);
    CU_ASSERT_EQUAL(sizeof(struct wmt_lost) % 8, 0);
    CU_ASSERT_EQUAL(sizeof(struct wmt_end) % 8, 0);
    CU_ASSERT_EQUAL(offsetof(struct wmt_call, arg), 56);
    CU_ASSERT_EQUAL(offsetof(struct wmt_call, out), 136);
}

static void test_api_names(void)
{
    CU_ASSERT_STRING_EQUAL(wmt_api_name(WMT_API_NtQueryVirtualMemory), "NtQueryVirtualMemory");
    CU_ASSERT_STRING_EQUAL(wmt_api_name(WMT_API_VirtualQuery), "VirtualQuery");
    CU_ASSERT_STRING_EQUAL(wmt_api_name(WMT_API_madvise), "madvise");
    CU_ASSERT_PTR_NULL(wmt_api_name(0));
    CU_ASSERT_PTR_NULL(wmt_api_name(127));
    CU_ASSERT_STRING_EQUAL(wmt_api_args(WMT_API_VirtualAlloc), "address,size,type,protect");
}

static void test_crc_matches_zlib(void)
{
    wm_crc_init();
    static unsigned char b[70000];
    srand(7);
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)rand();
    int bad = 0;
    for (size_t n = 0; n < 3000; n++)
        bad += wm_crc32(b + n % 13, n) != (uint32_t)crc32(0, b + n % 13, (uInt)n);
    bad += wm_crc32(b, 65536 + 24) != (uint32_t)crc32(0, b, 65536 + 24);
    CU_ASSERT_EQUAL(bad, 0);
    /* A flipped bit is noticed (what makes a torn chunk detectable). */
    uint32_t c = wm_crc32(b, 4096);
    b[100] ^= 4;
    CU_ASSERT_NOT_EQUAL(wm_crc32(b, 4096), c);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("trace", NULL, NULL);
    WM_TEST(s, test_layout);
    WM_TEST(s, test_api_names);
    WM_TEST(s, test_crc_matches_zlib);
}
