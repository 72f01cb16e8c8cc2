#ifndef HTG_MAIL_MSGID_H
#define HTG_MAIL_MSGID_H

/*++
/* NAME
/*	htg-mail-msgid 3h
/* SUMMARY
/*	a message's Message-ID, read from the message itself
/* SYNOPSIS
/*	#include "htg-mail-msgid.h"
/*
/*	void	htg_mail_message_id(struct mail *mail,
/*				    struct istream *input,
/*				    char *dst, size_t size);
/* DESCRIPTION
/*	Copies the value of the first Message-ID header of mail (folding
/*	undone, surrounding blanks trimmed) to dst; "" when there is none
/*	or the message cannot be read. The header is parsed from input
/*	(the stream pop3 just opened for RETR/TOP) or, when input is NULL,
/*	from the mail's own stream; either stream is left at the offset
/*	it had.
/*
/*	Why not mail_get_first_header(): that adds hdr.Message-ID to the
/*	mailbox's dovecot.index.cache, which pop3 otherwise never writes:
/*	a cache lock and writes at the next commit and a cache purge at
/*	the expunge, in every pickup session (measured with strace; see
/*	bench/README.md). The header of one message is a few hundred
/*	bytes, already in the page cache.
/*--*/

struct mail;
struct istream;

void htg_mail_message_id(struct mail *mail, struct istream *input,
			 char *dst, size_t size);

#endif
