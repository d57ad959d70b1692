/* cu_main.h — common main() for the project's CUnit test programs.
 *
 * A test program defines `void cu_register(void)` (adding its suites with
 * CU_add_suite / CU_add_test) and includes this header once, in one file.
 * The program prints the CUnit report and a final machine-readable line
 *   CUNIT-SUMMARY <program> passed=N failed=M
 * that tests/summarize.py sums over every program of the run.
 * Exit status is 0 only when nothing failed.
 * CU_ONLY=substring in the environment runs only the tests whose names
 * contain it (the others count as inactive): for working on one test;
 * "a|b" runs the tests that contain a or b.
 */
#ifndef DTLSGW_CU_MAIN_H
#define DTLSGW_CU_MAIN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

void cu_register(void);

/* Whether name contains one of the '|'-separated parts of only. */
static int cu_only_match(const char *only, const char *name)
{
    char part[256];
    while (*only) {
        size_t n = strcspn(only, "|");
        if (n > 0 && n < sizeof(part)) {
            memcpy(part, only, n);
            part[n] = '\0';
            if (strstr(name, part) != NULL)
                return 1;
        }
        only += n;
        if (*only == '|')
            only++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/');
    name = name ? name + 1 : argv[0];
    if (CU_initialize_registry() != CUE_SUCCESS) {
        printf("CUNIT-SUMMARY %s passed=0 failed=1\n", name);
        return 1;
    }
    cu_register();
    const char *only = getenv("CU_ONLY");
    if (only != NULL && only[0] != '\0')
        for (CU_pSuite s = CU_get_registry()->pSuite; s != NULL; s = s->pNext)
            for (CU_pTest t = s->pTest; t != NULL; t = t->pNext)
                if (!cu_only_match(only, t->pName))
                    CU_set_test_active(t, CU_FALSE);
    CU_basic_set_mode(argc > 1 && strcmp(argv[1], "-v") == 0 ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
    unsigned passed =
        run >= CU_get_number_of_tests_failed() ? run - CU_get_number_of_tests_failed() : 0;
    if (CU_get_error() != CUE_SUCCESS && CU_get_error() != CUE_TEST_INACTIVE)
        failed++;
    printf("\nCUNIT-SUMMARY %s passed=%u failed=%u\n", name, passed, failed);
    fflush(stdout);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#endif
