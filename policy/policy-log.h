#ifndef POLICY_LOG_H
#define POLICY_LOG_H

/*++
/* NAME
/*	policy-log 3h
/* SUMMARY
/*	decision log lines, written in batches
/* SYNOPSIS
/*	#include "policy-log.h"
/*
/*	void	policy_log_open(const char *path);
/*	void	policy_log_line(const char *text);
/*	void	policy_log_flush(void);
/*	void	policy_log_close(void);
/*	void	policy_log_reopen(const char *path);
/* DESCRIPTION
/*	Every decision is logged on one line (DESIGN.md section 2). One
/*	write(2) per line costs as much as answering the request on a
/*	virtual machine, so the event loop collects the lines of all the
/*	requests it answers in one round and writes them with one write(2)
/*	before it sends any of those answers: a decision is on disk (in the
/*	page cache) before Postfix acts on it, even if the daemon is killed
/*	right after.
/*
/*	The lines are msg_info() lines (msg_format(), lib/htg-msg.c: the
/*	program name given to msg_init(), the current process id) and go
/*	to the same file, opened a second time with O_APPEND: whole lines,
/*	never interleaved. Without a log file policy_log_line() is
/*	msg_info().
/*--*/

void policy_log_open(const char *path);
void policy_log_line(const char *text);
void policy_log_flush(void);
void policy_log_close(void);
/* after msg_open_log() of a reload (logrotate); "" or NULL: syslog */
void policy_log_reopen(const char *path);

#endif
