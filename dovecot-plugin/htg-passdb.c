/*++
/* NAME
/*	htg-passdb 3
/* SUMMARY
/*	passdb driver "htg": account logins against the HTG directory
/* SYNOPSIS
/*	passdb {
/*	  driver = htg
/*	  args = /path/of/the/lmdb/directory
/*	}
/* DESCRIPTION
/*	The login is the account's full mailbox name (DESIGN 1). The
/*	directory keeps a one-way "{SHA512-CRYPT}$6$..." hash (004 3.3.2
/*	note 2); Dovecot's own password-scheme code verifies it, so the
/*	password is never compared by us. An unknown account fails as
/*	unknown user, a disabled one (HTG_ACCOUNT_DISABLED) as disabled.
/*	On success the login is replaced by the account name as stored,
/*	so "Bob@Example.NL" logs into the mailbox of "bob@example.nl".
/*
/*	A plain login of an unknown or disabled account is verified
/*	against a dummy hash of the same cost (htg-login.h): every failed
/*	login takes as long, so timing does not tell which accounts exist.
/*	(auth_failure_delay, 2 s by default, delays every failure besides.)
/*
/*	No caching: the module has no cache key, so whatever
/*	auth_cache_size says, every login reads the directory and a
/*	password change or a disable by htgctl is effective at the next
/*	login. Lookups are synchronous in the auth process (blocking = no):
/*	one LMDB read transaction costs microseconds, less than the round
/*	trip to an auth-worker; the SHA512-CRYPT verification itself is
/*	what Dovecot does in-process for passwd-file too.
/*
/*	More than one machine (issue 15): args may name this node and the
/*	ports of the nodes' listeners (DIRECTORY [node=NAME] [pop3_port=N]
/*	[lmtp_port=N]). A successful POP3 login or LMTP lookup of an
/*	account homed on another node gets Dovecot's proxy fields for its
/*	home node (htg-route(3)); one homed here, or without a home, gets
/*	none. The LMTP lookup (lmtp_proxy = yes: one passdb lookup per
/*	RCPT, without a password) also resolves an address to its owning
/*	account, and routes a disabled account or one without a password
/*	too: its mail is delivered (htg-userdb(3)), on its home node.
/*
/*	A directory that cannot be read (the PostgreSQL primary down, a
/*	failover under way) never answers a plain login with a failure
/*	at once: the login waits for the directory, up to wait=SECS
/*	(default 15, 0 turns the wait off), and is answered as soon as
/*	the directory is back (htg-passdb-wait(3)). A failover of a few
/*	seconds then costs the client a slower AUTH, not a refusal. The
/*	wait is longer than 10 s on purpose: Postfix's Dovecot SASL
/*	client (xsasl_dovecot_server.c) answers 535 5.7.8, a permanent
/*	"authentication failed", to any FAIL the auth server sends,
/*	temporary or not; only an auth server that has not answered
/*	within its AUTH_TIMEOUT (10 s) makes it answer 454 4.7.0
/*	"Temporary authentication failure". A POP3 login gets Dovecot's
/*	-ERR [SYS/TEMP] when its wait ends.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "auth-common.h"
#include "passdb.h"
#include "password-scheme.h"
#include "strescape.h"

#include "htg-dc-dir.h"
#include "htg-login.h"
#include "htg-route.h"
#include "htg-authdb.h"
#include "htg-passdb-wait.h"

#define HTG_DEFAULT_SCHEME "SHA512-CRYPT"

struct htg_passdb_module {
	struct passdb_module module;
	struct htg_route_settings route;
	char path[HTG_PATH_MAX];
};

/* Add the proxy fields of the account's home node, if it is not this
   one (htg-route.h): 1 added, 0 served here, -1 error (logged). */
static int htg_passdb_route(struct auth_request *request,
			    const struct htg_account *acct)
{
	struct htg_passdb_module *module =
		(struct htg_passdb_module *)request->passdb->passdb;
	const char *const *field, *error;
	struct htg_dir *dir;
	char buf[512];
	int ret;

	if (htg_dc_dir_get(&dir, &error) < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		return -1;
	}
	ret = htg_route_fields(dir, &module->route, request->fields.service,
			       acct, buf, sizeof(buf), &error);
	if (ret < 0) {
		e_error(authdb_event(request), "htg home node %s: %s",
			acct->home, error);
		return -1;
	}
	if (ret == 0)
		return 0;
	for (field = t_strsplit_tabescaped(buf); *field != NULL; field++) {
		const char *eq = strchr(*field, '=');

		/* "key=value", or a bare "key" */
		auth_request_set_field(request, eq == NULL ? *field :
				       t_strdup_until(*field, eq),
				       eq == NULL ? "" : eq + 1, NULL);
	}
	e_debug(authdb_event(request), "home node %s: proxied", acct->home);
	return 1;
}

/* Look the account up; on success *crypted_r and *scheme_r hold the
   stored hash split as Dovecot wants it. */
static enum passdb_result
htg_passdb_lookup(struct auth_request *request, struct htg_account *acct_r,
		  const char **crypted_r, const char **scheme_r)
{
	struct htg_account acct;
	struct htg_dir *dir;
	const char *error, *crypted, *scheme;
	int ret;

	if (htg_dc_dir_get(&dir, &error) < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		return PASSDB_RESULT_INTERNAL_FAILURE;
	}
	ret = htg_dir_account_get(dir, request->fields.user, &acct, &error);
	if (ret < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		return PASSDB_RESULT_INTERNAL_FAILURE;
	}
	if (ret == 0) {
		auth_request_log_unknown_user(request, AUTH_SUBSYS_DB);
		return PASSDB_RESULT_USER_UNKNOWN;
	}
	if ((acct.flags & HTG_ACCOUNT_DISABLED) != 0) {
		e_info(authdb_event(request), "account disabled");
		return PASSDB_RESULT_USER_DISABLED;
	}
	crypted = t_strdup(acct.pwhash);
	scheme = password_get_scheme(&crypted);
	if (scheme == NULL)
		scheme = HTG_DEFAULT_SCHEME;
	if (*crypted == '\0') {
		e_info(authdb_event(request), "account has no password");
		return PASSDB_RESULT_USER_DISABLED;
	}
	/* canonical account name from now on */
	auth_request_set_field(request, "user", t_strdup(acct.user), NULL);
	*crypted_r = crypted;
	*scheme_r = scheme;
	*acct_r = acct;
	return PASSDB_RESULT_OK;
}

struct htg_verify_ctx {
	struct auth_request *request;
	const char *scheme;
};

/* htg_login_verify_fn: the account's hash through Dovecot's verification
   (which logs a mismatch); the dummy through the scheme alone, quietly */
static int htg_passdb_verify(const char *password, const char *hash,
			     int dummy, void *_ctx)
{
	struct htg_verify_ctx *ctx = _ctx;
	struct password_generate_params params = {
		.user = ctx->request->fields.user, .rounds = 0
	};
	const char *crypted = hash, *scheme, *error;

	if (!dummy)
		return auth_request_password_verify(ctx->request, password,
						    hash, ctx->scheme,
						    AUTH_SUBSYS_DB);
	scheme = password_get_scheme(&crypted);
	return password_verify(password, &params,
			       scheme != NULL ? scheme : HTG_DEFAULT_SCHEME,
			       (const unsigned char *)crypted,
			       strlen(crypted), &error);
}

/* One try of a plain login (htg_passdb_try_t): *retry_r when the
   directory could not be read, the lookup or the home node's. */
static enum passdb_result
htg_passdb_try_plain(struct auth_request *request, const char *password,
		     bool *retry_r)
{
	struct htg_verify_ctx ctx = { .request = request };
	struct htg_account acct;
	enum passdb_result result;
	enum htg_login_state state;
	const char *crypted = NULL;
	int ret;

	*retry_r = FALSE;
	result = htg_passdb_lookup(request, &acct, &crypted, &ctx.scheme);
	if (result == PASSDB_RESULT_INTERNAL_FAILURE) {
		*retry_r = TRUE;
		return result;
	}
	state = result == PASSDB_RESULT_OK ? HTG_LOGIN_FOUND :
		result == PASSDB_RESULT_USER_UNKNOWN ? HTG_LOGIN_UNKNOWN :
		HTG_LOGIN_DISABLED;
	ret = htg_login_check(state, password, crypted,
			      htg_passdb_verify, &ctx);
	if (ret < 0) {
		e_error(authdb_event(request), "no dummy password hash");
		result = PASSDB_RESULT_INTERNAL_FAILURE;
	} else if (result == PASSDB_RESULT_OK && ret == 0) {
		result = PASSDB_RESULT_PASSWORD_MISMATCH;
	} else if (result == PASSDB_RESULT_OK &&
		   htg_passdb_route(request, &acct) < 0) {
		/* a temporary failure, never a login on the wrong node */
		result = PASSDB_RESULT_INTERNAL_FAILURE;
		*retry_r = TRUE;
	}
	return result;
}

/* A login the directory cannot answer now waits for it (wait=,
   htg-passdb-wait(3)) rather than failing: see DESCRIPTION. */
static void
htg_passdb_verify_plain(struct auth_request *request, const char *password,
			verify_plain_callback_t *callback)
{
	struct htg_passdb_module *module =
		(struct htg_passdb_module *)request->passdb->passdb;
	enum passdb_result result = PASSDB_RESULT_INTERNAL_FAILURE;
	bool retry = TRUE;

	if (module->route.wait_secs == 0 || !htg_passdb_waiting())
		result = htg_passdb_try_plain(request, password, &retry);
	if (retry && module->route.wait_secs > 0) {
		htg_passdb_wait(request, password, module->route.wait_secs,
				htg_passdb_try_plain, callback);
		return;
	}
	callback(result, request);
}

/* LMTP's lookup (lmtp_proxy = yes): where to deliver RCPT, an account
   or an address it owns. No password is asked for or returned; a
   disabled account or one without a password is routed as any other
   (its mail is delivered, on its home node). */
static void
htg_passdb_lookup_route(struct auth_request *request,
			lookup_credentials_callback_t *callback)
{
	char owner[HTG_USER_MAX];
	struct htg_account acct;
	struct htg_dir *dir;
	const char *error;
	int ret;

	if (htg_dc_dir_get(&dir, &error) < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		callback(PASSDB_RESULT_INTERNAL_FAILURE, NULL, 0, request);
		return;
	}
	ret = htg_dir_account_get(dir, request->fields.user, &acct, &error);
	if (ret == 0) {
		ret = htg_dir_address_owner(dir, request->fields.user, owner,
					    sizeof(owner), &error);
		if (ret > 0)
			ret = htg_dir_account_get(dir, owner, &acct, &error);
	}
	if (ret < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		callback(PASSDB_RESULT_INTERNAL_FAILURE, NULL, 0, request);
		return;
	}
	if (ret == 0) {
		auth_request_log_unknown_user(request, AUTH_SUBSYS_DB);
		callback(PASSDB_RESULT_USER_UNKNOWN, NULL, 0, request);
		return;
	}
	auth_request_set_field(request, "user", t_strdup(acct.user), NULL);
	if (htg_passdb_route(request, &acct) < 0) {
		callback(PASSDB_RESULT_INTERNAL_FAILURE, NULL, 0, request);
		return;
	}
	passdb_handle_credentials(PASSDB_RESULT_OK, NULL, NULL, callback,
				  request);
}

static void
htg_passdb_lookup_credentials(struct auth_request *request,
			      lookup_credentials_callback_t *callback)
{
	struct htg_account acct;
	enum passdb_result result;
	const char *crypted, *scheme;

	/* a lookup that authenticates nobody (wanted scheme ""), by LMTP */
	if (*request->wanted_credentials_scheme == '\0' &&
	    strcmp(request->fields.service, "lmtp") == 0) {
		htg_passdb_lookup_route(request, callback);
		return;
	}
	result = htg_passdb_lookup(request, &acct, &crypted, &scheme);
	if (result == PASSDB_RESULT_OK && htg_passdb_route(request, &acct) < 0)
		result = PASSDB_RESULT_INTERNAL_FAILURE;
	if (result != PASSDB_RESULT_OK) {
		callback(result, NULL, 0, request);
		return;
	}
	passdb_handle_credentials(PASSDB_RESULT_OK, crypted, scheme,
				  callback, request);
}

static struct passdb_module *htg_passdb_preinit(pool_t pool, const char *args)
{
	struct htg_passdb_module *module;
	const char *error;

	module = p_new(pool, struct htg_passdb_module, 1);
	if (htg_route_parse_args(args, module->path, sizeof(module->path),
				 &module->route, &error) < 0)
		i_fatal("passdb htg: %s (args: DIRECTORY [node=NAME] "
			"[pop3_port=N] [lmtp_port=N] [wait=SECS])", error);
	module->module.default_pass_scheme = HTG_DEFAULT_SCHEME;
	module->module.default_cache_key = NULL; /* never cached, see above */
	module->module.blocking = FALSE;
	return &module->module;
}

static void htg_passdb_init(struct passdb_module *_module)
{
	struct htg_passdb_module *module = (struct htg_passdb_module *)_module;
	const char *path = htg_dc_dir_path();

	if (path != NULL && strcmp(path, module->path) != 0)
		i_fatal("passdb htg: one directory per auth process "
			"(%s and %s)", path, module->path);
	htg_dc_dir_ref(module->path, HTG_DIR_RDONLY);
}

static void htg_passdb_deinit(struct passdb_module *module ATTR_UNUSED)
{
	htg_passdb_wait_deinit();
	htg_dc_dir_unref();
}

struct passdb_module_interface htg_passdb_iface = {
	.name = "htg",
	.preinit = htg_passdb_preinit,
	.init = htg_passdb_init,
	.deinit = htg_passdb_deinit,
	.verify_plain = htg_passdb_verify_plain,
	.lookup_credentials = htg_passdb_lookup_credentials,
	.set_credentials = NULL,
};
