#ifndef HTG_RETENTION_H
#define HTG_RETENTION_H

/*++
/* NAME
/*	htg-retention 3h
/* SUMMARY
/*	keep a copy of each message POP3 deletes, with its own deadline
/* SYNOPSIS
/*	#include "htg-retention.h"
/*
/*	struct htg_retention *htg_retention_new(void);
/*	int	htg_retention_keep(struct htg_retention *rt, struct mail *mail,
/*				   const struct htg_audit_event *dele,
/*				   const char **error_r);
/*	int	htg_retention_record(struct htg_retention *rt,
/*				     struct mail_user *user,
/*				     const struct htg_audit_event *ev,
/*				     unsigned int nev, const char **error_r);
/*	void	htg_retention_forget(struct htg_retention *rt,
/*				     struct mail_user *user);
/*	void	htg_retention_free(struct htg_retention **rt);
/* DESCRIPTION
/*	Used by the mail plugin when POP3 expunges at QUIT (issue 5.3).
/*
/*	htg_retention_keep() makes a file of its own for the message in
/*	the account's retention directory (a hard link to the Maildir file
/*	when possible, made durable by htg_retention_record(), else a
/*	synced copy of its bytes) (plugin setting htg_retention_dir,
/*	default ~/htg-retained: outside every mailbox, so POP3 never shows
/*	it); the deadline is the
/*	account's retention_days from the directory. Returns -1 when no
/*	durable copy could be made: the caller must then expunge nothing.
/*	dele is the message's dele event (htg-event.h): the record takes
/*	its Message-ID and size, and it is written with the record.
/*
/*	htg_retention_record() makes the records of every copy kept so
/*	far, the copies' bytes, the audit events ev (the session's
/*	retrievals) and the dele events durable with one flush, as one
/*	entry of the pickup journal (htg-journal.h), before the expunge is
/*	committed. An entry too big for the journal (or a journal that
/*	fails) takes the direct way: the retention directory fdatasynced,
/*	then one synced directory transaction. A crash in between leaves a
/*	copy or a record (and a dele event) of a message that is still in
/*	the inbox, never a deleted message without a copy or without its
/*	dele event.
/*
/*	htg_retention_forget() undoes all but the retrievals when the
/*	expunge does not happen (a failed keep of another message, a
/*	failed mailbox commit): the journal entry cancelled, or records
/*	and dele events deleted in one transaction; files removed.
/*--*/

struct mail;
struct mail_user;
struct htg_retention;

struct htg_retention *htg_retention_new(void);
struct htg_audit_event;
int htg_retention_keep(struct htg_retention *rt, struct mail *mail,
		       const struct htg_audit_event *dele, const char **error_r);
int htg_retention_record(struct htg_retention *rt, struct mail_user *user,
			 const struct htg_audit_event *ev, unsigned int nev,
			 const char **error_r);
void htg_retention_forget(struct htg_retention *rt, struct mail_user *user);
unsigned int htg_retention_count(const struct htg_retention *rt);
void htg_retention_free(struct htg_retention **rt);

#endif
