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

#include <stdlib.h>

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

char *test_slurp(const char *path, size_t *len_r)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t size = 0, len = 0, n;

	if (fp == NULL)
		return NULL;
	do {
		if (len + 65536 + 1 > size) {
			size = (len + 65536 + 1) * 2;
			if ((buf = realloc(buf, size)) == NULL)
				exit(2);
		}
		n = fread(buf + len, 1, 65536, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}
