/*++
/* NAME
/*	test-dir-pg 1
/* SUMMARY
/*	unit tests of what only the PostgreSQL directory has
/* SYNOPSIS
/*	HTG_TEST_DIRECTORY=postgresql://... test-dir-pg
/* DESCRIPTION
/*	Run by test-dir-pg.sh against a private cluster, before test-dir
/*	runs the common tests on the same database: the schema and its
/*	migrations, claims and delivery records raced by many connections
/*	at once (the database's constraints decide: exactly one winner), a
/*	call on a connection the server ended, a pickup's undo and the
/*	audit sequence numbers, bytes that are not UTF-8, read-only
/*	handles, nodes and home nodes, the export rows of the expiring
/*	tables, and a server process that stops answering (its backend
/*	SIGSTOPped: the call gives up after the answer timeout).
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htg-dir.h"
#include "htg-dir-pg.h"
#include "htg-test.h"

static const char *uri;

/* raw SQL on a connection of its own */
static void sql(const char *q)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res = PQexec(c, "SET client_min_messages = warning");

	PQclear(res);
	res = PQexec(c, q);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		printf("  sql %s: %s", q, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

static void test_schema(void)
{
	struct htg_dir *dir;
	const char *error;
	int from = -1, to = -1;

	test_begin("schema: refused before htgctl init, migrations once");
	sql("DROP SCHEMA IF EXISTS htg CASCADE");
	test_assert(htg_dir_open(uri, 0, &dir, &error) == -1 &&
		    strstr(error, "htgctl init") != NULL);
	dir = test_open_dir(uri, HTG_DIR_NOSCHEMA);
	test_assert(htg_dir_is_shared(dir) == 1);
	test_assert(htg_dir_migrate(dir, &from, &to, &error) == 1);
	test_assert(from == 0 && to >= 1);
	test_assert(htg_dir_migrate(dir, &from, &to, &error) == 1);
	test_assert(from == to && to >= 1);
	htg_dir_close(&dir);
	dir = test_open_dir(uri, 0);
	htg_dir_close(&dir);
	test_end();
}

#define RACERS 8

struct racer {
	pthread_barrier_t *go;
	struct htg_dir *dir;
	const char *msgid;
	char qid[16];
	int ret, delivery;
};

static void *race(void *_r)
{
	struct racer *r = _r;
	struct htg_msgid_claim held;
	const char *error;

	pthread_barrier_wait(r->go);
	if (r->delivery)
		r->ret = htg_dir_delivery_begin(r->dir, "race@b.nl", r->msgid,
						100, 1000, &error);
	else
		r->ret = htg_dir_msgid_claim(r->dir, "race@b.nl", r->msgid,
					     r->qid, 100, 1000, NULL, &held,
					     &error);
	return NULL;
}

/* RACERS connections at once on one key, 10 rounds: one winner each */
static void test_races(int delivery)
{
	struct htg_dir *dir[RACERS];
	int rounds_ok = 0;

	test_begin(delivery ? "delivery records: one NEW of 8 racing nodes" :
		   "Message-ID claims: one winner of 8 racing nodes");
	for (int i = 0; i < RACERS; i++)
		dir[i] = test_open_dir(uri, HTG_DIR_LAZYSYNC);
	for (int round = 0; round < 10; round++) {
		pthread_barrier_t go;
		pthread_t t[RACERS];
		struct racer r[RACERS];
		char msgid[32];
		int won = 0, lost = 0;

		snprintf(msgid, sizeof(msgid), "<race%d.%d@x>", delivery, round);
		pthread_barrier_init(&go, NULL, RACERS);
		for (int i = 0; i < RACERS; i++) {
			r[i] = (struct racer){ &go, dir[i], msgid, "", 0,
					       delivery };
			snprintf(r[i].qid, sizeof(r[i].qid), "Q%dR%d", i, round);
			pthread_create(&t[i], NULL, race, &r[i]);
		}
		for (int i = 0; i < RACERS; i++) {
			pthread_join(t[i], NULL);
			if (r[i].ret == (delivery ? HTG_DELIVERY_NEW : 1))
				won++;
			else if (r[i].ret == (delivery ? HTG_DELIVERY_PENDING : 0))
				lost++;
		}
		pthread_barrier_destroy(&go);
		if (won == 1 && lost == RACERS - 1)
			rounds_ok++;
		else
			printf("  round %d: %d won, %d lost\n", round, won, lost);
	}
	test_assert(rounds_ok == 10);
	for (int i = 0; i < RACERS; i++)
		htg_dir_close(&dir[i]);
	test_end();
}

static int count_acct(const struct htg_audit_event *ev, void *ctx)
{
	(void)ev;
	++*(int *)ctx;
	return 0;
}

static int find_mid(const struct htg_audit_event *ev, void *ctx)
{
	if (strcmp(ev->message_id, "<caf? ?@x>") == 0)
		++*(int *)ctx;
	return 0;
}

/* the first value of q, on a connection of its own: 1, or 0 */
static int sql_value(const char *q, char *buf, size_t size)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *res = PQexec(c, q);
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;

	if (ok)
		snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQfinish(c);
	return ok;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Stop (SIGSTOP) the backend of the handle's one connection: it holds
   the connection open and answers nothing, as a hung server or a
   network that drops every packet. Its pid, or 0. */
static pid_t stop_backend(void)
{
	char pid[32];

	if (!sql_value("SELECT pid FROM pg_stat_activity WHERE pid <> "
		       "pg_backend_pid() AND datname = current_database() "
		       "AND backend_type = 'client backend'", pid, sizeof(pid)))
		return 0;
	return kill((pid_t)atol(pid), SIGSTOP) == 0 ? (pid_t)atol(pid) : 0;
}

/* Let it go on; it ends (the connection was dropped): wait for that,
   so that the next stop_backend() cannot pick it. */
static void resume_backend(pid_t pid)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	if (pid <= 0)
		return;
	(void)kill(pid, SIGCONT);
	for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
		nanosleep(&pause, NULL);
}

/* a server that stops answering: each call gives up after the answer
   timeout and drops the connection; a lookup runs again on a new one */
static void test_silent(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_account a;
	const char *error = "";
	double t0, took;
	pid_t pid;
	int n = 0;

	test_begin("a server that stops answering: the call gives up");
	htg_dir_set_answer_timeout(1000);
	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "silent@b.nl");
	snprintf(a.pwhash, sizeof(a.pwhash), "{X}y");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	/* a lookup: dropped after 1 s, then done on a new connection */
	test_assert((pid = stop_backend()) > 0);
	t0 = seconds();
	test_assert(htg_dir_account_get(dir, "silent@b.nl", &a, &error) == 1);
	took = seconds() - t0;
	test_assert(took >= 0.9 && took < 10);
	resume_backend(pid);
	/* a scan whose statement is prepared on the connection already:
	   fails with the reason after 1 s (a scan is not run twice: its
	   callback may have seen rows) */
	test_assert(htg_dir_audit_iter(dir, "silent@b.nl", count_acct, &n,
				       &error) == 1);
	test_assert((pid = stop_backend()) > 0);
	t0 = seconds();
	test_assert(htg_dir_audit_iter(dir, "silent@b.nl", count_acct, &n,
				       &error) < 0 &&
		    strstr(error, "no answer within 1000 ms") != NULL);
	took = seconds() - t0;
	test_assert(took >= 0.9 && took < 10);
	resume_backend(pid);
	/* and the handle works on */
	test_assert(htg_dir_account_get(dir, "silent@b.nl", &a, &error) == 1);
	htg_dir_set_answer_timeout(DIRPG_ANSWER_TIMEOUT_MS);
	htg_dir_close(&dir);
	test_end();
}

/* the server ends every session: the next call runs on a new one */
static void test_broken(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_account a;
	struct htg_audit_event ev;
	const char *error;
	int n = 0;

	test_begin("a connection the server ended: the call runs again");
	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "broken@b.nl");
	snprintf(a.pwhash, sizeof(a.pwhash), "{X}y");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_get(dir, "broken@b.nl", &a, &error) == 1);
	sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	    "pid <> pg_backend_pid() AND datname = current_database()");
	test_assert(htg_dir_account_get(dir, "broken@b.nl", &a, &error) == 1);
	sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	    "pid <> pg_backend_pid() AND datname = current_database()");
	memset(&ev, 0, sizeof(ev));
	strcpy(ev.event, "retr");
	strcpy(ev.account, "broken@b.nl");
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(htg_dir_audit_iter(dir, "broken@b.nl", count_acct, &n,
				       &error) == 1 && n == 1);
	htg_dir_close(&dir);
	test_end();
}

struct seqs {
	unsigned int n;
	uint32_t seq[4];
};

static int keep_seq(const struct htg_audit_event *ev, void *ctx)
{
	struct seqs *s = ctx;

	if (s->n < 4)
		s->seq[s->n] = ev->key_seq;
	s->n++;
	return 0;
}

/* the directory numbers the events it writes for a writer that did not
   (key_pid 0); a pickup's undo deletes such an event by any number of
   this process's, and takes none from the sequence */
static void test_undo_seq(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_audit_event ev[3];
	struct seqs s = { .n = 0 };
	const char *error;

	test_begin("a pickup's undo takes no audit sequence number");
	memset(ev, 0, sizeof(ev));
	for (int i = 0; i < 3; i++) {
		strcpy(ev[i].account, "seq@b.nl");
		strcpy(ev[i].event, i == 1 ? "dele" : "retr");
		ev[i].time_us = 1000 * (i + 1);
	}
	test_assert(htg_dir_audit_append(dir, &ev[0], &error) == 1);
	test_assert(htg_dir_pickup_undo(dir, NULL, 0, &ev[1], 1, &error) == 1);
	test_assert(htg_dir_audit_append(dir, &ev[2], &error) == 1);
	test_assert(htg_dir_audit_iter(dir, "seq@b.nl", keep_seq, &s,
				       &error) == 1);
	test_assert(s.n == 2 && s.seq[1] == s.seq[0] + 1);
	htg_dir_close(&dir);
	test_end();
}

static void test_bytes(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_audit_event ev;
	const char *error, *mid = "<caf\xe9\t\xff@x>";
	int n = 0;

	test_begin("bytes that are not UTF-8: keys exact, text with '?'");
	test_assert(htg_dir_delivery_begin(dir, "bytes@b.nl", mid, 100, 1000,
					   &error) == HTG_DELIVERY_NEW);
	test_assert(htg_dir_delivery_begin(dir, "bytes@b.nl", "<caf?\t?@x>",
					   100, 1000, &error) ==
		    HTG_DELIVERY_NEW);	/* another key */
	test_assert(htg_dir_delivery_mark(dir, "bytes@b.nl", mid, &error) == 1);
	test_assert(htg_dir_delivery_begin(dir, "bytes@b.nl", mid, 100, 1000,
					   &error) == HTG_DELIVERY_DONE);
	memset(&ev, 0, sizeof(ev));
	strcpy(ev.event, "deliver");
	strcpy(ev.account, "bytes@b.nl");
	strcpy(ev.message_id, mid);
	test_assert(htg_dir_audit_append(dir, &ev, &error) == 1);
	test_assert(htg_dir_audit_iter(dir, "bytes@b.nl", find_mid, &n,
				       &error) == 1 && n == 1);
	htg_dir_close(&dir);
	test_end();
}

static void test_rdonly(void)
{
	struct htg_dir *dir = test_open_dir(uri, HTG_DIR_RDONLY);
	const char *error;

	test_begin("a read-only handle reads, its writes fail");
	test_assert(htg_dir_flow_add(dir, "rdonly", "a@b.nl", &error) == -1);
	test_assert(htg_dir_flow_get(dir, "rdonly", NULL, 0, &error) == 0);
	htg_dir_close(&dir);
	test_end();
}

static int count_pair(const char *k, const char *v, void *ctx)
{
	(void)k;
	(void)v;
	++*(int *)ctx;
	return 0;
}

static void test_nodes(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_account a;
	const char *error;
	char addr[64];
	int n = 0;

	test_begin("nodes and home nodes");
	test_assert(htg_dir_node_set(dir, "Node1", "127.0.1.1", &error) == 1);
	test_assert(htg_dir_node_set(dir, "node2", "127.0.1.2", &error) == 1);
	test_assert(htg_dir_node_set(dir, "node2", "127.0.1.22", &error) == 1);
	test_assert(htg_dir_node_get(dir, "NODE2", addr, sizeof(addr),
				     &error) == 1 &&
		    strcmp(addr, "127.0.1.22") == 0);
	test_assert(htg_dir_node_iter(dir, count_pair, &n, &error) == 1 &&
		    n == 2);
	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "homed@b.nl");
	snprintf(a.pwhash, sizeof(a.pwhash), "{X}y");
	snprintf(a.home, sizeof(a.home), "node9");
	test_assert(htg_dir_account_add(dir, &a, &error) == 0);	/* no node */
	snprintf(a.home, sizeof(a.home), "node1");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_account_get(dir, "homed@b.nl", &a, &error) == 1 &&
		    strcmp(a.home, "node1") == 0);
	test_assert(htg_dir_node_del(dir, "node1", &error) == 0 &&
		    strstr(error, "home") != NULL);
	test_assert(htg_dir_account_set_home(dir, "homed@b.nl", "node7",
					     &error) == 0);
	test_assert(htg_dir_account_set_home(dir, "homed@b.nl", "node2",
					     &error) == 1);
	test_assert(htg_dir_node_del(dir, "node1", &error) == 1);
	test_assert(htg_dir_node_del(dir, "node1", &error) == 0);
	test_assert(htg_dir_account_set_home(dir, "homed@b.nl", "", &error) == 1);
	test_assert(htg_dir_account_get(dir, "homed@b.nl", &a, &error) == 1 &&
		    a.home[0] == '\0');
	htg_dir_close(&dir);
	test_end();
}

struct rows {
	char key[4][600], val[4][128];
	int n;
};

static int keep_row(const char *k, const char *v, void *ctx)
{
	struct rows *r = ctx;

	if (r->n < 4) {
		snprintf(r->key[r->n], sizeof(r->key[0]), "%s", k);
		snprintf(r->val[r->n], sizeof(r->val[0]), "%s", v);
	}
	r->n++;
	return 0;
}

static void test_table_rows(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_msgid_claim held, got;
	struct rows r = { .n = 0 };
	const char *error;

	test_begin("export rows of msgids and deliveries, put back");
	sql("DELETE FROM htg.msgids");
	sql("DELETE FROM htg.deliveries");
	test_assert(htg_dir_msgid_claim(dir, "t@b.nl", "<t@x>", "QT1", 100, 1000,
					NULL, &held, &error) == 1);
	test_assert(htg_dir_delivery_begin(dir, "t@b.nl", "<t@x>", 100, 1000,
					   &error) == HTG_DELIVERY_NEW);
	test_assert(htg_dir_table_iter(dir, "msgids", keep_row, &r, &error) == 1);
	test_assert(r.n == 1 && strlen(r.key[0]) == 64 &&
		    strcmp(r.val[0], "P 1100 1000 QT1") == 0);
	r.n = 0;
	test_assert(htg_dir_table_iter(dir, "deliveries", keep_row, &r,
				       &error) == 1);
	/* "t@b.nl<TAB><t@x>" in hex */
	test_assert(r.n == 1 &&
		    strcmp(r.key[0], "7440622e6e6c093c7440783e") == 0 &&
		    strcmp(r.val[0], "P 1100") == 0);
	sql("DELETE FROM htg.deliveries");
	test_assert(htg_dir_table_put(dir, "deliveries", r.key[0], "D 1100",
				      &error) == 1);
	test_assert(htg_dir_delivery_begin(dir, "t@b.nl", "<t@x>", 100, 1000,
					   &error) == HTG_DELIVERY_DONE);
	test_assert(htg_dir_table_put(dir, "deliveries", "zz", "D 1", &error) == 0);
	test_assert(htg_dir_table_put(dir, "msgids", r.key[0], "X", &error) == 0);
	test_assert(htg_dir_table_put(dir, "nosuch", "00", "D 1", &error) == 0);
	sql("DELETE FROM htg.msgids");
	test_assert(htg_dir_table_put(dir, "msgids",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"F 5000 QX", &error) == 1);
	r.n = 0;
	test_assert(htg_dir_table_iter(dir, "msgids", keep_row, &r, &error) == 1 &&
		    r.n == 1 && strcmp(r.val[0], "F 5000 QX") == 0);
	/* a pending claim and a bare expiry (before 2026-12: final) */
	sql("DELETE FROM htg.msgids");
	test_assert(htg_dir_table_put(dir, "msgids",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"P 1100 1000 QT1", &error) == 1);
	test_assert(htg_dir_table_put(dir, "msgids",
		"ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"7000", &error) == 1);
	r.n = 0;
	test_assert(htg_dir_table_iter(dir, "msgids", keep_row, &r, &error) == 1 &&
		    r.n == 2 && strcmp(r.val[0], "P 1100 1000 QT1") == 0 &&
		    strcmp(r.val[1], "F 7000 -") == 0);
	(void)got;
	htg_dir_close(&dir);
	test_end();
}

/* every other session of the database has ended (its process exited,
   so its end is in our sockets) */
static void gone(void)
{
	PGconn *c = PQconnectdb(uri);

	for (int i = 0; i < 500; i++) {
		PGresult *res = PQexec(c, "SELECT count(*) FROM pg_stat_activity "
				       "WHERE pid <> pg_backend_pid() AND "
				       "datname = current_database()");
		int n = atoi(PQgetvalue(res, 0, 0));

		PQclear(res);
		if (n == 0)
			break;
		usleep(10000);
	}
	PQfinish(c);
}

static void test_cache(void)
{
	struct htg_dir *dir = test_open_dir(uri, 0);
	struct htg_dir *c = test_open_dir(uri, HTG_DIR_CACHE);
	struct htg_account a;
	const char *error;
	char to[64];

	test_begin("a caching handle: answers kept while nothing changed, "
		   "a change seen 1 ms after its commit");
	memset(&a, 0, sizeof(a));
	snprintf(a.user, sizeof(a.user), "cache@b.nl");
	snprintf(a.pwhash, sizeof(a.pwhash), "{X}y");
	test_assert(htg_dir_account_add(dir, &a, &error) == 1);
	test_assert(htg_dir_flow_add(dir, "cflow", "c@gov.nl", &error) == 1);
	/* a "no" is cached too, and forgotten when the grant comes */
	test_assert(htg_dir_grant_check(c, "cache@b.nl", "cflow", &error) == 0);
	test_assert(htg_dir_grant_add(dir, "cache@b.nl", "cflow", &error) == 1);
	usleep(1100);
	test_assert(htg_dir_grant_check(c, "cache@b.nl", "cflow", &error) == 1);
	/* kept: the database is not asked (a change behind the triggers'
	   back, which nothing of ours makes, shows it) */
	sql("ALTER TABLE htg.grants DISABLE TRIGGER announce");
	sql("DELETE FROM htg.grants WHERE user_name = 'cache@b.nl'");
	usleep(1100);
	test_assert(htg_dir_grant_check(c, "cache@b.nl", "cflow", &error) == 1);
	sql("ALTER TABLE htg.grants ENABLE TRIGGER announce");
	/* a change of another table empties it all */
	test_assert(htg_dir_flow_set(dir, "cflow", "d@gov.nl", &error) == 1);
	usleep(1100);
	test_assert(htg_dir_grant_check(c, "cache@b.nl", "cflow", &error) == 0);
	test_assert(htg_dir_flow_get(c, "cflow", to, sizeof(to), &error) == 1 &&
		    strcmp(to, "d@gov.nl") == 0);
	/* every session ended by the server: the counter is read again on
	   a new connection, the change after it seen */
	sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	    "pid <> pg_backend_pid() AND datname = current_database()");
	gone();
	test_assert(htg_dir_grant_add(dir, "cache@b.nl", "cflow", &error) == 1);
	usleep(1100);
	test_assert(htg_dir_grant_check(c, "cache@b.nl", "cflow", &error) == 1);
	test_assert(htg_dir_grant_del(dir, "cache@b.nl", "cflow", &error) == 1);
	usleep(1100);
	test_assert(htg_dir_grant_check(c, "cache@b.nl", "cflow", &error) == 0);
	htg_dir_close(&c);
	htg_dir_close(&dir);
	test_end();
}

int main(void)
{
	uri = getenv("HTG_TEST_DIRECTORY");
	if (uri == NULL || !htg_dir_is_uri(uri)) {
		/* skipped (automake's 77): run by test-dir-pg.sh */
		printf("HTG_TEST_DIRECTORY: no PostgreSQL URI (test-dir-pg.sh "
		       "sets it)\n0 passed, 0 failed\n");
		return 77;
	}
	test_schema();
	test_races(0);
	test_races(1);
	test_broken();
	test_silent();
	test_undo_seq();
	test_bytes();
	test_rdonly();
	test_nodes();
	test_table_rows();
	test_cache();
	return test_exit();
}
