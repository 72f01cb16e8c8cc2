# labsh/pg.sh - the lab's private PostgreSQL cluster (sourced by htg-lab)
#
# HTG_DIRECTORY_BACKEND=postgresql: a PostgreSQL 15 server under $LAB/pg,
# run as the system user postgres (initdb and postgres refuse root),
# listening on the lab's loopback address only (TCP $HTG_PG_PORT) and on a
# unix socket in $LAB/pg/run (mode 0700: the postgres user alone). With
# more than one node (or HTG_PG_STANDBY=yes) a streaming standby
# (pg_basebackup -R) of it listens on $HTG_PG_STANDBY_PORT.
#
# Authentication, pg_hba.conf: no "trust" anywhere. The role htg (owner of
# the database htg) logs in over TCP with scram-sha-256; its password is
# generated here and kept only in libpq passfiles, one per system user that
# opens the directory, each 0600 (libpq ignores a passfile with any group
# or other bit): $LAB/pgpass/htg (our daemons, Postfix's pipes, Dovecot's
# mail processes, htgctl) and $LAB/pgpass/dovecot (Dovecot's auth
# process). The superuser postgres logs in over the unix socket only, by
# peer authentication (the lab's own administration and replication).
#
# The two servers are named by the role they start with: $LAB/pg/primary
# (HTG_PG_PORT) and $LAB/pg/standby (HTG_PG_STANDBY_PORT). "pg promote"
# makes the standby the primary; "pg start" then brings the old primary
# back as a standby of the new one (cloned again: a second read-write
# server would split the directory), so the roles swap. The directory URI
# lists both servers with target_session_attrs=read-write: libpq finds the
# one that takes writes, whichever it is.
#
# Commits on the primary wait for the standby (synchronous_standby_names,
# HTG_PG_SYNC=yes, the default with a standby): a claim or delivery record
# a client was told about survives the primary's loss. While the standby is
# down, writes wait for it; "pg promote" turns the wait off on the promoted
# server until a standby is back.

PG_BIN=${HTG_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres
PG_DIR=$LAB/pg
PG_RUN=$PG_DIR/run
PG_PASS_DIR=$LAB/pgpass
PG_SERVERS="primary standby"

pg_setup_vars() {	# after the layout is known
	PG_PORT=${HTG_PG_PORT:-10543}
	PG_STANDBY_PORT=${HTG_PG_STANDBY_PORT:-$((PG_PORT + 1))}
	PG_STANDBY=${HTG_PG_STANDBY:-$([ "$NODES" -gt 1 ] && echo yes || echo no)}
	PG_SYNC=${HTG_PG_SYNC:-yes}
	PG_MAX_CONNECTIONS=${HTG_PG_MAX_CONNECTIONS:-300}
	case $PG_STANDBY in yes|no) ;; *) die "HTG_PG_STANDBY must be yes or no" ;; esac
	case $PG_SYNC in yes|no) ;; *) die "HTG_PG_SYNC must be yes or no" ;; esac
	case $HOST in
	*:*) PG_ADDR=::1 PG_URI_ADDR='[::1]' PG_NET=::1/128 ;;
	*)   PG_ADDR=127.0.0.1 PG_URI_ADDR=127.0.0.1 PG_NET=127.0.0.1/32 ;;
	esac
}

# the directory URI as the system user $1 (htg or dovecot) gives it to libpq
pg_uri() {
	local hosts=$PG_URI_ADDR:$PG_PORT
	[ "$PG_STANDBY" = yes ] && hosts=$hosts,$PG_URI_ADDR:$PG_STANDBY_PORT
	printf 'postgresql://htg@%s/htg?target_session_attrs=read-write&passfile=%s&connect_timeout=2' \
		"$hosts" "$PG_PASS_DIR/$1"
}

pg_port_of() { [ "$1" = primary ] && echo "$PG_PORT" || echo "$PG_STANDBY_PORT"; }
pg_log() { echo "$PG_DIR/log/$1.log"; }
pg_exists() { [ -f "$PG_DIR/$1/PG_VERSION" ]; }
pg_is_standby() { [ -f "$PG_DIR/$1/standby.signal" ]; }
pg_other() { [ "$1" = primary ] && echo standby || echo primary; }

# run as the postgres user, from a directory it may enter
pg_as() { (cd / && runuser -u "$PG_USER" -- "$@"); }

# the process named on the first line of file $1 lives (not a zombie)
pid_alive_first_line() {
	local pid state
	pid=$(head -1 "$1" 2>/dev/null) || return 1
	case $pid in ''|*[!0-9]*) return 1 ;; esac
	state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# the postmaster of server $1 lives (a killed one is a zombie until PID 1
# reaps it, and pg_ctl status counts a zombie as running)
pg_running() { pid_alive_first_line "$PG_DIR/$1/postmaster.pid"; }

# psql as the superuser over the unix socket of server $1
pg_psql() {
	local s=$1
	shift
	pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" \
		-p "$(pg_port_of "$s")" -d postgres "$@"
}

# this server's own settings (the rest of postgresql.conf is initdb's);
# rewritten at every start: a clone copies the primary's
pg_write_conf() {	# server, sync: yes = commits wait for a standby
	local s=$1 sync=""
	[ "${2:-no}" = yes ] && sync="*"
	cat >"$PG_DIR/$s/htg-lab.conf.tmp" <<EOF
# written by htg-lab at each start: this server's settings
listen_addresses = '$PG_ADDR'
port = $(pg_port_of "$s")
unix_socket_directories = '$PG_RUN'
unix_socket_permissions = 0700
cluster_name = 'htg-lab-$s'
# a connection per Dovecot process, milter session, policy client and
# htgctl of every node (HTG_PG_MAX_CONNECTIONS)
max_connections = $PG_MAX_CONNECTIONS
password_encryption = scram-sha-256
wal_level = replica
max_wal_senders = 5
wal_keep_size = 256MB
hot_standby = on
synchronous_standby_names = '$sync'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = off
EOF
	chown "$PG_USER:" "$PG_DIR/$s/htg-lab.conf.tmp"
	mv "$PG_DIR/$s/htg-lab.conf.tmp" "$PG_DIR/$s/htg-lab.conf"
}

pg_write_hba() {	# server
	cat >"$PG_DIR/$1/pg_hba.conf" <<EOF
# written by htg-lab: no trust; the lab's superuser over the socket by
# peer authentication, the directory role over TCP with scram-sha-256
local   all          $PG_USER                 peer
local   replication  $PG_USER                 peer
host    htg          htg       $PG_NET   scram-sha-256
EOF
	chown "$PG_USER:" "$PG_DIR/$1/pg_hba.conf"
	chmod 0600 "$PG_DIR/$1/pg_hba.conf"
}

pg_dirs() {
	getent passwd "$PG_USER" >/dev/null ||
		die "no system user $PG_USER (Debian's postgresql package makes it)"
	[ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb (package postgresql-15)"
	install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$PG_DIR" "$PG_DIR/run" \
		"$PG_DIR/log"
	install -d -m 0755 "$PG_PASS_DIR"
}

pg_initdb() {
	pg_exists primary && return 0
	say "initdb $PG_DIR/primary"
	rm -rf "$PG_DIR/primary"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/primary" -U "$PG_USER" -E UTF8 \
		--no-locale --auth-local=peer --auth-host=scram-sha-256 \
		--data-checksums >"$PG_DIR/log/initdb.log" 2>&1 ||
		{ tail -20 "$PG_DIR/log/initdb.log"; die "initdb failed"; }
	echo "include_if_exists = 'htg-lab.conf'" >>"$PG_DIR/primary/postgresql.conf"
	pg_write_hba primary
}

pg_start_server() {	# server
	local s=$1 lock
	pg_running "$s" && return 0
	# The lock files of a killed server name its postmaster, a zombie
	# until PID 1 reaps it (slowly, on some machines): postgres counts a
	# zombie as alive and would refuse to start.
	lock=$PG_RUN/.s.PGSQL.$(pg_port_of "$s").lock
	rm -f "$PG_DIR/$s/postmaster.pid"
	[ -f "$lock" ] && ! pid_alive_first_line "$lock" && rm -f "$lock"
	pg_write_conf "$s" no
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/$s" -l "$(pg_log "$s")" -w -t 60 \
		start </dev/null >/dev/null 2>&1 ||
		{ tail -20 "$(pg_log "$s")"; die "PostgreSQL ($s) did not start"; }
}

# a fresh standby of server $2 in the directory of server $1
pg_clone() {	# server, from
	local s=$1 from=$2
	say "pg_basebackup: $s as a standby of $from"
	rm -rf "$PG_DIR/$s"
	pg_as "$PG_BIN/pg_basebackup" -D "$PG_DIR/$s" -h "$PG_RUN" \
		-p "$(pg_port_of "$from")" -U "$PG_USER" -R -X stream -c fast \
		>"$PG_DIR/log/basebackup.log" 2>&1 ||
		{ tail -20 "$PG_DIR/log/basebackup.log"; die "pg_basebackup failed"; }
}

# commits on server $1 wait for a standby (yes) or not (no)
pg_sync() {
	pg_write_conf "$1" "$2"
	pg_psql "$1" -c 'SELECT pg_reload_conf()' >/dev/null
}

# The role htg, its database (SQL_ASCII: audit fields byte for byte, see
# htg_dir_text_exact()), its password (kept in the passfiles; a new
# one only if there is none yet) and the passfiles of its users.
pg_role() {	# server (the primary)
	local s=$1 pw="" u f
	[ -f "$PG_PASS_DIR/htg" ] && pw=$(cut -d: -f5 "$PG_PASS_DIR/htg")
	[ -n "$pw" ] || pw=$(openssl rand -hex 24)
	pg_psql "$s" -v pw="$pw" <<'EOF' >/dev/null
SELECT 'CREATE ROLE htg LOGIN'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'htg') \gexec
ALTER ROLE htg LOGIN PASSWORD :'pw';
SELECT 'CREATE DATABASE htg OWNER htg ENCODING ''SQL_ASCII'' LC_COLLATE ''C'' LC_CTYPE ''C'' TEMPLATE template0'
	WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'htg') \gexec
REVOKE ALL ON DATABASE htg FROM PUBLIC;
EOF
	for u in htg dovecot; do
		f=$PG_PASS_DIR/$u
		printf '*:*:htg:htg:%s\n' "$pw" >"$f.tmp"
		chown "$u:" "$f.tmp"
		chmod 0600 "$f.tmp"
		mv -f "$f.tmp" "$f"
	done
}

# the server that takes writes, of those that exist: the one not in
# standby mode; of two (a promoted standby and an old primary that was
# stopped meanwhile), the one on the later timeline
pg_current_primary() {
	local a=primary b=standby
	pg_exists "$b" && ! pg_is_standby "$b" || { echo "$a"; return; }
	pg_exists "$a" && ! pg_is_standby "$a" || { echo "$b"; return; }
	[ "$(pg_timeline "$b")" -gt "$(pg_timeline "$a")" ] && echo "$b" || echo "$a"
}

# a server's timeline: a promotion writes the new one's history file at
# once (the control file has it only after the next checkpoint)
pg_timeline() {
	local h
	h=$(cd "$PG_DIR/$1/pg_wal" && ls -- *.history 2>/dev/null | sort | tail -1)
	[ -n "$h" ] && echo $((16#${h%.history})) || echo 1
}

# Bring the cluster up (idempotent): the primary, the role, the standby.
# A server that was the primary before a promotion comes back as a standby
# of the promoted one.
pg_start_all() {
	local p s
	pg_dirs
	pg_initdb
	p=$(pg_current_primary)
	s=$(pg_other "$p")
	pg_start_server "$p"
	pg_role "$p"
	if [ "$PG_STANDBY" = yes ]; then
		if ! pg_exists "$s" || ! pg_is_standby "$s"; then
			pg_stop_server "$s" fast
			pg_clone "$s" "$p"
		fi
		pg_start_server "$s"
		# the standby runs: commits wait for it from now on
		[ "$PG_SYNC" = yes ] && pg_sync "$p" yes
	fi
}

pg_stop_server() {	# server, fast|immediate
	local s=$1 pid
	pg_exists "$s" || return 0
	if pg_running "$s"; then
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/$s" -m "$2" -w -t 60 stop \
			>/dev/null 2>&1 || true
	fi
	# whatever is left of it (a postmaster that did not stop, orphans)
	pid=$(pgrep -f -- "-D $PG_DIR/$s\$" 2>/dev/null || true)
	[ -z "$pid" ] || kill -KILL $pid 2>/dev/null || true
}

# SIGKILL every process of server $1, as a crash would
pg_kill_server() {
	local s=$1 pm pids i
	pg_exists "$s" || return 0
	pm=$(head -1 "$PG_DIR/$s/postmaster.pid" 2>/dev/null || true)
	pids=$(pgrep -u "$PG_USER" -f -- "-D $PG_DIR/$s\$" 2>/dev/null || true)
	[ -n "$pm" ] && pids="$pids $pm $(pgrep -P "$pm" 2>/dev/null || true)"
	pids=$(echo $pids)
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
	for i in $(seq 1 50); do
		pg_running "$s" || return 0
		sleep 0.1
	done
	die "PostgreSQL ($s) survived SIGKILL"
}

pg_stop_all() {
	[ -d "$PG_DIR" ] || return 0
	pg_stop_server standby fast
	pg_stop_server primary fast
}

pg_wait_writable() {	# server: promoted, taking writes
	local i
	for i in $(seq 1 300); do
		[ "$(pg_psql "$1" -tAc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] &&
			return 0
		sleep 0.1
	done
	die "PostgreSQL ($1) did not leave recovery"
}

pg_status() {
	local s role
	for s in $PG_SERVERS; do
		pg_exists "$s" || continue
		pg_is_standby "$s" && role=standby || role=primary
		if pg_running "$s"; then
			say "postgresql $s: running as $role ($PG_ADDR:$(pg_port_of "$s"))"
		else
			say "postgresql $s: stopped ($role)"
		fi
	done
}

# ./htg-lab pg stop|kill|start|promote|status
cmd_pg() {
	local p s
	[ "$BACKEND" = postgresql ] || die "this lab has no PostgreSQL (HTG_DIRECTORY_BACKEND=$BACKEND)"
	case ${1:-} in
	start)	pg_start_all ;;
	stop|kill)
		p=$(pg_current_primary)
		pg_running "$p" || die "the primary ($p) is not running"
		if [ "$1" = stop ]; then
			pg_stop_server "$p" fast
			say "postgresql $p (the primary) stopped"
		else
			pg_kill_server "$p"
			say "postgresql $p (the primary) killed"
		fi ;;
	promote)
		p=$(pg_current_primary)
		s=$(pg_other "$p")
		pg_exists "$s" && pg_is_standby "$s" || die "no standby to promote"
		pg_running "$s" || die "the standby ($s) is not running"
		pg_running "$p" && die "the primary ($p) runs: pg stop first (two primaries would split the directory)"
		pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/$s" -w -t 60 promote >/dev/null ||
			die "pg_ctl promote failed"
		pg_wait_writable "$s"
		# no standby until "pg start": commits must not wait for one
		pg_sync "$s" no
		say "postgresql $s promoted: the primary on port $(pg_port_of "$s")" ;;
	status) pg_status ;;
	*) echo "usage: $0 pg start|stop|kill|promote|status" >&2; exit 2 ;;
	esac
}
