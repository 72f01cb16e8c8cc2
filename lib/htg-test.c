/*++
/* NAME
/*	htg-test 3
/* SUMMARY
/*	minimal unit-test harness
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"
#include "htg-test.h"

int test_passed, test_failed, test_cur_failed;
const char *test_cur_name;

void test_begin(const char *name)
{
	test_cur_name = name;
	test_cur_failed = 0;
}

void test_end(void)
{
	printf("%s %s\n", test_cur_failed == 0 ? "ok  " : "FAIL", test_cur_name);
	if (test_cur_failed == 0)
		test_passed++;
	else
		test_failed++;
	test_cur_name = NULL;
}

int test_exit(void)
{
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed == 0 ? 0 : 1;
}
