/*++
/* NAME
/*	htg-sockperm 3
/* SUMMARY
/*	who may connect to the daemons' UNIX-domain sockets
/* SYNOPSIS
/*	#include "htg-sockperm.h"
/* DESCRIPTION
/*	See htg-sockperm.h. Finding 6 of issue 13: the sockets were created
/*	0666, so any local user could claim Message-IDs for any account
/*	(milter) or learn who owns an address (socketmap).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-sockperm.h"

static char sockperm_error[PATH_MAX + 200];

/* fmt has one %s for arg; with_errno appends ": " and strerror(errno) */
static int fail(const char **error_r, int with_errno, const char *fmt,
		const char *arg)
{
	int saved = errno;
	size_t len;

	snprintf(sockperm_error, sizeof(sockperm_error), fmt, arg);
	len = strlen(sockperm_error);
	if (with_errno)
		snprintf(sockperm_error + len, sizeof(sockperm_error) - len,
			 ": %s", strerror(saved));
	*error_r = sockperm_error;
	return -1;
}

int htg_sockperm_parse(const char *mode, const char *group,
		       struct htg_sockperm *perm, const char **error_r)
{
	struct group *gr;
	unsigned long m = 0;
	const char *p;

	/* octal digits only: strtol would take "-1", " 660" or "0x1b6" */
	if (*mode == '\0' || strlen(mode) > 4)
		return fail(error_r, 0, "socket_mode: \"%s\" is not an octal "
			    "mode", mode);
	for (p = mode; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			return fail(error_r, 0, "socket_mode: \"%s\" is not "
				    "an octal mode", mode);
		m = m * 8 + (unsigned long)(*p - '0');
	}
	if (m > 0777)
		return fail(error_r, 0, "socket_mode: \"%s\" is more than "
			    "0777", mode);
	if ((m & 0007) != 0)
		return fail(error_r, 0, "socket_mode: \"%s\" lets every local "
			    "user connect; give access through socket_group "
			    "instead", mode);
	perm->mode = (mode_t)m;
	perm->group = (gid_t)-1;
	perm->group_name = "";
	if (group != NULL && *group != '\0') {
		errno = 0;
		if ((gr = getgrnam(group)) == NULL) {
			if (errno != 0)
				return fail(error_r, 1, "socket_group: look up "
					    "\"%s\"", group);
			return fail(error_r, 0, "socket_group: no group "
				    "\"%s\"", group);
		}
		perm->group = gr->gr_gid;
		perm->group_name = group;
	}
	return 0;
}

mode_t htg_sockperm_umask(void)
{
	return umask(0177);
}

int htg_sockperm_apply(const char *path, uid_t owner,
		       const struct htg_sockperm *perm, const char **error_r)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return fail(error_r, 1, "stat %s", path);
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
		return fail(error_r, 0, "%s: not a socket of this process's "
			    "user", path);
	if ((owner != (uid_t)-1 || perm->group != (gid_t)-1) &&
	    lchown(path, owner, perm->group) < 0) {
		if (errno == EPERM && perm->group != (gid_t)-1) {
			snprintf(sockperm_error, sizeof(sockperm_error),
				 "cannot give %s to group %s: %s (start the "
				 "daemon as root, or make its user a member "
				 "of that group)", path, perm->group_name,
				 strerror(errno));
			*error_r = sockperm_error;
			return -1;
		}
		return fail(error_r, 1, "chown %s", path);
	}
	/* last: the group is right before the mode opens the socket to it */
	if (chmod(path, perm->mode) < 0)
		return fail(error_r, 1, "chmod %s", path);
	return 0;
}

int htg_sockperm_check_dir(const char *path, const char **error_r)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return fail(error_r, 0, "%s: path too long", path);
	else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
	}
	if (stat(dir, &st) < 0)
		return fail(error_r, 1, "stat %s", dir);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st.st_mode & S_ISVTX) == 0)
		return fail(error_r, 0, "%s: writable by other users, who "
			    "could replace the socket; make it 0750 or 0755",
			    dir);
	return 0;
}
