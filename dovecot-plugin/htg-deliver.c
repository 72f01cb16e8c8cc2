/*++
/* NAME
/*	htg-deliver 3
/* SUMMARY
/*	LMTP: a message Postfix hands over twice is saved once
/* SYNOPSIS
/*	protocol lmtp {
/*	  mail_plugins = $mail_plugins htg
/*	}
/*	plugin {
/*	  htg_delivery_window = 1d
/*	}
/* DESCRIPTION
/*	SMTP and LMTP deliver at least once: when the lmtp process dies
/*	after the mailbox commit but before Postfix has read its 250,
/*	Postfix delivers the message again (issue 6: one answer in two of
/*	six "kill -9 lmtp" runs arrived twice). The gateway promises
/*	exactly once, so the htg plugin hooks Dovecot's delivery
/*	(mail_deliver_hook_set(), the hook Pigeonhole's Sieve uses) and
/*	keeps a record per (account, Message-ID) in the HTG directory
/*	(htg-dir-delivery.c):
/*
/*	no record	record "pending", then let the next hook (or
/*			Dovecot's default save) deliver. The "deliver"
/*			audit event, written right after the mailbox
/*			commit, turns the record into "done" in the same
/*			directory commit. When that commit fails (the
/*			directory failed after the save) the event is
/*			kept in this node's audit spool, and the record
/*			turns done when the spool is applied
/*			(htg-audit-spool(3)); a retry in between finds
/*			it pending and the message in the mailbox.
/*	done		the message was saved before: answer success
/*			and save nothing.
/*	pending		a save started before and did not report back:
/*			search the default mailbox for the Message-ID;
/*			found: record "done" and save nothing; not found:
/*			deliver.
/*
/*	The Message-ID is the message's identity (RFC 5322 section
/*	3.6.4), as HTG-MSGID already treats it for submissions and as
/*	Sieve's duplicate test does; a message without one is delivered
/*	without this check (the milter inserts one into every submission,
/*	Postfix's cleanup into every other message it accepts).
/*
/*	htg_delivery_window (Dovecot time, default 1d; 0 turns the check
/*	off) is how long a record counts: Postfix retries a deferred
/*	delivery within its backoff (at most maximal_backoff_time, 4000 s
/*	by default), well inside a day. htgctl expire deletes old records.
/*
/*	When the directory cannot be read or written the delivery
/*	tempfails (451): Postfix keeps the message and retries.
/*
/*	Not covered: a crash between the mailbox commit and the "done"
/*	record, after which the client picks the message up and DELEs it
/*	before Postfix retries (the search no longer finds it); two
/*	deliveries of one message running at the same moment.
/*
/*	libdovecot-lda, which has the hook, is linked into lmtp and
/*	dovecot-lda only; the reference to it is weak, so the same module
/*	loads into pop3, where this part stays off.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "settings-parser.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "mail-deliver.h"

#include "htg-dc-dir.h"
#include "htg-deliver.h"

#include <time.h>

#pragma weak mail_deliver_hook_set

#define HTG_DELIVERY_WINDOW_DEFAULT (24 * 3600)

static deliver_mail_func_t *htg_next_deliver_mail;
static bool htg_deliver_hooked;

/* The Message-ID as the audit records it: the first header, trimmed. */
static const char *htg_deliver_msgid(struct mail *mail)
{
	const char *msgid;

	if (mail_get_first_header(mail, "Message-ID", &msgid) <= 0)
		return NULL;
	msgid = t_str_trim(msgid, " \t");
	return *msgid == '\0' ? NULL : msgid;
}

static unsigned int htg_deliver_window(struct mail_user *user)
{
	const char *str = mail_user_plugin_getenv(user, "htg_delivery_window");
	unsigned int secs;
	const char *error;

	if (str == NULL || *str == '\0')
		return HTG_DELIVERY_WINDOW_DEFAULT;
	if (settings_get_time(str, &secs, &error) < 0) {
		e_error(user->event, "htg: htg_delivery_window: %s "
			"(using the default, 1d)", error);
		return HTG_DELIVERY_WINDOW_DEFAULT;
	}
	return secs;
}

/* Is a message with this Message-ID in the default mailbox? 1 yes,
   0 no (or no such mailbox), -1 error. */
static int htg_deliver_find(struct mail_deliver_context *ctx, const char *msgid)
{
	const char *name = ctx->rcpt_default_mailbox, *value;
	struct mail_namespace *ns;
	struct mailbox *box;
	struct mailbox_transaction_context *t;
	struct mail_search_args *args;
	struct mail_search_arg *arg;
	struct mail_search_context *search;
	struct mail *mail;
	enum mail_error error;
	int found = 0;

	ns = mail_namespace_find(ctx->rcpt_user->namespaces, name);
	box = mailbox_alloc(ns->list, name, 0);
	if (mailbox_sync(box, 0) < 0) {
		(void)mailbox_get_last_error(box, &error);
		mailbox_free(&box);
		return error == MAIL_ERROR_NOTFOUND ? 0 : -1;
	}
	t = mailbox_transaction_begin(box, 0, __func__);
	args = mail_search_build_init();
	arg = mail_search_build_add(args, SEARCH_HEADER);
	arg->hdr_field_name = p_strdup(args->pool, "Message-ID");
	arg->value.str = p_strdup(args->pool, msgid);
	search = mailbox_search_init(t, args, NULL, 0, NULL);
	mail_search_args_unref(&args);
	/* SEARCH HEADER matches substrings: compare the whole value */
	while (found == 0 && mailbox_search_next(search, &mail)) {
		if (mail_get_first_header(mail, "Message-ID", &value) > 0 &&
		    strcmp(t_str_trim(value, " \t"), msgid) == 0)
			found = 1;
	}
	if (mailbox_search_deinit(&search) < 0)
		found = -1;
	(void)mailbox_transaction_commit(&t);
	mailbox_free(&box);
	return found;
}

/* 1 saved before (skip), 0 deliver, -1 tempfail (ctx->tempfail_error). */
static int htg_deliver_check(struct mail_deliver_context *ctx)
{
	struct mail_user *user = ctx->rcpt_user;
	unsigned int window = htg_deliver_window(user);
	const char *msgid, *error = "unknown error";
	struct htg_dir *dir = NULL;
	int ret;

	if (window == 0 || htg_dc_dir_path() == NULL ||
	    (msgid = htg_deliver_msgid(ctx->src_mail)) == NULL)
		return 0;
	if (htg_dc_dir_get(&dir, &error) < 0) {
		ret = -1;
	} else {
		ret = htg_dir_delivery_begin(dir, user->username, msgid,
					     window, time(NULL), &error);
	}
	switch (ret) {
	case HTG_DELIVERY_NEW:
		return 0;
	case 0:
		e_debug(ctx->event, "htg: Message-ID %s not recorded: %s",
			msgid, error);
		return 0;
	case HTG_DELIVERY_DONE:
		e_info(ctx->event, "htg: Message-ID %s was delivered to %s "
		       "before: duplicate not saved", msgid, user->username);
		return 1;
	case HTG_DELIVERY_PENDING:
		ret = htg_deliver_find(ctx, msgid);
		if (ret == 0) {
			e_info(ctx->event, "htg: Message-ID %s: an earlier "
			       "delivery was cut off before the save: "
			       "delivering", msgid);
			return 0;
		}
		if (ret > 0) {
			if (htg_dir_delivery_mark(dir, user->username, msgid,
						  &error) < 0)
				e_error(ctx->event, "htg: Message-ID %s: "
					"record not updated: %s", msgid, error);
			e_info(ctx->event, "htg: Message-ID %s is already in "
			       "%s (an earlier delivery was cut off after "
			       "the save): duplicate not saved", msgid,
			       ctx->rcpt_default_mailbox);
			return 1;
		}
		error = "mailbox search failed";
		break;
	default:
		break;
	}
	e_error(ctx->event, "htg: delivery record for Message-ID %s: %s",
		msgid, error);
	ctx->tempfail_error = "HTG delivery record unavailable, "
		"try again later";
	return -1;
}

static int
htg_deliver_mail(struct mail_deliver_context *ctx,
		 struct mail_storage **storage_r)
{
	int ret;

	T_BEGIN {
		ret = htg_deliver_check(ctx);
	} T_END;
	if (ret != 0)
		return ret;	/* > 0: handled, nothing saved */
	if (htg_next_deliver_mail != NULL)
		return htg_next_deliver_mail(ctx, storage_r);
	return 0;		/* Dovecot saves into the default mailbox */
}

void htg_deliver_init(void)
{
	if (mail_deliver_hook_set == NULL)
		return;		/* not an LDA/LMTP process */
	htg_next_deliver_mail = mail_deliver_hook_set(htg_deliver_mail);
	htg_deliver_hooked = TRUE;
}

void htg_deliver_deinit(void)
{
	if (!htg_deliver_hooked)
		return;
	(void)mail_deliver_hook_set(htg_next_deliver_mail);
	htg_deliver_hooked = FALSE;
}
