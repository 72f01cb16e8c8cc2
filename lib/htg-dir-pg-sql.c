/*++
/* NAME
/*	htg-dir-pg-sql 3
/* SUMMARY
/*	the statements of the PostgreSQL directory
/* DESCRIPTION
/*	Every statement the PostgreSQL directory runs, prepared once per
/*	connection (htg-dir-pg.c). Parameters are text; the tables are
/*	those of lib/sql/*.sql. Each statement is atomic on its own: where
/*	the LMDB directory reads and writes in one write transaction, the
/*	statement lets a constraint or ON CONFLICT decide, so that two
/*	nodes racing each other get what two LMDB writers would get.
/* LICENSE
/*	MIT; see COPYING.
/*--*/

#include "htg-config.h"

#include "htg-dir-pg.h"

#define ACCOUNT_COLS "user_name, pwhash, flags, retention_days, max_size, " \
	"created, coalesce(home, '')"
#define AUDIT_COLS "time_us, key_pid, key_seq, event, account, message_id, " \
	"size, uid, queue_id, rule, remote, tls, session, flow, stage, detail"
#define RETAINED_COLS "account, id, retained, deadline, message_id, size, " \
	"uid, path, restore_to"
/* the audit insert: $1..$17 (time, host, pid, seq, then the fields) */
#define AUDIT_INSERT "INSERT INTO htg.audit (time_us, host, key_pid, " \
	"key_seq, event, account, message_id, size, uid, queue_id, rule, " \
	"remote, tls, session, flow, stage, detail) "

const char *const dirpg_sql[PGS_COUNT] = {
	[PGS_ACCOUNT_GET] =
	"SELECT " ACCOUNT_COLS " FROM htg.accounts WHERE user_name = $1",
	[PGS_ACCOUNT_ADD] =
	"INSERT INTO htg.accounts (user_name, pwhash, flags, retention_days, "
	"max_size, created, home) VALUES ($1, $2, $3, $4, $5, $6, "
	"nullif($7, ''))",
	[PGS_ACCOUNT_HASH] =
	"UPDATE htg.accounts SET pwhash = $2 WHERE user_name = $1",
	[PGS_ACCOUNT_FLAGS] =
	"UPDATE htg.accounts SET flags = (flags | $2::integer) & ~$3::integer "
	"WHERE user_name = $1",
	[PGS_ACCOUNT_HOME] =
	"UPDATE htg.accounts SET home = nullif($2, '') WHERE user_name = $1",
	[PGS_ACCOUNT_DEL] =
	"DELETE FROM htg.accounts WHERE user_name = $1",
	[PGS_ACCOUNT_ITER] =
	"SELECT " ACCOUNT_COLS " FROM htg.accounts ORDER BY user_name",

	[PGS_ADDRESS_OWNER] =
	"SELECT user_name FROM htg.addresses WHERE address = $1",
	[PGS_DOMAIN_EXISTS] =
	"SELECT 1 FROM htg.addresses WHERE domain = $1 LIMIT 1",
	/* the owner in the same statement: a refusal names it */
	[PGS_ADDRESS_ADD] =
	"WITH ins AS (INSERT INTO htg.addresses (address, user_name, domain) "
	"SELECT $1, user_name, $3 FROM htg.accounts WHERE user_name = $2 "
	"ON CONFLICT (address) DO NOTHING RETURNING user_name) "
	"SELECT 'added', user_name FROM ins UNION ALL "
	"SELECT 'owned', a.user_name FROM htg.addresses a "
	"WHERE a.address = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
	[PGS_ADDRESS_DEL] =
	"DELETE FROM htg.addresses WHERE address = $1",
	[PGS_ADDRESS_ITER] =
	"SELECT address, user_name FROM htg.addresses ORDER BY address",

	[PGS_LOGICAL_SET] =
	"INSERT INTO htg.logical (user_name, address) "
	"SELECT user_name, address FROM htg.addresses "
	"WHERE address = $2 AND user_name = $1 "
	"ON CONFLICT (user_name) DO UPDATE SET address = EXCLUDED.address",
	[PGS_LOGICAL_GET] =
	"SELECT address FROM htg.logical WHERE user_name = $1",

	[PGS_FLOW_GET] =
	"SELECT deliver_to FROM htg.flows WHERE flow = $1",
	[PGS_FLOW_ADD] =
	"INSERT INTO htg.flows (flow, deliver_to) VALUES ($1, $2) "
	"ON CONFLICT (flow) DO NOTHING",
	[PGS_FLOW_SET] =
	"UPDATE htg.flows SET deliver_to = $2 WHERE flow = $1",
	[PGS_FLOW_DEL] =
	"DELETE FROM htg.flows WHERE flow = $1",
	[PGS_FLOW_ITER] =
	"SELECT flow, deliver_to FROM htg.flows ORDER BY flow",
	[PGS_RESPOND_SET] =
	"INSERT INTO htg.respond (flow, mode, delay) "
	"SELECT flow, $2, $3 FROM htg.flows WHERE flow = $1 "
	"ON CONFLICT (flow) DO UPDATE SET mode = EXCLUDED.mode, "
	"delay = EXCLUDED.delay",
	[PGS_RESPOND_OFF] =
	"WITH d AS (DELETE FROM htg.respond WHERE flow = $1) "
	"SELECT 1 FROM htg.flows WHERE flow = $1",
	[PGS_RESPOND_GET] =
	"SELECT mode, delay FROM htg.respond WHERE flow = $1",

	[PGS_GRANT_CHECK] =
	"SELECT 1 FROM htg.grants WHERE user_name = $1 AND flow = $2",
	/* account and flow must exist, as in LMDB */
	[PGS_GRANT_ADD] =
	"WITH ins AS (INSERT INTO htg.grants (user_name, flow) "
	"SELECT a.user_name, f.flow FROM htg.accounts a, htg.flows f "
	"WHERE a.user_name = $1 AND f.flow = $2 "
	"ON CONFLICT DO NOTHING RETURNING 1) "
	"SELECT (SELECT count(*) FROM ins), "
	"EXISTS (SELECT 1 FROM htg.accounts WHERE user_name = $1) AND "
	"EXISTS (SELECT 1 FROM htg.flows WHERE flow = $2)",
	[PGS_GRANT_DEL] =
	"DELETE FROM htg.grants WHERE user_name = $1 AND flow = $2",
	[PGS_GRANT_ITER] =
	"SELECT user_name, flow FROM htg.grants ORDER BY user_name, flow",

	[PGS_NODE_SET] =
	"INSERT INTO htg.nodes (name, address) VALUES ($1, $2) "
	"ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address",
	[PGS_NODE_GET] =
	"SELECT address FROM htg.nodes WHERE name = $1",
	[PGS_NODE_DEL] =
	"DELETE FROM htg.nodes WHERE name = $1",
	[PGS_NODE_ITER] =
	"SELECT name, address FROM htg.nodes ORDER BY name",

	/* an event written again (same key) is there already */
	[PGS_AUDIT_PUT] =
	AUDIT_INSERT "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
	"$12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING",
	/* the pickup's undo: the event this writer wrote at that time */
	[PGS_AUDIT_DEL] =
	"DELETE FROM htg.audit WHERE ctid = (SELECT ctid FROM htg.audit "
	"WHERE time_us = $1 AND host = $2 AND key_pid = $3 AND event = $5 "
	"AND account = $6 AND message_id = $7 AND size = $8 AND uid = $9 "
	"AND queue_id = $10 AND rule = $11 AND remote = $12 AND tls = $13 "
	"AND session = $14 AND flow = $15 AND stage = $16 AND detail = $17 "
	"AND ($4 = '0' OR key_seq = $4::bigint) "
	"ORDER BY key_seq LIMIT 1)",
	[PGS_AUDIT_ITER] =
	"SELECT " AUDIT_COLS " FROM htg.audit "
	"ORDER BY time_us, host, key_pid, key_seq",
	[PGS_AUDIT_ITER_ACCT] =
	"SELECT " AUDIT_COLS " FROM htg.audit WHERE account = $1 "
	"ORDER BY time_us, host, key_pid, key_seq",
	[PGS_AUDIT_EXPIRE] =
	"DELETE FROM htg.audit WHERE time_us < $1",

	/* Taken when there is no unexpired claim, when the one there is
	   exactly the one the caller replaces ($5..$8), or when it is this
	   very claim (same queue id and time: the statement ran before and
	   its answer was lost with the connection). */
	[PGS_MSGID_CLAIM] =
	"INSERT INTO htg.msgids AS m (key, state, expiry, since, queue_id, "
	"node) VALUES ($1::bytea, 'P', $2, $3, $4, $9) ON CONFLICT (key) DO "
	"UPDATE SET state = 'P', expiry = EXCLUDED.expiry, since = "
	"EXCLUDED.since, queue_id = EXCLUDED.queue_id, node = EXCLUDED.node "
	"WHERE m.expiry <= $3 "
	"OR (m.state = $5 AND m.expiry = $6 AND m.since = $7 "
	"AND m.queue_id = $8) "
	"OR (m.state = 'P' AND m.since = $3 AND m.queue_id = $4 "
	"AND $4 <> '-') RETURNING 1",
	[PGS_MSGID_GET] =
	"SELECT state, expiry, since, queue_id, node FROM htg.msgids "
	"WHERE key = $1::bytea AND expiry > $2",
	/* settled by the queue id that took it; FINAL stays FINAL */
	[PGS_MSGID_SETTLE] =
	"UPDATE htg.msgids SET state = CASE WHEN state = 'F' THEN 'F' "
	"ELSE $3 END, since = 0 WHERE key = $1::bytea AND queue_id = $2 "
	"AND $2 <> '-'",
	[PGS_MSGID_DROP] =
	"DELETE FROM htg.msgids WHERE key = $1::bytea AND queue_id = $2 "
	"AND $2 <> '-'",
	/* the same, and the audit event ($4..$20) in the same statement */
	[PGS_MSGID_SETTLE_AUDIT] =
	"WITH s AS (UPDATE htg.msgids SET state = CASE WHEN state = 'F' "
	"THEN 'F' ELSE $3 END, since = 0 WHERE key = $1::bytea AND "
	"queue_id = $2 AND $2 <> '-' RETURNING 1), "
	"e AS (" AUDIT_INSERT "SELECT $4, $5, $6, $7, $8, $9, $10, $11, $12, "
	"$13, $14, $15, $16, $17, $18, $19, $20 FROM s "
	"ON CONFLICT DO NOTHING) SELECT count(*) FROM s",
	[PGS_MSGID_DROP_AUDIT] =
	"WITH s AS (DELETE FROM htg.msgids WHERE key = $1::bytea AND "
	"queue_id = $2 AND $2 <> '-' AND $3 = $3 RETURNING 1), "
	"e AS (" AUDIT_INSERT "SELECT $4, $5, $6, $7, $8, $9, $10, $11, $12, "
	"$13, $14, $15, $16, $17, $18, $19, $20 FROM s "
	"ON CONFLICT DO NOTHING) SELECT count(*) FROM s",
	[PGS_MSGID_PURGE] =
	"DELETE FROM htg.msgids WHERE expiry <= $1",
	[PGS_MSGID_ITER] =
	"SELECT encode(key, 'hex'), state, expiry, since, queue_id "
	"FROM htg.msgids ORDER BY key",
	[PGS_MSGID_PUT] =
	"INSERT INTO htg.msgids (key, state, expiry, since, queue_id) "
	"VALUES (decode($1, 'hex'), $2, $3, $4, $5) ON CONFLICT (key) DO "
	"UPDATE SET state = EXCLUDED.state, expiry = EXCLUDED.expiry, "
	"since = EXCLUDED.since, queue_id = EXCLUDED.queue_id",

	/* recorded as pending unless an unexpired record exists: 'N' new,
	   else that record's state */
	[PGS_DELIVERY_BEGIN] =
	"INSERT INTO htg.deliveries AS d (account, message_id, state, expiry) "
	"VALUES ($1, decode($2, 'hex'), 'P', $3) ON CONFLICT (account, message_id) DO "
	"UPDATE SET state = 'P', expiry = EXCLUDED.expiry "
	"WHERE d.expiry <= $4 RETURNING 'N'",
	[PGS_DELIVERY_STATE] =
	"SELECT state FROM htg.deliveries WHERE account = $1 AND "
	"message_id = decode($2, 'hex') AND expiry > $3",
	[PGS_DELIVERY_MARK] =
	"UPDATE htg.deliveries SET state = 'D' WHERE account = $1 AND "
	"message_id = decode($2, 'hex') AND state = 'P'",
	[PGS_DELIVERY_SEEN] =
	"SELECT 1 FROM htg.deliveries WHERE account = $1 AND "
	"message_id = decode($2, 'hex') AND expiry > $3",
	[PGS_DELIVERY_PURGE] =
	"DELETE FROM htg.deliveries WHERE expiry <= $1",
	[PGS_DELIVERY_ITER] =
	"SELECT encode(convert_to(account, 'UTF8') || '\\x09'::bytea || "
	"message_id, 'hex'), state, expiry FROM htg.deliveries "
	"ORDER BY account, message_id",
	[PGS_DELIVERY_PUT] =
	"INSERT INTO htg.deliveries (account, message_id, state, expiry) "
	"VALUES ($1, decode($2, 'hex'), $3, $4) ON CONFLICT (account, message_id) DO "
	"UPDATE SET state = EXCLUDED.state, expiry = EXCLUDED.expiry",

	[PGS_RETAINED_PUT] =
	"INSERT INTO htg.retention (" RETAINED_COLS ") VALUES ($1, $2, $3, "
	"$4, $5, $6, $7, $8, $9) ON CONFLICT (account, id) DO UPDATE SET "
	"retained = EXCLUDED.retained, deadline = EXCLUDED.deadline, "
	"message_id = EXCLUDED.message_id, size = EXCLUDED.size, "
	"uid = EXCLUDED.uid, path = EXCLUDED.path, "
	"restore_to = EXCLUDED.restore_to",
	[PGS_RETAINED_DEL] =
	"DELETE FROM htg.retention WHERE account = $1 AND id = $2",
	[PGS_RETAINED_ITER] =
	"SELECT " RETAINED_COLS " FROM htg.retention ORDER BY account, id",
	[PGS_RETAINED_ITER_ACCT] =
	"SELECT " RETAINED_COLS " FROM htg.retention WHERE account = $1 "
	"ORDER BY id",

	[PGS_STATS] =
	"SELECT (SELECT count(*) FROM htg.accounts), "
	"(SELECT count(*) FROM htg.audit), (SELECT count(*) FROM htg.msgids), "
	"(SELECT count(*) FROM htg.deliveries), "
	"(SELECT count(*) FROM htg.retention), "
	"pg_database_size(current_database())",
	[PGS_GENERATION] =
	"SELECT n FROM htg.generation",
};
