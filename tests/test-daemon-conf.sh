#!/bin/sh
# test-daemon-conf.sh - htg-milter -n and htg-policyd -n (issue 14): a good
# configuration exits 0 and prints nothing; every bad value exits 1 with
# "file:line: key: ..." (never a silent default); -c FILE must exist; a
# temp_dir on tmpfs is refused; -V/--version print "PROGRAM VERSION" with
# the version of configure.ac's AC_INIT for every installed program.
set -u
M=${HTG_MILTER:-../milter/htg-milter}
P=${HTG_POLICYD:-../policy/htg-policyd}
C=${HTGCTL:-../tools/htgctl}
src=${srcdir:-.}
# in the build tree: temp_dir must be on disk (a tmpfs /tmp would be refused)
d=$(mktemp -d "$PWD/htg-test-daemon-conf.XXXXXX")
trap 'rm -rf "$d"' EXIT
passed=0 failed=0
res() { if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1";
	else failed=$((failed + 1)); echo "FAIL $1"; sed 's/^/  /' "$d/err"; fi; }

mkdir "$d/spool"
cat >"$d/m.conf" <<CONF
# a good milter configuration (no user, group or directory needed)
socket = unix:$d/m.sock
socket_group =
temp_dir = $d/spool
directory = none
mode = report
max_depth = 8
msgid_window = 2592000
from_owner_check = no
CONF
cat >"$d/p.conf" <<CONF
policy_socket = $d/p.sock
socketmap_socket =
socket_group =
tls_protocol_min = TLSv1.3
rate_limit = 0
CONF

# good: 0, nothing printed
"$M" -n -c "$d/m.conf" >"$d/out" 2>"$d/err"
[ $? = 0 ] && ! [ -s "$d/out" ] && ! [ -s "$d/err" ]
res "htg-milter -n: good configuration, exit 0, silent" $?
"$P" -n -c "$d/p.conf" >"$d/out" 2>"$d/err"
[ $? = 0 ] && ! [ -s "$d/out" ] && ! [ -s "$d/err" ]
res "htg-policyd -n: good configuration, exit 0, silent" $?

# bad: prog conf "key = value" expected-message (the line is appended:
# later settings win)
bad() {
	prog=$1 conf=$2 assignment=$3 want=$4
	cp "$d/$conf" "$d/bad.conf"
	echo "$assignment" >>"$d/bad.conf"
	line=$(wc -l <"$d/bad.conf")
	"$prog" -n -c "$d/bad.conf" >"$d/out" 2>"$d/err"
	rc=$?
	[ $rc = 1 ] && grep -qF "$d/bad.conf:$line: $want" "$d/err" &&
		[ "$(wc -l <"$d/err")" = 1 ] && ! [ -s "$d/out" ]
	res "$(basename "$prog") -n: $assignment -> exit 1, $want at line $line" $?
}
bad "$M" m.conf 'max_depth = eight' 'max_depth: "eight" is not a number'
bad "$M" m.conf 'msgid_window = 30d' 'msgid_window: "30d" is not a number of seconds (no units)'
bad "$M" m.conf 'socket_mode = rw-rw----' 'socket_mode: "rw-rw----" is not an octal mode'
bad "$P" p.conf 'tls_protocol_min = TLSv1.4' 'tls_protocol_min: "TLSv1.4" is not one of TLSv1.1, TLSv1.2, TLSv1.3'
bad "$M" m.conf 'max_depth = 65' 'max_depth: "65" is out of range (1-64)'
bad "$M" m.conf 'from_owner_check = maybe' 'from_owner_check: "maybe" is not yes or no'
bad "$M" m.conf 'mode = enforcing' 'mode: "enforcing" is not one of enforce, report'
bad "$M" m.conf 'environment = prod' 'environment: "prod" is not one of production, preproduction'
bad "$M" m.conf 'header_domain = htpoort..nl' 'header_domain: "htpoort..nl" is not a domain name'
bad "$M" m.conf 'timeout = 30m' 'timeout: "30m" is not a number of seconds (no units)'
bad "$M" m.conf 'msgid_commit_wait = 26' 'msgid_commit_wait: "26" is out of range (0-25)'
bad "$M" m.conf 'commit_recipient = <x@y>' 'commit_recipient: "<x@y>" is not an address'
bad "$M" m.conf 'header_field_max = 999' 'header_field_max: "999" is out of range (1000-200000)'
bad "$M" m.conf 'socket_mode = 0666' 'socket_mode: "0666" lets every local user connect'
bad "$M" m.conf 'user = no-such-user-htg' 'user: no such user "no-such-user-htg"'
bad "$M" m.conf 'max_sessions = 0' 'max_sessions: "0" is out of range (1-1000000)'
bad "$M" m.conf 'typo_key = 1' 'unknown parameter "typo_key"'
bad "$M" m.conf "temp_dir = $d/nothere" "temp_dir: $d/nothere: No such file or directory"
bad "$P" p.conf 'request_timeout = 100s' 'request_timeout: "100s" is not a number of seconds (no units)'
bad "$P" p.conf 'max_ttl = -1' 'max_ttl: "-1" is out of range (0-1000000)'
bad "$P" p.conf 'environment = test' 'environment: "test" is not one of production, preproduction'
bad "$P" p.conf 'submit_domain = a_b.nl' 'submit_domain: "a_b.nl" is not a domain name'
bad "$P" p.conf 'rate_limit = ten' 'rate_limit: "ten" is not a number'
bad "$P" p.conf 'socket_group = no-such-group-htg' 'socket_group: no group "no-such-group-htg"'
bad "$P" p.conf 'policy_socket =' 'no socket configured'
bad "$P" p.conf 'policy_inet = 127.0.0.1:99999' 'policy_inet: "127.0.0.1:99999": the port is not 1-65535'
bad "$P" p.conf 'socketmap_inet = localhost' 'socketmap_inet: "localhost" is not host:port'

# every error of a file, not only the first
printf 'max_depth = eight\nmax_parts = many\n' >>"$d/m.conf"
"$M" -n -c "$d/m.conf" 2>"$d/err"
[ $? = 1 ] && [ "$(wc -l <"$d/err")" = 2 ]
res "htg-milter -n: two bad values, two errors" $?
sed -i '/max_depth = eight/d; /max_parts = many/d' "$d/m.conf"

# -o overrides are checked and named
"$M" -n -c "$d/m.conf" -o max_parts=lots 2>"$d/err"
[ $? = 1 ] && grep -qF -- '-o: max_parts: "lots" is not a number' "$d/err"
res "htg-milter -n -o max_parts=lots: exit 1, named -o" $?

# a -c file that does not exist is fatal (it never runs on defaults)
"$M" -n -c "$d/nonexistent" 2>"$d/err"
[ $? = 1 ] && grep -qF "open $d/nonexistent: No such file" "$d/err"
res "htg-milter -c /nonexistent: exit 1" $?
timeout 20 "$M" -f -c "$d/nonexistent" -o temp_dir="$d/spool" -o directory=none \
	-o socket_group= 2>"$d/err"
[ $? = 1 ] && grep -qF "open $d/nonexistent: No such file" "$d/err" &&
	grep -qF "fatal: 1 error in the configuration, not started" "$d/err"
res "htg-milter -f -c /nonexistent: does not start" $?
"$P" -n -c "$d/nonexistent" 2>"$d/err"
[ $? = 1 ] && grep -qF "open $d/nonexistent: No such file" "$d/err"
res "htg-policyd -c /nonexistent: exit 1" $?

# temp_dir on tmpfs is refused (bodies would sit in RAM)
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm)" = tmpfs ]; then
	"$M" -n -c "$d/m.conf" -o temp_dir=/dev/shm 2>"$d/err"
	[ $? = 1 ] && grep -qF -- '-o: temp_dir: /dev/shm is on tmpfs (memory)' "$d/err"
	res "htg-milter -n: temp_dir on tmpfs refused" $?
fi

# one version: configure.ac's AC_INIT, printed by every installed program
want=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$src/../configure.ac")
[ -n "$want" ]
res "configure.ac has a version ($want)" $?
for prog in "$M" "$P" "$C"; do
	for opt in -V --version; do
		out=$("$prog" $opt 2>"$d/err")
		rc=$?
		[ $rc = 0 ] && [ "$out" = "$(basename "$prog") $want" ]
		res "$(basename "$prog") $opt: \"$out\"" $?
	done
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
