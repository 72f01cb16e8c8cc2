/*++
/* NAME
/*	test-htg-route 1
/* SUMMARY
/*	unit test: the proxy fields of an account's home node (issue 15)
/* DESCRIPTION
/*	htg_route_fields() against a real LMDB directory with three nodes:
/*	no fields for an account without a home or homed on this node, nor
/*	for services other than pop3 and lmtp; the exact POP3 and LMTP
/*	fields for one homed elsewhere; a temporary failure for a home
/*	node missing from the directory. htg_route_parse_args(): accepted
/*	and refused passdb args.
/*--*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-test.h"
#include "htg-dir.h"
#include "htg-route.h"

static struct htg_account account(const char *user, const char *home)
{
	struct htg_account a;

	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "%s", user);
	snprintf(a.home, sizeof(a.home), "%s", home);
	return a;
}

static void test_args(void)
{
	struct htg_route_settings set;
	char path[256];
	const char *error;

	test_begin("route: passdb args");
	test_assert(htg_route_parse_args("/var/lib/htg/directory", path,
					 sizeof(path), &set, &error) == 0 &&
		    strcmp(path, "/var/lib/htg/directory") == 0 &&
		    set.node[0] == '\0' && set.pop3_port == 110 &&
		    set.lmtp_port == 24 && set.wait_secs == 15);
	test_assert(htg_route_parse_args("  /d  node=GW2 pop3_port=10110 "
					 "lmtp_port=10024 wait=0 ", path,
					 sizeof(path), &set, &error) == 0 &&
		    strcmp(path, "/d") == 0 && strcmp(set.node, "gw2") == 0 &&
		    set.pop3_port == 10110 && set.lmtp_port == 10024 &&
		    set.wait_secs == 0);
	test_assert(htg_route_parse_args("/d wait=121", path, sizeof(path),
					 &set, &error) < 0);
	test_assert(htg_route_parse_args("/d wait=-1", path, sizeof(path),
					 &set, &error) < 0);
	test_assert(htg_route_parse_args("", path, sizeof(path), &set,
					 &error) < 0);
	test_assert(htg_route_parse_args("/d pop3_port=0", path, sizeof(path),
					 &set, &error) < 0);
	test_assert(htg_route_parse_args("/d lmtp_port=65536", path,
					 sizeof(path), &set, &error) < 0);
	test_assert(htg_route_parse_args("/d pop3_port=12x", path,
					 sizeof(path), &set, &error) < 0);
	test_assert(htg_route_parse_args("/d host=evil", path, sizeof(path),
					 &set, &error) < 0);
	test_assert(htg_route_parse_args("/d node=", path, sizeof(path), &set,
					 &error) < 0);
	test_end();
}

static void test_fields(const char *tmpdir)
{
	struct htg_route_settings set = {
		.node = "gw1", .pop3_port = 10110, .lmtp_port = 10024
	};
	struct htg_account a;
	struct htg_dir *dir;
	char buf[512];
	const char *error;

	test_begin("route: the proxy fields");
	if (htg_dir_open(tmpdir, HTG_DIR_CREATE, &dir, &error) != 1) {
		printf("open: %s\n", error);
		exit(1);
	}
	test_assert(htg_dir_node_set(dir, "gw1", "127.0.1.1", &error) == 1 &&
		    htg_dir_node_set(dir, "gw2", "127.0.1.2", &error) == 1 &&
		    htg_dir_node_set(dir, "gw3", "gw3.example.nl", &error) == 1);
	/* served here: no home, or this node's */
	a = account("a@b.nl", "");
	test_assert(htg_route_fields(dir, &set, "pop3", &a, buf, sizeof(buf),
				     &error) == 0 && buf[0] == '\0');
	a = account("a@b.nl", "gw1");
	test_assert(htg_route_fields(dir, &set, "pop3", &a, buf, sizeof(buf),
				     &error) == 0 && buf[0] == '\0');
	test_assert(htg_route_fields(dir, &set, "lmtp", &a, buf, sizeof(buf),
				     &error) == 0 && buf[0] == '\0');
	/* homed elsewhere */
	a = account("a@b.nl", "gw2");
	test_assert(htg_route_fields(dir, &set, "pop3", &a, buf, sizeof(buf),
				     &error) == 1);
	test_assert(strcmp(buf, "proxy_maybe=y\thost=127.0.1.2\tport=10110\t"
			   "starttls=yes\tproxy_mech=plain\t"
			   "source_ip=127.0.1.1") == 0);
	test_assert(htg_route_fields(dir, &set, "lmtp", &a, buf, sizeof(buf),
				     &error) == 1);
	test_assert(strcmp(buf, "proxy_maybe=y\thost=127.0.1.2\tport=10024\t"
			   "protocol=lmtp\tstarttls=yes\t"
			   "source_ip=127.0.1.1") == 0);
	/* submissions are accepted on any node: no proxy for SASL */
	test_assert(htg_route_fields(dir, &set, "smtp", &a, buf, sizeof(buf),
				     &error) == 0 && buf[0] == '\0');
	test_assert(htg_route_fields(dir, &set, "doveadm", &a, buf,
				     sizeof(buf), &error) == 0);
	/* a host name: Dovecot resolves it */
	a = account("a@b.nl", "gw3");
	test_assert(htg_route_fields(dir, &set, "pop3", &a, buf, sizeof(buf),
				     &error) == 1 &&
		    strstr(buf, "\thost=gw3.example.nl\t") != NULL);
	/* this node unknown (no node=): proxy_maybe decides, no source_ip */
	{
		struct htg_route_settings anon = {
			.node = "", .pop3_port = 110, .lmtp_port = 24
		};

		a = account("a@b.nl", "gw2");
		test_assert(htg_route_fields(dir, &anon, "pop3", &a, buf,
					     sizeof(buf), &error) == 1 &&
			    strcmp(buf, "proxy_maybe=y\thost=127.0.1.2\t"
				   "port=110\tstarttls=yes\t"
				   "proxy_mech=plain") == 0);
	}
	/* a home node missing from the directory: a temporary failure */
	a = account("a@b.nl", "gw9");
	test_assert(htg_route_fields(dir, &set, "pop3", &a, buf, sizeof(buf),
				     &error) == -1 && buf[0] == '\0');
	/* fields that do not fit are an error, not a cut */
	a = account("a@b.nl", "gw2");
	test_assert(htg_route_fields(dir, &set, "pop3", &a, buf, 40,
				     &error) == -1);
	htg_dir_close(&dir);
	test_end();
}

int main(void)
{
	test_args();
	test_fields(test_tmpdir("route"));
	return test_exit();
}
