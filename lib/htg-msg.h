#ifndef HTG_MSG_H
#define HTG_MSG_H

/*++
/* NAME
/*	htg-msg 3h
/* SUMMARY
/*	diagnostics in the Postfix msg(3) tradition
/* SYNOPSIS
/*	#include "htg-msg.h"
/*
/*	void	msg_init(const char *progname, const char *logfile);
/*	int	msg_open_log(const char *logfile, const char **error_r);
/*	void	msg_tty_copy(void);
/*	void	msg_info(const char *fmt, ...);
/*	void	msg_warn(const char *fmt, ...);
/*	void	msg_error(const char *fmt, ...);
/*	void	msg_fatal(const char *fmt, ...);
/*	void	msg_panic(const char *fmt, ...);
/*
/*	size_t	msg_format(char *line, size_t size, const char *level,
/*			   const char *fmt, va_list ap);
/* DESCRIPTION
/*	One line per call: "<time> <progname>[pid]: <level>: text". With a
/*	log file each line is written with one write(2) on an O_APPEND
/*	descriptor, so lines of concurrent processes and threads never mix.
/*	msg_init() with no log file: lines go to stderr (tools, tests, a
/*	daemon until its configuration is read). msg_fatal exits 1; msg_panic
/*	(a broken invariant) aborts. Never pass a secret to these functions.
/*
/*	msg_open_log() is how the daemons log: an empty or NULL logfile
/*	means syslog(3), facility mail, ident the program name, the pid in
/*	each line (LOG_PID), so decisions land in mail.log beside Postfix's
/*	lines; info, warning, error, fatal and panic are LOG_INFO,
/*	LOG_WARNING, LOG_ERR, LOG_CRIT and LOG_CRIT (as Postfix), the text
/*	is "level: text" without a time (syslog adds it). A path appends to
/*	that file. Called again (SIGHUP), it switches atomically while other
/*	threads log: a file is opened first and then dup2()ed over the old
/*	descriptor (logrotate: the moved file is closed, the new one
/*	created); on an error (*error_r, static) the old destination stays.
/*
/*	msg_tty_copy(): every line also goes to stderr when stderr is a
/*	terminal (a daemon run by hand with -f). A fatal or panic line also
/*	goes to stderr when the destination is not stderr: whoever started
/*	the daemon sees why it did not start.
/*
/*	msg_verbose is raised by -v options.
/*--*/

#include <stdarg.h>

extern int msg_verbose;

void msg_init(const char *progname, const char *logfile);
int msg_open_log(const char *logfile, const char **error_r);
void msg_tty_copy(void);
/* one log line as msg_* write it ("<UTC time> prog[pid]: level: text\n",
   CR/LF in the text blanked), for callers that buffer their lines;
   returns its length (size >= 64) */
size_t msg_format(char *line, size_t size, const char *level,
		  const char *fmt, va_list ap);
void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void msg_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
