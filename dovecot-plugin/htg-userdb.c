/*++
/* NAME
/*	htg-userdb 3
/* SUMMARY
/*	userdb driver "htg": accounts and the addresses they own
/* SYNOPSIS
/*	userdb {
/*	  driver = htg
/*	  args = /path/of/the/lmdb/directory
/*	}
/* DESCRIPTION
/*	The lookup key is an account login or any address an account owns
/*	(DESIGN 1: mail to an owned address lands in that account's
/*	mailbox). The reply renames the user to the account login, so
/*	LMTP delivery to every owned address ends up in one mailbox.
/*
/*	The userdb returns no home, uid or gid: they come from the Dovecot
/*	configuration (mail_home, mail_uid, mail_gid), the same for every
/*	account, as all mailboxes belong to one unix user. A disabled
/*	account still receives mail (its login is refused by the passdb);
/*	mail to it is kept rather than bounced back to the government.
/*
/*	Not cached (no cache key) and synchronous, as the passdb.
/*
/*	An account with the legacy profile flag (HTG_ACCOUNT_LEGACY_LOCK)
/*	gets pop3_lock_session=yes and htg_legacy_lock=yes: one POP3
/*	session at a time, and LMTP deferred while it runs.
/*
/*	When the login process forwarded the TLS protocol of the session
/*	(forward_htg_tls, set by the htg pop3-login plugin), the reply
/*	carries it as the field htg_tls: the mail plugin audits it.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include "auth-common.h"
#include "userdb.h"

#include "htg-dc-dir.h"
#include "htg-authdb.h"

/* Account login for an account name or an owned address: 1 found, 0 not,
   -1 error. */
static int
htg_userdb_resolve(struct htg_dir *dir, const char *key,
		   struct htg_account *acct_r, const char **error_r)
{
	char owner[HTG_USER_MAX];
	int ret;

	ret = htg_dir_account_get(dir, key, acct_r, error_r);
	if (ret != 0)
		return ret;
	ret = htg_dir_address_owner(dir, key, owner, sizeof(owner), error_r);
	if (ret <= 0)
		return ret;
	return htg_dir_account_get(dir, owner, acct_r, error_r);
}

static void htg_userdb_forward_tls(struct auth_request *request)
{
	const char *tls;

	if (request->fields.extra_fields == NULL)
		return;
	tls = auth_fields_find(request->fields.extra_fields, "forward_htg_tls");
	if (tls != NULL && *tls != '\0')
		auth_request_set_userdb_field(request, "htg_tls", tls);
}

static void
htg_userdb_lookup(struct auth_request *request, userdb_callback_t *callback)
{
	struct htg_account acct;
	struct htg_dir *dir;
	const char *error;
	int ret;

	if (htg_dc_dir_get(&dir, &error) < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	ret = htg_userdb_resolve(dir, request->fields.user, &acct, &error);
	if (ret < 0) {
		e_error(authdb_event(request), "htg directory: %s", error);
		callback(USERDB_RESULT_INTERNAL_FAILURE, request);
		return;
	}
	if (ret == 0) {
		auth_request_log_unknown_user(request, AUTH_SUBSYS_DB);
		callback(USERDB_RESULT_USER_UNKNOWN, request);
		return;
	}
	auth_request_set_userdb_field(request, "user", t_strdup(acct.user));
	if ((acct.flags & HTG_ACCOUNT_LEGACY_LOCK) != 0) {
		/* legacy Digipoort profile (001 1.2), see htg-legacy-lock.h */
		auth_request_set_userdb_field(request, "pop3_lock_session", "yes");
		auth_request_set_userdb_field(request, "htg_legacy_lock", "yes");
	}
	htg_userdb_forward_tls(request);
	callback(USERDB_RESULT_OK, request);
}

static struct userdb_module *htg_userdb_preinit(pool_t pool, const char *args)
{
	struct userdb_module *module;

	if (*args == '\0')
		i_fatal("userdb htg: args must be the HTG directory path");
	module = p_new(pool, struct userdb_module, 1);
	module->default_cache_key = NULL;
	module->blocking = FALSE;
	return module;
}

static void htg_userdb_init(struct userdb_module *module)
{
	const char *path = htg_dc_dir_path();

	if (path != NULL && strcmp(path, module->args) != 0)
		i_fatal("userdb htg: one directory per auth process "
			"(%s and %s)", path, module->args);
	htg_dc_dir_ref(module->args, HTG_DIR_RDONLY);
}

static void htg_userdb_deinit(struct userdb_module *module ATTR_UNUSED)
{
	htg_dc_dir_unref();
}

struct userdb_module_interface htg_userdb_iface = {
	.name = "htg",
	.preinit = htg_userdb_preinit,
	.init = htg_userdb_init,
	.deinit = htg_userdb_deinit,
	.lookup = htg_userdb_lookup,
};
