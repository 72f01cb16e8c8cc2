/*++
/* NAME
/*	test-htg-login 1
/* SUMMARY
/*	unit test: every kind of plain login verifies one hash (issue 13)
/* DESCRIPTION
/*	Counts the calls of the verification htg_login_check() makes for a
/*	known, an unknown and a disabled account: one each, the latter two
/*	against the dummy hash (which the real verification accepts for
/*	no password we know), and never a success for them.
/*--*/

#include <string.h>

#include "htg-test.h"
#include "htg-passwd.h"
#include "htg-login.h"

struct count {
	unsigned int calls, dummies;
	const char *last_hash;
	int answer;
};

static int count_verify(const char *password, const char *hash, int dummy,
			void *ctx)
{
	struct count *c = ctx;

	(void)password;
	c->calls++;
	c->dummies += dummy != 0;
	c->last_hash = hash;
	return c->answer;
}

static const struct {
	enum htg_login_state state;
	const char *hash;
	int answer, want, dummy;
} cases[] = {
	{ HTG_LOGIN_FOUND, "{SHA512-CRYPT}$6$x$y", 1, 1, 0 },
	{ HTG_LOGIN_FOUND, "{SHA512-CRYPT}$6$x$y", 0, 0, 0 },
	{ HTG_LOGIN_FOUND, "", 1, 0, 1 },	/* no password */
	{ HTG_LOGIN_UNKNOWN, NULL, 0, 0, 1 },
	{ HTG_LOGIN_UNKNOWN, NULL, 1, 0, 1 },	/* never lets in */
	{ HTG_LOGIN_DISABLED, "{SHA512-CRYPT}$6$x$y", 1, 0, 1 },
};

int main(void)
{
	const char *dummy = htg_passwd_dummy_hash();
	char real[256];

	test_begin("login: one hash verification for every kind of account");
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct count c = { .answer = cases[i].answer };

		test_assert_idx(htg_login_check(cases[i].state, "pw",
						cases[i].hash, count_verify,
						&c) == cases[i].want, i);
		test_assert_idx(c.calls == 1, i);
		test_assert_idx(c.dummies == (unsigned int)cases[i].dummy, i);
		if (cases[i].dummy)
			test_assert_idx(c.last_hash == dummy, i);
	}
	test_end();

	test_begin("login: the dummy hash costs what an account's does");
	test_assert(dummy != NULL && dummy == htg_passwd_dummy_hash());
	test_assert(htg_passwd_hash("pw", real, sizeof(real)) == 0);
	/* same scheme and rounds: the same prefix up to the salt */
	test_assert(strchr(dummy + 17, '$') - dummy ==
		    strchr(real + 17, '$') - real);
	test_assert(strncmp(dummy, real, 17) == 0);
	test_assert(htg_passwd_verify("pw", dummy) == 0);
	test_end();
	return test_exit();
}
