#!/bin/sh
# test-render.sh - every template renders with production.env, leaves no
# placeholder behind, and Postfix reads the result without a warning.
set -u
src=${srcdir:-.}
d=$(mktemp -d /tmp/htg-test-render.XXXXXX)
trap 'rm -rf "$d"' EXIT
passed=0 failed=0
res() { if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1";
	else failed=$((failed + 1)); echo "FAIL $1"; fi; }

set -a; . "$src/production.env"; set +a
mkdir -p "$d/postfix"
for t in postfix/main.cf postfix/master.cf htg-milter.conf htg-policyd.conf \
	 dovecot/dovecot.conf; do
	mkdir -p "$d/$(dirname "$t")"
	"$src/render" "$src/$t.in" "$d/$t" 2>"$d/err"
	res "render $t" $?
	! grep -q '@[A-Z][A-Z0-9_]*@' "$d/$t" 2>/dev/null
	res "no placeholder left in $t" $?
done
grep -q '^\[192.0.2.10\]:587 inet' "$d/postfix/master.cf" &&
	grep -q '^\[10.0.0.10\]:25 inet' "$d/postfix/master.cf"
res "production ports 587 and inbound 25 in master.cf" $?
# IPv6 (004 3.5, 4.5): both families in main.cf; an IPv6 address in
# HTG_HOST (no brackets) becomes Postfix's [address]:port service name
grep -q '^inet_protocols = all$' "$d/postfix/main.cf"
res "main.cf serves IPv4 and IPv6 (inet_protocols = all)" $?
mkdir -p "$d/v6"
HTG_HOST=2001:db8::10 HTG_INBOUND_HOST=fd00::10 \
	"$src/render" "$src/postfix/master.cf.in" "$d/v6/master.cf" &&
	HTG_HOST=2001:db8::10 "$src/render" "$src/dovecot/dovecot.conf.in" \
		"$d/v6/dovecot.conf" &&
	grep -q '^\[2001:db8::10\]:587 inet' "$d/v6/master.cf" &&
	grep -q '^\[fd00::10\]:25 inet' "$d/v6/master.cf" &&
	grep -q -- '-s \[fd00::10\]:25 ' "$d/v6/master.cf" &&
	grep -q '^listen = 2001:db8::10$' "$d/v6/dovecot.conf"
res "IPv6 listeners: [2001:db8::10]:587 and [fd00::10]:25, Dovecot listen" $?
grep -q '^temp_dir = /var/spool/htg$' "$d/htg-milter.conf"
res "htg-milter spools bodies on disk (/var/spool/htg), not in /run" $?
grep -q '^log_file = $' "$d/htg-milter.conf" && grep -q '^log_file = $' "$d/htg-policyd.conf"
res "production: both daemons log to syslog (log_file empty)" $?
grep -q 'port = 110' "$d/dovecot/dovecot.conf"
res "production POP3 port 110 in dovecot.conf" $?
# issue 15: the passdb knows this node and the nodes' ports; one machine
# opens no inet LMTP listener (port 0) and trusts no other node
grep -q '^  args = /var/lib/htg/directory node=gw1 pop3_port=110 lmtp_port=24$' \
	"$d/dovecot/dovecot.conf" &&
	grep -q '^login_trusted_networks = $' "$d/dovecot/dovecot.conf" &&
	awk '/inet_listener lmtp/ { l = 1 } l && /port = / { print; exit }' \
		"$d/dovecot/dovecot.conf" | grep -q 'port = 0$' &&
	grep -q '^  lmtp_proxy = yes$' "$d/dovecot/dovecot.conf"
res "dovecot.conf: node and ports in the passdb args, no LMTP listener on one machine" $?
if command -v postconf >/dev/null; then
	postconf -c "$d/postfix" -n >/dev/null 2>"$d/err"
	! grep -q . "$d/err"
	res "postconf reads main.cf without a warning" $?
	[ -s "$d/err" ] && sed 's/^/  /' "$d/err"
fi
HTG_HOST='a|b' "$src/render" "$src/postfix/master.cf.in" "$d/x" 2>/dev/null
[ $? != 0 ]
res "a value with | is refused" $?
(unset HTG_HOST; "$src/render" "$src/postfix/master.cf.in" "$d/x" 2>/dev/null)
[ $? != 0 ]
res "a missing value is refused" $?
HTG_TUNING=tuned "$src/render" "$src/dovecot/dovecot.conf.in" "$d/tuned" &&
	grep -q '^ *service_count = 0' "$d/tuned"
res "tuned: the capacity settings are in dovecot.conf" $?
HTG_TUNING=stock "$src/render" "$src/dovecot/dovecot.conf.in" "$d/stock" &&
	HTG_TUNING=stock "$src/render" "$src/postfix/main.cf.in" "$d/stock-main" &&
	! grep -q 'service_count\|process_min_avail\|#@tuning' "$d/stock" &&
	! grep -q 'service_throttle_time' "$d/stock-main" &&
	grep -q 'vsz_limit' "$d/stock"
res "stock: no capacity setting, everything else kept" $?
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
