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
/*	Without one, lines go to stderr. msg_fatal exits 1; msg_panic
/*	(a broken invariant) aborts. Never pass a secret to these functions.
/*
/*	msg_verbose is raised by -v options.
/*--*/

#include <stdarg.h>

extern int msg_verbose;

void msg_init(const char *progname, const char *logfile);
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
