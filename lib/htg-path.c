/*++
/* NAME
/*	htg-path 3
/* SUMMARY
/*	paths from records, opened under the mail root without symlinks
/* DESCRIPTION
/*	See htg-path.h. htgctl runs as the directory's owner (it drops
/*	root first), so the kernel already keeps it from what that user
/*	cannot reach; this keeps a forged or swapped path from reaching
/*	outside the mail root even for that user (defence in depth).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-path.h"

static char path_errbuf[4096 + 512];

static size_t root_len(const char *root)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	return n;
}

int htg_path_under(const char *root, const char *path)
{
	size_t n = root_len(root);
	const char *p;
	int components = 0;

	if (n == 0 || strncmp(path, root, n) != 0 ||
	    (path[n] != '/' && !(n == 1 && root[0] == '/')))
		return 0;
	for (p = path + n; *p != '\0';) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (len == 0)
			break;
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		components++;
		p += len;
	}
	return components > 0;
}

static int path_fail(const char *what, const char *path,
		     const char **error_r)
{
	int saved = errno;

	snprintf(path_errbuf, sizeof(path_errbuf), "%s %s: %s", what, path,
		 errno == ELOOP ? "a symbolic link where a directory or "
		 "file was expected" : strerror(errno));
	*error_r = path_errbuf;
	errno = saved;
	return -1;
}

/* Walk path (under root) up to, not including, its last stop_last
   components, each one opened with O_NOFOLLOW | O_DIRECTORY. */
static int path_walk(const char *root, const char *path, int stop_last,
		     const char **name_r, const char **error_r)
{
	char comp[256], rootbuf[4096];
	size_t n = root_len(root);
	const char *p, *last = NULL;
	int fd, next;

	if (!htg_path_under(root, path)) {
		errno = EPERM;
		snprintf(path_errbuf, sizeof(path_errbuf),
			 "%s: not under the mail root %s", path, root);
		*error_r = path_errbuf;
		return -1;
	}
	if (n >= sizeof(rootbuf)) {
		errno = ENAMETOOLONG;
		return path_fail("open", root, error_r);
	}
	memcpy(rootbuf, root, n);
	rootbuf[n] = '\0';
	/* the last component */
	for (p = path + n; *p != '\0';) {
		size_t len;

		p += strspn(p, "/");
		if ((len = strcspn(p, "/")) == 0)
			break;
		last = p;
		p += len;
	}
	if ((fd = open(rootbuf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return path_fail("open mail root", rootbuf, error_r);
	for (p = path + n; *p != '\0';) {
		size_t len;

		p += strspn(p, "/");
		if ((len = strcspn(p, "/")) == 0)
			break;
		if (stop_last && p == last)
			break;
		if (len >= sizeof(comp)) {
			close(fd);
			errno = ENAMETOOLONG;
			return path_fail("open", path, error_r);
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		if (next < 0 && errno == ENOTDIR) {
			struct stat st;

			/* O_DIRECTORY makes a link ENOTDIR: say what it is */
			if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				errno = ELOOP;
			else
				errno = ENOTDIR;
		}
		if (next < 0) {
			(void)path_fail("open", path, error_r);
			close(fd);
			return -1;
		}
		close(fd);
		fd = next;
		p += len;
	}
	if (name_r != NULL)
		*name_r = last;
	return fd;
}

int htg_path_open_dir(const char *root, const char *path,
		      const char **error_r)
{
	return path_walk(root, path, 0, NULL, error_r);
}

int htg_path_open_parent(const char *root, const char *path,
			 const char **name_r, const char **error_r)
{
	int fd = path_walk(root, path, 1, name_r, error_r);

	/* the last component is a name in that directory: "a/b/" has none */
	if (fd >= 0 && strchr(*name_r, '/') != NULL) {
		close(fd);
		errno = EISDIR;
		return path_fail("open", path, error_r);
	}
	return fd;
}
