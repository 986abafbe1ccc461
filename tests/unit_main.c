/* The one main() of every CUnit test program; see tests/unit.h. */
#include <stdio.h>
#include <stdlib.h>
#include <CUnit/Basic.h>
#include "unit.h"

CU_pSuite wm_suite(const char *name, CU_InitializeFunc init, CU_CleanupFunc clean)
{
    CU_pSuite s = CU_add_suite(name, init, clean);
    if (!s) {
        fprintf(stderr, "CUnit: cannot add suite %s: %s\n", name, CU_get_error_msg());
        exit(2);
    }
    return s;
}

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    wm_register_tests();
    CU_basic_set_mode(argc > 1 ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "%s: no test ran\n", argv[0]);
        return 1;
    }
    return failed ? 1 : 0;
}
