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
# BENCH_DIRECTORY=1: the htg-milters run with a directory of their own (the
# Message-ID claim and its "submit" audit event: one commit per message)
# instead of directory=none. BASE_BUILD=DIR adds a fourth listener with the
# htg-milter of another build tree (same options): "htg-milter / base" is
# then the cost of the change between the two trees, measured in one run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
count=${2:-2000}
sessions=${3:-10}
d=$top/build/bench-postfix
ports=(31025 31026 31027)
names=("no milter" "no-op milter" "htg-milter")
base=${BASE_BUILD:+$(cd "$BASE_BUILD" && pwd)}
[ -n "$base" ] && { ports+=(31028); names+=("base milter"); }
n=${#ports[@]}

stop() {
	postfix -c "$d/etc" stop >/dev/null 2>&1 || true
	[ -f "$d/noop.pid" ] && kill "$(cat "$d/noop.pid")" 2>/dev/null || true
	[ -f "$d/run/htg.pid" ] && kill "$(cat "$d/run/htg.pid")" 2>/dev/null || true
	[ -f "$d/run/base.pid" ] && kill "$(cat "$d/run/base.pid")" 2>/dev/null || true
	sleep 0.5
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
cat >"$d/etc/master.cf" <<CF
127.0.0.1:${ports[0]} inet n - n - - smtpd
127.0.0.1:${ports[1]} inet n - n - - smtpd -o smtpd_milters=unix:$d/run/noop.sock
127.0.0.1:${ports[2]} inet n - n - - smtpd -o smtpd_milters=unix:$d/run/htg.sock
${base:+127.0.0.1:31028 inet n - n - - smtpd -o smtpd_milters=unix:$d/run/base.sock}
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
setpriv --reuid=htg --regid=htg --clear-groups "$d/noop-milter" "unix:$d/run/noop.sock" &
echo $! >"$d/noop.pid"
# start_htg NAME BUILD [-o key=value ...]: an htg-milter on $d/run/NAME.sock
start_htg() {
	local dir=none
	if [ -n "${BENCH_DIRECTORY:-}" ]; then
		dir=$d/dir-$1
		"$2/tools/htgctl" -d "$dir" init --owner htg >/dev/null
	fi
	"$2/milter/htg-milter" -c /dev/null -o "socket=unix:$d/run/$1.sock" \
		-o user=htg -o "directory=$dir" -o "temp_dir=$d/run" \
		-o postqueue=none -o from_owner_check=no \
		-o "log_file=$d/log/$1-milter.log" \
		-o "pid_file=$d/run/$1.pid" "${@:3}" </dev/null >/dev/null 2>&1
}
# BENCH_HTG_OPTIONS: more -o key=value for the htg-milter under test only
# (e.g. commit_recipient= : this Postfix has no htgcommit transport, and
# with postqueue=none a relayed message's claim would wait for it)
extra=()
for o in ${BENCH_HTG_OPTIONS:-}; do extra+=(-o "$o"); done
start_htg htg "$build" "${extra[@]}"
# BENCH_BASE_OPTIONS: the same for the base listener (BASE_BUILD may be the
# same tree: then the options alone differ, e.g. audit=no)
bextra=()
for o in ${BENCH_BASE_OPTIONS:-}; do bextra+=(-o "$o"); done
[ -n "$base" ] && start_htg base "$base" "${bextra[@]}"
for i in $(seq 50); do [ -S "$d/run/noop.sock" ] && [ -S "$d/run/htg.sock" ] &&
	{ [ -z "$base" ] || [ -S "$d/run/base.sock" ]; } && break; sleep 0.1; done
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
	"$(wc -c <"$d/message") bytes per listener, $sessions sessions, $(nproc) cores"

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
# rounds rotate the order (A B C, B C A, C A B, ...) so drift on the
# machine hits all alike; the median of each is compared
declare -a r0 r1 r2 r3
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
rate[0]=$(median "${r0[@]}")
rate[1]=$(median "${r1[@]}")
rate[2]=$(median "${r2[@]}")
[ -n "$base" ] && rate[3]=$(median "${r3[@]}")
for ((i = 0; i < n; i++)); do
	printf '%-14s %8.1f msg/s (median)\n' "${names[$i]}" "${rate[$i]}"
done
printf 'no-op milter / no milter:  %.2f\n' "$(echo "${rate[1]} / ${rate[0]}" | bc -l)"
printf 'htg-milter / no milter:    %.2f\n' "$(echo "${rate[2]} / ${rate[0]}" | bc -l)"
printf 'htg-milter / no-op milter: %.2f\n' "$(echo "${rate[2]} / ${rate[1]}" | bc -l)"
[ -n "$base" ] &&
	printf 'htg-milter / base milter:  %.3f (%s vs %s)\n' \
		"$(echo "${rate[2]} / ${rate[3]}" | bc -l)" "$build" "$base"
refused=$(grep -c 'milter-reject' "$d/log/postfix.log" || true)
accepted=$(grep -c 'action=accept' "$d/log/htg-milter.log" || true)
[ -n "$base" ] && echo "base milter accepted $(grep -c 'action=accept' \
	"$d/log/base-milter.log" || true); tempfails by a milter's session limit:" \
	"htg $(grep -c 'max_sessions .* reached' "$d/log/htg-milter.log" || true)," \
	"base $(grep -c 'max_sessions .* reached' "$d/log/base-milter.log" || true)" \
	"(warnings, each may stand for more)"
[ -n "${BENCH_DIRECTORY:-}" ] &&
	echo "submit audit events: $("$build/tools/htgctl" -d "$d/dir-htg" audit --event submit | wc -l)"
echo "htg-milter decisions: $accepted accepted, $refused refused (expected 0 refused)"
