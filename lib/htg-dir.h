#ifndef HTG_DIR_H
#define HTG_DIR_H

/*++
/* NAME
/*	htg-dir 3h
/* SUMMARY
/*	the HTG directory (LMDB): accounts, addresses, flows, grants, audit
/* SYNOPSIS
/*	#include "htg-dir.h"
/* DESCRIPTION
/*	One LMDB environment holds everything the gateway decides on. Every
/*	reader opens a fresh read transaction per lookup, so a change that
/*	htgctl commits is visible to the next lookup of every process at once:
/*	no reload, no postmap.
/*
/*	Keys are normalised before use: user names, addresses and flow names
/*	are compared case-insensitively (ASCII lower case), as Postfix does for
/*	its virtual tables.
/*
/*	All functions return 1 (found/done), 0 (not found / refused, with a
/*	reason in *error_r for writers) or -1 (internal error, *error_r set).
/*	Error strings point to static or per-handle storage, valid until the
/*	next call on the same handle.
/*
/*	A handle may be shared by threads (MDB_NOTLS): every call runs its own
/*	transaction.
/*--*/

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HTG_USER_MAX 256		/* RFC 5321 path limit */
#define HTG_HASH_MAX 256
#define HTG_NODE_MAX 64			/* a node's name or address */
#define HTG_DEFAULT_RETENTION_DAYS 30
#define HTG_DEFAULT_MAX_SIZE 52428800ULL	/* 004 / 002: SIZE 52428800 */

#define HTG_ACCOUNT_DISABLED 0x01
#define HTG_ACCOUNT_LEGACY_LOCK 0x02	/* 001: POP3 session locks the store */
#define HTG_ACCOUNT_REPORT 0x04		/* would-be refusals reported, not made */
#define HTG_ACCOUNT_TRANSLATE 0x08	/* real -> logical address toward the
					   government (002 fn 2) */

struct htg_dir;

struct htg_account {
	char user[HTG_USER_MAX];	/* login = full mailbox name */
	char pwhash[HTG_HASH_MAX];	/* "{SHA512-CRYPT}$6$..." */
	uint32_t flags;			/* HTG_ACCOUNT_* */
	uint32_t retention_days;
	uint64_t max_size;
	int64_t created;		/* unix time */
	char home[HTG_NODE_MAX];	/* home node's name, "" = any node
					   (htg-dir-node(3)) */
};

struct htg_audit_event {
	int64_t time_us;		/* unix time in microseconds */
	char event[16];			/* deliver, retr, dele, submit,
					   refuse, report, ... */
	char account[HTG_USER_MAX];
	char message_id[HTG_USER_MAX];
	uint64_t size;
	uint32_t uid;
	char queue_id[32];
	char rule[32];
	char remote[64];
	char tls[16];
	char session[64];
	/* submissions (htg-milter, htg-policyd): the flow, the SMTP stage
	   of a refusal (RCPT, EOH, EOM ...) and the reply text */
	char flow[64];
	char stage[16];
	char detail[512];
	/* The event's key, when the writer fixes it (the pickup journal,
	   whose events may be written again after a crash): process id and
	   a sequence number. 0: the directory assigns them. */
	uint32_t key_pid;
	uint32_t key_seq;
};

#define HTG_DIR_RDONLY	0x01
#define HTG_DIR_CREATE	0x02
/* Durability of a commit. By default a commit returns once it is on disk,
   as LMDB's own synchronous commit would, but the second of its two disk
   flushes is done after LMDB's writer lock is released (MDB_NOMETASYNC,
   then mdb_env_sync()): the data pages are flushed under the lock, the
   meta page that makes them current after it. So a writer holds the lock
   one flush shorter, and the second flushes of concurrent writers do not
   wait for each other. Another process may see a commit a flush before it is
   durable; an operating system crash in that window undoes it (never
   corrupts the store), as it would have undone the not yet answered
   request that made it.

   HTG_DIR_LAZYSYNC: commits of this handle skip that second flush: the
   next commit of any process (or the kernel's writeback) makes them
   durable. An operating system crash may undo the last commit, never
   corrupt the store. (MDB_NOSYNC could: the meta page may reach the disk
   before the pages it points to, and the whole directory is one file.)
   For records whose loss is harmless (the milter's Message-ID claims). */
#define HTG_DIR_LAZYSYNC	0x04
/* PostgreSQL: open without checking the schema's version (htgctl init,
   which brings it up to date) */
#define HTG_DIR_NOSCHEMA	0x08
/* PostgreSQL: keep lookup answers in memory while the directory's change
   counter stays the same, a change seen 1 ms after its commit
   (htg-dir-pg-cache(3)); for htg-policyd, which looks up on every SMTP
   command. LMDB ignores it (its lookups are local). */
#define HTG_DIR_CACHE		0x10

/* Environment variable and default path of the directory. */
#define HTG_DIR_ENV "HTG_DIRECTORY"
#ifndef HTG_DIR_DEFAULT
#define HTG_DIR_DEFAULT "/var/lib/htg/directory"
#endif

int htg_dir_open(const char *path, int flags, struct htg_dir **dir_r,
		 const char **error_r);
void htg_dir_close(struct htg_dir **dir);
/* The directory's path (as opened): a folder (LMDB) or a URI. */
const char *htg_dir_path(const struct htg_dir *dir);

/* PostgreSQL: a path that is a postgresql:// (or postgres://) URI in
   libpq's syntax opens the shared directory (htg-dir-pg(3)); multi-host
   URIs with target_session_attrs=read-write find the primary. A handle
   opened without HTG_DIR_CREATE checks that the schema is there.
   1 when the directory is shared by several machines (PostgreSQL). */
int htg_dir_is_shared(const struct htg_dir *dir);
/* 1 when text is kept byte for byte: LMDB, or a PostgreSQL database
   created with ENCODING 'SQL_ASCII'; 0: a UTF-8 database, where a byte
   of an audit field that breaks UTF-8 is stored as '?' */
int htg_dir_text_exact(const struct htg_dir *dir);
/* 1 when path names a PostgreSQL directory (a URI), 0 a folder */
int htg_dir_is_uri(const char *path);
/* PostgreSQL: how long this process waits for a statement's answer
   (each row of a scan) before it gives the server up, drops the
   connection and fails the call; 0 waits as long as TCP does. Default
   20 s (DIRPG_ANSWER_TIMEOUT_MS): a daemon must answer its client even
   when the database hangs. htgctl sets 0: an operator's expire or
   import may run long, and the operator can interrupt it. */
void htg_dir_set_answer_timeout(unsigned int msecs);
/* Where this machine keeps the directory's local state (the pickup
   journal): the LMDB folder itself; for PostgreSQL $HTG_STATE_DIR, else
   HTG_STATE_DEFAULT, or what htg_dir_set_state_path() set (ignored for
   LMDB). 1 / -1 (out of memory). */
#define HTG_STATE_ENV "HTG_STATE_DIR"
#ifndef HTG_STATE_DEFAULT
#define HTG_STATE_DEFAULT "/var/lib/htg/state"	/* the package makes it, htg's */
#endif
const char *htg_dir_state_path(const struct htg_dir *dir);
int htg_dir_set_state_path(struct htg_dir *dir, const char *path);
/* Bring the schema up to date (htgctl init): PostgreSQL applies every
   migration above the database's version (*from_r -> *to_r); LMDB has
   nothing to do. 1 / -1. */
int htg_dir_migrate(struct htg_dir *dir, int *from_r, int *to_r,
		    const char **error_r);

/* Lower-case an address/user/flow into buf (bounded). Returns 0 when the
   input is empty, too long or contains bytes that never occur in a mailbox
   name (controls, space, NUL), else 1. */
int htg_dir_normalise(const char *in, char *buf, size_t bufsize);

/* --- lookups (readers) --- */
int htg_dir_account_get(struct htg_dir *dir, const char *user,
			struct htg_account *acct_r, const char **error_r);
/* owner of an address: writes the account's user name into user_r */
int htg_dir_address_owner(struct htg_dir *dir, const char *address,
			  char *user_r, size_t size, const char **error_r);
/* 1 when any address in this domain exists (Postfix domain maps) */
int htg_dir_domain_exists(struct htg_dir *dir, const char *domain,
			  const char **error_r);
int htg_dir_flow_get(struct htg_dir *dir, const char *flow,
		     char *deliver_to_r, size_t size, const char **error_r);
int htg_dir_grant_check(struct htg_dir *dir, const char *user,
			const char *flow, const char **error_r);

/* --- writers (htgctl) --- */
int htg_dir_account_add(struct htg_dir *dir, const struct htg_account *acct,
			const char **error_r);
int htg_dir_account_set_hash(struct htg_dir *dir, const char *user,
			     const char *pwhash, const char **error_r);
/* deletes the account with its addresses and grants */
int htg_dir_account_del(struct htg_dir *dir, const char *user,
			const char **error_r);
/* Adding what exists (an address, even of the same account; a flow; a
   grant) is refused (0, error_r says so): one rule for duplicates. */
int htg_dir_address_add(struct htg_dir *dir, const char *address,
			const char *user, const char **error_r);
int htg_dir_address_del(struct htg_dir *dir, const char *address,
			const char **error_r);
int htg_dir_flow_add(struct htg_dir *dir, const char *flow,
		     const char *deliver_to, const char **error_r);
/* change the target of an existing flow: 1, 0 no such flow, -1 */
int htg_dir_flow_set(struct htg_dir *dir, const char *flow,
		     const char *deliver_to, const char **error_r);
/* Responding flows (the gateway answers for the government side): mode
   ack, echo or refuse ("off" deletes), delay in seconds. set: 1 done, 0
   no such flow or bad mode, -1; get: 1 responding, 0 not, -1. */
int htg_dir_respond_mode_ok(const char *mode);
/* what htg-policyd's flow map adds for a responding flow; main.cf's
   transport_maps sends its domain to htg-respond(8) */
#define HTG_RESPOND_RECIPIENT "htg-respond@htg-respond.invalid"
int htg_dir_flow_respond_set(struct htg_dir *dir, const char *flow,
			     const char *mode, unsigned int delay,
			     const char **error_r);
int htg_dir_flow_respond_get(struct htg_dir *dir, const char *flow,
			     char *mode_r, size_t size, unsigned int *delay_r,
			     const char **error_r);
int htg_dir_flow_del(struct htg_dir *dir, const char *flow,
		     const char **error_r);
int htg_dir_grant_add(struct htg_dir *dir, const char *user,
		      const char *flow, const char **error_r);
int htg_dir_grant_del(struct htg_dir *dir, const char *user,
		      const char *flow, const char **error_r);

/* --- iteration (callback returns 0 to continue, non-zero to stop) --- */
typedef int htg_account_cb(const struct htg_account *acct, void *ctx);
typedef int htg_pair_cb(const char *key, const char *value, void *ctx);
typedef int htg_audit_cb(const struct htg_audit_event *ev, void *ctx);

int htg_dir_account_iter(struct htg_dir *dir, htg_account_cb *cb, void *ctx,
			 const char **error_r);
/* addresses: key = address, value = owner */
int htg_dir_address_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
			 const char **error_r);
/* flows: key = flow, value = deliver-to address */
int htg_dir_flow_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		      const char **error_r);
/* grants: key = user, value = flow */
int htg_dir_grant_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		       const char **error_r);

/* --- logical addresses (htg-dir-address.c) --- */
/* Mark address (owned by user) as user's logical address, replacing any
   earlier one: 1 done, 0 not an address of user (error_r says so), -1. */
int htg_dir_logical_set(struct htg_dir *dir, const char *user,
			const char *address, const char **error_r);
/* user's logical address: 1 (in buf), 0 none, -1 error */
int htg_dir_logical_get(struct htg_dir *dir, const char *user, char *buf,
			size_t size, const char **error_r);
/* The address that a real address of an account with
   HTG_ACCOUNT_TRANSLATE leaves the gateway as (its logical address):
   1 (in buf), 0 not translated, -1 error. */
int htg_dir_translate(struct htg_dir *dir, const char *address, char *buf,
		      size_t size, const char **error_r);

/* --- audit (append-only; the Dovecot plugin and milter write) --- */
/* ev->time_us 0 = now. Durable when the call returns (LMDB commit). */
int htg_dir_audit_append(struct htg_dir *dir, const struct htg_audit_event *ev,
			 const char **error_r);
/* account NULL = all. Each event comes with its key (key_pid, key_seq
   as stored): appended again with it, it replaces itself, so that an
   import of an export can run twice. */
int htg_dir_audit_iter(struct htg_dir *dir, const char *account,
		       htg_audit_cb *cb, void *ctx, const char **error_r);

/* --- Message-IDs an account used (HTG-MSGID; htg-dir-msgid.c) --- */
/* A claim ties (account, Message-ID) to the message that used it, named
   by its Postfix queue id, until its expiry. It is PENDING from the
   milter's end of message until the SMTP transaction ended, then ENDED
   (the milter saw no proof yet that Postfix committed the queue file)
   or FINAL (committed: the message is or was in the queue). See
   doc/milter.md "Message-ID claims". */
#define HTG_MSGID_PENDING	'P'
#define HTG_MSGID_ENDED		'E'
#define HTG_MSGID_FINAL		'F'
#define HTG_QUEUE_ID_MAX	32

struct htg_msgid_claim {
	char state;			/* HTG_MSGID_* */
	int64_t expiry;			/* unix time */
	int64_t since;			/* when claimed (PENDING) */
	char queue_id[HTG_QUEUE_ID_MAX];	/* "-" when unknown */
	char node[HTG_NODE_MAX];	/* the node that took it (PostgreSQL:
					   htg_dir_set_node_name()), "" unknown
					   or LMDB (one machine) */
};

/* This process's node name, written with the claims it takes and as
   the writer of the audit events it numbers (PostgreSQL; default the
   host name). LMDB: ignored (one machine). 1 / 0 (bad name). */
int htg_dir_set_node_name(struct htg_dir *dir, const char *name);

/* Claim (account, msgid) for queue_id as PENDING until now + window_s,
   atomically (one write txn): when no unexpired claim exists, or when
   the one there is exactly *replace (a retry taking over a claim whose
   message was never committed). 1 claimed; 0 another claim holds it
   (copied into *held_r); -1 error. */
int htg_dir_msgid_claim(struct htg_dir *dir, const char *account,
			const char *msgid, const char *queue_id,
			int64_t window_s, int64_t now,
			const struct htg_msgid_claim *replace,
			struct htg_msgid_claim *held_r, const char **error_r);
/* The unexpired claim of (account, msgid): 1 found, 0 none, -1 error. */
int htg_dir_msgid_get(struct htg_dir *dir, const char *account,
		      const char *msgid, int64_t now,
		      struct htg_msgid_claim *claim_r, const char **error_r);
/* Move queue_id's claim to state (HTG_MSGID_ENDED or HTG_MSGID_FINAL; a
   FINAL claim stays FINAL), or delete it (state 0: the message was not
   accepted after all). 1 done, 0 the claim is not queue_id's (any
   more), -1 error. */
int htg_dir_msgid_settle(struct htg_dir *dir, const char *account,
			 const char *msgid, const char *queue_id, char state,
			 const char **error_r);
/* The same, with an audit event in the same commit when it settles. */
int htg_dir_msgid_settle_audit(struct htg_dir *dir, const char *account,
			       const char *msgid, const char *queue_id,
			       char state, const struct htg_audit_event *ev,
			       const char **error_r);
/* delete expired records */
int htg_dir_msgid_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			const char **error_r);
/* --- delivery de-duplication (LMTP at-least-once; htg-dir-delivery.c) --- */
#define HTG_DELIVERY_NEW	1	/* recorded as pending: deliver */
#define HTG_DELIVERY_PENDING	2	/* a save started before: look */
#define HTG_DELIVERY_DONE	3	/* delivered before: skip */
/* Before a save: HTG_DELIVERY_* above; 0 the key is unusable (Message-ID
   too long, bad account: deliver without de-duplication); -1 error.
   Atomic (one write txn, synced only when it records). */
int htg_dir_delivery_begin(struct htg_dir *dir, const char *account,
			   const char *msgid, int64_t window_s, int64_t now,
			   const char **error_r);
/* A pending delivery found in the mailbox: record it as done. Also done
   by htg_dir_pickup_commit() for every "deliver" audit event. 1 / -1. */
int htg_dir_delivery_mark(struct htg_dir *dir, const char *account,
			  const char *msgid, const char **error_r);
/* Read only: 1 when an unexpired record (pending or done) exists, i.e.
   Postfix handed this message to LMTP; 0 none or unusable key; -1 error. */
int htg_dir_delivery_seen(struct htg_dir *dir, const char *account,
			  const char *msgid, int64_t now, const char **error_r);
/* delete expired records */
int htg_dir_delivery_purge(struct htg_dir *dir, int64_t now, long *purged_r,
			   const char **error_r);

/* --- appended: account flags, retention records, audit expiry --- */

/* Set and clear HTG_ACCOUNT_* flags (e.g. disable/enable a login). */
int htg_dir_account_set_flags(struct htg_dir *dir, const char *user,
			      uint32_t set, uint32_t clear,
			      const char **error_r);

#define HTG_RETAINED_ID_MAX 64
#define HTG_PATH_MAX 512

/* A copy kept after POP3 DELE (table "retention", created on first use:
   directories made by an older htgctl lack it and read as empty). */
struct htg_retained {
	char account[HTG_USER_MAX];
	char id[HTG_RETAINED_ID_MAX];	/* unique per account */
	int64_t retained;		/* unix time the copy was made */
	int64_t deadline;		/* unix time it may be purged */
	char message_id[HTG_USER_MAX];
	uint64_t size;
	uint32_t uid;			/* UID it had in the inbox */
	char path[HTG_PATH_MAX];	/* the kept copy (a file) */
	char restore_to[HTG_PATH_MAX];	/* the inbox Maildir, "" if none */
};

typedef int htg_retained_cb(const struct htg_retained *r, void *ctx);

/* Adds n records in one transaction (all or none). */
int htg_dir_retained_add(struct htg_dir *dir, const struct htg_retained *r,
			 unsigned int n, const char **error_r);
/* 1 deleted, 0 no such record */
int htg_dir_retained_del(struct htg_dir *dir, const char *account,
			 const char *id, const char **error_r);
/* account NULL = all accounts */
int htg_dir_retained_iter(struct htg_dir *dir, const char *account,
			  htg_retained_cb *cb, void *ctx,
			  const char **error_r);

/* Retention records and audit events in one transaction (one sync):
   all or none. */
int htg_dir_pickup_commit(struct htg_dir *dir,
			  const struct htg_retained *r, unsigned int nr,
			  const struct htg_audit_event *ev, unsigned int nev,
			  const char **error_r);
/* Undo such a commit whose mailbox change then failed: the records r
   and the events ev deleted in one transaction. Only in the process
   that wrote them, and only events written with ev->time_us set (an
   event's key holds its time and the writer's process id). 1 / -1. */
int htg_dir_pickup_undo(struct htg_dir *dir,
			const struct htg_retained *r, unsigned int nr,
			const struct htg_audit_event *ev, unsigned int nev,
			const char **error_r);

/* Deletes audit events older than before_us; *count_r = how many. */
int htg_dir_audit_expire(struct htg_dir *dir, int64_t before_us,
			 unsigned long *count_r, const char **error_r);

/* --- the map: how much the directory may hold (htg-dir-map.c) --- */

/* The maximum when the directory has no "map_max" record, and the
   least that may be set. */
/* 1 GiB: the map every process had before it could grow; above it the
   Dovecot services' vsz_limit (2G in our dovecot.conf) must grow too */
#define HTG_DIR_MAP_MAX_DEFAULT	(1024ULL * 1024 * 1024)
#define HTG_DIR_MAP_MAX_MIN	(64ULL * 1024)

struct htg_dir_stats {
	uint64_t map_size;	/* this process's map now */
	uint64_t map_max;	/* the maximum (meta "map_max") */
	uint64_t page_size;
	uint64_t high_water;	/* pages LMDB has ever used, in bytes */
	uint64_t free_bytes;	/* of those, on LMDB's free list */
	uint64_t used;		/* high_water - free_bytes */
	unsigned int permille;	/* used / map_max */
	uint64_t accounts, audit_events, msgids, deliveries, retained;
};

/* Fill level and table sizes (one read transaction). 1 / -1. */
int htg_dir_stats(struct htg_dir *dir, struct htg_dir_stats *st,
		  const char **error_r);
/* Store the maximum every process honours from its next write
   transaction (the map grows up to it; a lower one stops writers once
   the use reaches it). 1 done, 0 refused (below HTG_DIR_MAP_MAX_MIN),
   -1 error. */
int htg_dir_map_max_set(struct htg_dir *dir, uint64_t max,
			const char **error_r);
/* Where warnings of the directory go (a fill level of 80 % or more,
   at most once a minute per process); default: standard error. */
typedef void htg_dir_warning_fn(const char *text);
void htg_dir_set_warning(htg_dir_warning_fn *fn);

/* --- nodes and home nodes (more than one machine; htg-dir-node.c) --- */
/* A node of the gateway: name -> address (an IP address or host name
   where its Dovecot listens). set adds or changes: 1 done, 0 refused
   (bad name or address), -1. get: 1 found, 0 none, -1. del: 1 deleted,
   0 refused (no such node, or accounts are still homed there: error_r
   says so), -1. */
int htg_dir_node_set(struct htg_dir *dir, const char *name,
		     const char *address, const char **error_r);
int htg_dir_node_get(struct htg_dir *dir, const char *name, char *address_r,
		     size_t size, const char **error_r);
int htg_dir_node_del(struct htg_dir *dir, const char *name,
		     const char **error_r);
/* nodes: key = name, value = address */
int htg_dir_node_iter(struct htg_dir *dir, htg_pair_cb *cb, void *ctx,
		      const char **error_r);
/* An account's home node (node "" = none): 1 done, 0 no such account
   or no such node, -1. */
int htg_dir_account_set_home(struct htg_dir *dir, const char *user,
			     const char *node, const char **error_r);
/* The default home of a new account (htgctl account add without
   --home): the node with the fewest accounts homed there, ties broken
   by name order. 1 (in node_r), 0 the directory has no nodes (node_r
   ""), -1. Built on node_iter and account_iter alone (any backend). */
int htg_dir_node_pick(struct htg_dir *dir, char *node_r, size_t size,
		      const char **error_r);

/* --- export and import of the expiring tables (htgctl export|import) --- */
/* Table "msgids" or "deliveries", each row as (its key in lower-case
   hex, its record as text, as htg-dir-msgid(3) and htg-dir-delivery(3)
   describe it). iter: 1 done, -1 (a malformed row is skipped with a
   warning; the callback must not call the directory); put (adds or
   replaces a row): 1, 0 refused (bad table, key or record: only what
   the table's own writers write), -1. htg-dir-table(3). */
int htg_dir_table_iter(struct htg_dir *dir, const char *table,
		       htg_pair_cb *cb, void *ctx, const char **error_r);
int htg_dir_table_put(struct htg_dir *dir, const char *table,
		      const char *key_hex, const char *value,
		      const char **error_r);

#endif
