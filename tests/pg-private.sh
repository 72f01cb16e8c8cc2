#!/bin/sh
# pg-private.sh - a private, throwaway PostgreSQL cluster for tests and
# benchmarks (the one home of this; lib/test-dir-pg.sh, bench/*.sh use it).
#
# usage: tests/pg-private.sh start DIR [--no-fsync]   prints the URI of DIR's
#                                                    database "htg"
#        tests/pg-private.sh createdb DIR NAME [UTF8|SQL_ASCII]   prints NAME's URI
#        tests/pg-private.sh stop DIR                 stops it, removes DIR
#
# start makes DIR (it must not exist or be empty), runs initdb in DIR/data
# and starts the server listening on a Unix socket in DIR only (no TCP
# port: nothing to collide with), trust authentication, superuser "htg".
# DIR is mode 0755, so a daemon running as another user (htg-milter and
# htg-policyd as htg) reaches the socket. Run as root, the server runs as
# the user postgres (initdb refuses root), and DIR's parents must be
# searchable by postgres. fsync stays on (a benchmark measures real
# commits) unless --no-fsync (unit tests: faster, durability untested).
# HTG_PG_OPTIONS adds server options ("-c name=value ..."). The caller's
# CPU affinity (taskset) is inherited by the server.
#
# Exit 77 (automake's SKIP) when there is no initdb (Debian: postgresql)
# or, as root, no user postgres; 1 on any other failure (logs printed).
set -u

die() { echo "pg-private: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

bindir=$(pg_config --bindir 2>/dev/null)
[ -x "$bindir/initdb" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || skip "no initdb (Debian: postgresql)"
as=""
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || skip "root without a postgres user"
	as="runuser -u postgres --"
fi

[ $# -ge 2 ] || die "usage: pg-private.sh start|createdb|stop DIR ..."
cmd=$1 dir=$2
shift 2
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac

uri() { echo "postgresql:///$1?host=$dir&user=htg"; }

case $cmd in
start)
	fsync=on
	[ "${1:-}" = --no-fsync ] && fsync=off
	mkdir -p "$dir" || die "mkdir $dir"
	[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	chmod 0755 "$dir"
	[ -n "$as" ] && chown postgres "$dir"
	$as test -x "$dir" || die "$dir: not reachable by the server's user"
	$as "$bindir/initdb" -D "$dir/data" -A trust -U htg -E UTF8 --no-locale \
		>"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
	$as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o \
		"-k $dir -c listen_addresses= -c fsync=$fsync ${HTG_PG_OPTIONS:-}" \
		start >/dev/null || { cat "$dir/log" >&2; die "pg_ctl start failed"; }
	$as "$bindir/psql" -h "$dir" -U htg -d postgres -qc "CREATE DATABASE htg" >&2 ||
		die "CREATE DATABASE htg failed"
	uri htg
	;;
createdb)
	[ $# -ge 1 ] || die "usage: pg-private.sh createdb DIR NAME [ENCODING]"
	case $1 in *[!a-z0-9_]* | "") die "database name: a-z, 0-9, _ only" ;; esac
	case ${2:-UTF8} in UTF8|SQL_ASCII) ;; *) die "encoding: UTF8 or SQL_ASCII" ;; esac
	$as "$bindir/psql" -h "$dir" -U htg -d postgres -qc \
		"CREATE DATABASE $1 ENCODING '${2:-UTF8}' TEMPLATE template0" >&2 ||
		die "CREATE DATABASE $1 failed"
	uri "$1"
	;;
stop)
	[ -d "$dir" ] || exit 0
	# remove only what start made
	[ -f "$dir/initdb.log" ] || die "$dir: not a cluster of pg-private.sh"
	if [ -f "$dir/data/postmaster.pid" ]; then
		$as "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 ||
			die "pg_ctl stop failed ($dir)"
	fi
	rm -rf "$dir"
	;;
*)
	die "unknown command $cmd (start, createdb, stop)"
	;;
esac
