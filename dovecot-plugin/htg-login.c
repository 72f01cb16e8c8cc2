/*++
/* NAME
/*	htg-login 3
/* SUMMARY
/*	a plain login costs one hash verification, whoever asks
/* DESCRIPTION
/*	See htg-login.h. Kept apart from the passdb driver (which needs
/*	Dovecot's auth process) so that a unit test can count the hash
/*	verifications of every kind of login.
/* LICENSE
/*	See the top-level COPYING file.
/*--*/

#include <stddef.h>

#include "htg-passwd.h"
#include "htg-login.h"

int htg_login_check(enum htg_login_state state, const char *password,
		    const char *hash, htg_login_verify_fn *verify, void *ctx)
{
	const char *dummy;
	int ret;

	if (state == HTG_LOGIN_FOUND && hash != NULL && *hash != '\0')
		return verify(password, hash, 0, ctx) > 0;
	/* issue 13: unknown and disabled accounts cost a verification of
	   the same cost; its result never lets anyone in */
	if ((dummy = htg_passwd_dummy_hash()) == NULL)
		return -1;
	ret = verify(password, dummy, 1, ctx);
	(void)ret;
	return 0;
}
