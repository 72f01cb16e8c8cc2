/*++
/* NAME
/*	htgctl-dir 3
/* SUMMARY
/*	htgctl: accounts, addresses, flows and grants
/* DESCRIPTION
/*	The commands that change or list the directory's records of
/*	accounts (with their passwords, read from stdin and stored as
/*	one-way hashes, and their switches: profile, mode, translate),
/*	addresses (and the logical one), flows (and whether the gateway
/*	answers for them) and grants. See htgctl(8).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htg-dir.h"
#include "htg-passwd.h"
#include "htgctl.h"

/* One line from stdin; the newline is removed. Never echoed or logged. */
static int read_password(char *buf, size_t size)
{
	size_t len;

	if (fgets(buf, (int)size, stdin) == NULL)
		return -1;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] != '\n' && !feof(stdin)) {
		fputs("htgctl: password too long\n", stderr);
		return -1;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0) {
		fputs("htgctl: empty password\n", stderr);
		return -1;
	}
	return 0;
}

static int make_hash(char *hash, size_t size)
{
	char pw[1024];
	int ret;

	if (read_password(pw, sizeof(pw)) < 0)
		return -1;
	ret = htg_passwd_hash(pw, hash, size);
	explicit_bzero(pw, sizeof(pw));
	if (ret < 0)
		fputs("htgctl: password hashing failed\n", stderr);
	return ret;
}

/* One account flag each, set by the first word, cleared by the second:
   profile legacy: a POP3 session locks the store against a second
   session and against delivery (001 1.2); mode report: the milter's and
   the policy daemon's would-be refusals are logged and audited as
   "report", the message passes (issue 16). Both live: read per request. */
struct account_switch {
	const char *cmd, *set, *clear;
	uint32_t flag;
};

static const struct account_switch switches[] = {
	{ "profile", "legacy", "standard", HTG_ACCOUNT_LEGACY_LOCK },
	{ "mode", "report", "enforce", HTG_ACCOUNT_REPORT },
	{ "translate", "on", "off", HTG_ACCOUNT_TRANSLATE },
};

static int print_account(const struct htg_account *a, void *ctx)
{
	(void)ctx;
	if (ctl_json) {
		json_sep();
		printf("{\"user\":");
		json_str(a->user);
		printf(",\"disabled\":%s,\"has_password\":%s,"
		       "\"retention_days\":%u,\"max_size\":%llu,"
		       "\"created\":%lld,\"profile\":\"%s\",\"mode\":\"%s\","
		       "\"translate\":%s,\"home\":",
		       (a->flags & HTG_ACCOUNT_DISABLED) ? "true" : "false",
		       a->pwhash[0] != '\0' ? "true" : "false",
		       a->retention_days, (unsigned long long)a->max_size,
		       (long long)a->created,
		       (a->flags & HTG_ACCOUNT_LEGACY_LOCK) ? "legacy" :
		       "standard",
		       (a->flags & HTG_ACCOUNT_REPORT) ? "report" : "enforce",
		       (a->flags & HTG_ACCOUNT_TRANSLATE) ? "true" : "false");
		json_str(a->home);	/* "" = no home node */
		putchar('}');
	} else {
		text_str(a->user);
		printf("\tretention-days=%u\tmax-size=%llu%s%s%s%s%s%s",
		       a->retention_days, (unsigned long long)a->max_size,
		       a->pwhash[0] == '\0' ? "\tno-password" : "",
		       (a->flags & HTG_ACCOUNT_DISABLED) ? "\tdisabled" : "",
		       (a->flags & HTG_ACCOUNT_LEGACY_LOCK) ?
		       "\tprofile=legacy" : "",
		       (a->flags & HTG_ACCOUNT_REPORT) ? "\tmode=report" : "",
		       (a->flags & HTG_ACCOUNT_TRANSLATE) ? "\ttranslate" : "",
		       a->home[0] != '\0' ? "\thome=" : "");
		if (a->home[0] != '\0')
			text_str(a->home);
		putchar('\n');
	}
	return 0;
}

struct pair_names {
	const char *key, *value;
};

static int print_pair(const char *key, const char *value, void *ctx)
{
	const struct pair_names *n = ctx;

	if (ctl_json) {
		json_sep();
		printf("{\"%s\":", n->key);
		json_str(key);
		printf(",\"%s\":", n->value);
		json_str(value);
		putchar('}');
	} else {
		text_str(key);
		putchar('\t');
		text_str(value);
		putchar('\n');
	}
	return 0;
}

/* --- commands ---------------------------------------------------------------- */

/* --home NODE|none: "none" is no home node */
static const char *home_arg(const char *arg)
{
	return strcmp(arg, "none") == 0 ? "" : arg;
}

/* account add USER [--password-stdin] [--retention-days N] [--max-size B]
   [--home NODE|none]. Without --home, the node with the fewest accounts
   homed there (htg_dir_node_pick; none when the directory has no nodes). */
static int account_add(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL, *home = NULL;
	int ret, pw_stdin = 0;
	struct htg_account a;

	memset(&a, 0, sizeof(a));
	a.retention_days = HTG_DEFAULT_RETENTION_DAYS;
	a.max_size = HTG_DEFAULT_MAX_SIZE;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			pw_stdin = 1;
		else if (strcmp(argv[i], "--retention-days") == 0 &&
			 i + 1 < argc)
			a.retention_days = (uint32_t)ctl_parse_number(
				argv[++i], "retention days");
		else if (strcmp(argv[i], "--max-size") == 0 &&
			 i + 1 < argc)
			a.max_size = ctl_parse_number(argv[++i], "max size");
		else if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
			home = home_arg(argv[++i]);
		else
			ctl_usage();
	}
	if (home != NULL && strlen(home) >= sizeof(a.home)) {
		fputs("htgctl: node name too long\n", stderr);
		return EXIT_REFUSED;
	}
	if (strlen(argv[1]) >= sizeof(a.user)) {
		fputs("htgctl: user name too long\n", stderr);
		return EXIT_REFUSED;
	}
	strcpy(a.user, argv[1]);
	/* without a password the account exists but cannot log in */
	if (pw_stdin && make_hash(a.pwhash, sizeof(a.pwhash)) < 0)
		return EXIT_REFUSED;
	dir = ctl_open_dir(1);
	if (home != NULL)
		strcpy(a.home, home);
	if (home == NULL &&
	    htg_dir_node_pick(dir, a.home, sizeof(a.home), &error) < 0)
		ret = -1;
	else
		ret = htg_dir_account_add(dir, &a, &error);
	explicit_bzero(&a, sizeof(a));
	htg_dir_close(&dir);
	return ctl_result(ret, error);
}

/* account passwd USER --password-stdin */
static int account_passwd(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL;
	int ret;
	char hash[HTG_HASH_MAX];

	if (argc != 3 || strcmp(argv[2], "--password-stdin") != 0)
		ctl_usage();
	if (make_hash(hash, sizeof(hash)) < 0)
		return EXIT_REFUSED;
	dir = ctl_open_dir(1);
	ret = htg_dir_account_set_hash(dir, argv[1], hash, &error);
	htg_dir_close(&dir);
	return ctl_result(ret, error);
}

int cmd_account(int argc, char **argv)
{
	struct htg_dir *dir;
	const char *error = NULL;
	int ret;

	if (argc < 1)
		ctl_usage();
	if (strcmp(argv[0], "list") == 0) {
		if (argc != 1)
			ctl_usage();
		dir = ctl_open_dir(0);
		json_open();
		ret = htg_dir_account_iter(dir, print_account, NULL, &error);
		json_close();
		htg_dir_close(&dir);
		return ctl_result(ret, error);
	}
	if (argc < 2)
		ctl_usage();
	/* del takes any name, so that one written before names were
	   checked can be removed */
	if (strcmp(argv[0], "del") != 0)
		name_need(NAME_ACCOUNT, argv[1]);
	if (strcmp(argv[0], "add") == 0)
		return account_add(argc, argv);
	if (strcmp(argv[0], "passwd") == 0)
		return account_passwd(argc, argv);
	if (strcmp(argv[0], "disable") == 0 || strcmp(argv[0], "enable") == 0) {
		int off = strcmp(argv[0], "disable") == 0;

		if (argc != 2)
			ctl_usage();
		/* the passdb refuses a disabled login at once; mail to the
		   account is still delivered (see htg-userdb.c) */
		dir = ctl_open_dir(1);
		ret = htg_dir_account_set_flags(dir, argv[1],
						off ? HTG_ACCOUNT_DISABLED : 0,
						off ? 0 : HTG_ACCOUNT_DISABLED,
						&error);
		htg_dir_close(&dir);
		return ctl_result(ret, error);
	}
	for (size_t i = 0; i < sizeof(switches) / sizeof(switches[0]); i++) {
		const struct account_switch *w = &switches[i];
		int on;

		if (strcmp(argv[0], w->cmd) != 0)
			continue;
		if (argc != 3 || (strcmp(argv[2], w->set) != 0 &&
				  strcmp(argv[2], w->clear) != 0))
			ctl_usage();
		on = strcmp(argv[2], w->set) == 0;
		dir = ctl_open_dir(1);
		ret = htg_dir_account_set_flags(dir, argv[1], on ? w->flag : 0,
						on ? 0 : w->flag, &error);
		htg_dir_close(&dir);
		return ctl_result(ret, error);
	}
	if (strcmp(argv[0], "home") == 0) {
		/* where the account's mail lives (htg-dir-node(3)) */
		if (argc != 3)
			ctl_usage();
		dir = ctl_open_dir(1);
		ret = htg_dir_account_set_home(dir, argv[1], home_arg(argv[2]),
					       &error);
		htg_dir_close(&dir);
		return ctl_result(ret, error);
	}
	if (strcmp(argv[0], "del") == 0) {
		if (argc != 2)
			ctl_usage();
		dir = ctl_open_dir(1);
		ret = htg_dir_account_del(dir, argv[1], &error);
		htg_dir_close(&dir);
		return ctl_result(ret, error);
	}
	ctl_usage();
}

/* --- addresses, flows, grants: one table ------------------------------------ */

typedef int record_iter_fn(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
			   const char **error_r);
typedef int record_del_fn(struct htg_dir *dir, const char *key,
			  const char **error_r);
/* A kind's own subcommands (add, set, ...): 1 handled, *ret_r set; 0 no */
typedef int record_more_fn(struct htg_dir **dir_r, int argc, char **argv,
			   int *ret_r, const char **error_r);

struct record_kind {
	const char *cmd;
	struct pair_names names;	/* the columns of "list --json" */
	record_iter_fn *iter;
	record_del_fn *del;		/* "del KEY"; NULL: none */
	record_more_fn *more;
};

/* address add ADDRESS USER [--logical] */
static int address_more(struct htg_dir **dir_r, int argc, char **argv,
			int *ret_r, const char **error_r)
{
	if (strcmp(argv[0], "add") != 0 || (argc != 3 && (argc != 4 ||
	    strcmp(argv[3], "--logical") != 0)))
		return 0;
	name_need(NAME_ADDRESS, argv[1]);
	name_need(NAME_ACCOUNT, argv[2]);
	*dir_r = ctl_open_dir(1);
	*ret_r = htg_dir_address_add(*dir_r, argv[1], argv[2], error_r);
	/* --logical: where government answers go; the address a
	   translating account's real addresses leave as (an address the
	   account has already is marked as well) */
	if (*ret_r >= 0 && argc == 4)
		*ret_r = htg_dir_logical_set(*dir_r, argv[2], argv[1], error_r);
	return 1;
}

/* flow add|set FLOW --deliver-to ADDRESS; flow respond FLOW MODE
   [--delay S] */
static int flow_more(struct htg_dir **dir_r, int argc, char **argv,
		     int *ret_r, const char **error_r)
{
	if (argc == 4 && (strcmp(argv[0], "add") == 0 ||
			  strcmp(argv[0], "set") == 0) &&
	    strcmp(argv[2], "--deliver-to") == 0) {
		/* add never replaces a flow's target; set changes it */
		name_need(NAME_FLOW, argv[1]);
		name_need(NAME_ADDRESS, argv[3]);
		*dir_r = ctl_open_dir(1);
		*ret_r = strcmp(argv[0], "add") == 0 ?
			htg_dir_flow_add(*dir_r, argv[1], argv[3], error_r) :
			htg_dir_flow_set(*dir_r, argv[1], argv[3], error_r);
		return 1;
	}
	if ((argc == 3 || (argc == 5 && strcmp(argv[3], "--delay") == 0)) &&
	    strcmp(argv[0], "respond") == 0) {
		/* the gateway answers for the government side (htg-respond) */
		unsigned long long delay = argc == 5 ?
			ctl_parse_number(argv[4], "delay") : 0;

		if (strcmp(argv[2], "off") != 0 &&
		    !htg_dir_respond_mode_ok(argv[2]))
			ctl_usage();
		if (delay > 3600) {
			ctl_say("the delay is at most 3600 seconds\n");
			exit(EXIT_USAGE);
		}
		*dir_r = ctl_open_dir(1);
		*ret_r = htg_dir_flow_respond_set(*dir_r, argv[1], argv[2],
						  (unsigned int)delay, error_r);
		return 1;
	}
	return 0;
}

/* node set NAME ADDRESS (adds or changes) */
static int node_more(struct htg_dir **dir_r, int argc, char **argv,
		     int *ret_r, const char **error_r)
{
	if (argc != 3 || strcmp(argv[0], "set") != 0)
		return 0;
	*dir_r = ctl_open_dir(1);
	*ret_r = htg_dir_node_set(*dir_r, argv[1], argv[2], error_r);
	return 1;
}

static const struct record_kind records[] = {
	/* gateway nodes: name -> address (htg-dir-node(3)); del refuses
	   while accounts are homed there */
	{ "node", { "node", "address" }, htg_dir_node_iter,
	  htg_dir_node_del, node_more },
	{ "address", { "address", "user" }, htg_dir_address_iter,
	  htg_dir_address_del, address_more },
	{ "flow", { "flow", "deliver_to" }, htg_dir_flow_iter,
	  htg_dir_flow_del, flow_more },
	/* grant USER FLOW and revoke USER FLOW: cmd_grant() */
	{ "grant", { "user", "flow" }, htg_dir_grant_iter, NULL, NULL },
};

/* list [--json], del KEY, or the kind's own subcommands */
static int record_cmd(const char *cmd, int argc, char **argv)
{
	const struct record_kind *k = NULL;
	struct htg_dir *dir = NULL;
	const char *error = NULL;
	int ret = -1;

	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		if (strcmp(records[i].cmd, cmd) == 0)
			k = &records[i];
	if (k == NULL || argc < 1)
		ctl_usage();
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		dir = ctl_open_dir(0);
		json_open();
		ret = k->iter(dir, print_pair, (void *)&k->names, &error);
		json_close();
	} else if (k->del != NULL && argc == 2 && strcmp(argv[0], "del") == 0) {
		/* del takes any name: one written before names were
		   checked can still be removed */
		dir = ctl_open_dir(1);
		ret = k->del(dir, argv[1], &error);
	} else if (k->more == NULL || !k->more(&dir, argc, argv, &ret, &error)) {
		ctl_usage();
	}
	htg_dir_close(&dir);
	return ctl_result(ret, error);
}

int cmd_address(int argc, char **argv)
{
	return record_cmd("address", argc, argv);
}

int cmd_flow(int argc, char **argv)
{
	return record_cmd("flow", argc, argv);
}

int cmd_node(int argc, char **argv)
{
	return record_cmd("node", argc, argv);
}

/* grant USER FLOW | grant list; revoke USER FLOW */
int cmd_grant(int argc, char **argv, int revoke)
{
	struct htg_dir *dir;
	const char *error = NULL;
	int ret;

	if (!revoke && argc == 1 && strcmp(argv[0], "list") == 0)
		return record_cmd("grant", argc, argv);
	if (argc != 2)
		ctl_usage();
	if (!revoke) {
		name_need(NAME_ACCOUNT, argv[0]);
		name_need(NAME_FLOW, argv[1]);
	}
	dir = ctl_open_dir(1);
	ret = revoke ? htg_dir_grant_del(dir, argv[0], argv[1], &error) :
		htg_dir_grant_add(dir, argv[0], argv[1], &error);
	htg_dir_close(&dir);
	return ctl_result(ret, error);
}
/* expire [--now T]: records whose window has passed */
