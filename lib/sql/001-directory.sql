-- 001-directory.sql: the HTG directory on PostgreSQL (htg-dir-pg(3)).
-- Applied by "htgctl init" in one transaction with the row of
-- htg.schema_version that records it. Migrations are numbered files;
-- each only adds (a node running the previous version keeps working).
-- Names and addresses are stored normalised (ASCII lower case) by the
-- code, as in the LMDB directory.

CREATE SCHEMA IF NOT EXISTS htg;

-- the nodes of the gateway: where an account's mail is stored
CREATE TABLE htg.nodes (
	name		text PRIMARY KEY,
	address		text NOT NULL
);

CREATE TABLE htg.accounts (
	user_name	text PRIMARY KEY,
	pwhash		text NOT NULL,
	flags		integer NOT NULL DEFAULT 0,
	retention_days	integer NOT NULL,
	max_size	bigint NOT NULL,
	created		bigint NOT NULL,
	-- a node may not go while accounts are homed there
	home		text REFERENCES htg.nodes (name)
);
CREATE INDEX accounts_home ON htg.accounts (home);

CREATE TABLE htg.addresses (
	address		text PRIMARY KEY,
	user_name	text NOT NULL REFERENCES htg.accounts ON DELETE CASCADE,
	domain		text NOT NULL
);
CREATE INDEX addresses_user ON htg.addresses (user_name);
CREATE INDEX addresses_domain ON htg.addresses (domain);

-- an account's logical address (002 fn 2): one of its addresses
CREATE TABLE htg.logical (
	user_name	text PRIMARY KEY REFERENCES htg.accounts ON DELETE CASCADE,
	address		text NOT NULL REFERENCES htg.addresses ON DELETE CASCADE
);

CREATE TABLE htg.flows (
	flow		text PRIMARY KEY,
	deliver_to	text NOT NULL
);

CREATE TABLE htg.respond (
	flow		text PRIMARY KEY REFERENCES htg.flows ON DELETE CASCADE,
	mode		text NOT NULL CHECK (mode IN ('ack', 'echo', 'refuse')),
	delay		integer NOT NULL
);

-- as in LMDB, a grant outlives its flow (flow del leaves it; a flow
-- added again under the name is granted again)
CREATE TABLE htg.grants (
	user_name	text NOT NULL REFERENCES htg.accounts ON DELETE CASCADE,
	flow		text NOT NULL,
	PRIMARY KEY (user_name, flow)
);

-- audit events of every node; the key is (time, writer's host, process
-- id, sequence number): a writer that fixes its key (the pickup
-- journal) writing an event again finds it there
CREATE TABLE htg.audit (
	time_us		bigint NOT NULL,
	host		text NOT NULL,
	key_pid		bigint NOT NULL,
	key_seq		bigint NOT NULL,
	event		text NOT NULL,
	account		text NOT NULL,
	message_id	text NOT NULL,
	size		bigint NOT NULL,
	uid		bigint NOT NULL,
	queue_id	text NOT NULL,
	rule		text NOT NULL,
	remote		text NOT NULL,
	tls		text NOT NULL,
	session		text NOT NULL,
	flow		text NOT NULL,
	stage		text NOT NULL,
	detail		text NOT NULL,
	PRIMARY KEY (time_us, host, key_pid, key_seq)
);
CREATE INDEX audit_account ON htg.audit (account, time_us);

-- Message-IDs an account used (HTG-MSGID): SHA-256(account TAB
-- Message-ID) -> the claim. One row per key across every node: the
-- primary key decides which of two concurrent claims wins.
CREATE TABLE htg.msgids (
	key		bytea PRIMARY KEY CHECK (length(key) = 32),
	state		char(1) NOT NULL CHECK (state IN ('P', 'E', 'F')),
	expiry		bigint NOT NULL,
	since		bigint NOT NULL DEFAULT 0,
	queue_id	text NOT NULL
);
CREATE INDEX msgids_expiry ON htg.msgids (expiry);

-- exactly-once LMTP delivery records (htg-dir-delivery(3)); the
-- Message-ID as bytes: it is a key, whatever bytes it holds
CREATE TABLE htg.deliveries (
	account		text NOT NULL,
	message_id	bytea NOT NULL,
	state		char(1) NOT NULL CHECK (state IN ('P', 'D')),
	expiry		bigint NOT NULL,
	PRIMARY KEY (account, message_id)
);
CREATE INDEX deliveries_expiry ON htg.deliveries (expiry);

-- copies kept after POP3 DELE; path is on the node that made the copy
CREATE TABLE htg.retention (
	account		text NOT NULL,
	id		text NOT NULL,
	retained	bigint NOT NULL,
	deadline	bigint NOT NULL,
	message_id	text NOT NULL,
	size		bigint NOT NULL,
	uid		bigint NOT NULL,
	path		text NOT NULL,
	restore_to	text NOT NULL,
	PRIMARY KEY (account, id)
);

-- Every change of what the daemons look up is announced on the channel
-- htg_directory (at commit): a process that caches lookups
-- (HTG_DIR_CACHE, htg-dir-pg-cache(3)) listens and forgets its cache.
CREATE FUNCTION htg.announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('htg_directory', TG_TABLE_NAME);
	RETURN NULL;
END
$$;
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.accounts FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.addresses FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.logical FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.flows FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.respond FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.grants FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON htg.nodes FOR EACH STATEMENT EXECUTE FUNCTION htg.announce();
