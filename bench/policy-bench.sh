#!/usr/bin/env bash
# policy-bench.sh - htg-policyd against postfwd, same workload, same run.
#
# usage: bench/policy-bench.sh [ACCOUNTS [FLOWS [SECONDS]]]   (as root)
#
# Prints figures, asserts nothing (each load line ends with the server's
# CPU seconds and decisions per CPU-second, robust to other load). For
# each directory backend of BENCH_BACKENDS (default "lmdb postgresql": the
# same workload on both, in this run):
#   1. directory lookup cost: p50/p99 of each htg_dir_* read call and of a
#      whole policy_decide() (bench/policy-dirbench lookup; on PostgreSQL
#      also without the cache, lookup-uncached: a round trip per call);
#   2. htg-policyd on one core (taskset -c 0), the load generator on the
#      other (taskset -c 1): decisions/s and p50/p99 latency with 1, 16 and
#      64 concurrent connections (unix socket) and 16 over TCP;
#   then the backends side by side (decisions/s, p50, p99, PG/LMDB ratio);
#   3. postfwd (Debian package, installed here if missing) on the same core
#      with the same rule set - sender ownership and the flow/grant
#      allow-list from tables - and the same requests over TCP, 16
#      connections; then the ratio.
# Defaults: 1000 accounts, 50 flows (5 granted per account), 5 s per run.
# BUILD=dir selects the build tree (default build/default); TMPDIR where
# the directories go (default /tmp; /dev/shm: commits without a disk
# flush, to see what the flushes cost); HTG_BENCH_NICE
# the priority of all three processes (default -10).
# BENCH_PASS_ONLY=1: only the requests that pass (no refusal: no audit
# event, no commit), the lookups and the protocol alone.
# PostgreSQL: a private cluster (tests/pg-private.sh, fsync on, Unix
# socket only) pinned to core 1 with the load generator (at the same
# priority), so htg-policyd keeps core 0 to itself (in production the
# database is another machine). HTG_PG_OPTIONS: its server options
# (e.g. "-c synchronous_commit=off").
# htg-policyd caches lookups (HTG_DIR_CACHE) until the database announces
# a change; its refusals (20 % of this workload) are audit events, one
# commit each, on either backend.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$TOP/build/default}
ACCOUNTS=${1:-1000} FLOWS=${2:-50} SECS=${3:-5}
PORT_HTG=${HTG_BENCH_PORT:-17047} PORT_PFW=${HTG_BENCH_POSTFWD_PORT:-17045}
# Both servers and the load generator run at the same raised priority, so
# niced background work (a fuzzer, a build) does not decide the figures.
NICE=${HTG_BENCH_NICE:--10}

say() { printf '%s\n' "$*"; }
[ "$(id -u)" = 0 ] || { say "policy-bench: run as root (apt-get, users)"; exit 1; }
[ -x "$B/policy/htg-policyd" ] && [ -x "$B/bench/policy-load" ] ||
	{ say "policy-bench: build first (./htg-lab start or make in $B)"; exit 1; }
make -C "$B" -s >/dev/null

if ! dpkg-query -W -f='${Status}' postfwd 2>/dev/null | grep -q 'install ok installed'; then
	say "installing postfwd (apt-get, noninteractive)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		postfwd >/dev/null
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/htg-policy-bench.XXXXXX")
chmod 0755 "$W"
stop_pid() {	# pidfile: stop the process we started, by its id
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	rm -f "$1"
}
PG=$TOP/tests/pg-private.sh
BACKENDS=${BENCH_BACKENDS:-lmdb postgresql}
for be in $BACKENDS; do
	case $be in lmdb | postgresql) ;; *) say "policy-bench: unknown backend $be (lmdb, postgresql)"; exit 1 ;; esac
done
cleanup() {
	stop_pid "$W/htg-policyd.pid"; stop_pid "$W/postfwd.pid"
	[ -d "$W/pg" ] && "$PG" stop "$W/pg"
	rm -rf "$W"
}
trap cleanup EXIT

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; say "port $1 did not open"; exit 1; }
load() { nice -n "$NICE" taskset -c 1 "$B/bench/policy-load" -d "$SECS" -w 1 "$@" "$W/requests"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
# CPU time (utime + stime, clock ticks) of a process: decisions per
# CPU-second of the server is the one-core figure that other load on the
# machine does not skew (waiting for the core is not counted).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# /proc/PID/schedstat: ns on a CPU, ns waiting for one (runnable)
sched() { cat "/proc/$1/schedstat"; }
measured() {	# pid, load options...: the load line plus the server's CPU use
	local pid=$1 t0 t1 out n s0 s1 w0 w1
	shift
	t0=$(cpu_ticks "$pid")
	s0=$(sched "$pid")
	w0=$(date +%s%N)
	out=$(load "$@")
	w1=$(date +%s%N)
	s1=$(sched "$pid")
	t1=$(cpu_ticks "$pid")
	n=$(printf '%s' "$out" | field total)
	printf '%s server_cpu_s=%.2f decisions_per_cpu_s=%.0f\n' "$out" \
		"$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" \
		"$(awk -v n="$n" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
			'BEGIN { print (t > 0 ? n / (t / hz) : 0) }')"
	# where the server's wall time went: on its core, waiting for it
	# (other work there), or neither: blocked (a disk flush, a database
	# round trip) or idle (no request to answer)
	printf '%s %s %s %s\n' "$s0" "$s1" "$w0" "$w1" | awk -v n="$n" '{
		wall = ($8 - $7) / 1e9; run = ($4 - $1) / 1e9; rq = ($5 - $2) / 1e9
		off = wall - run - rq; per = n > 0 ? off * 1e6 / n : 0
		printf "      server: on_cpu_s=%.2f runq_wait_s=%.2f blocked_or_idle_s=%.2f (%.0f us per decision) of wall_s=%.2f\n", run, rq, off, per, wall }'
}

say "== workload: $ACCOUNTS accounts, $FLOWS flows, 4096 RCPT requests (80% pass,"
say "   10% foreign sender, 5% unknown flow, 5% flow not granted); $(nproc) cores;"
say "   backends: $BACKENDS; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A where
for be in $BACKENDS; do
	mkdir -p "$W/$be"
	if [ "$be" = postgresql ]; then
		where[$be]=$(nice -n "$NICE" taskset -c 1 "$PG" start "$W/pg")
		HTG_STATE_DIR=$W/pg-state "$B/tools/htgctl" -d "${where[$be]}" init \
			--owner htg >/dev/null
		say "   postgresql: $("$(pg_config --bindir)/postgres" --version), private cluster"
		say "   (fsync on, Unix socket, core 1): ${where[$be]}"
	else
		where[$be]=$W/$be/dir
	fi
	"$B/bench/policy-dirbench" populate "${where[$be]}" "$W/$be" "$ACCOUNTS" "$FLOWS"
	# the same requests for every backend (a fixed seed)
	if [ ! -f "$W/requests" ]; then
		cp "$W/$be/"{requests,senders,flows,grants,postfwd.cf} "$W/"
		sed -i "s|$W/$be/|$W/|g" "$W/postfwd.cf"
	fi
	cmp -s "$W/requests" "$W/$be/requests" || { say "requests differ between backends"; exit 1; }
done
if [ -n "${BENCH_PASS_ONLY:-}" ]; then
	# only the requests that pass (DUNNO): no refusal, so no audit commit
	awk -v RS= -v ORS='\n\n' -v flows="$FLOWS" '{
		a = s = f = -1
		if (match($0, /sasl_username=acc[0-9]+@/)) a = substr($0, RSTART + 17, RLENGTH - 18) + 0
		if (match($0, /sender=afz[0-9]+@/)) s = substr($0, RSTART + 10, RLENGTH - 11) + 0
		if (match($0, /recipient=flow[0-9]+@/)) f = substr($0, RSTART + 14, RLENGTH - 15) + 0
		if (a < 0 || a != s || f < 0) next
		for (g = 0; g < 5; g++) if ((a + g) % flows == f) { print; next }
	}' "$W/requests" >"$W/requests.pass"
	mv "$W/requests.pass" "$W/requests"
	say "   BENCH_PASS_ONLY: the $(grep -c '^request=' "$W/requests") requests that pass, no refusal (no audit commit)"
fi

declare -A result
user_opt=()
id htg >/dev/null 2>&1 && user_opt=(-o user=htg)
for be in $BACKENDS; do
	say "== [$be] directory lookup cost (one call at a time, random existing keys)"
	taskset -c 1 "$B/bench/policy-dirbench" lookup "${where[$be]}" "$ACCOUNTS" "$FLOWS"
	if [ "$be" = postgresql ]; then
		say "   without the cache (HTG_DIR_CACHE off: a round trip per call; 5000 calls):"
		taskset -c 1 "$B/bench/policy-dirbench" lookup-uncached "${where[$be]}" \
			"$ACCOUNTS" "$FLOWS" 5000 | sed 's/^/   /'
	fi

	say "== [$be] htg-policyd on core 0 (log line per decision to a file)"
	[ "$be" = lmdb ] && [ ${#user_opt[@]} -gt 0 ] && chown -R htg:htg "${where[$be]}"
	rm -f "$W/htg-policyd.log"
	nice -n "$NICE" taskset -c 0 "$B/policy/htg-policyd" -f -o directory="${where[$be]}" \
		-o policy_socket="$W/policy.sock" -o socketmap_socket= \
		-o policy_inet=127.0.0.1:$PORT_HTG -o log_file="$W/htg-policyd.log" \
		-o pid_file="$W/htg-policyd.pid" -o tls_policy_context=submission \
		"${user_opt[@]}" >/dev/null 2>&1 &
	wait_port "$PORT_HTG"
	hpid=$(cat "$W/htg-policyd.pid")
	for c in 1 16 64; do
		result[$be,unix$c]=$(measured "$hpid" -c "$c" -u "$W/policy.sock")
		say "unix  ${result[$be,unix$c]}"
	done
	result[$be,tcp16]=$(measured "$hpid" -c 16 -t 127.0.0.1:$PORT_HTG)
	say "tcp   ${result[$be,tcp16]}"
	stop_pid "$W/htg-policyd.pid"
	say "log lines written: $(grep -c 'rule=' "$W/htg-policyd.log")"
done

set -- $BACKENDS
if [ $# -gt 1 ]; then
	say "== side by side: decisions/s, p50/p99 us (target >= 10,000/s on one core, p99 < 2,000 us)"
	printf '%-8s' load
	for be in $BACKENDS; do printf ' %30s' "$be"; done
	printf '   %s/%s\n' "$2" "$1"
	for k in unix1 unix16 unix64 tcp16; do
		printf '%-8s' "$k"
		for be in $BACKENDS; do
			printf ' %30s' "$(printf '%s' "${result[$be,$k]}" | field 'decisions\/s')/s $(
				printf '%s' "${result[$be,$k]}" | field p50_us)/$(
				printf '%s' "${result[$be,$k]}" | field p99_us) us"
		done
		awk -v a="$(printf '%s' "${result[$1,$k]}" | field 'decisions\/s')" \
			-v b="$(printf '%s' "${result[$2,$k]}" | field 'decisions\/s')" \
			'BEGIN { if (a > 0) printf "   %.3f\n", b / a; else print "   n/a" }'
	done
	printf '%-8s' 'per cpu'
	for be in $BACKENDS; do
		printf ' %30s' "$(printf '%s' "${result[$be,tcp16]}" | field decisions_per_cpu_s)/cpu-s (tcp16)"
	done
	printf '\n'
fi
htg=${result[$1,tcp16]}

say "== postfwd $(postfwd1 --shortversion 2>/dev/null || true) on core 0 (postfwd1:"
say "   Net::Server::Multiplex, --cache=0, -P: no logging)"
chmod 0644 "$W"/senders "$W"/flows "$W"/grants "$W"/postfwd.cf
nice -n "$NICE" taskset -c 0 postfwd1 -d -P -f "$W/postfwd.cf" -i 127.0.0.1 -p "$PORT_PFW" \
	--cache=0 --norulelog --noidlestats --norulestats -n \
	-u nobody -g nogroup --pidfile "$W/postfwd.pid" >/dev/null 2>&1
wait_port "$PORT_PFW"
pfw=$(measured "$(cat "$W/postfwd.pid")" -c 16 -t 127.0.0.1:$PORT_PFW)
say "tcp   $pfw"
stop_pid "$W/postfwd.pid"

a=$(printf '%s' "$htg" | field 'decisions\/s')
b=$(printf '%s' "$pfw" | field 'decisions\/s')
say "== ratio (tcp, 16 connections): htg-policyd ($1) $a/s vs postfwd $b/s ="
awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "   %.0fx\n", a / b; else print "   n/a" }'
a=$(printf '%s' "$htg" | field decisions_per_cpu_s)
b=$(printf '%s' "$pfw" | field decisions_per_cpu_s)
say "== per CPU-second of the server: htg-policyd ($1) $a vs postfwd $b ="
awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "   %.0fx\n", a / b; else print "   n/a" }'
