#!/usr/bin/env bash
# postfix-milter-rate.sh - messages/s through Postfix: no milter, a no-op
# libmilter milter (the protocol floor) and htg-milter, in one run.
#
# usage: bench/postfix-milter-rate.sh BUILD_DIR [MESSAGES [SESSIONS [ROUNDS]]]
#        (defaults 2000 messages per listener, 10 parallel sessions,
#        5 rounds; run as root)
#
# A private Postfix instance (build/bench-postfix) gets three smtpd
# listeners on 127.0.0.1 that differ only in smtpd_milters; mail is
# relayed to discard:. smtp-source sends the same ~10 KB HTG-conformant
# message (a base64 application/xml attachment whose name htg-milter
# rewrites, no Message-ID: htg-milter inserts one) to each. Prints
# msg/s per listener and the ratios. Asserts nothing.
#
# BENCH_DIRECTORY: the directory of the htg-milters (each its own): unset
# or empty, directory=none; 1 or lmdb, an LMDB folder (the Message-ID
# claim and its "submit" audit event: a claim commit at the end of
# message, a settle commit at the end of the transaction); postgresql, a
# database on a private PostgreSQL cluster (tests/pg-private.sh: fsync on,
# Unix socket, sharing the cores with everything else); both, the
# htg-milter listener on LMDB and one more, "htg-milter pg", on
# PostgreSQL: LMDB vs PostgreSQL in one run. BASE_BUILD=DIR adds a listener
# with the htg-milter of another build tree (same directory kind):
# "htg-milter / base" is then the cost of the change between the two
# trees, measured in one run. BENCH_PORT: the first of the listeners'
# ports (default 31025; up to five in a row).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
count=${2:-2000}
sessions=${3:-10}
d=$top/build/bench-postfix
pg=$top/tests/pg-private.sh
port0=${BENCH_PORT:-31025}
case ${BENCH_DIRECTORY:-} in
"") kind=none ;;
1 | lmdb) kind=lmdb ;;
postgresql) kind=postgresql ;;
both) kind=lmdb ;;
*) echo "BENCH_DIRECTORY: empty, 1, lmdb, postgresql or both" >&2; exit 2 ;;
esac
# the listeners: name, smtpd_milters socket (none), its milter's directory
ports=("$port0" $((port0 + 1)) $((port0 + 2)))
names=("no milter" "no-op milter" "htg-milter")
socks=("" noop htg)
base=${BASE_BUILD:+$(cd "$BASE_BUILD" && pwd)}
ibase="" ipg=""
[ -n "$base" ] && { ibase=${#ports[@]}; ports+=($((port0 + 3))); names+=("base milter"); socks+=(base); }
[ "${BENCH_DIRECTORY:-}" = both ] &&
	{ ipg=${#ports[@]}; ports+=($((port0 + 4))); names+=("htg-milter pg"); socks+=(pg); }
n=${#ports[@]}
[ "$kind" = lmdb ] && names[2]="htg-milter lmdb"
[ "$kind" = postgresql ] && names[2]="htg-milter pg"

# stop_pid FILE: end the process and wait (up to 10 s) until it is gone:
# a milter that exits late unlinks its socket path, which the next run's
# milter may have made by then
stop_pid() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}
stop() {
	postfix -c "$d/etc" stop >/dev/null 2>&1 || true
	stop_pid "$d/noop.pid"
	for s in htg base pg; do stop_pid "$d/run/$s.pid"; done
	[ -d "$d/pg" ] && "$pg" stop "$d/pg"
	return 0
}
trap stop EXIT
stop
rm -rf "$d"
mkdir -p "$d/etc" "$d/spool" "$d/lib" "$d/log" "$d/run"
chown htg:htg "$d/run"
gcc -O2 -o "$d/noop-milter" "$top/bench/noop-milter.c" -lmilter -lpthread

cat >"$d/etc/main.cf" <<CF
compatibility_level = 3.6
myhostname = bench.htpoort.nl
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
queue_directory = $d/spool
data_directory = $d/lib/postfix
maillog_file = $d/log/postfix.log
maillog_file_prefixes = $d
mynetworks = 127.0.0.0/8
relay_domains = msa-smtp.htpoort.nl
relay_transport = discard:bench
default_transport = discard:bench
smtpd_recipient_restrictions = permit_mynetworks, reject
local_header_rewrite_clients =
milter_default_action = tempfail
milter_protocol = 6
milter_mail_macros = i {auth_authen}
CF
{
	for ((i = 0; i < n; i++)); do
		echo "127.0.0.1:${ports[$i]} inet n - n - - smtpd${socks[$i]:+ -o smtpd_milters=unix:$d/run/${socks[$i]}.sock}"
	done
	cat <<CF
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
} >"$d/etc/master.cf"
setpriv --reuid=htg --regid=htg --clear-groups "$d/noop-milter" "unix:$d/run/noop.sock" &
echo $! >"$d/noop.pid"
# start_htg NAME BUILD KIND [-o key=value ...]: an htg-milter on
# $d/run/NAME.sock with a directory of KIND (none, lmdb, postgresql):
# $d/dir-NAME or the database htg_NAME; dirs[NAME] says which
declare -A dirs
start_htg() {
	local dir=none
	case $3 in
	lmdb)
		dir=$d/dir-$1
		"$2/tools/htgctl" -d "$dir" init --owner htg >/dev/null
		;;
	postgresql)
		[ -d "$d/pg" ] || "$pg" start "$d/pg" >/dev/null
		dir=$("$pg" createdb "$d/pg" "htg_$1")
		HTG_STATE_DIR=$d/state-$1 "$2/tools/htgctl" -d "$dir" init --owner htg >/dev/null
		;;
	esac
	dirs[$1]=$dir
	HTG_STATE_DIR=$d/state-$1 "$2/milter/htg-milter" -c /dev/null -o "socket=unix:$d/run/$1.sock" \
		-o user=htg -o "directory=$dir" -o "temp_dir=$d/run" \
		-o postqueue=none -o from_owner_check=no \
		-o "log_file=$d/log/$1-milter.log" \
		-o "pid_file=$d/run/$1.pid" "${@:4}" </dev/null >/dev/null 2>&1
}
# BENCH_HTG_OPTIONS: more -o key=value for the htg-milter under test only
# (e.g. commit_recipient= : this Postfix has no htgcommit transport, and
# with postqueue=none a relayed message's claim would wait for it)
extra=()
for o in ${BENCH_HTG_OPTIONS:-}; do extra+=(-o "$o"); done
start_htg htg "$build" "$kind" "${extra[@]}"
[ -n "$ipg" ] && start_htg pg "$build" postgresql "${extra[@]}"
# BENCH_BASE_OPTIONS: the same for the base listener (BASE_BUILD may be the
# same tree: then the options alone differ, e.g. audit=no)
bextra=()
for o in ${BENCH_BASE_OPTIONS:-}; do bextra+=(-o "$o"); done
[ -n "$base" ] && start_htg base "$base" "$kind" "${bextra[@]}"
# up to 15 s: right after another run the machine is still busy
for i in $(seq 150); do
	up=1
	for s in "${socks[@]}"; do [ -z "$s" ] || [ -S "$d/run/$s.sock" ] || up=0; done
	[ $up = 1 ] && break
	sleep 0.1
done
[ $up = 1 ] || { echo "postfix-milter-rate: a milter socket did not come up" >&2; exit 1; }
chmod 0666 "$d/run/noop.sock"
postfix -c "$d/etc" check >/dev/null 2>&1 || true
postfix -c "$d/etc" start </dev/null >/dev/null 2>&1

# ~10 KB: headers (no Message-ID) + a base64 XML attachment with a name
python3 - "$d/message" <<'PY'
import base64, random, sys
body = base64.b64encode(random.Random(1).randbytes(7300)).decode()
lines = "\r\n".join(body[i:i + 76] for i in range(0, len(body), 76))
msg = ("From: <ik@mijnbedrijf.nl>\r\nTo: <dms@htpoort.nl>\r\nSubject: bench\r\n"
       "MIME-Version: 1.0\r\nContent-Type: application/xml\r\n"
       "Content-Transfer-Encoding: base64\r\n"
       "Content-Disposition: attachment; filename=\"aangifte.xml\"\r\n\r\n" + lines + "\r\n")
open(sys.argv[1], "w").write(msg)
PY

rounds=${4:-5}
per=$((count / rounds))
echo "Postfix $(postconf -d -h mail_version), $rounds rounds of $per messages of" \
	"$(wc -c <"$d/message") bytes per listener, $sessions sessions, $(nproc) cores," \
	"directory: ${BENCH_DIRECTORY:-none}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -d "$d/pg" ] && echo "PostgreSQL: $("$(pg_config --bindir)/postgres" --version), private" \
	"cluster in $d/pg (fsync on, synchronous_commit on, Unix socket)"

# CPU seconds (utime + stime) of a process, with its reaped children
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15 + $16 + $17) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# of the PostgreSQL cluster: the postmaster, its reaped and live children
pg_cpu_s() {
	local pm t c
	pm=$(head -1 "$d/pg/data/postmaster.pid")
	t=$(cpu_s "$pm")
	for c in $(pgrep -P "$pm"); do t=$(echo "$t + $(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$c/stat" 2>/dev/null || echo 0)" | bc -l); done
	echo "$t"
}

# wait until Postfix has delivered (discarded) everything queued, so one
# listener's deliveries do not run into the next one's measurement
drain() {
	local n
	for _ in $(seq 1 600); do
		n=$(postqueue -c "$d/etc" -j 2>/dev/null | wc -l)
		[ "$n" -eq 0 ] && return
		sleep 0.1
	done
}

# messages/s of one listener: per messages, after the queue drained
measure() {
	local port=${ports[$1]} t0 t1
	drain
	t0=$(date +%s.%N)
	# a session that meets a 4xx ends smtp-source with an error: the run
	# goes on (the accepted counts printed at the end show it)
	smtp-source -s "$sessions" -m "$per" -F "$d/message" -f ik@mijnbedrijf.nl \
		-t dms@msa-smtp.htpoort.nl "127.0.0.1:$port" >&2 || true
	t1=$(date +%s.%N)
	echo "$per / ($t1 - $t0)" | bc -l
}

for ((i = 0; i < n; i++)); do	# warm up each listener
	smtp-source -s "$sessions" -m 50 -F "$d/message" -f ik@mijnbedrijf.nl \
		-t dms@msa-smtp.htpoort.nl "127.0.0.1:${ports[$i]}" >/dev/null 2>&1
done
# CPU of the milters and of the database over the measured rounds (the
# warm-up excluded); each milter only works in its own listener's time
declare -A cpu0
for s in htg base pg; do [ -f "$d/run/$s.pid" ] && cpu0[$s]=$(cpu_s "$(cat "$d/run/$s.pid")"); done
[ -d "$d/pg" ] && cpu0[postgres]=$(pg_cpu_s)
# rounds rotate the order (A B C, B C A, C A B, ...) so drift on the
# machine hits all alike; the median of each is compared
declare -a r0 r1 r2 r3 r4
for ((round = 0; round < rounds; round++)); do
	line="round $((round + 1)):"
	for ((k = 0; k < n; k++)); do
		i=$(((round + k) % n))
		v=$(measure "$i")
		eval "r$i+=(\"$v\")"
		line="$line $(printf '%s %.1f' "${names[$i]}" "$v"),"
	done
	echo "${line%,}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
declare -a rate
for ((i = 0; i < n; i++)); do
	eval "rate[$i]=\$(median \"\${r$i[@]}\")"
	printf '%-16s %8.1f msg/s (median)\n' "${names[$i]}" "${rate[$i]}"
done
# the messages each listener took in the measured rounds
msgs=$((per * rounds))
for s in htg base pg; do
	[ -n "${cpu0[$s]:-}" ] || continue
	printf 'CPU per message: %-4s milter %.2f ms' "$s" \
		"$(echo "($(cpu_s "$(cat "$d/run/$s.pid")") - ${cpu0[$s]}) * 1000 / $msgs" | bc -l)"
	[ "${dirs[$s]}" != "${dirs[$s]#postgresql:}" ] && [ -n "${cpu0[postgres]:-}" ] &&
		printf ', PostgreSQL server %.2f ms' \
			"$(echo "($(pg_cpu_s) - ${cpu0[postgres]}) * 1000 / $msgs" | bc -l)"
	printf '\n'
done
printf 'no-op milter / no milter:  %.2f\n' "$(echo "${rate[1]} / ${rate[0]}" | bc -l)"
printf 'htg-milter / no milter:    %.2f\n' "$(echo "${rate[2]} / ${rate[0]}" | bc -l)"
printf 'htg-milter / no-op milter: %.2f\n' "$(echo "${rate[2]} / ${rate[1]}" | bc -l)"
[ -n "$base" ] &&
	printf 'htg-milter / base milter:  %.3f (%s vs %s)\n' \
		"$(echo "${rate[2]} / ${rate[$ibase]}" | bc -l)" "$build" "$base"
[ -n "$ipg" ] &&
	printf 'htg-milter pg / htg-milter lmdb: %.3f (per round:%s)\n' \
		"$(echo "${rate[$ipg]} / ${rate[2]}" | bc -l)" \
		"$(for ((k = 0; k < rounds; k++)); do eval "printf ' %.2f' \$(echo \"\${r$ipg[$k]} / \${r2[$k]}\" | bc -l)"; done)"
refused=$(grep -c 'milter-reject' "$d/log/postfix.log" || true)
for s in htg base pg; do
	[ -f "$d/log/$s-milter.log" ] || continue
	echo "$s milter: $(grep -c 'action=accept' "$d/log/$s-milter.log" || true) accepted;" \
		"tempfails by its session limit: $(grep -c 'max_sessions .* reached' \
		"$d/log/$s-milter.log" || true) (warnings, each may stand for more);" \
		"warnings: $(grep -c 'warning' "$d/log/$s-milter.log" || true)"
	[ "${dirs[$s]}" != none ] &&
		echo "   submit audit events in its directory: $(HTG_STATE_DIR=$d/state-$s \
			"$build/tools/htgctl" -d "${dirs[$s]}" audit --event submit | wc -l)"
done
echo "refused by a milter: $refused (expected 0)"
# what the database did per accepted message (the warm-up included): the
# milter stopped first, so that its sessions report their statistics
for s in htg base pg; do
	case ${dirs[$s]:-none} in postgresql:*) ;; *) continue ;; esac
	kill "$(cat "$d/run/$s.pid")" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$(cat "$d/run/$s.pid" 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done
	sleep 0.5
	psql "${dirs[$s]}" -qAtF ' ' -c "SELECT xact_commit, xact_rollback, tup_inserted,
		tup_updated, tup_deleted, tup_fetched FROM pg_stat_database
		WHERE datname = current_database()" | awk -v n="$(grep -c 'action=accept' \
		"$d/log/$s-milter.log" || true)" -v s="$s" '{ if (n > 0) printf "%s milter, PostgreSQL per message: %.2f commits, %.2f rollbacks, %.2f rows inserted, %.2f updated, %.2f deleted, %.2f fetched\n", s, $1 / n, $2 / n, $3 / n, $4 / n, $5 / n, $6 / n }'
done
