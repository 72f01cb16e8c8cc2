#ifndef HTG_TEST_H
#define HTG_TEST_H

/*++
/* NAME
/*	htg-test 3h
/* SUMMARY
/*	minimal unit-test harness (Dovecot test-common style)
/* SYNOPSIS
/*	test_begin("name"); test_assert(expr); test_end();
/*	return test_exit();
/* DESCRIPTION
/*	Prints one "ok"/"FAIL" line per test and a final "N passed, N failed"
/*	line; test_exit() returns the automake exit status.
/*--*/

#include <stdio.h>

extern int test_passed, test_failed, test_cur_failed;
extern const char *test_cur_name;

#define test_assert(expr) do { \
	if (!(expr)) { \
		printf("  assertion failed at %s:%d: %s\n", __FILE__, \
		       __LINE__, #expr); \
		test_cur_failed++; \
	} \
} while (0)

#define test_assert_idx(expr, idx) do { \
	if (!(expr)) { \
		printf("  assertion failed at %s:%d (case %d): %s\n", \
		       __FILE__, __LINE__, (int)(idx), #expr); \
		test_cur_failed++; \
	} \
} while (0)

void test_begin(const char *name);
void test_end(void);
int test_exit(void);
/* A whole file in memory (test tools only), NUL-terminated; *len_r
   excludes the NUL. NULL when it cannot be opened; exits on ENOMEM. */
char *test_slurp(const char *path, size_t *len_r);

/* The one temporary-directory fixture: a fresh /tmp/htg-test-NAME.XXXXXX
   (mode 0700), removed with all it holds when the test program exits,
   whatever the test left in it. Exits 2 when it cannot be made. */
#define TEST_TMPDIR_MAX 64
const char *test_tmpdir(const char *name);

/* The directory at path (a folder or a postgresql:// URI) opened with
   htg_dir_open() flags; exits 1 when it cannot be (htg-test-dir.c). */
struct htg_dir;
struct htg_dir *test_open_dir(const char *path, int flags);

#endif
