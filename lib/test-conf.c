/*++
/* NAME
/*	test-conf 1
/* SUMMARY
/*	unit tests of the key = value configuration reader
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-conf.h"
#include "htg-rules.h"
#include "htg-test.h"

static const char *const keys[] = { "socket", "mode", "limit", "flag", NULL };

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		exit(1);
	fputs(text, fp);
	fclose(fp);
}

static void test_conf(void)
{
	char path[] = "/tmp/htg-test-conf.XXXXXX";
	struct htg_conf *conf;
	const char *error;
	char where[100];
	int fd = mkstemp(path);

	test_begin("conf: load, continuation, override, unknown key");
	if (fd < 0)
		exit(1);
	close(fd);
	write_file(path, "# comment\nsocket = unix:/a\n  /b\nmode=report\n"
		   "\nlimit = 42\nflag = yes\nmode = enforce\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == 0);
	test_assert(strcmp(htg_conf_get(conf, "socket", ""), "unix:/a /b") == 0);
	test_assert(strcmp(htg_conf_get(conf, "mode", ""), "enforce") == 0);
	test_assert(htg_conf_int(conf, "limit", 0, 0, 100) == 42);
	test_assert(htg_conf_bool(conf, "flag", 0) == 1);
	snprintf(where, sizeof(where), "%s:6", path);
	test_assert(strcmp(htg_conf_where(conf, "limit"), where) == 0);
	snprintf(where, sizeof(where), "%s:2", path);
	test_assert(strcmp(htg_conf_where(conf, "socket"), where) == 0);
	test_assert(htg_conf_set(conf, "limit=7", &error) == 0);
	test_assert(htg_conf_int(conf, "limit", 0, 0, 100) == 7);
	test_assert(strcmp(htg_conf_where(conf, "limit"), "-o") == 0);
	test_assert(strcmp(htg_conf_where(conf, "flag2"), "default") == 0);
	test_assert(htg_conf_error_count(conf) == 0);
	test_assert(htg_conf_set(conf, "nokey=7", &error) == -1);
	test_assert(htg_conf_set(conf, "novalue", &error) == -1);
	htg_conf_free(&conf);

	write_file(path, "socket = x\ntypo_key = 1\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == -1);
	test_assert(strstr(error, "typo_key") != NULL && strstr(error, ":2:") != NULL);
	htg_conf_free(&conf);

	write_file(path, "socket\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == -1);
	htg_conf_free(&conf);
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, "/nonexistent/x.conf", &error) == -1);
	htg_conf_free(&conf);
	unlink(path);
	test_end();
}

/* the line of the value and its text in the only error recorded */
static int one_error(struct htg_conf *conf, const char *path, int line,
		     const char *text)
{
	char want[512];

	snprintf(want, sizeof(want), "%s:%d: %s", path, line, text);
	if (htg_conf_error_count(conf) != 1 ||
	    strcmp(htg_conf_error(conf, 0), want) != 0) {
		fprintf(stderr, "  want: %s\n  got (%zu): %s\n", want,
			htg_conf_error_count(conf),
			htg_conf_error_count(conf) > 0 ?
			htg_conf_error(conf, 0) : "");
		return 0;
	}
	return 1;
}

static void test_typed(void)
{
	static const char *const modes[] = { "enforce", "report", NULL };
	char path[] = "/tmp/htg-test-conf.XXXXXX";
	struct htg_conf *conf;
	const char *error;
	int fd = mkstemp(path);

	test_begin("conf: typed getters accept good values");
	if (fd < 0)
		exit(1);
	close(fd);
	write_file(path, "limit = -3\nflag = No\nmode = report\nsocket =\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == 0);
	test_assert(htg_conf_int(conf, "limit", 5, -10, 10) == -3);
	test_assert(htg_conf_bool(conf, "flag", 1) == 0);
	test_assert(htg_conf_enum(conf, "mode", modes, 0) == 1);
	/* empty: the default, no error */
	test_assert(htg_conf_int(conf, "socket", 9, 0, 10) == 9);
	test_assert(htg_conf_int(conf, "nothere", 8, 0, 10) == 8);
	test_assert(htg_conf_error_count(conf) == 0);
	htg_conf_free(&conf);
	test_end();

	test_begin("conf: a bad value is an error with file:line, never a default");
	write_file(path, "# x\nlimit = eight\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == 0);
	test_assert(htg_conf_int(conf, "limit", 8, 1, 64) == 8);
	test_assert(one_error(conf, path, 2, "limit: \"eight\" is not a number"));
	htg_conf_free(&conf);
	static const char *const bad_numbers[] = {
		"30d", "0x10", "+5", " 5x", "-", "5 5", "1e3", NULL
	};
	for (int i = 0; bad_numbers[i] != NULL; i++) {
		char text[200], want[200];

		snprintf(text, sizeof(text), "limit = %s\n", bad_numbers[i]);
		write_file(path, text);
		conf = htg_conf_new(keys);
		test_assert_idx(htg_conf_load(conf, path, &error) == 0, i);
		(void)htg_conf_int(conf, "limit", 1, 0, 1000000);
		snprintf(want, sizeof(want), "limit: \"%s\" is not a number",
			 bad_numbers[i][0] == ' ' ? bad_numbers[i] + 1 :
			 bad_numbers[i]);
		test_assert_idx(one_error(conf, path, 1, want), i);
		htg_conf_free(&conf);
	}
	write_file(path, "limit = 65\nflag = maybe\nmode = enforced\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == 0);
	test_assert(htg_conf_int(conf, "limit", 8, 1, 64) == 8);
	test_assert(one_error(conf, path, 1,
			      "limit: \"65\" is out of range (1-64)"));
	test_assert(htg_conf_int(conf, "limit", 8, 1, 99999999999999999LL) == 65);
	test_assert(htg_conf_bool(conf, "flag", 1) == 1);
	test_assert(htg_conf_error_count(conf) == 2 &&
		    strstr(htg_conf_error(conf, 1), ":2: flag: \"maybe\" is "
			   "not yes or no") != NULL);
	test_assert(htg_conf_enum(conf, "mode", modes, 0) == 0);
	test_assert(htg_conf_error_count(conf) == 3 &&
		    strstr(htg_conf_error(conf, 2), ":3: mode: \"enforced\" "
			   "is not one of enforce, report") != NULL);
	htg_conf_bad(conf, "socket", "not here");
	test_assert(htg_conf_error_count(conf) == 4 &&
		    strcmp(htg_conf_error(conf, 3),
			   "default: socket: not here") == 0);
	htg_conf_free(&conf);

	/* -o values are named as such */
	conf = htg_conf_new(keys);
	test_assert(htg_conf_set(conf, "limit = 99999999999999999999", &error) == 0);
	(void)htg_conf_int(conf, "limit", 1, 0, 10);
	test_assert(htg_conf_error_count(conf) == 1 &&
		    strcmp(htg_conf_error(conf, 0), "-o: limit: "
			   "\"99999999999999999999\" is out of range (0-10)") == 0);
	htg_conf_free(&conf);

	/* every bad line of a file is reported, not just the first */
	write_file(path, "typo = 1\nlimit 5\nsocket = a\nother = 2\n");
	conf = htg_conf_new(keys);
	test_assert(htg_conf_load(conf, path, &error) == -1);
	test_assert(htg_conf_error_count(conf) == 3);
	test_assert(strstr(error, ":1: unknown parameter \"typo\"") != NULL);
	test_assert(strstr(htg_conf_error(conf, 1), ":2: expected") != NULL);
	test_assert(strstr(htg_conf_error(conf, 2), ":4: unknown") != NULL);
	test_assert(strcmp(htg_conf_get(conf, "socket", ""), "a") == 0);
	htg_conf_free(&conf);
	unlink(path);
	test_end();
}

static void test_rules(void)
{
	char buf[512];

	test_begin("rule replies: code, enhanced code, rule id, clean text");
	test_assert(htg_rule_reply(HTG_RULE_HDR_CC, NULL, buf, sizeof(buf)) == 0);
	test_assert(strcmp(buf, "550 5.7.1 HTG-HDR-CC: Cc and Bcc are not allowed, "
			   "a message has exactly one recipient") == 0);
	test_assert(htg_rule_reply(HTG_RULE_RCPT_ONE, NULL, buf, sizeof(buf)) == 0);
	test_assert(strncmp(buf, "452 4.5.3 HTG-RCPT-ONE: ", 24) == 0);
	test_assert(htg_rule_reply(HTG_RULE_RCPT_FLOW_UNKNOWN, "x\r\ny", buf, sizeof(buf)) == 0);
	test_assert(strcmp(buf, "550 5.1.1 HTG-RCPT-FLOW: x??y") == 0);
	test_assert(htg_rule_reply(HTG_RULE_RCPT_FLOW_DENIED, NULL, buf, sizeof(buf)) == 0);
	test_assert(strncmp(buf, "550 5.7.1 HTG-RCPT-FLOW: ", 25) == 0);
	test_assert(htg_rule_reply(HTG_RULE_SENDER, NULL, buf, 8) == -1);
	for (int i = 0; i < HTG_RULE_COUNT; i++)
		test_assert_idx((int)htg_rule_get((enum htg_rule_id)i)->id == i, i);
	test_end();
}

int main(void)
{
	test_conf();
	test_typed();
	test_rules();
	return test_exit();
}
