/*
 * Hostile pointers and sizes handed to the core: output
 * pointers just below the top of the address space, in the kernel half, or
 * whose end wraps, and ranges whose rounded end wraps past 2^64. Each must
 * fail with the documented Windows error; none may crash the caller.
 */
#include <stdint.h>
#include <string.h>
#include "unit.h"
#include "winmem/memory.h"

#define KERNEL_HALF ((void *)0xffff800000000000ULL)
#define TOP64 ((void *)(uintptr_t)-64)

static void test_query_buffer_at_top_of_address_space(void)
{
    int here;
    MEMORY_BASIC_INFORMATION *bad[] = { TOP64, KERNEL_HALF, (void *)(uintptr_t)-8 };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        SetLastError(0);
        CU_ASSERT_EQUAL(VirtualQuery(&here, bad[i], sizeof(MEMORY_BASIC_INFORMATION)), 0);
        CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
        CU_ASSERT_EQUAL(NtQueryVirtualMemory((HANDLE)-1, &here, MemoryBasicInformation, bad[i],
                                             sizeof(MEMORY_BASIC_INFORMATION), NULL),
                        STATUS_ACCESS_VIOLATION);
    }
}

static void test_query_return_length_bad(void)
{
    int here;
    MEMORY_BASIC_INFORMATION mbi;
    SIZE_T *bad[] = { (SIZE_T *)0xffffffffff600000ULL, KERNEL_HALF, (SIZE_T *)(uintptr_t)-8 };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT_EQUAL(NtQueryVirtualMemory((HANDLE)-1, &here, MemoryBasicInformation, &mbi, sizeof mbi, bad[i]),
                        STATUS_ACCESS_VIOLATION);
        char *p = VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE);
        WIN32_MEMORY_REGION_INFORMATION ri;
        SetLastError(0);
        CU_ASSERT_FALSE(QueryVirtualMemoryInformation((HANDLE)-1, p, MemoryRegionInfo, &ri, sizeof ri, bad[i]));
        CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
        VirtualFree(p, 0, MEM_RELEASE);
    }
}

static void test_protect_old_pointer_bad(void)
{
    char *p = VirtualAlloc(NULL, 4096, MEM_COMMIT, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    DWORD *bad[] = { (DWORD *)(uintptr_t)-8, (DWORD *)(uintptr_t)-2, KERNEL_HALF };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        SetLastError(0);
        CU_ASSERT_FALSE(VirtualProtect(p, 4096, PAGE_READONLY, bad[i]));
        CU_ASSERT_EQUAL(GetLastError(), ERROR_NOACCESS);
    }
    MEMORY_BASIC_INFORMATION m;
    CU_ASSERT_EQUAL(VirtualQuery(p, &m, sizeof m), sizeof m);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);   /* nothing changed */
    CU_ASSERT_TRUE(VirtualFree(p, 0, MEM_RELEASE));
}

/* The rounded end of [addr, addr+size) wraps to the start: an empty range
 * that "succeeded" before. Windows refuses a range past the user space. */
static void test_ranges_that_wrap(void)
{
    char *p = VirtualAlloc(NULL, 65536, MEM_COMMIT, PAGE_READWRITE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    DWORD old = 0;
    SetLastError(0);
    CU_ASSERT_FALSE(VirtualProtect(p, SIZE_MAX, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_FALSE(VirtualProtect(p + 4096, SIZE_MAX - 4095, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_FALSE(VirtualLock((void *)1, SIZE_MAX));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_FALSE(VirtualUnlock((void *)1, SIZE_MAX));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_FALSE(VirtualLock(p, SIZE_MAX));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_PTR_NULL(VirtualAlloc(p, SIZE_MAX, MEM_COMMIT, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_PTR_NULL(VirtualAlloc(p, SIZE_MAX, MEM_RESET, PAGE_READWRITE));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CU_ASSERT_FALSE(VirtualFree(p, SIZE_MAX - 4095, MEM_DECOMMIT));
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_PARAMETER);
    /* The pages kept their state through all of it. */
    MEMORY_BASIC_INFORMATION m;
    CU_ASSERT_EQUAL(VirtualQuery(p, &m, sizeof m), sizeof m);
    CU_ASSERT_EQUAL(m.Protect, PAGE_READWRITE);
    CU_ASSERT_EQUAL(m.State, MEM_COMMIT);
    CU_ASSERT_EQUAL(m.RegionSize, 65536);
    p[0] = 1;
    /* A range that ends exactly at the top of the user space is no wrap. */
    CU_ASSERT_TRUE(VirtualProtect(p, 4096, PAGE_READONLY, &old));
    CU_ASSERT_EQUAL(old, PAGE_READWRITE);
    CU_ASSERT_TRUE(VirtualFree(p, 0, MEM_RELEASE));
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("hostile pointers and ranges", NULL, NULL);
    WM_TEST(s, test_query_buffer_at_top_of_address_space);
    WM_TEST(s, test_query_return_length_bad);
    WM_TEST(s, test_protect_old_pointer_bad);
    WM_TEST(s, test_ranges_that_wrap);
}
