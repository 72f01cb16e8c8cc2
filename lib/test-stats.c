/*++
/* NAME
/*	test-stats 1
/* SUMMARY
/*	unit tests of htg-stats(3): the window, the keys, the cap, a scan
/*	of a real directory's audit
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-stats.h"
#include "htg-test.h"

#define T0 1700000000000000LL

static struct htg_audit_event ev_make(const char *event, const char *rule,
				      const char *session,
				      const char *account, int64_t time_us)
{
	struct htg_audit_event ev;

	memset(&ev, 0, sizeof(ev));
	snprintf(ev.event, sizeof(ev.event), "%s", event);
	snprintf(ev.rule, sizeof(ev.rule), "%s", rule);
	snprintf(ev.session, sizeof(ev.session), "%s", session);
	snprintf(ev.account, sizeof(ev.account), "%s", account);
	ev.time_us = time_us;
	return ev;
}

static uint64_t count_of(const struct htg_stats *s, size_t n,
			 const char *event, const char *rule,
			 const char *daemon, const char *account)
{
	for (size_t i = 0; i < n; i++) {
		const struct htg_stats_count *c = &s->slots[i];

		if (strcmp(c->event, event) == 0 &&
		    strcmp(c->rule, rule) == 0 &&
		    strcmp(c->daemon, daemon) == 0 &&
		    strcmp(c->account, account) == 0)
			return c->count;
	}
	return 0;
}

static uint64_t event_total(const struct htg_stats *s, const char *event)
{
	for (size_t i = 0; i < s->nevents; i++)
		if (strcmp(s->events[i].event, event) == 0)
			return s->events[i].count;
	return 0;
}

static void test_keys(void)
{
	struct htg_stats s;
	struct htg_audit_event ev;
	size_t n;

	test_begin("stats: keys per event, rule and daemon");
	test_assert(htg_stats_init(&s, 0, 0) == 1);
	ev = ev_make("submit", "", "htg-milter", "a@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	test_assert(htg_stats_add(&s, &ev) == 1);
	ev = ev_make("refuse", "HTG-HDR-CC", "htg-milter", "a@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	ev = ev_make("refuse", "HTG-HDR-CC", "htg-milter", "b@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	ev = ev_make("refuse", "HTG-RCPT-FLOW", "htg-policyd", "b@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	/* a POP3 session id is not a daemon name: "dovecot" */
	ev = ev_make("retr", "", "pop3-4711", "b@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	/* the simulated answers have a daemon of their own */
	ev = ev_make("answer", "", "htg-respond", "b@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	n = htg_stats_sorted(&s);
	test_assert(n == 5);
	test_assert(count_of(&s, n, "answer", "", "htg-respond", "") == 1);
	test_assert(count_of(&s, n, "submit", "", "htg-milter", "") == 2);
	test_assert(count_of(&s, n, "refuse", "HTG-HDR-CC", "htg-milter",
			     "") == 2);
	test_assert(count_of(&s, n, "refuse", "HTG-RCPT-FLOW",
			     "htg-policyd", "") == 1);
	test_assert(count_of(&s, n, "retr", "", "dovecot", "") == 1);
	/* sorted by event, rule */
	test_assert(strcmp(s.slots[0].event, "answer") == 0 &&
		    strcmp(s.slots[1].event, "refuse") == 0 &&
		    strcmp(s.slots[1].rule, "HTG-HDR-CC") == 0);
	test_assert(s.total == 7 && s.overflow == 0);
	test_assert(event_total(&s, "refuse") == 3);
	htg_stats_free(&s);

	/* per account: the same events, split */
	test_assert(htg_stats_init(&s, 1, 0) == 1);
	ev = ev_make("refuse", "HTG-HDR-CC", "htg-milter", "a@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	ev = ev_make("refuse", "HTG-HDR-CC", "htg-milter", "b@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	test_assert(htg_stats_add(&s, &ev) == 1);
	n = htg_stats_sorted(&s);
	test_assert(n == 2);
	test_assert(count_of(&s, n, "refuse", "HTG-HDR-CC", "htg-milter",
			     "a@x.nl") == 1);
	test_assert(count_of(&s, n, "refuse", "HTG-HDR-CC", "htg-milter",
			     "b@x.nl") == 2);
	htg_stats_free(&s);
	test_end();
}

static void test_window(void)
{
	struct htg_stats s;
	struct htg_audit_event ev;

	test_begin("stats: window [since, until)");
	test_assert(htg_stats_init(&s, 0, 0) == 1);
	s.since_us = T0;
	s.until_us = T0 + 10;
	ev = ev_make("submit", "", "htg-milter", "a@x.nl", T0 - 1);
	test_assert(htg_stats_add(&s, &ev) == 0);
	ev.time_us = T0;
	test_assert(htg_stats_add(&s, &ev) == 1);
	ev.time_us = T0 + 9;
	test_assert(htg_stats_add(&s, &ev) == 1);
	ev.time_us = T0 + 10;
	test_assert(htg_stats_add(&s, &ev) == 0);
	test_assert(s.total == 2);
	test_assert(htg_stats_sorted(&s) == 1 && s.slots[0].count == 2);
	htg_stats_free(&s);
	test_end();
}

static void test_cap(void)
{
	struct htg_stats s;
	struct htg_audit_event ev;
	char rule[32];

	test_begin("stats: at the cap new keys are not keyed, totals exact");
	test_assert(htg_stats_init(&s, 0, 3) == 1);
	test_assert(s.max_keys == 3);
	for (int i = 0; i < 5; i++) {
		snprintf(rule, sizeof(rule), "HTG-R%d", i);
		ev = ev_make("refuse", rule, "htg-milter", "a@x.nl", T0);
		test_assert_idx(htg_stats_add(&s, &ev) == (i < 3 ? 1 : -1), i);
	}
	/* a key already there still counts */
	ev = ev_make("refuse", "HTG-R0", "htg-milter", "a@x.nl", T0);
	test_assert(htg_stats_add(&s, &ev) == 1);
	test_assert(s.used == 3 && s.overflow == 2 && s.total == 6);
	test_assert(event_total(&s, "refuse") == 6);
	test_assert(htg_stats_sorted(&s) == 3);
	htg_stats_free(&s);
	/* the table never grows past HTG_STATS_KEYS_MAX */
	test_assert(htg_stats_init(&s, 0, HTG_STATS_KEYS_MAX * 4) == 1);
	test_assert(s.max_keys == HTG_STATS_KEYS_MAX);
	htg_stats_free(&s);
	test_end();
}

static void test_scan(void)
{
	char path[] = "/tmp/htg-test-stats.XXXXXX";
	struct htg_dir *dir;
	struct htg_stats s;
	struct htg_audit_event ev;
	const char *error = NULL;
	char cmd[64];
	size_t n;

	test_begin("stats: a scan of a directory's audit");
	if (mkdtemp(path) == NULL) {
		test_assert(!"mkdtemp");
		test_end();
		return;
	}
	test_assert(htg_dir_open(path, HTG_DIR_CREATE, &dir, &error) == 1);
	ev = ev_make("submit", "", "htg-milter", "a@x.nl", T0);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	ev = ev_make("refuse", "HTG-HDR-CC", "htg-milter", "a@x.nl", T0 + 1);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	ev = ev_make("report", "HTG-RCPT-FLOW", "htg-policyd", "a@x.nl",
		     T0 + 2);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	ev = ev_make("dele", "", "pop3", "a@x.nl", T0 + 3);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(htg_stats_init(&s, 1, 0) == 1);
	s.since_us = T0 + 1;
	test_assert(htg_stats_scan(dir, &s, &error) == 1);
	n = htg_stats_sorted(&s);
	test_assert(s.total == 3 && n == 3);
	test_assert(count_of(&s, n, "refuse", "HTG-HDR-CC", "htg-milter",
			     "a@x.nl") == 1);
	test_assert(count_of(&s, n, "report", "HTG-RCPT-FLOW", "htg-policyd",
			     "a@x.nl") == 1);
	test_assert(count_of(&s, n, "dele", "", "dovecot", "a@x.nl") == 1);
	test_assert(count_of(&s, n, "submit", "", "htg-milter",
			     "a@x.nl") == 0);
	htg_stats_free(&s);
	htg_dir_close(&dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", path);
	test_assert(system(cmd) == 0);
	test_end();
}

int main(void)
{
	test_keys();
	test_window();
	test_cap();
	test_scan();
	return test_exit();
}
