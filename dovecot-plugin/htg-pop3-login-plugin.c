/*++
/* NAME
/*	htg-pop3-login-plugin 3
/* SUMMARY
/*	pop3-login plugin: nothing but CAPA, STLS and QUIT before TLS
/* SYNOPSIS
/*	login_plugin_dir = /usr/lib/dovecot/modules/login
/*	login_plugins = htg_pop3_login
/* DESCRIPTION
/*	HTG-TLS for POP3 (Logius 004 3.3.3): on a connection without TLS
/*	the only commands answered are CAPA, STLS and QUIT. Every other
/*	line (USER, PASS, AUTH, APOP, NOOP, unknown words) is consumed
/*	unexecuted and answered
/*
/*	-ERR [HTG-TLS] Command not allowed on a clear text connection: issue STLS first
/*
/*	The check is on the real TLS state of the connection (client->tls),
/*	not on Dovecot's "secured" flag: Dovecot marks a connection whose
/*	remote IP equals its local IP (127.0.0.1 to 127.0.0.1) secured, and
/*	would then accept a clear-text login despite ssl = required.
/*
/*	A CAPA before TLS is answered with the "secured" flag cleared for
/*	the duration of the command, so it advertises neither USER nor any
/*	SASL mechanism (the empty "SASL" line is dropped): a client sees
/*	what it can really do, which is STLS.
/*
/*	After HTG_PRE_TLS_MAX_REFUSED refused lines the connection is
/*	closed, as pop3-login does after three unknown commands.
/*
/*	Once TLS is up, the negotiated protocol (e.g. "TLSv1.3") is added
/*	to the fields forwarded to auth as forward_htg_tls; the htg userdb
/*	hands it to the pop3 process as the setting htg_tls, where the
/*	mail plugin writes it into every audit event (issue 5.4).
/*
/*	When the auth process dies with a login in flight, pop3-login
/*	answers "-ERR [AUTH] Authentication failed." although the password
/*	was never judged (measured: kill -9 of auth under load, bench/
/*	faults). A client must retry that, not report a wrong password, so
/*	such a failure is answered as what it is: -ERR [SYS/TEMP].
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "login-common.h"
#include "istream.h"
#include "iostream-ssl.h"
#include "module-context.h"
#include "str.h"
#include "str-sanitize.h"
#include "client-common.h"

#include "htg-pre-tls.h"
#include "htg-pop3-login-plugin.h"

#include <string.h>

#define HTG_PRE_TLS_MAX_REFUSED 10
#define HTG_PRE_TLS_REPLY \
	"-ERR [HTG-TLS] Command not allowed on a clear text connection: " \
	"issue STLS first\r\n"

#define HTG_LOGIN_CONTEXT(obj) \
	MODULE_CONTEXT(obj, htg_login_client_module)

struct htg_login_client {
	union login_client_module_context module_ctx;
	unsigned int refused;
	bool in_pre_tls_capa;
	bool tls_forwarded;
};

/* Dovecot's module loader checks these two symbols: the plugin is for
   pop3-login only (imap-login has its own command set). */
const char htg_pop3_login_plugin_binary_dependency[] = "pop3-login";
const char *htg_pop3_login_plugin_version = DOVECOT_ABI_VERSION;

static MODULE_CONTEXT_DEFINE_INIT(htg_login_client_module,
				  &login_module_register);

/* The connection is encrypted now: TLS set up by STLS (or an implicit
   TLS listener). Deliberately not client->secured. */
static bool htg_client_has_tls(const struct client *client)
{
	return client->tls && client->ssl_iostream != NULL;
}

static const char *
htg_find(const char *data, size_t size, const char *needle, size_t len)
{
	size_t i;

	for (i = 0; len <= size && i <= size - len; i++) {
		if (memcmp(data + i, needle, len) == 0)
			return data + i;
	}
	return NULL;
}

/* CAPA before TLS: drop the "SASL" line that has no mechanisms left. */
static void
htg_send_raw_data(struct client *client, const void *data, size_t size)
{
	struct htg_login_client *hclient = HTG_LOGIN_CONTEXT(client);
	static const char empty_sasl[] = "\r\nSASL\r\n";
	const char *p;

	if (hclient->in_pre_tls_capa &&
	    (p = htg_find(data, size, empty_sasl, sizeof(empty_sasl) - 1))
	    != NULL) {
		size_t head = (size_t)(p - (const char *)data) + 2;
		size_t skip = sizeof(empty_sasl) - 1 - 2;

		hclient->module_ctx.super.send_raw_data(client, data, head);
		hclient->module_ctx.super.send_raw_data(client,
			(const char *)data + head + skip, size - head - skip);
		return;
	}
	hclient->module_ctx.super.send_raw_data(client, data, size);
}

static bool htg_run_allowed(struct client *client, const char *cmd)
{
	struct htg_login_client *hclient = HTG_LOGIN_CONTEXT(client);
	bool secured = client->secured, ret;

	if (strcmp(cmd, "CAPA") != 0)
		return hclient->module_ctx.super.input_next_cmd(client);

	/* advertise only what a clear-text client may do */
	client->secured = FALSE;
	hclient->in_pre_tls_capa = TRUE;
	ret = hclient->module_ctx.super.input_next_cmd(client);
	hclient->in_pre_tls_capa = FALSE;
	if (!client->destroyed && !htg_client_has_tls(client))
		client->secured = secured;
	return ret;
}

/* Called by pop3-login for each command: returns TRUE to go on with
   the next one, FALSE to wait for more input (or when destroyed). */
static bool htg_input_next_cmd(struct client *client)
{
	struct htg_login_client *hclient = HTG_LOGIN_CONTEXT(client);
	const unsigned char *data, *lf;
	char cmd[HTG_POP3_CMD_MAX];
	size_t size;

	if (htg_client_has_tls(client)) {
		/* Right after STLS the loop asks again while the handshake is
		   still running. Read first: that drives the handshake, and
		   when its end and the first command (AUTH) arrive together
		   the protocol is known before pop3-login runs the command.
		   Asking before the read raced with exactly that case. */
		if (!hclient->tls_forwarded) {
			const char *proto;

			(void)i_stream_read_more(client->input, &data, &size);
			proto = ssl_iostream_get_protocol_name(
				client->ssl_iostream);
			if (proto != NULL) {
				hclient->tls_forwarded = TRUE;
				client_add_forward_field(client, "htg_tls",
							 proto);
			}
		}
		return hclient->module_ctx.super.input_next_cmd(client);
	}

	/* Judge only complete lines: handing pop3-login a partial line
	   would let it remember a command word (e.g. "AUTH ") that we never
	   saw as a whole. A line that never ends fills the input buffer,
	   and pop3-login disconnects. */
	if (i_stream_read_more(client->input, &data, &size) <= 0)
		return FALSE;
	if ((lf = memchr(data, '\n', size)) == NULL)
		return FALSE;

	(void)htg_pop3_cmd_name(data, (size_t)(lf - data), cmd, sizeof(cmd));
	if (htg_pop3_pre_tls_allowed(cmd))
		return htg_run_allowed(client, cmd);

	i_stream_skip(client->input, (size_t)(lf - data) + 1);
	client_send_raw(client, HTG_PRE_TLS_REPLY);
	e_info(client->event, "HTG-TLS: refused %s before STLS",
	       str_sanitize(cmd, HTG_POP3_CMD_MAX));
	if (++hclient->refused >= HTG_PRE_TLS_MAX_REFUSED) {
		client_destroy(client,
			"Disconnected: HTG-TLS: too many commands before STLS");
		return FALSE;
	}
	return TRUE;
}

static void
htg_auth_result(struct client *client, enum client_auth_result result,
		const struct client_auth_reply *reply, const char *text)
{
	struct htg_login_client *hclient = HTG_LOGIN_CONTEXT(client);

	if (client->auth_process_comm_fail &&
	    (result == CLIENT_AUTH_RESULT_AUTHFAILED ||
	     result == CLIENT_AUTH_RESULT_AUTHFAILED_REASON)) {
		result = CLIENT_AUTH_RESULT_TEMPFAIL;
		text = "Temporary authentication failure, try again later";
	}
	hclient->module_ctx.super.auth_result(client, result, reply, text);
}

static void htg_login_client_allocated(struct client *client)
{
	struct htg_login_client *hclient;
	struct client_vfuncs *v = client->vlast;

	hclient = p_new(client->pool, struct htg_login_client, 1);
	hclient->module_ctx.super = *v;
	client->vlast = &hclient->module_ctx.super;
	v->input_next_cmd = htg_input_next_cmd;
	v->send_raw_data = htg_send_raw_data;
	v->auth_result = htg_auth_result;
	MODULE_CONTEXT_SET(client, htg_login_client_module, hclient);
}

static const struct login_client_hooks htg_login_client_hooks = {
	.client_allocated = htg_login_client_allocated,
};

void htg_pop3_login_plugin_init(struct module *module)
{
	login_client_hooks_add(module, &htg_login_client_hooks);
}

void htg_pop3_login_plugin_deinit(void)
{
	login_client_hooks_remove(&htg_login_client_hooks);
}
