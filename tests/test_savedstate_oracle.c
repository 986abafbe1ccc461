/*
 * Cross-check with an independent reader: Debian's libkdumpfile reads the
 * ELF dumps and the reassembled (makedumpfile -R) kdump; every page winmem
 * reports, in every format, must hold the bytes libkdumpfile reads, and the
 * pages just outside each chunk must be missing for libkdumpfile too.
 */
#include <fcntl.h>
#include <unistd.h>
#include <libkdumpfile/kdumpfile.h>
#include "unit.h"
#include "savedstate_fx.h"

static void cross_check(const char *oracle_file, const char *const *forms, int nforms)
{
    int fd = open(fx(oracle_file), O_RDONLY);
    CU_ASSERT_FATAL(fd >= 0);
    kdump_ctx_t *k = kdump_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL_FATAL(kdump_open_fd(k, fd), KDUMP_OK);
    static uint8_t a[4096], b[4096];
    for (int f = 0; f < nforms; f++) {
        VM_SAVED_STATE_DUMP_HANDLE h = fx_open(forms[f]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        GPA_MEMORY_CHUNK c[16];
        UINT64 n = 16, ps;
        CU_ASSERT_EQUAL_FATAL(GetGuestPhysicalMemoryChunks(h, &ps, c, &n), S_OK);
        uint64_t pages = 0, bad = 0;
        for (UINT64 i = 0; i < n; i++) {
            for (UINT64 p = 0; p < c[i].PageCount; p++) {
                uint64_t gpa = (c[i].GuestPhysicalStartPageIndex + p) * 4096;
                size_t len = sizeof a;
                UINT32 got = 0;
                if (kdump_read(k, KDUMP_MACHPHYSADDR, gpa, a, &len) != KDUMP_OK || len != sizeof a ||
                    ReadGuestPhysicalAddress(h, gpa, b, sizeof b, &got) != S_OK || got != sizeof b || memcmp(a, b, sizeof a))
                    bad++;
                pages++;
            }
            /* The page after each chunk is a hole for both readers. */
            uint64_t after = (c[i].GuestPhysicalStartPageIndex + c[i].PageCount) * 4096;
            size_t len = sizeof a;
            UINT32 got;
            CU_ASSERT_NOT_EQUAL(kdump_read(k, KDUMP_MACHPHYSADDR, after, a, &len), KDUMP_OK);
            CU_ASSERT_EQUAL(ReadGuestPhysicalAddress(h, after, b, sizeof b, &got), VM_SAVED_STATE_DUMP_E_GUEST_MEMORY_NOT_FOUND);
        }
        if (bad)
            fprintf(stderr, "%s: %llu of %llu pages differ from libkdumpfile\n", forms[f],
                    (unsigned long long)bad, (unsigned long long)pages);
        CU_ASSERT(pages >= 4000);
        CU_ASSERT_EQUAL(bad, 0);
        ReleaseSavedStateFiles(h);
    }
    kdump_free(k);
    close(fd);
}

static void test_lm16_vs_libkdumpfile(void)
{
    const char *forms[] = { "lm16.elf", "lm16.kdump-zlib", "lm16.kdump", "lm16.lime", "lm16.rawcat+lm16.layout" };
    cross_check("lm16.kdump", forms, 5);
    cross_check("lm16.elf", forms, 1);
}

static void test_t24_vs_libkdumpfile(void)
{
    const char *forms[] = { "t24.elf", "t24.kdump-zlib", "t24.kdump", "t24.lime" };
    cross_check("t24.elf", forms, 4);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("savedstate-oracle", NULL, NULL);
    WM_TEST(s, test_lm16_vs_libkdumpfile);
    WM_TEST(s, test_t24_vs_libkdumpfile);
}
