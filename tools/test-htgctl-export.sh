#!/bin/sh
# test-htgctl-export.sh - htgctl export | htgctl import copies a whole
# directory: every kind of record, byte for byte on the way back; a
# second import changes nothing; a conflicting record, an unknown format
# version and a cut-short export are refused with the line number. Run
# by "make check" (TESTS).
set -u
LC_ALL=C; export LC_ALL
HTGCTL=${HTGCTL:-./htgctl}
FILL=${FILL:-./test-export-fill}
d=$(mktemp -d /tmp/htg-test-export.XXXXXX)
trap 'rm -rf "$d"' EXIT
passed=0 failed=0

expect() {	# name: condition already evaluated as $?
	if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "ok   $1"
	else failed=$((failed + 1)); echo "FAIL $1"; sed 's/^/  /' "$d/err"; fi
}

# As root, htgctl works as the directory's owner: each directory is
# made by init and given to an unprivileged user first.
OWN=
if [ "$(id -u)" = 0 ]; then chmod 0755 "$d"; OWN="--owner nobody"; fi
newdir() { $HTGCTL -d "$d/$1" init $OWN >/dev/null; }
A="$HTGCTL -d $d/a"
B="$HTGCTL -d $d/b"
: >"$d/err"

# --- the source: every kind of record, made by the commands that make them
newdir a
printf 'pw one\n' | $A account add Demo@Bedrijf.nl --password-stdin \
	--retention-days 14 --max-size 1000000 >/dev/null &&
printf 'pw two\n' | $A account add other@bedrijf.nl --password-stdin >/dev/null &&
printf 'pw three\n' | $A account add plain@bedrijf.nl --password-stdin >/dev/null &&
$A account disable other@bedrijf.nl >/dev/null &&
$A account profile demo@bedrijf.nl legacy >/dev/null &&
$A account mode demo@bedrijf.nl report >/dev/null &&
$A account translate demo@bedrijf.nl on >/dev/null &&
$A address add ik@bedrijf.nl demo@bedrijf.nl >/dev/null &&
$A address add logisch@bedrijf.nl demo@bedrijf.nl --logical >/dev/null &&
$A address add x@andere.nl other@bedrijf.nl >/dev/null &&
$A flow add dms --deliver-to dms@overheid.example >/dev/null &&
$A flow add tst --deliver-to tst@overheid.example >/dev/null &&
$A flow respond tst refuse --delay 3 >/dev/null &&
$A grant demo@bedrijf.nl dms >/dev/null &&
$A grant demo@bedrijf.nl tst >/dev/null &&
$A grant other@bedrijf.nl dms >/dev/null &&
$FILL "$d/a" 2>"$d/err"
expect "the source directory holds every kind of record" $?

# nodes and home nodes: only once the directory has them (htgctl-nodes.c)
if printf 'htg-export\t1\nnode\tn1\t127.0.1.1\nend\t1\n' | $A import 2>"$d/err"
then
	printf 'htg-export\t1\nnode\tn2\t127.0.1.2\naccount-record\thome@bedrijf.nl\t{SHA512-CRYPT}$6$x$y\t0\t30\t100\t1796600000\tn2\nend\t2\n' |
		$A import 2>"$d/err"
	expect "(nodes) the source gets a second node and a homed account" $?
	nodes=yes
else
	grep -q 'line 2: this htgctl cannot write nodes' "$d/err"
	expect "(no nodes in this build) a node line is refused, not dropped" $?
	printf 'htg-export\t1\naccount-record\thome@bedrijf.nl\t{SHA512-CRYPT}$6$x$y\t0\t30\t100\t1796600000\tn2\nend\t1\n' |
		$A import 2>"$d/err"
	[ $? = 1 ] && grep -q 'line 2: this htgctl cannot write' "$d/err"
	expect "(no nodes in this build) a home node is refused, not dropped" $?
	nodes=no
fi

$A export >"$d/e1" 2>"$d/err"
expect "export exits 0" $?
head -1 "$d/e1" | grep -qx 'htg-export	1' &&
	[ "$(tail -1 "$d/e1")" = "end	$(($(wc -l <"$d/e1") - 2))" ]
expect "  ... a versioned header first, the count of records last" $?
kinds=$(sed '1d;$d' "$d/e1" | cut -f1 | uniq | tr '\n' ' ')
want="account-record address logical flow respond grant audit retained msgid delivery "
[ $nodes = yes ] && want="node $want"
[ "$kinds" = "$want" ]
expect "  ... every kind, in the order import needs" $?
grep -a -q '^account-record	demo@bedrijf.nl	{SHA512-CRYPT}\$6\$[^	]*	14	14	1000000	[1-9][0-9]*	$' "$d/e1" &&
	grep -a -q '^account-record	other@bedrijf.nl	[^	]*	1	30	52428800	' "$d/e1"
expect "  ... accounts with their hash, flags, retention, size, creation" $?
grep -a -qF 'audit	1796600000000001	' "$d/e1" &&
	grep -a -F '	<a\\b\x01c'"$(printf '\303\251\377')"'@x.nl>	12345	7	4QABC12		::1	TLSv1.3	s\\1			' "$d/e1" |
		grep -q 's\\\\1			$' &&
	grep -a -qF '	refuse	demo@bedrijf.nl		0	0		HTG-MSGID				dms	EOM	550 5.7.1 dup  licate \\n \\\\ \x7f end' "$d/e1" &&
	grep -a -q '^audit	1796600000000002	4242	2147483649	dele	other@bedrijf.nl	' "$d/e1"
expect "  ... audit events with their keys, awkward bytes escaped" $?
grep -a -qF 'retained	demo@bedrijf.nl	second	1796600000	1799192000	<r\\1@x.nl>	99	3	/var/lib/htg/mail/demo@bedrijf.nl/retention/a b\\c	' "$d/e1" &&
	[ "$(grep -a -c '^msgid	[0-9a-f]\{64\}	[PEF] ' "$d/e1")" = 3 ] &&
	grep -a -q '^delivery	[0-9a-f]*	P 1796686400$' "$d/e1" &&
	grep -a -q '^delivery	[0-9a-f]*	D 1796686400$' "$d/e1"
expect "  ... retention records, Message-ID claims, delivery records" $?

newdir b
$B import <"$d/e1" 2>"$d/err"
expect "import into a new directory exits 0" $?
$B export >"$d/e2" 2>"$d/err" && cmp -s "$d/e1" "$d/e2"
expect "the copy exports byte for byte what the source did" $?
same=0
for cmd in "account list --json" "address list --json" "flow list --json" \
	"grant list --json" "audit --json" "retention list --json"; do
	$A $cmd >"$d/la" 2>"$d/err" && $B $cmd >"$d/lb" 2>>"$d/err" &&
		cmp -s "$d/la" "$d/lb" || { same=1; echo "  differs: $cmd"; }
done
[ $same = 0 ]
expect "  ... and lists what the source lists (accounts, addresses, flows, grants, audit, retention)" $?
$B import <"$d/e1" 2>"$d/err"
expect "a second import of the same export exits 0" $?
$B export >"$d/e3" 2>"$d/err" && cmp -s "$d/e1" "$d/e3"
expect "  ... and changes nothing (no duplicate audit event or record)" $?

# a conflicting record: the flow delivers elsewhere in the directory
n=$(grep -a -n '^flow	tst	' "$d/e1" | cut -d: -f1)
sed 's/^flow	tst	tst@overheid.example$/flow	tst	elders@overheid.example/' \
	"$d/e1" >"$d/conflict"
$B import <"$d/conflict" >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q "import: line $n: flow tst delivers to tst@overheid.example" "$d/err"
expect "a conflicting flow is refused, with its line number ($n)" $?
n=$(grep -a -n '^account-record	other@' "$d/e1" | cut -d: -f1)
sed '/^account-record	other@/s/	1	30	/	0	30	/' "$d/e1" >"$d/conflict"
$B import <"$d/conflict" >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q "import: line $n: account other@bedrijf.nl exists with another flags" "$d/err"
expect "an account with other flags is refused, with its line number ($n)" $?
$B export >"$d/e4" 2>/dev/null && cmp -s "$d/e1" "$d/e4"
expect "  ... and the directory is left as it was" $?

newdir c
sed '1s/	1$/	2/' "$d/e1" | $HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 1: unknown export format version 2 (this htgctl reads 1)' "$d/err" &&
	[ "$($HTGCTL -d "$d/c" account list --json)" = '[]' ]
expect "an unknown format version is refused before anything is written" $?
sed '$d' "$d/e1" | $HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'no end line: the export was cut short' "$d/err"
expect "an export without its end line is refused" $?
sed '3d' "$d/e1" | $HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'records, .* came: it is damaged' "$d/err"
expect "an export with a line missing is refused at its end line" $?
printf 'htg-export\t1\naccount-record\tx@bedrijf.nl\t{PLAIN}secret\t0\t30\t100\t1796600000\t\nend\t1\n' |
	$HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 2: account x@bedrijf.nl: the password hash is not {SHA512-CRYPT}' "$d/err"
expect "an account-record with a clear password is refused" $?
printf 'htg-export\t1\naudit\t1796600000000001\t1\t1\tretr\ta@b.nl\t<a\\q>\t0\t0\t\t\t\t\t\t\t\t\nend\t1\n' |
	$HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 2: a bad escape' "$d/err"
expect "a field with a bad escape is refused" $?
printf 'htg-export\t1\naudit\t1796600000000001\t0\t1\tretr\ta@b.nl\t\t0\t0\t\t\t\t\t\t\t\t\nend\t1\n' |
	$HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 2: audit event: bad time or key' "$d/err"
expect "an audit event without its key is refused (a re-run would double it)" $?
printf 'htg-export\t1\nmsgid\t00\tF 5 Q1\nend\t1\n' |
	$HTGCTL -d "$d/c" import >/dev/null 2>"$d/err"
[ $? = 1 ] && grep -q 'line 2: table msgids: invalid row' "$d/err"
expect "a Message-ID claim with a key that is no SHA-256 is refused" $?
$HTGCTL -d "$d/c" export extra >/dev/null 2>&1
[ $? = 2 ]
expect "export takes no arguments" $?

# Streaming: 200,000 audit events (about 280 MB as structs) through
# export and import with 16 MB of heap (RLIMIT_DATA; LMDB's map is a
# shared file mapping and does not count). Skipped where the limit stops
# the program itself (ASan reserves its shadow memory as data).
LIM="prlimit --data=16777216"
if $LIM $HTGCTL -V >/dev/null 2>&1; then
	newdir big && $FILL "$d/big" 200000 2>"$d/err" &&
		$LIM $HTGCTL -d "$d/big" export >"$d/big1" 2>"$d/err" &&
		newdir big2 && $LIM $HTGCTL -d "$d/big2" import <"$d/big1" 2>"$d/err" &&
		$LIM $HTGCTL -d "$d/big2" export >"$d/big2.out" 2>"$d/err" &&
		cmp -s "$d/big1" "$d/big2.out" &&
		[ "$(tail -1 "$d/big1")" = "end	200000" ]
	expect "200,000 audit events go through export and import in 16 MB of heap" $?
else
	echo "skip 200,000 audit events in 16 MB of heap (no prlimit, or ASan)"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
