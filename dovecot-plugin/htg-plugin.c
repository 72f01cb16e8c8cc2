/*++
/* NAME
/*	htg-plugin 3
/* SUMMARY
/*	Dovecot mail plugin: audit of deliveries, retrievals and deletions
/* SYNOPSIS
/*	protocol pop3 {
/*	  mail_plugins = $mail_plugins htg
/*	}
/*	protocol lmtp {
/*	  mail_plugins = $mail_plugins htg
/*	}
/*	plugin {
/*	  htg_directory = /var/lib/htg/directory
/*	  htg_state_dir = /var/lib/htg/state	(PostgreSQL directory only)
/*	}
/* DESCRIPTION
/*	Appends audit events (DESIGN 3) to the HTG directory:
/*
/*	deliver	an LMTP delivery saved a message (after the commit, with
/*		the UID the mailbox assigned).
/*	retr	a POP3 RETR opened a message body.
/*	top	a POP3 TOP opened a message. pop3 tells a retrieval from a
/*		size scan by the reason it passes when it opens the stream
/*		("RETR", "TOP"); everything else (sizes, UIDL, header
/*		parsing, our own retention copy) is not a retrieval.
/*	dele	a POP3 session expunged a message at QUIT: written with
/*		the message's retention record, just before the mailbox
/*		commit, and deleted with it if that commit fails. A
/*		dropped connection expunges nothing (RFC 1939 section 6)
/*		and records nothing.
/*	expunge	any other expunge (autoexpunge, a non-POP3 service).
/*
/*	Delivery de-duplication (issue 6): in lmtp, a message Postfix
/*	hands over twice is saved once (htg-deliver.c).
/*
/*	Retention (issue 5.3): before POP3's QUIT expunges a message, a
/*	copy is kept with its own deadline (htg-retention.c). If keeping
/*	any copy fails, the whole QUIT transaction is rolled back: nothing
/*	is expunged and the client gets -ERR. htgctl retention lists,
/*	restores and purges the copies.
/*
/*	Each event carries the account (the mail user, which the htg
/*	userdb has renamed to the account login), the Message-ID header,
/*	the message size (virtual size, CRLF line ends, as POP3 reports it),
/*	the UID, the remote address, the TLS version (userdb field htg_tls,
/*	which the pop3-login plugin forwards) and the session id.
/*
/*	A bound per session (issue 13): a RETR or TOP of a message this
/*	session already retrieved that way adds no event (the audit says
/*	who retrieved which message how, first at what time; a client
/*	looping "TOP 1 0" costs one event, not one per command). At most
/*	htg_session_max_events (default 1000) events wait in memory: at
/*	the bound they are written at once (to the directory, else to the
/*	pickup journal); if neither takes them (the directory is full),
/*	RETR/TOP of a message not yet audited is refused (pop3 answers
/*	-ERR; the log says why) - no retrieval is served unaudited
/*	(htg-session.c).
/*
/*	Durability (issues 5.4 and 5.8): a POP3 session keeps its RETR/TOP
/*	events in memory and makes them durable at QUIT, before pop3
/*	answers, together with the retention records and dele events of
/*	the DELEd messages and a copy of those messages' bytes: all of it
/*	is one entry of the pickup journal (DIRECTORY/journal/, one
/*	fdatasync; lib/htg-journal.c), not a directory commit. The
/*	journal is applied into the directory in one commit when one of its
/*	files fills, and by every htgctl audit|retention|hygiene before it
/*	reads; an entry too big for the journal takes the direct way (one
/*	directory commit). A session that ends without QUIT writes its
/*	events the same way. deliver/expunge events are written in one
/*	directory commit right after the mailbox commit. So a crash loses
/*	no event of a completed session; only a crash of the pop3 process
/*	itself loses the retrievals of the session it was serving. A
/*	failed write is logged and never fails the mail operation, except
/*	a failed retention record or dele event, which cancels the
/*	expunge (-ERR: nothing is expunged unrecorded).
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "seq-range-array.h"
#include "module-context.h"
#include "mail-user.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"

#include "htg-dc-dir.h"
#include "htg-retention.h"
#include "htg-legacy-lock.h"
#include "htg-deliver.h"
#include "htg-event.h"
#include "htg-session.h"
#include "htg-plugin.h"

#include <string.h>

#define HTG_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, htg_user_module)
#define HTG_CONTEXT(obj) \
	MODULE_CONTEXT(obj, htg_storage_module)
#define HTG_MAIL_CONTEXT(obj) \
	MODULE_CONTEXT(obj, htg_mail_module)

struct htg_user {
	union mail_user_module_context module_ctx;
	/* RETR/TOP events, written with the next commit (QUIT) or at the
	   end of the session, whichever comes first */
	struct htg_session session;	/* htg-session.h */
};

/* events waiting for their transaction to commit */
struct htg_pending {
	struct htg_audit_event ev;
	bool saved;		/* UID comes from the commit */
};

struct htg_transaction {
	union mailbox_transaction_module_context module_ctx;
	ARRAY(struct htg_pending) pending;
	/* POP3 QUIT: copies kept before the expunge */
	struct htg_retention *retention;
	bool retention_failed;
};

const char *htg_plugin_version = DOVECOT_ABI_VERSION;

static MODULE_CONTEXT_DEFINE_INIT(htg_user_module,
				  &mail_user_module_register);
static MODULE_CONTEXT_DEFINE_INIT(htg_storage_module,
				  &mail_storage_module_register);
static MODULE_CONTEXT_DEFINE_INIT(htg_mail_module, &mail_module_register);

static struct htg_session *htg_user_session(struct mail_user *user)
{
	struct htg_user *huser = HTG_USER_CONTEXT(user);

	return huser == NULL ? NULL : &huser->session;
}

/* Write the buffered RETR/TOP events now. */
static void htg_user_flush(struct mail_user *user)
{
	struct htg_session *s = htg_user_session(user);

	if (s != NULL)
		htg_session_flush(s, user);
}

/* --- transactions: events that count only once committed ---------------- */

static void
htg_txn_add(struct mailbox_transaction_context *t, const char *event,
	    struct mail *mail, bool saved)
{
	struct htg_transaction *ht = HTG_CONTEXT(t);
	struct htg_pending *p;

	if (ht == NULL)
		return;
	if (!array_is_created(&ht->pending))
		i_array_init(&ht->pending, 8);
	p = array_append_space(&ht->pending);
	T_BEGIN {
		htg_event_fill(&p->ev, event, mail, NULL);
	} T_END;
	p->saved = saved;
	if (saved) {
		/* the UID is known at commit only if asked for */
		t->flags |= MAILBOX_TRANSACTION_FLAG_ASSIGN_UIDS;
	}
}

static void htg_txn_free(struct htg_transaction **_ht)
{
	struct htg_transaction *ht = *_ht;

	*_ht = NULL;
	if (array_is_created(&ht->pending))
		array_free(&ht->pending);
	if (ht->retention != NULL)
		htg_retention_free(&ht->retention);
	i_free(ht);
}

static struct mailbox_transaction_context *
htg_transaction_begin(struct mailbox *box, enum mailbox_transaction_flags flags,
		      const char *reason)
{
	union mailbox_module_context *hbox = HTG_CONTEXT(box);
	struct mailbox_transaction_context *t;
	struct htg_transaction *ht;

	t = hbox->super.transaction_begin(box, flags, reason);
	ht = i_new(struct htg_transaction, 1);
	MODULE_CONTEXT_SET(t, htg_storage_module, ht);
	return t;
}

/* Before the expunge commits: every kept copy recorded with the
   session's retrievals (one commit), or FALSE. */
static bool
htg_retention_prepare(struct htg_transaction *ht, struct mail_user *user,
		      const char **error_r)
{
	struct htg_session *s = htg_user_session(user);
	const struct htg_audit_event *ev = NULL;
	unsigned int n = 0;

	if (ht->retention == NULL) {
		htg_user_flush(user);
		return TRUE;
	}
	if (s != NULL)
		ev = htg_session_events(s, &n);
	if (ht->retention_failed) {
		*error_r = "a copy could not be kept";
	} else if (htg_retention_record(ht->retention, user, ev, n,
					error_r) == 0) {
		if (s != NULL)
			htg_session_clear(s);
		return TRUE;
	}
	htg_retention_forget(ht->retention, user);
	return FALSE;
}

static int
htg_transaction_commit(struct mailbox_transaction_context *t,
		       struct mail_transaction_commit_changes *changes_r)
{
	union mailbox_module_context *hbox = HTG_CONTEXT(t->box);
	struct htg_transaction *ht = HTG_CONTEXT(t);
	struct mail_user *user = t->box->storage->user;
	struct mailbox *box = t->box;
	struct htg_audit_event *evs;
	struct htg_pending *p;
	struct seq_range_iter iter;
	unsigned int n = 0, i = 0;
	const char *error;
	uint32_t uid;
	int ret;

	if (ht != NULL && !htg_retention_prepare(ht, user, &error)) {
		/* no durable copy: expunge nothing (issue 5.3) */
		e_error(user->event, "htg: retention failed, QUIT deletes "
			"nothing: %s", error);
		hbox->super.transaction_rollback(t);
		htg_txn_free(&ht);
		mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
			"HTG: deleted messages could not be retained; "
			"nothing was deleted, try again later");
		return -1;
	}
	/* t is freed by the commit: keep what we need */
	ret = hbox->super.transaction_commit(t, changes_r);
	if (ht == NULL)
		return ret;
	if (ret < 0 && ht->retention != NULL)
		htg_retention_forget(ht->retention, user);
	if (ret == 0 && array_is_created(&ht->pending)) {
		seq_range_array_iter_init(&iter, &changes_r->saved_uids);
		evs = t_new(struct htg_audit_event, array_count(&ht->pending));
		array_foreach_modifiable(&ht->pending, p) {
			if (p->saved) {
				if (seq_range_array_iter_nth(&iter, n++, &uid))
					p->ev.uid = uid;
			}
			evs[i] = p->ev;
			evs[i++].time_us = 0;	/* committed now */
		}
		htg_events_write(user, evs, i);
	}
	htg_txn_free(&ht);
	return ret;
}

static void htg_transaction_rollback(struct mailbox_transaction_context *t)
{
	union mailbox_module_context *hbox = HTG_CONTEXT(t->box);
	struct htg_transaction *ht = HTG_CONTEXT(t);
	struct mail_user *user = t->box->storage->user;

	hbox->super.transaction_rollback(t);
	if (ht == NULL)
		return;
	if (ht->retention != NULL)
		htg_retention_forget(ht->retention, user);
	htg_txn_free(&ht);
}

/* --- saving: LMTP deliveries --------------------------------------------- */

static bool htg_is_delivery(struct mailbox *box)
{
	return strcmp(box->storage->user->service, "lmtp") == 0;
}

/* Legacy profile: no delivery into a store a POP3 session holds. */
static bool htg_delivery_deferred(struct mailbox *box)
{
	struct mail_user *user = box->storage->user;

	if (!htg_is_delivery(box) ||
	    !mail_user_plugin_getenv_bool(user, "htg_legacy_lock") ||
	    !htg_legacy_lock_held(box))
		return FALSE;
	e_info(user->event, "htg: delivery deferred: a POP3 session holds "
	       "the mailbox (legacy profile)");
	mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
		"Mailbox in use by a POP3 session, try again later");
	return TRUE;
}

static int htg_save_begin(struct mail_save_context *ctx, struct istream *input)
{
	struct mailbox *box = ctx->transaction->box;
	union mailbox_module_context *hbox = HTG_CONTEXT(box);

	if (htg_delivery_deferred(box))
		return -1;
	return hbox->super.save_begin(ctx, input);
}

static int htg_save_finish(struct mail_save_context *ctx)
{
	union mailbox_module_context *hbox = HTG_CONTEXT(ctx->transaction->box);
	struct mailbox_transaction_context *t = ctx->transaction;
	/* mailbox_copy() falling back to a save reports through copy() */
	struct mail *dest_mail = ctx->copying_via_save ? NULL : ctx->dest_mail;

	if (hbox->super.save_finish(ctx) < 0)
		return -1;
	if (dest_mail != NULL && htg_is_delivery(t->box))
		htg_txn_add(t, "deliver", dest_mail, TRUE);
	return 0;
}

static int htg_copy(struct mail_save_context *ctx, struct mail *mail)
{
	union mailbox_module_context *hbox = HTG_CONTEXT(ctx->transaction->box);
	struct mailbox_transaction_context *t = ctx->transaction;

	if (htg_delivery_deferred(t->box)) {
		/* a failed copy must still free its save context */
		mailbox_save_cancel(&ctx);
		return -1;
	}
	if (hbox->super.copy(ctx, mail) < 0)
		return -1;
	/* LMTP saves with mailbox_save_using_mail(), which lands here */
	if (ctx->saving && ctx->dest_mail != NULL && htg_is_delivery(t->box))
		htg_txn_add(t, "deliver", ctx->dest_mail, TRUE);
	return 0;
}

/* --- mails: retrievals and expunges --------------------------------------- */

/* The audit event of a stream opened for reason, or NULL when it is
   not a retrieval: pop3 passes "RETR" or "TOP" to
   mail_get_stream_because(); size scans, UIDL and our own retention
   copy pass something else. */
static const char *htg_retrieval_event(const char *reason)
{
	if (reason == NULL)
		return NULL;
	if (strcmp(reason, "RETR") == 0)
		return "retr";
	if (strcmp(reason, "TOP") == 0)
		return "top";
	return NULL;
}

static int
htg_mail_get_stream(struct mail *_mail, bool get_body,
		    struct message_size *hdr_size,
		    struct message_size *body_size, struct istream **stream_r)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	union mail_module_context *hmail = HTG_MAIL_CONTEXT(mail);
	const char *event = get_body ?
		htg_retrieval_event(mail->get_stream_reason) : NULL;
	struct htg_session *s = htg_user_session(_mail->box->storage->user);
	int record = 0;

	if (event != NULL && s != NULL &&
	    (record = htg_session_retrieval_begin(s, _mail, event)) < 0)
		return -1;
	if (hmail->super.get_stream(_mail, get_body, hdr_size, body_size,
				    stream_r) < 0)
		return -1;
	if (record > 0) {
		/* reads the Message-ID from the stream pop3 sends; the
		   stream's offset is kept */
		htg_session_add(s, _mail, event, *stream_r);
	}
	return 0;
}

static void htg_mail_expunge(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	union mail_module_context *hmail = HTG_MAIL_CONTEXT(mail);
	struct mail_user *user = _mail->box->storage->user;
	struct htg_transaction *ht = HTG_CONTEXT(_mail->transaction);
	struct htg_audit_event ev;
	const char *error;

	/* pop3 expunges only at QUIT, for messages the client DELEd */
	if (!mail->autoexpunged && strcmp(user->service, "pop3") == 0 &&
	    ht != NULL) {
		if (ht->retention_failed)
			return;	/* the commit rolls everything back */
		if (ht->retention == NULL)
			ht->retention = htg_retention_new();
		T_BEGIN {
			htg_event_fill(&ev, "dele", _mail, NULL);
		} T_END;
		/* the record takes the event's Message-ID and size, and the
		   event is written with it, before the commit */
		if (htg_retention_keep(ht->retention, _mail, &ev,
				       &error) < 0) {
			enum mail_error err;

			(void)mailbox_get_last_error(_mail->box, &err);
			if (_mail->expunged || err == MAIL_ERROR_EXPUNGED) {
				/* another session expunged (and kept) it
				   first: nothing left to keep or delete */
				hmail->super.expunge(_mail);
				return;
			}
			e_error(user->event, "htg: keeping a copy of uid %u "
				"failed: %s", _mail->uid, error);
			ht->retention_failed = TRUE;
			return;
		}
		hmail->super.expunge(_mail);
		return;
	}
	htg_txn_add(_mail->transaction, "expunge", _mail, FALSE);
	hmail->super.expunge(_mail);
}

/* --- hooks ----------------------------------------------------------------- */

static bool htg_user_enabled(struct mail_user *user)
{
	return HTG_USER_CONTEXT(user) != NULL;
}

static void htg_mail_allocated(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct mail_vfuncs *v = mail->vlast;
	union mail_module_context *hmail;

	if (!htg_user_enabled(_mail->box->storage->user))
		return;
	hmail = p_new(mail->pool, union mail_module_context, 1);
	hmail->super = *v;
	mail->vlast = &hmail->super;
	v->get_stream = htg_mail_get_stream;
	v->expunge = htg_mail_expunge;
	MODULE_CONTEXT_SET_SELF(mail, htg_mail_module, hmail);
}

static void htg_mailbox_allocated(struct mailbox *box)
{
	struct mailbox_vfuncs *v = box->vlast;
	union mailbox_module_context *hbox;

	if (!htg_user_enabled(box->storage->user))
		return;
	hbox = p_new(box->pool, union mailbox_module_context, 1);
	hbox->super = *v;
	box->vlast = &hbox->super;
	v->transaction_begin = htg_transaction_begin;
	v->transaction_commit = htg_transaction_commit;
	v->transaction_rollback = htg_transaction_rollback;
	v->save_begin = htg_save_begin;
	v->save_finish = htg_save_finish;
	v->copy = htg_copy;
	MODULE_CONTEXT_SET_SELF(box, htg_storage_module, hbox);
}

static void htg_user_deinit(struct mail_user *user)
{
	struct htg_user *huser = HTG_USER_CONTEXT(user);

	/* a session without QUIT: its retrievals still count */
	htg_user_flush(user);
	htg_session_deinit(&huser->session);
	htg_dc_dir_unref();
	huser->module_ctx.super.deinit(user);
}

static void htg_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct htg_user *huser;
	const char *path, *registered;

	path = mail_user_plugin_getenv(user, "htg_directory");
	if (path == NULL || *path == '\0') {
		e_warning(user->event, "htg: htg_directory not set: "
			  "no audit events are recorded");
		return;
	}
	registered = htg_dc_dir_path();
	if (registered != NULL && strcmp(registered, path) != 0) {
		e_error(user->event, "htg: htg_directory %s differs from %s "
			"already open in this process: no audit events",
			path, registered);
		return;
	}
	htg_dc_dir_ref(path, 0);
	htg_dc_dir_state(mail_user_plugin_getenv(user, "htg_state_dir"));

	huser = p_new(user->pool, struct htg_user, 1);
	htg_session_init(&huser->session, user);
	huser->module_ctx.super = *v;
	user->vlast = &huser->module_ctx.super;
	v->deinit = htg_user_deinit;
	MODULE_CONTEXT_SET(user, htg_user_module, huser);
}

static struct mail_storage_hooks htg_mail_storage_hooks = {
	.mail_user_created = htg_mail_user_created,
	.mailbox_allocated = htg_mailbox_allocated,
	.mail_allocated = htg_mail_allocated,
};

/* the directory's own warnings (fill level) into Dovecot's log */
static void htg_dir_warning(const char *text)
{
	i_warning("htg: %s", text);
}

void htg_plugin_init(struct module *module)
{
	htg_dir_set_warning(htg_dir_warning);
	mail_storage_hooks_add(module, &htg_mail_storage_hooks);
	htg_deliver_init();
}

void htg_plugin_deinit(void)
{
	htg_deliver_deinit();
	mail_storage_hooks_remove(&htg_mail_storage_hooks);
	htg_dc_dir_deinit();
	htg_dir_set_warning(NULL);
}
