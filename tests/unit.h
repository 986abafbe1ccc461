/*
 * tests/unit.h — what every CUnit test program in tests/ shares.
 * A test file defines wm_register_tests() and adds its suites there;
 * tests/unit_main.c runs them and exits non-zero on any failure.
 */
#ifndef WINMEM_TESTS_UNIT_H
#define WINMEM_TESTS_UNIT_H
#include <CUnit/CUnit.h>

void wm_register_tests(void);

/* Adds a suite; stops the program if CUnit cannot. */
CU_pSuite wm_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean);
#define WM_TEST(suite, fn) CU_add_test((suite), #fn, (fn))

#endif
