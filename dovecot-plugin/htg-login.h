#ifndef HTG_LOGIN_H
#define HTG_LOGIN_H

/*++
/* NAME
/*	htg-login 3h
/* SUMMARY
/*	a plain login costs one hash verification, whoever asks
/* SYNOPSIS
/*	#include "htg-login.h"
/* DESCRIPTION
/*	htg_login_check() verifies password against the account's hash,
/*	or - for an unknown or disabled account, or one without a
/*	password - against htg_passwd_dummy_hash() (same scheme, same
/*	rounds) and ignores the result: the answer takes as long in every
/*	case, so its timing does not tell which accounts exist or are
/*	disabled. verify is called exactly once (the test seam: a unit test
/*	counts the calls). Returns 1 when the password matches a usable
/*	account, 0 when not, -1 when no dummy hash could be made (the
/*	caller fails the login).
/*--*/

enum htg_login_state {
	HTG_LOGIN_FOUND,	/* usable account: hash is its hash */
	HTG_LOGIN_UNKNOWN,
	HTG_LOGIN_DISABLED,	/* disabled, or without a password */
};

/* 1 match, 0 mismatch; dummy is true for the dummy hash */
typedef int htg_login_verify_fn(const char *password, const char *hash,
				int dummy, void *ctx);

int htg_login_check(enum htg_login_state state, const char *password,
		    const char *hash, htg_login_verify_fn *verify, void *ctx);

#endif
