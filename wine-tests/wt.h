/*
 * wine-tests/wt.h — the test harness of wine-tests/, in the style of Wine's
 * own conformance tests. A test program is written once against the Win32 API
 * and built three ways:
 *   native   (-DWT_NATIVE)  against libwinmem's headers and library;
 *   PE       with mingw-w64, run under wine: the reference;
 *   winelib  with winegcc, run under wine.
 *
 *   START_TEST(virtual_query) {
 *       wt_section("reserve");
 *       ok(mbi.State == MEM_RESERVE, "State %#x, expected MEM_RESERVE (0x2000)\n",
 *          (unsigned)mbi.State);
 *   }
 *
 * Every check states the Windows value it expects in its message. Cast DWORDs
 * to (unsigned) and SIZE_Ts to (unsigned long long) when printing: DWORD is
 * unsigned long under mingw and unsigned int natively.
 *
 * Output, read by the matrix runner: a failed check prints
 *   "<file>:<line>: Test failed: <message>"
 * and each section ends with one line
 *   "WT <program>.<section> pass|fail|skip <checks> <failures>"
 * The exit status is the number of failed checks (capped at 255).
 */
#ifndef WINMEM_WT_H
#define WINMEM_WT_H

#if defined(WT_NATIVE)
#include <winmem/winmem.h>
#else
#include <windows.h>
#include <winternl.h>
#include <psapi.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(WT_NATIVE)
#define WT_BUILD "native"
#elif defined(__WINE__) || defined(__WINESRC__) || !defined(_WIN32)
#define WT_BUILD "winelib"
#else
#define WT_BUILD "pe"
#endif

static const char *wt_program = "?";
static const char *wt_cur = NULL;        /* current section */
static int wt_sec_checks, wt_sec_fail, wt_sec_skip;
static int wt_total_fail, wt_total_checks;

static void wt_end_section(void)
{
    if (!wt_cur)
        return;
    const char *verdict = wt_sec_fail ? "fail" : (wt_sec_checks == 0 && wt_sec_skip) ? "skip" : "pass";
    printf("WT %s.%s %s %d %d\n", wt_program, wt_cur, verdict, wt_sec_checks, wt_sec_fail);
    fflush(stdout);
    wt_cur = NULL;
}

/* Starts a named section: the unit the conformance matrix reports. */
static inline void wt_section(const char *name)
{
    wt_end_section();
    wt_cur = name;
    wt_sec_checks = wt_sec_fail = wt_sec_skip = 0;
}

static inline int wt_ok(const char *file, int line, int cond, const char *fmt, ...)
{
    if (!wt_cur)
        wt_section("main");
    wt_sec_checks++;
    wt_total_checks++;
    if (!cond) {
        va_list ap;
        const char *base = strrchr(file, '/');
        printf("%s:%d: Test failed: [%s] ", base ? base + 1 : file, line, wt_cur);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        wt_sec_fail++;
        wt_total_fail++;
    }
    return cond;
}

static inline void wt_skip(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    const char *base = strrchr(file, '/');
    if (!wt_cur)
        wt_section("main");
    printf("%s:%d: Tests skipped: [%s] ", base ? base + 1 : file, line, wt_cur);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    wt_sec_skip++;
}

#define ok(cond, ...) wt_ok(__FILE__, __LINE__, !!(cond), __VA_ARGS__)
#define skip(...)     wt_skip(__FILE__, __LINE__, __VA_ARGS__)

#define START_TEST(name) \
    static void wt_func_##name(int argc, char **argv); \
    int main(int argc, char **argv) \
    { \
        wt_program = #name; \
        setvbuf(stdout, NULL, _IONBF, 0); \
        wt_func_##name(argc, argv); \
        wt_end_section(); \
        printf("%s (%s): %d tests executed (%d failures)\n", #name, WT_BUILD, \
               wt_total_checks, wt_total_fail); \
        return wt_total_fail > 255 ? 255 : wt_total_fail; \
    } \
    static void wt_func_##name(int argc, char **argv)

#endif
