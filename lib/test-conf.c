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
	test_assert(htg_conf_get_int(conf, "limit", 0) == 42);
	test_assert(htg_conf_get_bool(conf, "flag", 0) == 1);
	test_assert(htg_conf_set(conf, "limit=7", &error) == 0);
	test_assert(htg_conf_get_int(conf, "limit", 0) == 7);
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
	test_rules();
	return test_exit();
}
