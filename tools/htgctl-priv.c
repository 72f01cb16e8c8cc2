/*++
/* NAME
/*	htgctl-priv 3
/* SUMMARY
/*	htgctl drops root before it touches the directory or a mail home
/* SYNOPSIS
/*	htgctl [-d DIR] init [--owner USER]
/* DESCRIPTION
/*	The directory and the mail homes belong to the mail user (htg):
/*	Dovecot's mail processes and our daemons write them. htgctl is
/*	run by the admin as root and by the retention timer; if it
/*	opened, copied, chowned and unlinked as root the paths that the
/*	mail user controls, that user could steer it (a symbolic link in
/*	place of a kept copy, a retention folder or lock.mdb; a forged
/*	retention record). So, as Postfix's postsuper becomes mail_owner
/*	(set_ugid) and Dovecot's doveadm the mail user (restrict_access)
/*	before they touch the queue or a mailbox, htgctl started as root
/*	first becomes the owner of the directory: supplementary groups (initgroups), then
/*	gid, then uid, all three ids (real, effective, saved), and checks
/*	that setuid(0) now fails. From then on the kernel keeps it to
/*	what the mail user may do anyway.
/*
/*	As root, htgctl refuses a directory that does not exist or is
/*	owned by root (it would have to stay root to use it), except for
/*	init, which creates it: as root it makes DIR (if missing), gives
/*	it to --owner USER (default $HTG_MAIL_USER, else htg) and that
/*	user's group with mode 2770, whatever the umask, then drops to
/*	that user and creates the LMDB files (mode 0660). A directory
/*	owned by root (made by an older htgctl run as root) is handed over
/*	with its data.mdb and lock.mdb. A directory owned by another
/*	non-root user than --owner is refused.
/*
/*	Whoever runs it, htgctl sets its umask to 007: what it creates
/*	is group-writable (Dovecot's processes reach the directory
/*	through the group) and never world-accessible. It refuses to open
/*	a directory whose data.mdb or lock.mdb is not a regular file.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htgctl.h"

#define DIR_MODE	02770
#define FILE_MODE	0660

static void __attribute__((noreturn, format(printf, 1, 2)))
priv_fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("htgctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_REFUSED);
}

/* Become pw for good: groups, gid, uid (real, effective, saved). */
static void priv_drop(const struct passwd *pw)
{
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		priv_fatal("%s: the directory's owner must not be root or have "
			   "root's group", pw->pw_name);
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		priv_fatal("cannot become %s (uid %ld): %s", pw->pw_name,
			   (long)pw->pw_uid, strerror(errno));
	/* doveadm's restrict_access() checks the same way: a drop that can
	   be undone is no drop */
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() == 0 ||
	    geteuid() == 0)
		priv_fatal("root privileges could not be dropped");
	if (setgid(0) == 0 || getgid() == 0 || getegid() == 0)
		priv_fatal("root group privileges could not be dropped");
}

/* data.mdb and lock.mdb, if there, must be files (LMDB would write
   through a symbolic link). */
static void priv_check_files(int dfd, const char *path)
{
	static const char *const names[] = { "data.mdb", "lock.mdb" };
	struct stat st;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			priv_fatal("%s/%s: %s", path, names[i],
				   strerror(errno));
		}
		if (!S_ISREG(st.st_mode))
			priv_fatal("%s/%s is not a regular file (a symbolic "
				   "link?): refused", path, names[i]);
	}
}

static const char *dir_resolve(void)
{
	const char *path = ctl_dir_path;

	if (path == NULL || *path == '\0')
		path = getenv(HTG_DIR_ENV);
	if (path == NULL || *path == '\0')
		path = HTG_DIR_DEFAULT;
	return path;
}

/* The folder whose owner htgctl works as: the LMDB directory, or for a
   PostgreSQL directory this machine's state folder (the pickup
   journal), HTG_STATE_DIR. */
static const char *dir_folder(int *uri_r)
{
	const char *path = dir_resolve();

	*uri_r = htg_dir_is_uri(path);
	if (!*uri_r)
		return path;
	path = getenv(HTG_STATE_ENV);
	return path != NULL && *path != '\0' ? path : HTG_STATE_DEFAULT;
}

/* init as root: make DIR the owner's, mode 2770; returns the owner */
static const struct passwd *init_as_root(const char *path, const char *owner)
{
	const struct passwd *pw;
	struct stat st;
	int fd;

	if (owner == NULL || *owner == '\0')
		owner = getenv("HTG_MAIL_USER");
	if (owner == NULL || *owner == '\0')
		owner = HTG_MAIL_USER_DEFAULT;
	if ((pw = getpwnam(owner)) == NULL)
		priv_fatal("init: no such user: %s", owner);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		priv_fatal("init: the directory's owner must not be root or "
			   "have root's group");
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		priv_fatal("init: mkdir %s: %s", path, strerror(errno));
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		       O_CLOEXEC)) < 0)
		priv_fatal("init: %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		priv_fatal("init: %s: %s", path, strerror(errno));
	if (st.st_uid != 0 && st.st_uid != pw->pw_uid)
		priv_fatal("init: %s belongs to uid %ld, not to %s: refused",
			   path, (long)st.st_uid, owner);
	/* owner first (a chown clears the set-gid bit), then the mode,
	   on the fd: whatever the umask, no path to swap */
	if (fchown(fd, pw->pw_uid, pw->pw_gid) < 0 ||
	    fchmod(fd, DIR_MODE) < 0)
		priv_fatal("init: %s: %s", path, strerror(errno));
	priv_check_files(fd, path);
	/* a directory root made before (htgctl run as root used to create
	   it): its LMDB files are handed over too. Only then: in a
	   directory root owned, nobody else could have put a link. */
	if (st.st_uid == 0) {
		static const char *const names[] = { "data.mdb", "lock.mdb" };

		for (size_t i = 0; i < 2; i++) {
			if (fchownat(fd, names[i], pw->pw_uid, pw->pw_gid,
				     AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
				priv_fatal("init: %s/%s: %s", path, names[i],
					   strerror(errno));
		}
	}
	close(fd);
	return pw;
}

void priv_setup(const char *command, const char *init_owner)
{
	static char real[PATH_MAX];
	const struct passwd *pw;
	struct stat st, st2;
	int uri, init = strcmp(command, "init") == 0, fd;
	const char *path = dir_folder(&uri);

	umask(007);
	if (geteuid() != 0) {
		if (init && mkdir(path, DIR_MODE) < 0 && errno != EEXIST)
			priv_fatal("init: mkdir %s: %s", path,
				   strerror(errno));
		if (init && chmod(path, DIR_MODE) < 0)
			priv_fatal("init: chmod %s: %s", path,
				   strerror(errno));
		if ((fd = open(path, O_RDONLY | O_DIRECTORY |
			       O_CLOEXEC)) >= 0) {
			priv_check_files(fd, path);
			close(fd);
		}
		return;
	}
	if (init)
		(void)init_as_root(path, init_owner);
	if (realpath(path, real) == NULL)
		priv_fatal("%s: %s%s", path, strerror(errno),
			   errno == ENOENT ? " (create it with htgctl init)" :
			   "");
	if ((fd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		       O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
		priv_fatal("%s: %s", real, strerror(errno));
	if (st.st_uid == 0)
		priv_fatal("%s is owned by root: htgctl works on the directory "
			   "as its owner, the mail user (create it with htgctl "
			   "init, or chown -R it to that user)", real);
	if ((pw = getpwuid(st.st_uid)) == NULL)
		priv_fatal("%s: its owner uid %ld has no passwd entry", real,
			   (long)st.st_uid);
	priv_drop(pw);
	/* the path still leads to the directory checked as root */
	if (stat(real, &st2) < 0 || st2.st_dev != st.st_dev ||
	    st2.st_ino != st.st_ino)
		priv_fatal("%s changed while htgctl opened it", real);
	priv_check_files(fd, real);
	close(fd);
	if (!uri)
		ctl_dir_path = real;
}

/* init of a PostgreSQL directory: the schema's migrations (the state
   folder was made by priv_setup(), as root, like an LMDB folder) */
static int init_shared(void)
{
	struct htg_dir *dir;
	const char *error;
	int from, to;

	if (htg_dir_open(dir_resolve(), HTG_DIR_NOSCHEMA, &dir, &error) != 1) {
		fprintf(stderr, "htgctl: %s\n", error);
		return EXIT_REFUSED;
	}
	if (htg_dir_migrate(dir, &from, &to, &error) < 0) {
		fprintf(stderr, "htgctl: init: %s\n", error);
		htg_dir_close(&dir);
		return EXIT_REFUSED;
	}
	if (from == to)
		printf("schema version %d: up to date\n", to);
	else
		printf("schema version %d -> %d\n", from, to);
	if (!htg_dir_text_exact(dir))
		fprintf(stderr, "htgctl: init: note: the database is not "
			"SQL_ASCII: a byte of an audit field that is not UTF-8 "
			"(a hostile Message-ID) will be stored as '?'; CREATE "
			"DATABASE ... ENCODING 'SQL_ASCII' TEMPLATE template0 "
			"keeps them\n");
	htg_dir_close(&dir);
	return 0;
}

/* init [--owner USER]: priv_setup() made and handed over DIR; here,
   as its owner, the LMDB files and their modes. */
int cmd_init(int argc, char **argv)
{
	struct htg_dir *dir;
	char file[PATH_MAX + 16];
	const char *path;

	(void)argv;
	if (argc != 0 && argc != 2)
		ctl_usage();
	if (htg_dir_is_uri(dir_resolve()))
		return init_shared();
	dir = ctl_open_dir(1);
	path = htg_dir_path(dir);
	for (int i = 0; i < 2; i++) {
		snprintf(file, sizeof(file), "%s/%s", path,
			 i == 0 ? "data.mdb" : "lock.mdb");
		if (chmod(file, FILE_MODE) < 0)
			fprintf(stderr, "htgctl: warning: chmod %s: %s\n",
				file, strerror(errno));
	}
	printf("initialised %s\n", path);
	htg_dir_close(&dir);
	return 0;
}
