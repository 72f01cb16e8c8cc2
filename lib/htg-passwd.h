#ifndef HTG_PASSWD_H
#define HTG_PASSWD_H

/*++
/* NAME
/*	htg-passwd 3h
/* SUMMARY
/*	one-way password hashes Dovecot can verify
/* SYNOPSIS
/*	#include "htg-passwd.h"
/*
/*	int	htg_passwd_hash(const char *password, char *buf, size_t size);
/*	int	htg_passwd_verify(const char *password, const char *hash);
/* DESCRIPTION
/*	htg_passwd_hash() writes "{SHA512-CRYPT}$6$rounds=N$salt$hash" (the
/*	Dovecot password scheme SHA512-CRYPT, verified with crypt(3)) with a
/*	fresh 16-character salt from the kernel's random source. 004 3.3.2
/*	footnote 2: the gateway keeps only a one-way hash, never the
/*	password. Returns 0 or -1.
/*
/*	htg_passwd_verify() returns 1 when password matches hash, else 0;
/*	the comparison takes the same time whatever the position of the
/*	first differing byte.
/*
/*	htg_passwd_dummy_hash() returns a hash made like every account's
/*	(same scheme, same rounds) of a random password nobody knows: a
/*	login of an unknown or disabled account is verified against it,
/*	so that it costs what a wrong password costs (no timing tells
/*	which accounts exist). Made at the first call; NULL if crypt fails.
/*--*/

#include <stddef.h>

#define HTG_PASSWD_SCHEME "{SHA512-CRYPT}"
#ifndef HTG_PASSWD_ROUNDS
#define HTG_PASSWD_ROUNDS 5000	/* crypt(3) default; see doc/ */
#endif

int htg_passwd_hash(const char *password, char *buf, size_t size);
int htg_passwd_verify(const char *password, const char *hash);
const char *htg_passwd_dummy_hash(void);

#endif
