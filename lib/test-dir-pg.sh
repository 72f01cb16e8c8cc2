#!/bin/sh
# test-dir-pg.sh - the directory's unit tests on PostgreSQL.
#
# Makes a private cluster (tests/pg-private.sh: initdb in a fresh
# temporary folder, the server on a Unix socket there only, fsync off),
# runs test-dir-pg (schema, races, broken connections) and then the
# common test-dir, test-journal and test-audit-spool, each on a database of its own
# (test-dir-pg on UTF-8: text cleaned; the others on SQL_ASCII, as the
# lab's: bytes exact), and removes the
# cluster. Run as root, the server runs as the user postgres. No initdb
# (Debian: postgresql): skipped.
set -u
pg=${srcdir:-$(dirname "$0")}/../tests/pg-private.sh
tmp=$(mktemp -d /tmp/htg-pg.XXXXXX)
chmod 0755 "$tmp"
stop() {
	"$pg" stop "$tmp/pg"
	rm -rf "$tmp"
}
trap stop EXIT
"$pg" start "$tmp/pg" --no-fsync >/dev/null
rc=$?
[ $rc = 0 ] || exit $rc
export HTG_STATE_DIR="$tmp/state"
mkdir -p "$HTG_STATE_DIR"
rc=0
# a database of its own for each program: each starts from nothing
for t in test-dir-pg test-dir test-journal test-audit-spool; do
	enc=SQL_ASCII
	[ "$t" = test-dir-pg ] && enc=UTF8
	uri=$("$pg" createdb "$tmp/pg" "$(echo "$t" | tr - _)" $enc) || exit 1
	echo "== $t on PostgreSQL"
	HTG_TEST_DIRECTORY="$uri" "./$t" || rc=1
done
exit $rc
