/*
 * cli/json.c, the CLI's one JSON writer: strings with any bytes (file names
 * from /proc and traces are not always UTF-8) must still give valid JSON,
 * and valid UTF-8 must pass through unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "cli_tracegen.h"
#include "../cli/commands.h"
#include "../cli/json.h"
#include "../cli/args.h"

static const char *esc(const char *s)
{
    static char buf[1024];
    *json_escape(buf, s) = 0;
    return buf;
}

static void test_escape(void)
{
    CU_ASSERT_STRING_EQUAL(esc("plain"), "plain");
    CU_ASSERT_STRING_EQUAL(esc("a\"b\\c"), "a\\\"b\\\\c");
    CU_ASSERT_STRING_EQUAL(esc("tab\there\n"), "tab\\u0009here\\u000a");
    /* valid UTF-8 (2, 3 and 4 bytes) passes through */
    CU_ASSERT_STRING_EQUAL(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    /* Latin-1 bytes, a lone continuation, an overlong '/', a surrogate, a cut sequence */
    CU_ASSERT_STRING_EQUAL(esc("caf\xe9"), "caf\\ufffd");
    CU_ASSERT_STRING_EQUAL(esc("\x80x"), "\\ufffdx");
    CU_ASSERT_STRING_EQUAL(esc("\xc0\xaf"), "\\ufffd\\ufffd");
    CU_ASSERT_STRING_EQUAL(esc("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");
    CU_ASSERT_STRING_EQUAL(esc("\xe2\x82"), "\\ufffd\\ufffd");
    /* the bound callers size buffers by: 6 output bytes per input byte */
    char in[65], out[6 * 64 + 1];
    memset(in, 0x01, 64);
    in[64] = 0;
    CU_ASSERT_EQUAL(json_escape(out, in) - out, 6 * 64);
}

static void test_str_long(void)
{
    /* json_str writes in pieces: a multi-byte character across a piece
     * boundary must not turn into replacement characters */
    char s[1200], *got = NULL;
    size_t n = 0;
    for (int i = 0; i < 1197; i += 3)
        memcpy(s + i, "\xe2\x82\xac", 3);
    s[1197] = 0;
    FILE *f = open_memstream(&got, &n);
    json_str(f, s);
    fclose(f);
    CU_ASSERT_EQUAL(n, 1197 + 2);
    CU_ASSERT_PTR_NULL(strstr(got, "\\ufffd"));
    free(got);
}

static void test_decode(void)
{
    char b[128];
    CU_ASSERT_STRING_EQUAL(args_mem_flags(0x3000, b, sizeof b), "MEM_COMMIT|MEM_RESERVE");
    CU_ASSERT_STRING_EQUAL(args_mem_flags(0x8000, b, sizeof b), "MEM_RELEASE");
    CU_ASSERT_STRING_EQUAL(args_mem_flags(0x101000, b, sizeof b), "MEM_COMMIT|MEM_TOP_DOWN");
    CU_ASSERT_STRING_EQUAL(args_mem_flags(0x1000 | 0x10000000, b, sizeof b), "MEM_COMMIT|0x10000000");
    CU_ASSERT_STRING_EQUAL(args_protect(0x04, b, sizeof b), "PAGE_READWRITE");
    CU_ASSERT_STRING_EQUAL(args_protect(0x104, b, sizeof b), "PAGE_READWRITE|PAGE_GUARD");
    CU_ASSERT_STRING_EQUAL(args_info_class(0, b, sizeof b), "MemoryBasicInformation");
    CU_ASSERT_STRING_EQUAL(args_info_class(4, b, sizeof b), "MemoryWorkingSetExInformation");
    CU_ASSERT_STRING_EQUAL(args_info_class(1000, b, sizeof b), "MemoryWineUnixFuncs");
    CU_ASSERT_STRING_EQUAL(args_info_class(77, b, sizeof b), "class#77");
}

/* Is the whole buffer valid UTF-8? */
static int valid_utf8(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
        i += k;
    }
    return 1;
}

/* A trace whose program and module names are Latin-1 bytes: every export is
 * still UTF-8 and says U+FFFD where the bytes were. */
static void test_export_non_utf8(void)
{
    char trace[] = "/tmp/wm-cli-json-XXXXXX", out[] = "/tmp/wm-cli-json-out-XXXXXX";
    int fd = mkstemp(trace), fo = mkstemp(out);
    CU_ASSERT_FATAL(fd >= 0 && fo >= 0);
    close(fd), close(fo);
    FILE *f = fopen(trace, "wb");
    tg g;
    tg_open(&g, f, 9, WMT_MODE_TRACE, WMT_HF_WINE, "/opt/caf\xe9/wine64", "caf\xe9.exe");
    tg_module(&g, 0, 1, WMT_MOD_PE, 0x140000000, 0x140000000, 0x140010000, "\\??\\C:\\caf\xe9.exe");
    tg_flush(&g);
    tg_thread(&g, 5, "t\xe9");
    struct wmt_frame fr[1] = { { 1, WMT_FR_PE, 0x1234 } };
    tg_stack(&g, 5, 1, 1, fr);
    struct wmt_call c = tg_call_init(WMT_API_NtAllocateVirtualMemory, 5, 1, 100, 10, 1);
    c.arg[4] = 0x3000, c.arg[5] = 4, c.out[0] = 0x10000, c.out[1] = 0x1000;
    tg_rec(&g, 5, &c, sizeof c);
    tg_end(&g, 5, 1);
    tg_close(&g);
    fclose(f);
    static const char *const formats[] = { "jsonl", "chrome", "speedscope" };
    for (int i = 0; i < 3; i++) {
        char *argv[] = { "export", "--format", (char *)formats[i], "-o", out, trace, NULL };
        CU_ASSERT_EQUAL(cmd_export(6, argv), 0);
        FILE *r = fopen(out, "rb");
        unsigned char buf[1 << 16];
        size_t n = r ? fread(buf, 1, sizeof buf, r) : 0;
        if (r)
            fclose(r);
        buf[n < sizeof buf ? n : sizeof buf - 1] = 0;
        CU_ASSERT_TRUE(n > 0 && valid_utf8(buf, n));
        CU_ASSERT_PTR_NOT_NULL(strstr((char *)buf, "caf\\ufffd"));
        if (i == 0)
            CU_ASSERT_PTR_NOT_NULL(strstr((char *)buf, "\"type\":\"MEM_COMMIT|MEM_RESERVE\",\"protect\":\"PAGE_READWRITE\""));
    }
    unlink(trace);
    unlink(out);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("cli json and argument names", NULL, NULL);
    WM_TEST(s, test_escape);
    WM_TEST(s, test_str_long);
    WM_TEST(s, test_decode);
    WM_TEST(s, test_export_non_utf8);
}
