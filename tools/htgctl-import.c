/*++
/* NAME
/*	htgctl-import 3
/* SUMMARY
/*	htgctl import: many directory changes from standard input
/* SYNOPSIS
/*	htgctl [-d DIR] import
/* DESCRIPTION
/*	Reads one change per line from standard input, fields separated
/*	by one tab:
/* .nf
/*	account	USER	PASSWORD	add, or set the password if it exists
/*	address	ADDRESS	USER
/*	flow	FLOW	DELIVER-TO
/*	grant	USER	FLOW
/*	revoke	USER	FLOW
/* .fi
/*	Empty lines and lines starting with # are skipped. Passwords come
/*	from stdin only and are stored as one-way hashes, as with
/*	"account add --password-stdin". Every change is what the command
/*	of the same name does (idempotent for address, flow and grant).
/*
/*	For speed (provisioning 10,000 accounts) the directory is opened
/*	once and the commits of this handle flush only their data pages
/*	(HTG_DIR_LAZYSYNC, one flush instead of two); the data file is
/*	fsync'ed once more at the end (the last meta page), so
/*	when import exits 0 everything is durable. Readers see each
/*	change as soon as it is committed.
/*
/*	The first refused line stops the import: the lines before it are
/*	in the directory, the message names the line number.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-passwd.h"
#include "htgctl.h"

#define IMPORT_LINE_MAX 2048

static int import_account(struct htg_dir *dir, const char *user,
			  const char *password, const char **error)
{
	struct htg_account a, old;
	int ret;

	memset(&a, 0, sizeof(a));
	a.retention_days = HTG_DEFAULT_RETENTION_DAYS;
	a.max_size = HTG_DEFAULT_MAX_SIZE;
	if (strlen(user) >= sizeof(a.user)) {
		*error = "user name too long";
		return 0;
	}
	if (password[0] == '\0') {
		*error = "empty password";
		return 0;
	}
	strcpy(a.user, user);
	if (htg_passwd_hash(password, a.pwhash, sizeof(a.pwhash)) < 0) {
		*error = "password hashing failed";
		return -1;
	}
	ret = htg_dir_account_get(dir, user, &old, error);
	explicit_bzero(&old, sizeof(old));
	if (ret == 1)
		ret = htg_dir_account_set_hash(dir, user, a.pwhash, error);
	else if (ret == 0)
		ret = htg_dir_account_add(dir, &a, error);
	explicit_bzero(&a, sizeof(a));
	return ret;
}

/* fsync the data file: the last meta page becomes durable */
static int sync_dir(void)
{
	const char *path = ctl_dir_path != NULL ? ctl_dir_path : getenv(HTG_DIR_ENV);
	char file[4096];
	int fd, ret;

	if (path == NULL)
		path = HTG_DIR_DEFAULT;
	snprintf(file, sizeof(file), "%s/data.mdb", path);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

int cmd_import(int argc, char **argv)
{
	char line[IMPORT_LINE_MAX];
	struct htg_dir *dir;
	const char *error = NULL;
	unsigned long lineno = 0, done = 0;
	int ret = 1;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	if (htg_dir_open(ctl_dir_path, HTG_DIR_CREATE | HTG_DIR_LAZYSYNC, &dir,
			 &error) != 1) {
		fprintf(stderr, "htgctl: %s\n", error);
		return EXIT_REFUSED;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *f[3], *p = line;
		size_t len = strlen(line);
		int n = 0;

		lineno++;
		if (len > 0 && line[len - 1] != '\n' && !feof(stdin)) {
			error = "line too long";
			ret = 0;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		/* exactly three tab-separated fields; the third may hold
		   anything but a tab (a password may contain spaces) */
		while (n < 3 && p != NULL) {
			f[n++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (n != 3 || p != NULL) {
			error = "expected: KIND<TAB>FIELD<TAB>FIELD";
			ret = 0;
		} else if (strcmp(f[0], "account") == 0) {
			ret = name_ok(NAME_ACCOUNT, f[1], &error) ?
			    import_account(dir, f[1], f[2], &error) : 0;
		} else if (strcmp(f[0], "address") == 0) {
			ret = name_ok(NAME_ADDRESS, f[1], &error) &&
			    name_ok(NAME_ACCOUNT, f[2], &error) ?
			    htg_dir_address_add(dir, f[1], f[2], &error) : 0;
		} else if (strcmp(f[0], "flow") == 0) {
			ret = name_ok(NAME_FLOW, f[1], &error) &&
			    name_ok(NAME_ADDRESS, f[2], &error) ?
			    htg_dir_flow_add(dir, f[1], f[2], &error) : 0;
		} else if (strcmp(f[0], "grant") == 0) {
			ret = name_ok(NAME_ACCOUNT, f[1], &error) &&
			    name_ok(NAME_FLOW, f[2], &error) ?
			    htg_dir_grant_add(dir, f[1], f[2], &error) : 0;
		} else if (strcmp(f[0], "revoke") == 0) {
			ret = htg_dir_grant_del(dir, f[1], f[2], &error);
			if (ret == 0 && error != NULL &&
			    strcmp(error, "no such grant") == 0)
				ret = 1;	/* not granted: already so */
		} else {
			error = "unknown kind (account, address, flow, grant, "
				"revoke)";
			ret = 0;
		}
		explicit_bzero(line, sizeof(line));
		if (ret != 1)
			break;
		done++;
	}
	htg_dir_close(&dir);
	if (sync_dir() < 0 && ret == 1) {
		error = "cannot fsync the directory";
		ret = -1;
	}
	if (ret != 1) {
		fprintf(stderr, "htgctl: import: line %lu: %s (%lu changes "
			"before it are in the directory)\n", lineno,
			error != NULL ? error : "failed", done);
		return EXIT_REFUSED;
	}
	fprintf(stderr, "htgctl: import: %lu changes\n", done);
	return 0;
}
