/*++
/* NAME
/*	htg-test-dir 3
/* SUMMARY
/*	unit-test harness: a directory handle or the end of the test
/* SYNOPSIS
/*	#include "htg-test.h"
/*
/*	struct htg_dir *test_open_dir(const char *path, int flags)
/* DESCRIPTION
/*	test_open_dir() opens the directory at path (an LMDB folder or a
/*	postgresql:// URI) with htg_dir_open() flags, or prints why it
/*	cannot and exits 1: a test program cannot go on without it.
/*
/*	A file of its own in libhtgtest, so that a test program that never
/*	opens a directory (the Dovecot login plugin's) links no directory
/*	code.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>

#include "htg-dir.h"
#include "htg-test.h"

struct htg_dir *test_open_dir(const char *path, int flags)
{
	struct htg_dir *dir;
	const char *error;

	if (htg_dir_open(path, flags, &dir, &error) != 1) {
		printf("open %s: %s\n", path, error);
		exit(1);
	}
	return dir;
}
