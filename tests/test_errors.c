/* Last error is per thread; NTSTATUS values map to the Win32 errors Windows documents. */
#include <pthread.h>
#include "unit.h"
#include "internal.h"

static void *other_thread(void *arg)
{
    SetLastError(ERROR_INVALID_ADDRESS);
    return (void *)(uintptr_t)GetLastError();
}

static void test_last_error_is_per_thread(void)
{
    pthread_t t;
    void *ret;
    SetLastError(ERROR_BAD_LENGTH);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &ret);
    CU_ASSERT_EQUAL((uintptr_t)ret, ERROR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_BAD_LENGTH);
}

static void test_status_mapping(void)
{
    CU_ASSERT_EQUAL(wm_status_to_error(STATUS_INFO_LENGTH_MISMATCH), ERROR_BAD_LENGTH);
    CU_ASSERT_EQUAL(wm_status_to_error(STATUS_ACCESS_VIOLATION), ERROR_NOACCESS);
    CU_ASSERT_EQUAL(wm_status_to_error(STATUS_INVALID_PARAMETER), ERROR_INVALID_PARAMETER);
    CU_ASSERT_EQUAL(wm_status_to_error(STATUS_MEMORY_NOT_ALLOCATED), ERROR_INVALID_ADDRESS);
    CU_ASSERT_EQUAL(wm_status_to_error(STATUS_PRIVILEGE_NOT_HELD), ERROR_PRIVILEGE_NOT_HELD);
    CU_ASSERT_EQUAL(wm_fail_status(STATUS_INVALID_HANDLE), STATUS_INVALID_HANDLE);
    CU_ASSERT_EQUAL(GetLastError(), ERROR_INVALID_HANDLE);
}

static void test_prot_helpers(void)
{
    CU_ASSERT_EQUAL(wm_prot_base(PAGE_READWRITE | PAGE_GUARD), PAGE_READWRITE);
    CU_ASSERT_EQUAL(wm_prot_base(PAGE_READWRITE | PAGE_READONLY), 0);
    CU_ASSERT_EQUAL(wm_prot_base(0), 0);
    CU_ASSERT_EQUAL(wm_prot_to_unix(PAGE_EXECUTE_READ), PROT_READ | PROT_EXEC);
    CU_ASSERT_EQUAL(wm_prot_to_unix(PAGE_READWRITE | PAGE_GUARD), PROT_NONE);
    CU_ASSERT_EQUAL(wm_prot_from_vma(WM_VMA_READ | WM_VMA_WRITE, true), PAGE_WRITECOPY);
    CU_ASSERT_EQUAL(wm_prot_from_vma(WM_VMA_READ | WM_VMA_EXEC, false), PAGE_EXECUTE_READ);
    CU_ASSERT_EQUAL(wm_prot_from_vma(0, false), PAGE_NOACCESS);
}

void wm_register_tests(void)
{
    CU_pSuite s = wm_suite("errors", NULL, NULL);
    WM_TEST(s, test_last_error_is_per_thread);
    WM_TEST(s, test_status_mapping);
    WM_TEST(s, test_prot_helpers);
}
