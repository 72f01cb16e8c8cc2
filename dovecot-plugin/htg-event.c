/*++
/* NAME
/*	htg-event 3
/* SUMMARY
/*	audit events of the mail plugin: describe a mail, write events
/* DESCRIPTION
/*	See htg-event.h.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "lib.h"
#include "istream.h"
#include "net.h"
#include "time-util.h"
#include "message-header-parser.h"
#include "mail-user.h"
#include "mail-storage-private.h"

#include "htg-audit-spool.h"
#include "htg-dc-dir.h"
#include "htg-event.h"

#include <string.h>

/* Copy the header value to dst (at most size-1 bytes): line breaks of a
   folded value dropped, blanks around it trimmed. */
static void
htg_msgid_copy(char *dst, size_t size, const unsigned char *v, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		if (n == 0 && (v[i] == ' ' || v[i] == '\t'))
			continue;
		dst[n++] = (char)v[i];
	}
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\t'))
		n--;
	dst[n] = '\0';
}

static void
htg_msgid_parse(struct istream *input, char *dst, size_t size)
{
	struct message_header_parser_ctx *ctx;
	struct message_header_line *hdr;
	bool want = FALSE;

	ctx = message_parse_header_init(input, NULL,
		MESSAGE_HEADER_PARSER_FLAG_CLEAN_ONELINE);
	while (message_parse_header_next(ctx, &hdr) > 0) {
		if (hdr->eoh)
			break;
		if (!hdr->continued)
			want = strcasecmp(hdr->name, "Message-ID") == 0;
		if (!want)
			continue;
		if (hdr->continues) {
			hdr->use_full_value = TRUE;
			continue;
		}
		htg_msgid_copy(dst, size, hdr->full_value, hdr->full_value_len);
		break;
	}
	message_parse_header_deinit(&ctx);
}

static void
htg_mail_message_id(struct mail *mail, struct istream *input, char *dst,
		    size_t size)
{
	uoff_t offset;

	i_assert(size > 0);
	dst[0] = '\0';
	/* not "RETR"/"TOP": our own reads are no retrievals */
	if (input == NULL &&
	    mail_get_stream_because(mail, NULL, NULL, "htg-message-id",
				    &input) < 0)
		return;
	offset = input->v_offset;
	i_stream_seek(input, 0);
	htg_msgid_parse(input, dst, size);
	i_stream_seek(input, offset);
}

/* --- events ----------------------------------------------------------- */

static void htg_copy_str(char *dst, size_t size, const char *src)
{
	if (src == NULL)
		src = "";
	i_assert(size > 0);
	(void)i_strocpy(dst, src, size);
}

/* The session's TLS protocol as the login process saw it; "TLS" when
   the session was encrypted but the version did not reach us (an auth
   module without the htg_tls field). Empty for LMTP. */
static void htg_event_tls(struct htg_audit_event *ev, struct mail_user *user)
{
	const char *tls = mail_user_plugin_getenv(user, "htg_tls");

	if ((tls == NULL || *tls == '\0') && user->conn.ssl_secured)
		tls = "TLS";
	htg_copy_str(ev->tls, sizeof(ev->tls), tls);
}

/* Describe mail for the audit; never fails (missing values stay empty).
   input: the stream pop3 opened for RETR/TOP, or NULL. */
void
htg_event_fill(struct htg_audit_event *ev, const char *event,
	       struct mail *mail, struct istream *input)
{
	struct mail_user *user = mail->box->storage->user;
	const char *msgid = NULL;
	uoff_t size;

	struct timeval now;

	i_zero(ev);
	i_gettimeofday(&now);
	ev->time_us = (int64_t)now.tv_sec * 1000000 + now.tv_usec;
	htg_copy_str(ev->event, sizeof(ev->event), event);
	htg_copy_str(ev->account, sizeof(ev->account), user->username);
	if (strcmp(event, "deliver") != 0) {
		/* pop3: from the message, not through the index cache */
		htg_mail_message_id(mail, input, ev->message_id,
				    sizeof(ev->message_id));
	} else if (mail_get_first_header(mail, "Message-ID", &msgid) > 0) {
		/* lmtp: the save has just parsed the header */
		htg_copy_str(ev->message_id, sizeof(ev->message_id),
			     t_str_trim(msgid, " \t"));
	}
	if (mail_get_virtual_size(mail, &size) == 0)
		ev->size = size;
	ev->uid = mail->uid;
	if (user->conn.remote_ip != NULL &&
	    user->conn.remote_ip->family != 0)
		htg_copy_str(ev->remote, sizeof(ev->remote),
			     net_ip2addr(user->conn.remote_ip));
	htg_copy_str(ev->session, sizeof(ev->session), user->session_id);
	htg_event_tls(ev, user);
}

/* n events in one directory commit (one sync); spooled when the
   directory fails (htg-audit-spool.h). */
void htg_events_write(struct mail_user *user,
		      struct htg_audit_event *ev, unsigned int n)
{
	struct htg_dir *dir;
	const char *error;
	int ret;

	if (n == 0)
		return;
	if (htg_dc_dir_get(&dir, &error) < 0)
		ret = -1;
	else
		ret = htg_audit_write(dir, ev, n, &error);
	if (ret == 0) {
		e_warning(user->event, "htg: %u audit events (%s uid=%u ...) "
			  "kept in the audit spool, the directory failed: %s",
			  n, ev->event, ev->uid, error);
	} else if (ret < 0) {
		e_error(user->event, "htg: %u audit events (%s uid=%u ...) "
			"not recorded: %s", n, ev->event, ev->uid, error);
	}
}
