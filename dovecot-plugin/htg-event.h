#ifndef HTG_EVENT_H
#define HTG_EVENT_H

/*++
/* NAME
/*	htg-event 3h
/* SUMMARY
/*	audit events of the mail plugin: describe a mail, write events
/* SYNOPSIS
/*	#include "htg-event.h"
/*
/*	void	htg_event_fill(struct htg_audit_event *ev, const char *event,
/*			       struct mail *mail, struct istream *input);
/*	void	htg_events_write(struct mail_user *user,
/*				 struct htg_audit_event *ev,
/*				 unsigned int n);
/* DESCRIPTION
/*	htg_event_fill() describes mail for the audit (DESIGN 3): time,
/*	account, Message-ID, size, UID, remote address, TLS version,
/*	session id; never fails (missing values stay empty). input: the
/*	stream pop3 opened for RETR/TOP, or NULL.
/*
/*	htg_events_write() writes n events in one directory commit (one
/*	sync), their keys fixed first (htg_audit_write(), which fills in
/*	time, process id and sequence number). When the directory fails
/*	(a PostgreSQL failover after the mailbox save) they are kept in
/*	the pickup journal of htg_state_dir and written into the directory
/*	later (htg-audit-spool(3)); the delivery record of a "deliver"
/*	event turns done then. Only when the journal fails too are they
/*	lost: that is logged, never returned.
/*
/*	In pop3 the Message-ID is read from the message: the first
/*	Message-ID header, folding undone, blanks around it trimmed; ""
/*	when there is none or the message cannot be read. The header is
/*	parsed from input or, when input is NULL, from the mail's own
/*	stream; either stream is left at the offset it had.
/*
/*	Why not mail_get_first_header() (still used for a delivery, whose
/*	save has just parsed the header): in pop3 it adds hdr.Message-ID
/*	to the mailbox's dovecot.index.cache, which pop3 otherwise never writes:
/*	a cache lock and writes at the next commit and a cache purge at
/*	the expunge, in every pickup session (measured with strace; see
/*	bench/README.md). The header of one message is a few hundred
/*	bytes, already in the page cache.
/*--*/

struct mail;
struct mail_user;
struct istream;
struct htg_audit_event;

void htg_event_fill(struct htg_audit_event *ev, const char *event,
		    struct mail *mail, struct istream *input);
void htg_events_write(struct mail_user *user,
		      struct htg_audit_event *ev, unsigned int n);

#endif
