/*
 * common/: the helpers the shim and the CLI share — names (base names,
 * Wine's loader names, modes, %p patterns) and the PE header reader, on a
 * real PE file (one of Wine's DLLs) and on cut and damaged copies of it;
 * the append rules of a trace (size limit with room kept for the end, a
 * torn chunk cut, a replaced descriptor refused) and the bounded flock().
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"
#include "winmem/trace.h"
#include "common/append.h"
#include "common/names.h"
#include "common/pe.h"

static void test_names(void)
{
    CU_ASSERT_STRING_EQUAL(wm_base_name("/usr/bin/wine64"), "wine64");
    CU_ASSERT_STRING_EQUAL(wm_base_name("c:\\windows\\system32\\notepad.exe"), "notepad.exe");
    CU_ASSERT_STRING_EQUAL(wm_base_name("plain"), "plain");
    CU_ASSERT_STRING_EQUAL(wm_base_name("dir/"), "");
    CU_ASSERT_TRUE(wm_is_wine_name("wine64-preloader"));
    CU_ASSERT_TRUE(wm_is_wine_name("wine-stable"));
    CU_ASSERT_FALSE(wm_is_wine_name("wineserver"));
    CU_ASSERT_FALSE(wm_is_wine_name("wine64x"));
    for (uint32_t m = WMT_MODE_TRACE; m <= WMT_MODE_NATIVE; m++)
        CU_ASSERT_EQUAL(wm_mode_parse(wm_mode_name(m)), (int)m);
    CU_ASSERT_STRING_EQUAL(wm_mode_name(WMT_MODE_CHECK), "check");
    CU_ASSERT_STRING_EQUAL(wm_mode_name(7), "?");
    CU_ASSERT_EQUAL(wm_mode_parse("Trace"), -1);

    char out[32];
    wm_pattern_fill("app.%p.wmt", "1234", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "app.1234.wmt");
    wm_pattern_fill("%p-%p", "*", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "*-*");
    wm_pattern_fill("100%", "9", out, sizeof out);   /* a lone % stays */
    CU_ASSERT_STRING_EQUAL(out, "100%");
    wm_pattern_fill("abcdef%p", "123456", out, 9);   /* cut to fit, NUL included */
    CU_ASSERT_STRING_EQUAL(out, "abcdef12");
}

static void test_program_and_utf16(void)
{
    char out[32];
    wm_program_name("/x/build/prog.exe.so", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "prog.exe");          /* winelib: Wine names it prog.exe */
    wm_program_name("C:\\apps\\App.EXE.SO", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "App.EXE");
    wm_program_name("libfoo.so", out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "libfoo.so");         /* not a winelib program */
    wm_program_name("/bin/python3", out, 4);
    CU_ASSERT_STRING_EQUAL(out, "pyt");

    static const uint16_t w[] = { 'C', ':', 0xe9, 0x20ac, 0xd83d, 0xde00, 0xdc00, 'x' };
    char u[32];
    size_t n = wm_utf16_to_utf8(w, 8, u, sizeof u);
    CU_ASSERT_EQUAL(n, 2 + 2 + 3 + 4 + 3 + 1);
    CU_ASSERT_STRING_EQUAL(u, "C:\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbdx");
    n = wm_utf16_to_utf8(w, 8, u, 6);                 /* é fits, € (3 bytes) does not */
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_STRING_EQUAL(u, "C:\xc3\xa9");
}

static uint8_t *slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    uint8_t *b = malloc(1 << 16);
    ssize_t n = b ? read(fd, b, 1 << 16) : -1;
    close(fd);
    *len = n > 0 ? (size_t)n : 0;
    return b;
}

static void test_pe_reader(void)
{
    size_t n;
    uint8_t *b = slurp("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/kernelbase.dll", &n);
    CU_ASSERT_FATAL(b != NULL && n > 4096);
    wm_pe pe;
    CU_ASSERT_TRUE_FATAL(wm_pe_read(b, n, &pe));
    CU_ASSERT_EQUAL(pe.machine, 0x8664);
    CU_ASSERT_EQUAL(pe.magic, WM_PE32PLUS);
    CU_ASSERT_TRUE(pe.size_of_image > 0 && pe.size_of_image % 4096 == 0);
    CU_ASSERT_TRUE(pe.nsections > 2);
    CU_ASSERT_PTR_NOT_NULL(pe.sections);
    CU_ASSERT_EQUAL(pe.ndirs, 16);
    uint32_t rva, size;
    CU_ASSERT_TRUE(wm_pe_dir(&pe, WM_PE_DIR_EXPORT, &rva, &size));
    CU_ASSERT_TRUE(rva > 0 && rva < pe.size_of_image && size > 0);   /* kernelbase exports */
    CU_ASSERT_FALSE(wm_pe_dir(&pe, 16, &rva, &size));
    CU_ASSERT_EQUAL(memcmp(pe.sections, ".text", 5), 0);

    /* cut before the section table: headers read, sections not */
    uint32_t nt = wm_le32(b + 0x3c);
    size_t cut = nt + 24 + wm_le16(b + nt + 20);
    CU_ASSERT_TRUE_FATAL(wm_pe_read(b, cut, &pe));
    CU_ASSERT_PTR_NULL(pe.sections);
    CU_ASSERT_EQUAL(pe.ndirs, 16);
    /* cut inside the optional header, before SizeOfImage: not a PE */
    CU_ASSERT_FALSE(wm_pe_read(b, nt + 24 + 40, &pe));
    /* e_lfanew pointing past the end */
    uint8_t bad[256];
    memcpy(bad, b, sizeof bad);
    bad[0x3c] = 0xf0, bad[0x3d] = 0xff, bad[0x3e] = 0xff, bad[0x3f] = 0x7f;
    CU_ASSERT_FALSE(wm_pe_read(bad, sizeof bad, &pe));
    bad[0] = 'X';
    CU_ASSERT_FALSE(wm_pe_read(bad, sizeof bad, &pe));
    /* NumberOfRvaAndSizes larger than the optional header holds: capped */
    memcpy(b + nt + 24 + 108, "\xff\xff\x00\x00", 4);
    CU_ASSERT_TRUE(wm_pe_read(b, n, &pe));
    CU_ASSERT_EQUAL(pe.ndirs, 16);
    free(b);
}

static struct wm_trace_fd trace_of(int fd)
{
    struct stat st;
    fstat(fd, &st);
    return (struct wm_trace_fd){ fd, (uint64_t)st.st_dev, (uint64_t)st.st_ino };
}

static void test_append_rules(void)
{
    char path[] = "/tmp/wm-append-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    fd = open(path, O_WRONLY | O_APPEND);
    struct wm_trace_fd t = trace_of(fd);
    char chunk[100];
    memset(chunk, 'c', sizeof chunk);
    uint64_t end = 0;
    CU_ASSERT_EQUAL(wm_append_chunk(&t, &end, false, 0, 50, chunk, 100), WM_APPEND_OK);
    CU_ASSERT_EQUAL(end, 100);
    /* The limit keeps room for the end: 100 + 100 + 50 > 240 is refused,
     * the final records (room 0) still fit, and nothing was written. */
    CU_ASSERT_EQUAL(wm_append_chunk(&t, &end, false, 240, 50, chunk, 100), WM_APPEND_SIZE);
    CU_ASSERT_EQUAL(end, 100);
    CU_ASSERT_EQUAL(wm_append_chunk(&t, &end, false, 240, 0, chunk, 100), WM_APPEND_OK);
    CU_ASSERT_EQUAL(end, 200);
    /* Bytes past the last whole chunk (an appender killed inside its
     * write) are cut when others append (cut_torn), kept when not. */
    CU_ASSERT_EQUAL(write(fd, "torn", 4), 4);
    uint64_t e2 = 200;
    CU_ASSERT_EQUAL(wm_append_chunk(&t, &e2, true, 0, 0, chunk, 8), WM_APPEND_OK);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, 208);
    CU_ASSERT_EQUAL(e2, 208);
    /* The descriptor now names another file: refused, that file untouched. */
    char other[] = "/tmp/wm-append-XXXXXX";
    int o = mkstemp(other);
    CU_ASSERT_FATAL(o >= 0);
    CU_ASSERT_EQUAL(dup2(o, fd), fd);
    CU_ASSERT_EQUAL(wm_append_chunk(&t, &e2, true, 0, 0, chunk, 8), WM_APPEND_GONE);
    CU_ASSERT_EQUAL(fstat(o, &st), 0);
    CU_ASSERT_EQUAL(st.st_size, 0);
    close(o);
    close(fd);
    unlink(other);
    unlink(path);
}

static void test_append_lock_waits_its_turn(void)
{
    char path[] = "/tmp/wm-append-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    int sync[2];
    CU_ASSERT_FATAL(pipe(sync) == 0);
    pid_t p = fork();
    if (p == 0) {                     /* another appender: holds it 100 ms */
        int g = open(path, O_WRONLY);
        flock(g, LOCK_EX);
        char c = 1;
        if (write(sync[1], &c, 1) != 1)
            _exit(1);
        nanosleep(&(struct timespec){ 0, 100000000 }, NULL);
        _exit(0);
    }
    char c;
    CU_ASSERT_EQUAL(read(sync[0], &c, 1), 1);
    CU_ASSERT_TRUE(wm_append_lock(fd, 2000));   /* got it once the other let go */
    int st = 0;
    waitpid(p, &st, 0);
    CU_ASSERT_EQUAL(st, 0);
    wm_append_unlock(fd);
    close(fd);
    close(sync[0]);
    close(sync[1]);
    unlink(path);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("common", NULL, NULL);
    WM_TEST(s, test_names);
    WM_TEST(s, test_program_and_utf16);
    WM_TEST(s, test_pe_reader);
    WM_TEST(s, test_append_rules);
    WM_TEST(s, test_append_lock_waits_its_turn);
}
