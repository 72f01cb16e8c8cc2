#!/usr/bin/env bash
# policy-bench.sh - htg-policyd against postfwd, same workload, same run.
#
# usage: bench/policy-bench.sh [ACCOUNTS [FLOWS [SECONDS]]]   (as root)
#
# Prints figures, asserts nothing (each load line ends with the server's
# CPU seconds and decisions per CPU-second, robust to other load):
#   1. directory lookup cost: p50/p99 of each htg_dir_* read call and of a
#      whole policy_decide() (bench/policy-dirbench lookup);
#   2. htg-policyd on one core (taskset -c 0), the load generator on the
#      other (taskset -c 1): decisions/s and p50/p99 latency with 1, 16 and
#      64 concurrent connections (unix socket) and 16 over TCP;
#   3. postfwd (Debian package, installed here if missing) on the same core
#      with the same rule set - sender ownership and the flow/grant
#      allow-list from tables - and the same requests over TCP, 16
#      connections; then the ratio.
# Defaults: 1000 accounts, 50 flows (5 granted per account), 5 s per run.
# BUILD=dir selects the build tree (default build/default); HTG_BENCH_NICE
# the priority of all three processes (default -10).
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

W=$(mktemp -d /tmp/htg-policy-bench.XXXXXX)
chmod 0755 "$W"
stop_pid() {	# pidfile: stop the process we started, by its id
	local pid
	[ -f "$1" ] || return 0
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
	rm -f "$1"
}
cleanup() { stop_pid "$W/htg-policyd.pid"; stop_pid "$W/postfwd.pid"; rm -rf "$W"; }
trap cleanup EXIT

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; say "port $1 did not open"; exit 1; }
load() { nice -n "$NICE" taskset -c 1 "$B/bench/policy-load" -d "$SECS" -w 1 "$@" "$W/requests"; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
# CPU time (utime + stime, clock ticks) of a process: decisions per
# CPU-second of the server is the one-core figure that other load on the
# machine does not skew (waiting for the core is not counted).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
measured() {	# pid, load options...: the load line plus the server's CPU use
	local pid=$1 t0 t1 out n
	shift
	t0=$(cpu_ticks "$pid")
	out=$(load "$@")
	t1=$(cpu_ticks "$pid")
	n=$(printf '%s' "$out" | field total)
	printf '%s server_cpu_s=%.2f decisions_per_cpu_s=%.0f\n' "$out" \
		"$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" \
		"$(awk -v n="$n" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
			'BEGIN { print (t > 0 ? n / (t / hz) : 0) }')"
}

say "== workload: $ACCOUNTS accounts, $FLOWS flows, 4096 RCPT requests (80% pass,"
say "   10% foreign sender, 5% unknown flow, 5% flow not granted); $(nproc) cores"
"$B/bench/policy-dirbench" populate "$W/dir" "$W" "$ACCOUNTS" "$FLOWS"

say "== directory lookup cost (one call at a time, random existing keys)"
taskset -c 1 "$B/bench/policy-dirbench" lookup "$W/dir" "$ACCOUNTS" "$FLOWS"

say "== htg-policyd on core 0 (log line per decision to a file)"
user_opt=()
if id htg >/dev/null 2>&1; then
	chown -R htg:htg "$W/dir"
	user_opt=(-o user=htg)
fi
nice -n "$NICE" taskset -c 0 "$B/policy/htg-policyd" -f -o directory="$W/dir" \
	-o policy_socket="$W/policy.sock" -o socketmap_socket= \
	-o policy_inet=127.0.0.1:$PORT_HTG -o log_file="$W/htg-policyd.log" \
	-o pid_file="$W/htg-policyd.pid" -o tls_policy_context=submission \
	"${user_opt[@]}" >/dev/null 2>&1 &
wait_port "$PORT_HTG"
hpid=$(cat "$W/htg-policyd.pid")
for c in 1 16 64; do
	say "unix  $(measured "$hpid" -c "$c" -u "$W/policy.sock")"
done
htg=$(measured "$hpid" -c 16 -t 127.0.0.1:$PORT_HTG)
say "tcp   $htg"
stop_pid "$W/htg-policyd.pid"
say "log lines written: $(grep -c 'rule=' "$W/htg-policyd.log")"

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
say "== ratio (tcp, 16 connections): htg-policyd $a/s vs postfwd $b/s ="
awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "   %.0fx\n", a / b; else print "   n/a" }'
a=$(printf '%s' "$htg" | field decisions_per_cpu_s)
b=$(printf '%s' "$pfw" | field decisions_per_cpu_s)
say "== per CPU-second of the server: htg-policyd $a vs postfwd $b ="
awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "   %.0fx\n", a / b; else print "   n/a" }'
