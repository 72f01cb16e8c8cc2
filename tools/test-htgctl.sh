#!/bin/sh
# test-htgctl.sh - the htgctl command line: exit codes, JSON, no clear
# passwords in the store. Run by "make check" (TESTS).
set -u
HTGCTL=${HTGCTL:-./htgctl}
d=$(mktemp -d /tmp/htg-test-htgctl.XXXXXX)
trap 'rm -rf "$d"' EXIT
passed=0 failed=0

t() {	# name expected-exit command...
	name=$1 want=$2
	shift 2
	"$@" >"$d/out" 2>"$d/err" </dev/null
	got=$?
	if [ "$got" = "$want" ]; then
		passed=$((passed + 1)); echo "ok   $name"
	else
		failed=$((failed + 1)); echo "FAIL $name: exit $got, want $want"
		sed 's/^/  /' "$d/err"
	fi
}

expect() {	# name: condition already evaluated as $?
	if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"
	else failed=$((failed + 1)); echo "FAIL $1"; fi
}

C="$HTGCTL -d $d/dir"
# As root, htgctl works as the directory's owner (htgctl-priv.c): each
# directory is made by init and given to an unprivileged user first.
if [ "$(id -u)" = 0 ]; then
	chmod 0755 "$d"
	OWN="--owner nobody"
	mkdir "$d/rootdir"
	t "as root, a directory owned by root is refused" 1 \
		$HTGCTL -d "$d/rootdir" account list
	grep -q 'owned by root' "$d/err"
	expect "  ... saying why" $?
	t "as root, a missing directory is refused (init makes it)" 1 \
		$HTGCTL -d "$d/dir" account add x@y.nl
	# a directory an older htgctl made as root: init hands it over
	mkdir "$d/old" && chmod 0755 "$d"
	$HTGCTL -d "$d/old" init --owner nobody >/dev/null 2>&1 &&
		chown root:root "$d/old" "$d/old/data.mdb" "$d/old/lock.mdb"
	t "init hands over a root-owned directory" 0 $HTGCTL -d "$d/old" init --owner nobody
	[ "$(stat -c %U "$d/old/data.mdb")" = nobody ] &&
		[ "$(stat -c %U "$d/old/lock.mdb")" = nobody ]
	expect "  ... with its LMDB files" $?
	t "init --owner of an unknown user is refused" 1 \
		$HTGCTL -d "$d/dir" init --owner no-such-user-htg
else
	OWN=""
fi
t "init" 0 $C init $OWN
[ "$(stat -c %a "$d/dir")" = 2770 ] &&
	[ "$(stat -c %a "$d/dir/data.mdb")" = 660 ] &&
	[ "$(stat -c %a "$d/dir/lock.mdb")" = 660 ]
expect "init: the directory 2770, its files 0660" $?
if [ "$(id -u)" = 0 ]; then
	[ "$(stat -c %U "$d/dir")" = nobody ] &&
		[ "$(stat -c %U "$d/dir/data.mdb")" = nobody ] &&
		[ "$(stat -c %U "$d/dir/lock.mdb")" = nobody ]
	expect "init as root: everything belongs to --owner" $?
fi
t "init twice is harmless" 0 $C init $OWN
t "init takes only --owner" 2 $C init --frob
printf 'Secret-Pw-1\n' | $C account add Demo@Bedrijf.NL --password-stdin \
	--retention-days 7 --max-size 1000 >/dev/null 2>&1
expect "account add with password from stdin" $?
t "account add twice is refused" 1 $C account add demo@bedrijf.nl
t "account add without a domain is refused" 1 $C account add demo
t "account name with ../ is refused" 1 $C account add ../../etc/x@y.nl
grep -q 'invalid account name' "$d/err"
expect "  ... saying why" $?
t "account name with ; is refused" 1 $C account add 'x@y.nl;rm'
t "account name with a quoted local part is refused" 1 $C account add '"a b"@y.nl'
t "account name with / is refused" 1 $C account add 'etc/passwd@y.nl'
t "account name with an escape is refused" 1 $C account add "$(printf 'x\033[2J@y.nl')"
! grep -q "$(printf '\033')" "$d/err"
expect "  ... and the error shows no raw escape" $?
t "account add with a bad number is a usage error" 2 $C account add x@y.nl --max-size 12k
t "unknown command is a usage error" 2 $C frobnicate
t "no command is a usage error" 2 $C
t "account list" 0 $C account list --json
grep -q '"user":"demo@bedrijf.nl","disabled":false,"has_password":true,"retention_days":7,"max_size":1000' "$d/out"
expect "account list --json shows the normalised account" $?
! grep -q 'Secret-Pw-1' "$d/dir/data.mdb"
expect "the password is not stored in clear" $?
grep -q 'SHA512-CRYPT' "$d/dir/data.mdb"
expect "the password is stored as SHA512-CRYPT" $?
t "passwd needs --password-stdin" 2 $C account passwd demo@bedrijf.nl
printf 'Secret-Pw-2\n' | $C account passwd demo@bedrijf.nl --password-stdin
expect "passwd from stdin" $?
printf '\n' | $C account passwd demo@bedrijf.nl --password-stdin 2>/dev/null
[ $? = 1 ]
expect "an empty password is refused" $?
t "address add" 0 $C address add ik@bedrijf.nl demo@bedrijf.nl
t "address of an unknown account is refused" 1 $C address add x@bedrijf.nl nobody@bedrijf.nl
t "flow add" 0 $C flow add DMS --deliver-to dms@overheid.nl
t "flow with @ is refused" 1 $C flow add dms@x --deliver-to dms@overheid.nl
t "flow with a quote is refused" 1 $C flow add 'd"ms' --deliver-to dms@overheid.nl
t "flow with an 8-bit byte is refused" 1 $C flow add "$(printf 'dms\351')" --deliver-to dms@overheid.nl
t "flow delivering to a bad address is refused" 1 $C flow add dms2 --deliver-to 'x@y.nl;rm'
t "address with a bad name is refused" 1 $C address add '../x@y.nl' demo@bedrijf.nl
t "grant of a bad flow name is refused" 1 $C grant demo@bedrijf.nl "d'ms"
t "flow add without --deliver-to is a usage error" 2 $C flow add dms
grep -q 'usage: htgctl \[-d DIR\] flow add FLOW --deliver-to ADDRESS' "$d/err" &&
	! grep -q 'account add' "$d/err"
expect "  ... showing the synopsis of flow, not of every command" $?
t "grant" 0 $C grant demo@bedrijf.nl dms
# one rule for duplicates: adding what exists says so and exits 1
t "the same address again is refused" 1 $C address add ik@bedrijf.nl demo@bedrijf.nl
grep -q 'already belongs to demo@bedrijf.nl' "$d/err"
expect "  ... saying why" $?
t "the same grant again is refused" 1 $C grant demo@bedrijf.nl dms
grep -q 'already has flow dms' "$d/err"
expect "  ... saying why" $?
t "flow add never replaces a flow's target" 1 $C flow add dms --deliver-to other@overheid.nl
grep -q 'flow dms exists (delivers to dms@overheid.nl); htgctl flow set' "$d/err"
expect "  ... and names flow set" $?
t "flow set changes it" 0 $C flow set dms --deliver-to other@overheid.nl
$C flow list | grep -qx "dms	other@overheid.nl"
expect "  ... the new target is listed" $?
t "flow set of a missing flow is refused" 1 $C flow set nieuw --deliver-to x@overheid.nl
t "flow set back" 0 $C flow set dms --deliver-to dms@overheid.nl
t "grant of an unknown flow is refused" 1 $C grant demo@bedrijf.nl emcs
t "flow list" 0 $C flow list --json
[ "$(cat "$d/out")" = '[{"flow":"dms","deliver_to":"dms@overheid.nl"}]' ]
expect "flow list --json is one array" $?
t "grant list" 0 $C grant list --json
[ "$(cat "$d/out")" = '[{"user":"demo@bedrijf.nl","flow":"dms"}]' ]
expect "grant list --json" $?
t "revoke" 0 $C revoke demo@bedrijf.nl dms
t "revoke twice is refused" 1 $C revoke demo@bedrijf.nl dms
t "audit on an empty trail" 0 $C audit --json
[ "$(cat "$d/out")" = '[]' ]
expect "audit --json prints an empty array" $?
t "retention list" 0 $C retention list demo@bedrijf.nl --json
t "retention list of an unknown account is refused" 1 $C retention list x@y.nl
t "retention restore of nothing is refused" 1 $C retention restore demo@bedrijf.nl '<a@b>'
t "account disable" 0 $C account disable Demo@bedrijf.nl
t "account list" 0 $C account list --json
grep -q '"user":"demo@bedrijf.nl","disabled":true' "$d/out"
expect "a disabled account lists as disabled" $?
t "account enable" 0 $C account enable demo@bedrijf.nl
t "account list" 0 $C account list --json
grep -q '"user":"demo@bedrijf.nl","disabled":false' "$d/out"
expect "an enabled account lists as enabled" $?
t "disable of an unknown account is refused" 1 $C account disable x@y.nl
t "account profile legacy" 0 $C account profile demo@bedrijf.nl legacy
t "account list" 0 $C account list --json
grep -q '"user":"demo@bedrijf.nl","disabled":false,.*"profile":"legacy"' "$d/out"
expect "the legacy profile is listed" $?
t "account profile standard" 0 $C account profile demo@bedrijf.nl standard
t "account profile with a bad name is a usage error" 2 $C account profile demo@bedrijf.nl old
t "audit with every filter" 0 $C audit demo@bedrijf.nl --event retr \
	--message-id '<a@b>' --since 2026-01-01 --until '2026-12-31T00:00:00Z' --json
[ "$(cat "$d/out")" = '[]' ]
expect "a filtered empty audit is an empty array" $?
t "audit with an unknown event is a usage error" 2 $C audit --event fetch
t "audit with a bad time is a usage error" 2 $C audit --since yesterday
t "audit expire needs --days" 2 $C audit expire
t "audit expire" 0 $C audit expire --days 365
t "retention purge with nothing kept" 0 $C retention purge --now @0
grep -q '^purged 0 ' "$d/out"
expect "retention purge reports what it purged" $?
t "retention purge of an unknown account is refused" 1 $C retention purge x@y.nl
mkdir -p "$d/mail"
t "hygiene on empty mailboxes" 0 $C hygiene --mail-root "$d/mail" --json
grep -q '"account":"demo@bedrijf.nl","waiting":0,' "$d/out"
expect "hygiene reports every account" $?
t "hygiene with a bad option is a usage error" 2 $C hygiene --frob
t "account del" 0 $C account del demo@bedrijf.nl
t "address list after account del" 0 $C address list --json
[ "$(cat "$d/out")" = '[]' ]
expect "account del removes its addresses" $?
t "reading a missing directory is refused" 1 $HTGCTL -d "$d/none" account list
# import: many changes from stdin, one handle, one fsync
I="$HTGCTL -d $d/imp"
$I init $OWN >/dev/null
printf 'account\tImp1@Bedrijf.nl\tPw one\n# comment\n\naddress\ts1@bedrijf.nl\timp1@bedrijf.nl\nflow\tdms\tdms@overheid.nl\ngrant\timp1@bedrijf.nl\tdms\nrevoke\timp1@bedrijf.nl\tdms\nrevoke\timp1@bedrijf.nl\tdms\ngrant\timp1@bedrijf.nl\tdms\naccount\timp1@bedrijf.nl\tPw two\n' |
	$I import >/dev/null 2>"$d/err"
expect "import applies account, address, flow, grant and revoke lines" $?
grep -q 'import: 8 changes' "$d/err"
expect "import counts its changes" $?
$I grant list --json >"$d/out" 2>/dev/null
[ "$(cat "$d/out")" = '[{"user":"imp1@bedrijf.nl","flow":"dms"}]' ]
expect "import: the grant is in the directory" $?
! grep -q 'Pw one\|Pw two' "$d/imp/data.mdb"
expect "import stores no clear password" $?
printf 'address\tx@bedrijf.nl\tnobody@bedrijf.nl\n' | $I import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 1' "$d/err"
expect "import stops at a refused line and names it" $?
printf 'grant imp1@bedrijf.nl dms\n' | $I import >/dev/null 2>&1
[ $? = 1 ]
expect "import wants tab-separated fields" $?
t "import takes no arguments" 2 $I import extra
printf 'account\t../../etc/x@y.nl\tpw\n' | $I import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 1: invalid account name' "$d/err"
expect "import refuses a bad account name" $?
t "retention list of every account" 0 $I retention list --json
[ "$(cat "$d/out")" = '[]' ]
expect "retention list without USER is one (empty) array" $?
# committed (the htgcommit pipe): reads the Message-ID, keeps nothing else
m() { $C committed "$@" >"$d/out" 2>"$d/err"; }
printf 'From: a@b.nl\nMessage-ID:\n  <fold.1@b.nl>\nSubject: x\n\nbody\n' |
	m imp1@bedrijf.nl Q1
[ $? = 0 ] && grep -qx 'no claim: imp1@bedrijf.nl <fold.1@b.nl>' "$d/out"
expect "committed reads a folded Message-ID, no claim: exit 0" $?
printf 'Message-ID: <a@b.nl>\r\nMessage-Id: <c@d.nl>\r\n\r\nx\r\n' |
	m imp1@bedrijf.nl Q1
[ $? = 0 ] && grep -q '^no claim: no single usable Message-ID' "$d/out"
expect "committed: two Message-IDs settle nothing" $?
printf 'Subject: x\n\nMessage-ID: <in@body.nl>\n' | m imp1@bedrijf.nl Q1
[ $? = 0 ] && grep -q '^no claim: no single usable Message-ID' "$d/out"
expect "committed: a Message-ID line in the body is not the header's" $?
printf 'Message-ID: <a@b.nl>\n\n' | m "" Q1
[ $? = 0 ] && grep -q '^no claim: no SASL account' "$d/out"
expect "committed: no SASL account, nothing to settle" $?
{ printf 'Message-ID: <big@b.nl>\nX-Long: '; head -c 300000 /dev/zero | tr '\0' a
  printf '\n\n'; head -c 20000000 /dev/zero | tr '\0' b; } |
	m imp1@bedrijf.nl Q1
[ $? = 0 ] && grep -qx 'no claim: imp1@bedrijf.nl <big@b.nl>' "$d/out"
expect "committed: a 300 KB field and a 20 MB body line are read through" $?
t "committed wants ACCOUNT and QUEUE_ID" 2 $C committed imp1@bedrijf.nl
# stats: options, --output replaces the file whole (tmp + rename); the
# textfile directory is writable by the directory's owner (as root: nobody)
mkdir "$d/prom" && chmod 0777 "$d/prom"
t "stats: a bad --since is a usage error" 2 $C stats --since yesterdayish
t "stats: an unknown option is a usage error" 2 $C stats --frobnicate
t "stats --prometheus --output FILE" 0 $C --mail-root "$d/nomail" stats \
	--prometheus --output "$d/prom/htg.prom"
[ ! -s "$d/out" ] && [ "$(stat -c %a "$d/prom/htg.prom")" = 644 ] &&
	grep -qx '# TYPE htg_audit_events_total counter' "$d/prom/htg.prom" &&
	[ "$(ls "$d/prom")" = htg.prom ]
expect "  ... 0644, complete, nothing on stdout, no temporary file left" $?
t "stats --output into a missing directory fails" 1 $C --mail-root \
	"$d/nomail" stats --output "$d/no/such/htg.prom"
t "stats --since today --by-account --json" 0 $C --mail-root "$d/nomail" \
	stats --since today --by-account --json
grep -q '"since_us":[1-9][0-9]*000000,' "$d/out"
expect "  ... the window starts at 00:00 UTC" $?
# nodes and home nodes (issue 15): a directory of its own
N="$HTGCTL -d $d/ndir"
t "nodes: init" 0 $N init $OWN
t "account add without nodes: no home" 0 $N account add solo@bedrijf.nl
t "account list shows no home then" 0 $N account list --json
grep -q '"user":"solo@bedrijf.nl",.*"home":""}' "$d/out"
expect "  ... \"home\":\"\"" $?
t "node set" 0 $N node set gw2 127.0.1.2
t "node set, second node" 0 $N node set GW1 127.0.1.1
t "node set changes an address" 0 $N node set gw2 gw2.example.nl
t "node set: a bad name is refused" 1 $N node set "gw 3" 127.0.1.3
t "node set: a bad address is refused" 1 $N node set gw3 "127.0.1.3;x"
t "node set wants NAME ADDRESS" 2 $N node set gw3
t "node list --json" 0 $N node list --json
[ "$(cat "$d/out")" = '[{"node":"gw1","address":"127.0.1.1"},{"node":"gw2","address":"gw2.example.nl"}]' ]
expect "  ... both, in name order" $?
t "account add picks the least homed node (tie: first name)" 0 \
	$N account add p1@bedrijf.nl
t "  ... and the next one the other" 0 $N account add p2@bedrijf.nl
t "account add --home NODE" 0 $N account add p3@bedrijf.nl --home gw2
t "account add --home none" 0 $N account add p4@bedrijf.nl --home none
t "account add --home of an unknown node is refused" 1 \
	$N account add p5@bedrijf.nl --home gw9
t "account list" 0 $N account list
grep -qx 'p1@bedrijf.nl	retention-days=30	max-size=52428800	no-password	home=gw1' "$d/out" &&
	grep -q '^p2@bedrijf.nl	.*	home=gw2$' "$d/out" &&
	grep -q '^p3@bedrijf.nl	.*	home=gw2$' "$d/out" &&
	! grep -q '^p4@bedrijf.nl	.*home=' "$d/out" &&
	! grep -q '^p5@' "$d/out"
expect "  ... shows each home" $?
t "node del refused while accounts are homed there" 1 $N node del gw1
grep -q 'p1@bedrijf.nl' "$d/err"
expect "  ... naming one of them" $?
t "account home USER NODE" 0 $N account home p1@bedrijf.nl gw2
t "account home of an unknown node is refused" 1 $N account home p1@bedrijf.nl gw9
t "account home of an unknown account is refused" 1 $N account home px@bedrijf.nl gw2
t "account home wants NODE|none" 2 $N account home p1@bedrijf.nl
t "node del once no account is homed there" 0 $N node del gw1
t "node del of an unknown node is refused" 1 $N node del gw1
t "account home USER none" 0 $N account home p1@bedrijf.nl none
t "account list --json" 0 $N account list --json
grep -q '"user":"p1@bedrijf.nl",.*"home":""}' "$d/out" &&
	grep -q '"user":"p2@bedrijf.nl",.*"home":"gw2"}' "$d/out"
expect "  ... the homes as changed" $?
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
