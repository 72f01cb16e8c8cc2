/*++
/* NAME
/*	htg-daemon 3
/* SUMMARY
/*	what htg-milter and htg-policyd share as daemons
/* DESCRIPTION
/*	See htg-daemon.h.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/magic.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-daemon.h"
#include "htg-msg.h"

void htg_daemon_version(const char *name)
{
	printf("%s %s\n", name, PACKAGE_VERSION);
	exit(fflush(stdout) == 0 ? 0 : 1);
}

static void usage(const struct htg_daemon *d)
{
	fprintf(stderr, "usage: %s [-c config] [-f] [-n] [-v] [-o key=value ...] "
		"[-V|--version]\n", d->name);
	exit(2);
}

void htg_daemon_args(struct htg_daemon *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	d->ready_fd = -1;
	d->overrides = calloc((size_t)argc + 1, sizeof(char *));
	if (d->overrides == NULL)
		abort();
	msg_init(d->name, NULL);
	while ((ch = getopt_long(argc, argv, "c:fno:vV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d->config = optarg;
			d->config_given = 1;
			break;
		case 'f':
			d->foreground = 1;
			break;
		case 'n':
			d->check_only = 1;
			break;
		case 'o':
			d->overrides[d->noverrides++] = optarg;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'V':
			htg_daemon_version(d->name);
		default:
			usage(d);
		}
	}
	if (optind != argc)
		usage(d);
}

struct htg_conf *htg_daemon_conf(struct htg_daemon *d)
{
	struct htg_conf *conf = htg_conf_new(d->keys);
	const char *error;

	if (!d->config_given && access(d->config, F_OK) < 0 &&
	    errno == ENOENT)
		msg_warn("no configuration file %s: running on defaults and "
			 "-o settings", d->config);
	else if (htg_conf_load(conf, d->config, &error) < 0 &&
		 htg_conf_error_count(conf) == 0)
		htg_conf_fail(conf, "%s", error);	/* not readable */
	for (int i = 0; i < d->noverrides; i++)
		if (htg_conf_set(conf, d->overrides[i], &error) < 0)
			htg_conf_fail(conf, "%s", error);
	return conf;
}

void htg_daemon_checked(struct htg_daemon *d, struct htg_conf *conf)
{
	size_t n = htg_conf_error_count(conf);

	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s: error: %s\n", d->name,
			htg_conf_error(conf, i));
	if (n > 0) {
		if (!d->check_only)
			msg_fatal("%zu error%s in the configuration, not started",
				  n, n > 1 ? "s" : "");
		exit(1);
	}
	if (d->check_only)
		exit(0);
}

int htg_daemon_reload_report(struct htg_conf *conf)
{
	size_t n = htg_conf_error_count(conf);

	for (size_t i = 0; i < n; i++)
		msg_error("reload: %s", htg_conf_error(conf, i));
	if (n > 0)
		msg_error("reload: %zu error%s in the configuration: the old "
			  "settings stay in force", n, n > 1 ? "s" : "");
	return (int)n;
}

void htg_daemon_restart_keys(const struct htg_conf *old,
			     const struct htg_conf *new,
			     const char *const *keys)
{
	for (const char *const *k = keys; *k != NULL; k++) {
		const char *a = htg_conf_get(old, *k, ""), *b = htg_conf_get(new,
									   *k, "");

		if (strcmp(a, b) != 0)
			msg_warn("reload: %s changed (\"%s\" -> \"%s\"): needs "
				 "restart, the old value stays in force until "
				 "then", *k, a, b);
	}
}

void htg_daemon_log(struct htg_daemon *d, const char *log_file)
{
	const char *error;

	if (msg_open_log(log_file, &error) < 0)
		msg_fatal("%s", error);
	if (d->foreground)
		msg_tty_copy();
}

int htg_daemon_user(struct htg_conf *conf, struct htg_daemon_user *u)
{
	const char *user = htg_conf_get(conf, "user", "");
	struct passwd *pw;

	memset(u, 0, sizeof(*u));
	if (*user == '\0')
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		htg_conf_bad(conf, "user", "no such user \"%s\"%s%s", user,
			     errno != 0 ? ": " : "",
			     errno != 0 ? strerror(errno) : "");
		return -1;
	}
	if (strlen(pw->pw_name) >= sizeof(u->name)) {
		htg_conf_bad(conf, "user", "name too long");
		return -1;
	}
	u->set = 1;
	strcpy(u->name, pw->pw_name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	return 0;
}

void htg_daemon_drop(const struct htg_daemon_user *u, const char *log_file)
{
	if (!u->set)
		return;
	if (geteuid() != 0) {
		if (geteuid() != u->uid)
			msg_warn("not root: ignoring user = %s", u->name);
		return;
	}
	/* SIGHUP reopens it as the user (logrotate) */
	if (log_file != NULL && *log_file != '\0' &&
	    chown(log_file, u->uid, (gid_t)-1) < 0)
		msg_warn("chown %s to %s: %m (SIGHUP cannot reopen it)",
			 log_file, u->name);
	if (initgroups(u->name, u->gid) < 0)
		msg_fatal("initgroups %s: %m", u->name);
	if (setgid(u->gid) < 0)
		msg_fatal("setgid %ld: %m", (long)u->gid);
	if (setuid(u->uid) < 0)
		msg_fatal("setuid %ld: %m", (long)u->uid);
	if (u->uid != 0 && setuid(0) == 0)
		msg_fatal("privileges could be regained after dropping them");
}

void htg_daemon_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		msg_fatal("sigprocmask: %m");
}

void htg_daemon_detach(struct htg_daemon *d)
{
	int fds[2];
	pid_t pid;
	char c;

	if (d->foreground)
		return;
	if (pipe2(fds, O_CLOEXEC) < 0)
		msg_fatal("pipe: %m");
	if ((pid = fork()) < 0)
		msg_fatal("fork: %m");
	if (pid > 0) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) == 1 ? 0 : 1);
	}
	close(fds[0]);
	d->ready_fd = fds[1];
	if (setsid() < 0)
		msg_fatal("setsid: %m");
	if (chdir("/") < 0)
		msg_fatal("chdir /: %m");
}

void htg_daemon_ready(struct htg_daemon *d)
{
	int fd;

	if (d->ready_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) < 0)
		msg_fatal("open /dev/null: %m");
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		msg_fatal("dup2: %m");
	if (fd > 2)
		close(fd);
	if (write(d->ready_fd, "1", 1) != 1)
		msg_warn("cannot notify the parent process: %m");
	close(d->ready_fd);
	d->ready_fd = -1;
}

void htg_daemon_pid_file(struct htg_daemon *d, const char *path)
{
	char buf[32];
	int fd, n;

	if (path == NULL || *path == '\0')
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		msg_fatal("open pid file %s: %m", path);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) < 0)
		msg_fatal("write pid file %s: %m", path);
	if ((d->pid_path = strdup(path)) == NULL)
		abort();
}

void htg_daemon_pid_remove(struct htg_daemon *d)
{
	if (d->pid_path == NULL)
		return;
	if (unlink(d->pid_path) < 0 && errno != ENOENT)
		msg_info("cannot remove %s: %m", d->pid_path);
	free(d->pid_path);
	d->pid_path = NULL;
}

void htg_daemon_disk_dir(struct htg_conf *conf, const char *key,
			 const char *path)
{
	struct statfs fs;
	struct stat st;

	if (stat(path, &st) < 0 || statfs(path, &fs) < 0) {
		htg_conf_bad(conf, key, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		htg_conf_bad(conf, key, "%s is not a directory", path);
		return;
	}
	if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)
		htg_conf_bad(conf, key, "%s is on %s (memory): message bodies "
			     "spooled there would use RAM; give a directory on "
			     "disk, e.g. /var/spool/htg", path,
			     fs.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
}

void htg_daemon_free(struct htg_daemon *d)
{
	htg_daemon_pid_remove(d);
	free(d->overrides);
	d->overrides = NULL;
}
