# labsh/nodes.sh - the lab's gateway nodes (sourced by htg-lab)
#
# HTG_LAB_NODES=N (default 1). One node is the lab as it always was: its
# address is HTG_HOST, its files are $LAB itself (etc/, spool/, run/, log/,
# mail/, dovecot/). With N > 1, node i listens on 127.0.1.i, on the same
# ports as every other node, and keeps its files in $LAB/node<i>: its own
# Postfix instance (own queue), Dovecot instance (own base_dir, own mail
# storage: mail stays on the node that took it), htg-milter and
# htg-policyd. Shared by all nodes: the build ($LAB/prefix), the
# certificates ($LAB/ssl) and the directory.
#
# ./htg-lab node stop I    stop every process of node I cleanly
# ./htg-lab node kill I    SIGKILL every process of node I at once, as a
#                          crash of the machine would (nothing is flushed)
# ./htg-lab node start I   bring node I back (its configs are kept)
# ./htg-lab node status I  what of node I runs
#
# A node's processes: those that name the node's config files (Postfix's
# by MAIL_CONFIG in their environment, Dovecot's master and our daemons by
# -c on the command line) and all their descendants. Never a pid file's
# pid alone: after a kill it may name somebody else's process.

node_addr() {
	if [ "$NODES" -eq 1 ]; then echo "$BASE_HOST"; else echo "127.0.1.$1"; fi
}
node_dir() {
	if [ "$NODES" -eq 1 ]; then echo "$LAB"; else echo "$LAB/node$1"; fi
}
node_list() { seq 1 "$NODES"; }
node_addrs() {
	local i
	for i in $(node_list); do node_addr "$i"; done | paste -sd' '
}

# Make node $1 the current one: $NODE (its directory), $HOST (its
# address), the HTG_* settings its configs are rendered from.
select_node() {
	NODE_I=$1
	NODE=$(node_dir "$1")
	HOST=$(node_addr "$1")
	case $HOST in
	*:*) GOV_NETWORK="[$HOST]/128" ;;	# IPv6 (HTG_HOST without brackets)
	*)   GOV_NETWORK=$HOST/32 ;;
	esac
	# a client connecting to 127.0.1.i comes from lo's own 127.0.0.1: the
	# government side of a multi-node lab (a stranger: 127.0.0.2)
	[ "$NODES" -eq 1 ] || GOV_NETWORK=127.0.0.1/32
	# Postfix takes only an interface's address for inet_interfaces:
	# 127.0.1.i reaches lo without being configured on it. Node i's
	# listeners name their address in master.cf ([127.0.1.i]:port), and
	# inet_interfaces is lo's own.
	INET_INTERFACES=$HOST
	[ "$NODES" -eq 1 ] || INET_INTERFACES=127.0.0.1
	# Dovecot's instance name: one per node
	INSTANCE=htg-lab-$POP3_PORT
	[ "$NODES" -eq 1 ] || INSTANCE=$INSTANCE-node$1
	export_vars
}

# --- a node's processes -------------------------------------------------------

# the pids of the given processes and of all their descendants (live or
# zombie), from /proc: field 4 of stat is the parent
proc_tree() {
	[ $# -gt 0 ] || return 0
	cat /proc/[0-9]*/stat 2>/dev/null |
		sed -n 's/^\([0-9]*\) (.*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' |
		awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
		{ parent[$1] = $2 }
		END {
			do {
				grew = 0
				for (p in parent)
					if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; grew = 1 }
			} while (grew)
			for (p in keep) if (p in parent) print p
		}'
}

# pids of processes that name this node's files: Postfix's (MAIL_CONFIG in
# their environment), Dovecot's master and our daemons (-c on the command
# line)
node_named_pids() {	# node directory
	{ grep -lsaF -- "MAIL_CONFIG=$1/etc/postfix" /proc/[0-9]*/environ
	  grep -lsaF -- "$1/etc/" /proc/[0-9]*/cmdline
	} 2>/dev/null | sed -n 's|^/proc/\([0-9]*\)/.*|\1|p'
	true
}

# every live (non-zombie) process of the node in directory $1 (and the
# descendants of the pids given after it)
node_pids() {
	local d=$1 pid state
	shift
	for pid in $(proc_tree $( { node_named_pids "$d"; echo "$@"; } | sort -un)); do
		[ "$pid" = $$ ] && continue
		state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
		if [ -n "$state" ] && [ "$state" != Z ]; then echo "$pid"; fi
	done | sort -un
}

# SIGKILL every process of the node at once, as a crash would. First all
# of them are frozen (SIGSTOP) until no new one appears: a master that
# forks between our look at /proc and the kill cannot leave a child
# behind (Dovecot's master keeps process_min_avail login processes).
node_kill_dir() {	# node directory
	local d=$1 frozen="" pids i
	for i in $(seq 1 20); do
		pids=$(node_pids "$d" $frozen)
		[ "$pids" = "$frozen" ] && break
		kill -STOP $pids 2>/dev/null || true
		frozen=$pids
	done
	[ -z "$frozen" ] || kill -KILL $frozen 2>/dev/null || true
	# what a crash leaves: pid files and sockets of dead processes
	rm -f "$d/run/"*.pid "$d/run/"*.sock "$d/dovecot/run/master.pid"
	for i in $(seq 1 50); do
		pids=$(node_pids "$d" $frozen)
		[ -z "$pids" ] && return 0
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
	die "node $d: processes left after SIGKILL: $pids"
}

# stop the node in directory $1 cleanly, then whatever is left of it
node_stop_dir() {
	local d=$1 i
	[ -d "$d/etc" ] || return 0
	if postfix -c "$d/etc/postfix" status >/dev/null 2>&1; then
		postfix -c "$d/etc/postfix" stop >/dev/null 2>&1 || true
	fi
	# then the rest at once (Dovecot and libmilter take seconds each)
	if pid_alive "$d/dovecot/run/master.pid"; then
		dovecot -c "$d/etc/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
		for i in $(seq 1 100); do
			pid_alive "$d/dovecot/run/master.pid" || break
			sleep 0.1
		done
	fi &
	stop_pidfile htg-milter "$d/run/htg-milter.pid" &
	stop_pidfile htg-policyd "$d/run/htg-policyd.pid" &
	wait
	# libmilter keeps the socket for a while after SIGTERM
	rm -f "$d/run/"*.sock
	node_kill_dir "$d"
}

# the directories of the nodes this lab has (whatever layout it had)
node_dirs_present() {
	[ -d "$LAB/etc" ] && echo "$LAB"
	ls -d "$LAB"/node[0-9]*/etc 2>/dev/null | sed 's|/etc$||'
	true
}

node_status() {	# node number; 1 if something of it is stopped
	local rc=0
	select_node "$1"
	local n="node $1 ($HOST)"
	[ "$NODES" -eq 1 ] && n=""
	pid_alive "$NODE/run/htg-policyd.pid" && say "${n:+$n: }htg-policyd: running" ||
		{ say "${n:+$n: }htg-policyd: stopped"; rc=1; }
	pid_alive "$NODE/run/htg-milter.pid" && say "${n:+$n: }htg-milter: running" ||
		{ say "${n:+$n: }htg-milter: stopped"; rc=1; }
	pid_alive "$(dovecot_pidfile)" && say "${n:+$n: }dovecot: running (pop3 $HOST:$POP3_PORT)" ||
		{ say "${n:+$n: }dovecot: stopped"; rc=1; }
	postfix_up && say "${n:+$n: }postfix: running (submission $HOST:$SUBMISSION_PORT, inbound $HOST:$INBOUND_PORT)" ||
		{ say "${n:+$n: }postfix: stopped"; rc=1; }
	return $rc
}

# ./htg-lab node start|stop|kill|status I
cmd_node() {
	local what=${1:-} i=${2:-}
	[ -f "$LAB/lab.layout" ] || die "no lab here ($LAB): ./htg-lab start"
	case $i in
	''|*[!0-9]*) die "usage: $0 node start|stop|kill|status I (1..$NODES)" ;;
	esac
	[ "$i" -ge 1 ] && [ "$i" -le "$NODES" ] || die "node $i: the lab has nodes 1..$NODES"
	set_directory
	select_node "$i"
	case $what in
	start)	[ "$(id -u)" = 0 ] || die "node start needs root"
		install_auth_module
		start_daemons
		say "node $i up: $HOST" ;;
	stop)	node_stop_dir "$NODE"; say "node $i stopped" ;;
	kill)	node_kill_dir "$NODE"; say "node $i killed (SIGKILL)" ;;
	status)	node_status "$i" ;;
	*) die "usage: $0 node start|stop|kill|status I" ;;
	esac
}
