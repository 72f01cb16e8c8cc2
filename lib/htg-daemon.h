#ifndef HTG_DAEMON_H
#define HTG_DAEMON_H

/*++
/* NAME
/*	htg-daemon 3h
/* SUMMARY
/*	what htg-milter and htg-policyd share as daemons
/* SYNOPSIS
/*	#include "htg-daemon.h"
/*
/*	void	htg_daemon_args(struct htg_daemon *d, int argc, char **argv);
/*	struct htg_conf *htg_daemon_conf(struct htg_daemon *d);
/*	void	htg_daemon_checked(struct htg_daemon *d, struct htg_conf *conf);
/*	int	htg_daemon_reload_report(struct htg_conf *conf);
/*	void	htg_daemon_restart_keys(const struct htg_conf *old,
/*			const struct htg_conf *new, const char *const *keys);
/*	void	htg_daemon_log(struct htg_daemon *d, const char *log_file);
/*	int	htg_daemon_user(struct htg_conf *conf, struct htg_daemon_user *u);
/*	void	htg_daemon_drop(const struct htg_daemon_user *u,
/*			const char *log_file);
/*	void	htg_daemon_signals(void);
/*	void	htg_daemon_detach(struct htg_daemon *d);
/*	void	htg_daemon_ready(struct htg_daemon *d);
/*	void	htg_daemon_pid_file(struct htg_daemon *d, const char *path);
/*	void	htg_daemon_pid_remove(struct htg_daemon *d);
/*	void	htg_daemon_disk_dir(struct htg_conf *conf, const char *key,
/*			const char *path);
/*	void	htg_daemon_version(const char *name);
/* DESCRIPTION
/*	The options, the order of the start and the checks are the same in
/*	both daemons (htg-milter(8), htg-policyd(8)):
/* .IP "-c file"
/*	The configuration file (d->config is the default). A file given
/*	with -c must exist. A missing default file is not an error: the
/*	daemon says so (warning) and runs on defaults and -o.
/* .IP "-f, -v, -o key=value"
/*	Foreground, verbose, override (applied after the file; kept on
/*	reload).
/* .IP -n
/*	Check the configuration and exit: print each error (file:line:
/*	key: what is wrong) on stderr, nothing else; exit 1 if there was
/*	one, else 0. Nothing is bound, opened or started.
/* .IP "-V, --version"
/*	Print "program version" (configure.ac's AC_INIT) and exit 0.
/* .PP
/*	htg_daemon_conf() reads the file and the -o settings into a new
/*	htg_conf (errors recorded in it, htg-conf(3)). The program then
/*	reads every key with the typed getters (which record bad values),
/*	and calls htg_daemon_checked(): with errors it prints them all and
/*	exits 1; with -n it exits 0. On SIGHUP the program does the same
/*	into a new conf, and htg_daemon_reload_report() logs the errors
/*	(returns their count: the caller keeps the old settings);
/*	htg_daemon_restart_keys() logs each key among keys whose value
/*	changed as "needs restart".
/*
/*	htg_daemon_log(): log_file empty: syslog (facility mail); else the
/*	file (msg_open_log(3)). In the foreground with stderr a terminal,
/*	lines are copied to stderr.
/*
/*	htg_daemon_user() resolves the "user" key (an unknown user is a
/*	configuration error); htg_daemon_drop() then, when running as
/*	root, sets the user's groups (initgroups: its supplementary groups
/*	too), gid and uid, and makes sure root cannot be regained. The log
/*	file (opened as root) is given to the user first: a reload reopens
/*	it as the user, and after logrotate moved it the user creates it
/*	again, so its directory must let the user write. Not root:
/*	a user other than the current one is a warning, nothing changes.
/*
/*	htg_daemon_signals() blocks SIGHUP, SIGTERM and SIGINT (taken with
/*	sigwait or a signalfd by the program) and ignores SIGPIPE.
/*
/*	htg_daemon_detach() (not with -f) forks; the parent waits until the
/*	child calls htg_daemon_ready() and exits 0, or exits 1 if the child
/*	dies first, so that a start command (or systemd, Type=forking)
/*	learns whether the daemon came up. Standard error stays open until
/*	ready (a fatal error during the start is seen by whoever started
/*	the daemon), then stdin, stdout and stderr are /dev/null.
/*
/*	htg_daemon_disk_dir() records a configuration error unless path is
/*	a directory on a disk file system: tmpfs and ramfs are refused (a
/*	50 MB message body spooled there would be held in memory).
/*--*/

#include <sys/types.h>

struct htg_conf;

struct htg_daemon {
	/* set by the program */
	const char *name;		/* program name, e.g. "htg-milter" */
	const char *config;		/* default configuration file */
	const char *const *keys;	/* the keys it knows */
	/* set by htg_daemon_args() */
	int foreground, check_only, config_given;
	int noverrides;
	char **overrides;
	/* internal */
	int ready_fd;
	char *pid_path;
};

struct htg_daemon_user {
	int set;			/* 0: stay who we are */
	char name[64];
	uid_t uid;
	gid_t gid;
};

void htg_daemon_args(struct htg_daemon *d, int argc, char **argv);
struct htg_conf *htg_daemon_conf(struct htg_daemon *d);
void htg_daemon_checked(struct htg_daemon *d, struct htg_conf *conf);
int htg_daemon_reload_report(struct htg_conf *conf);
void htg_daemon_restart_keys(const struct htg_conf *old,
			     const struct htg_conf *new,
			     const char *const *keys);
void htg_daemon_log(struct htg_daemon *d, const char *log_file);
int htg_daemon_user(struct htg_conf *conf, struct htg_daemon_user *u);
void htg_daemon_drop(const struct htg_daemon_user *u, const char *log_file);
void htg_daemon_signals(void);
void htg_daemon_detach(struct htg_daemon *d);
void htg_daemon_ready(struct htg_daemon *d);
void htg_daemon_pid_file(struct htg_daemon *d, const char *path);
void htg_daemon_pid_remove(struct htg_daemon *d);
void htg_daemon_disk_dir(struct htg_conf *conf, const char *key,
			 const char *path);
void htg_daemon_version(const char *name) __attribute__((noreturn));
void htg_daemon_free(struct htg_daemon *d);

#endif
