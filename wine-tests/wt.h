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
 * each section starts with "WT <program>.<section> start" (so a crash names
 * the section it happened in) and ends with one line
 *   "WT <program>.<section> pass|fail|skip <checks> <failures>"
 * The exit status is the number of failed checks (capped at 255).
 *
 * A section that needs an API winmem does not provide natively (file
 * mappings, VirtualAlloc2, ...) is compiled only for pe/winelib; the native
 * build still names it, so the matrix shows "skip" with the reason:
 *
 *   #ifdef WT_NATIVE
 *       wt_skip_section("cow", "CreateFileMapping is not part of winmem");
 *   #else
 *       wt_section("cow"); ...
 *   #endif
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
#if !defined(WT_NATIVE) && !defined(__WINE__)
/* mingw-w64's winternl.h has none of the memory query classes that Wine's
 * winternl.h and winmem's memory.h declare; same layouts as theirs, so a
 * test reads the same fields in all three builds. */
typedef enum _MEMORY_INFORMATION_CLASS {
    MemoryBasicInformation, MemoryWorkingSetInformation, MemoryMappedFilenameInformation,
    MemoryRegionInformation, MemoryWorkingSetExInformation, MemorySharedCommitInformation,
    MemoryImageInformation, MemoryRegionInformationEx, MemoryPrivilegedBasicInformation,
    MemoryEnclaveImageInformation, MemoryBasicInformationCapped
} MEMORY_INFORMATION_CLASS;

typedef PSAPI_WORKING_SET_EX_BLOCK MEMORY_WORKING_SET_EX_BLOCK;
typedef struct _MEMORY_WORKING_SET_EX_INFORMATION {
    PVOID VirtualAddress;
    MEMORY_WORKING_SET_EX_BLOCK VirtualAttributes;
} MEMORY_WORKING_SET_EX_INFORMATION;

typedef struct _MEMORY_REGION_INFORMATION {
    PVOID AllocationBase;
    ULONG AllocationProtect;
    union {
        ULONG RegionType;
        struct {
            ULONG Private : 1, MappedDataFile : 1, MappedImage : 1, MappedPageFile : 1,
                  MappedPhysical : 1, DirectMapped : 1, Reserved : 26;
        };
    };
    SIZE_T RegionSize;
    SIZE_T CommitSize;
    ULONG_PTR PartitionId;
    ULONG_PTR NodePreference;
} MEMORY_REGION_INFORMATION;

NTSTATUS NTAPI NtQueryVirtualMemory(HANDLE, LPCVOID, MEMORY_INFORMATION_CLASS, PVOID, SIZE_T, SIZE_T *);
#endif

/* <windows.h> defines only the NTSTATUS values exceptions use; ntstatus.h
 * would clash with it. The ones the memory tests compare against: */
#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS ((NTSTATUS)0x00000000)
#endif
#ifndef STATUS_INVALID_INFO_CLASS
#define STATUS_INVALID_INFO_CLASS ((NTSTATUS)0xC0000003)
#endif
#ifndef STATUS_INFO_LENGTH_MISMATCH
#define STATUS_INFO_LENGTH_MISMATCH ((NTSTATUS)0xC0000004)
#endif
#ifndef STATUS_INVALID_PARAMETER
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000D)
#endif
#ifndef STATUS_ACCESS_DENIED
#define STATUS_ACCESS_DENIED ((NTSTATUS)0xC0000022)
#endif
#ifndef STATUS_INVALID_ADDRESS
#define STATUS_INVALID_ADDRESS ((NTSTATUS)0xC0000141)
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
    printf("WT %s.%s start\n", wt_program, wt_cur);
}

/* ok() and skip() may run on several threads at once (a test's worker
 * threads): a spin lock keeps the counts exact and each failure message on
 * one line. Sections are the main flow's: start them only while no other
 * thread checks, or a check lands in whichever section is open. */
static volatile int wt_lock_word;
static inline void wt_lock(void)
{
    while (__atomic_exchange_n(&wt_lock_word, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
}
static inline void wt_unlock(void) { __atomic_store_n(&wt_lock_word, 0, __ATOMIC_RELEASE); }

static inline int wt_ok(const char *file, int line, int cond, const char *fmt, ...)
{
    wt_lock();
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
    wt_unlock();
    return cond;
}

static inline void wt_skip(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    const char *base = strrchr(file, '/');
    wt_lock();
    if (!wt_cur)
        wt_section("main");
    printf("%s:%d: Tests skipped: [%s] ", base ? base + 1 : file, line, wt_cur);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    wt_sec_skip++;
    wt_unlock();
}

/* The program's own image: the PE base under Wine, the ELF header natively. */
#ifdef WT_NATIVE
extern char __ehdr_start[];
static inline void *wt_image_base(void) { return __ehdr_start; }
#else
static inline void *wt_image_base(void) { return GetModuleHandleA(NULL); }
#endif

/* VirtualQuery into a poisoned buffer, checked; TRUE when it answered. */
#define wt_query(addr, mbi) wt_query_(__FILE__, __LINE__, (addr), (mbi))
static inline int wt_query_(const char *file, int line, const void *addr, MEMORY_BASIC_INFORMATION *mbi)
{
    memset(mbi, 0xcc, sizeof(*mbi));
    SIZE_T r = VirtualQuery(addr, mbi, sizeof(*mbi));
    wt_ok(file, line, r == sizeof(*mbi), "VirtualQuery(%p) returned %llu, error %u, expected %llu\n", addr,
          (unsigned long long)r, (unsigned)GetLastError(), (unsigned long long)sizeof(*mbi));
    return r == sizeof(*mbi);
}

/* A whole section that cannot run in this build: it reports "skip". */
#define wt_skip_section(name, reason) \
    do { wt_section(name); skip("%s\n", reason); } while (0)

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
