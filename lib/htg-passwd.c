/*++
/* NAME
/*	htg-passwd 3
/* SUMMARY
/*	one-way password hashes Dovecot can verify
/* DESCRIPTION
/*	See htg-passwd.h. Uses libxcrypt's crypt_gensalt_rn() (salt from
/*	getrandom) and crypt_rn() (no static buffer, thread safe).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "htg-passwd.h"

int htg_passwd_hash(const char *password, char *buf, size_t size)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	const char *out;
	int n;

	if (crypt_gensalt_rn("$6$", HTG_PASSWD_ROUNDS, NULL, 0, setting,
			     sizeof(setting)) == NULL)
		return -1;
	memset(&data, 0, sizeof(data));
	out = crypt_rn(password, setting, &data, sizeof(data));
	if (out == NULL || out[0] == '*')
		return -1;
	n = snprintf(buf, size, "%s%s", HTG_PASSWD_SCHEME, out);
	explicit_bzero(&data, sizeof(data));
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

int htg_passwd_verify(const char *password, const char *hash)
{
	struct crypt_data data;
	const char *out;
	size_t len, slen = strlen(HTG_PASSWD_SCHEME);
	unsigned char diff = 0;

	if (strncmp(hash, HTG_PASSWD_SCHEME, slen) != 0)
		return 0;
	hash += slen;
	memset(&data, 0, sizeof(data));
	out = crypt_rn(password, hash, &data, sizeof(data));
	if (out == NULL || out[0] == '*' || (len = strlen(out)) != strlen(hash)) {
		explicit_bzero(&data, sizeof(data));
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(out[i] ^ hash[i]);
	explicit_bzero(&data, sizeof(data));
	return diff == 0;
}

const char *htg_passwd_dummy_hash(void)
{
	static char dummy[256];	/* HTG_HASH_MAX */
	unsigned char rnd[24];
	char password[2 * sizeof(rnd) + 1];

	if (dummy[0] != '\0')
		return dummy;
	if (getentropy(rnd, sizeof(rnd)) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(password + 2 * i, 3, "%02x", rnd[i]);
	if (htg_passwd_hash(password, dummy, sizeof(dummy)) < 0)
		dummy[0] = '\0';
	explicit_bzero(password, sizeof(password));
	return dummy[0] != '\0' ? dummy : NULL;
}
