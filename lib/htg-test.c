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

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

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

static char tmpdir_path[TEST_TMPDIR_MAX];

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0)
		printf("cleanup: cannot remove %s\n", path);
	return 0;
}

static void tmpdir_remove(void)
{
	if (tmpdir_path[0] != '\0')
		(void)nftw(tmpdir_path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_tmpdir(const char *name)
{
	if (tmpdir_path[0] != '\0')
		return tmpdir_path;	/* one per test program */
	snprintf(tmpdir_path, sizeof(tmpdir_path), "/tmp/htg-test-%.20s.XXXXXX",
		 name);
	if (mkdtemp(tmpdir_path) == NULL) {
		printf("mkdtemp %s failed\n", tmpdir_path);
		exit(2);
	}
	atexit(tmpdir_remove);
	return tmpdir_path;
}

