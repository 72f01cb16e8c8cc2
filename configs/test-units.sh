#!/bin/sh
# test-units.sh - every systemd unit of ours is rated at most 2.0 by
# "systemd-analyze security" (issue 14: Debian's opendkim.service is 9.6)
# and parses cleanly; and each daemon's unit lets it write every path its
# production config (the package's conffile: the template rendered with
# production.env) names, since ProtectSystem=strict makes the rest
# read-only. Run by make check with HTG_UNITS (the built units) and srcdir.
# Skipped (77) only when systemd-analyze is missing: htg-lab installs it.
set -u
src=${srcdir:-.}

# writable_ok UNIT PATH: PATH is under the unit's ReadWritePaths,
# /run/RuntimeDirectory or /var/log/LogsDirectory
writable_ok() {
	for w in $(sed -n -e 's/^ReadWritePaths=//p' \
			-e 's|^RuntimeDirectory=|/run/|p' \
			-e 's|^LogsDirectory=|/var/log/|p' "$1" | tr ' ' '\n' |
			sed 's/^-//'); do
		case $2 in "$w"|"$w"/*) return 0 ;; esac
	done
	return 1
}
max=${HTG_UNITS_MAX_EXPOSURE:-2.0}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (Debian: package systemd)"
	exit 77
fi
[ -n "${HTG_UNITS:-}" ] || { echo "FAIL: HTG_UNITS is empty"; exit 1; }
fail=0
# every check says "ok:" or "FAIL:"; the last line counts them as
# htg-lab check counts every test program: "N passed, N failed"
nok=0 nfail=0
ok() { printf 'ok: %s\n' "$*"; nok=$((nok + 1)); }
bad() { printf 'FAIL: %s\n' "$*"; nfail=$((nfail + 1)); fail=1; }
for unit in $HTG_UNITS; do
	[ -f "$unit" ] || { bad "$unit: missing"; fail=1; continue; }
	out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
	level=$(printf '%s\n' "$out" |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
	if [ -z "$level" ]; then
		printf '%s\n' "$out"
		bad "$unit: no exposure level"
		fail=1
		continue
	fi
	if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l > m) }'; then
		printf '%s\n' "$out" | grep '✗'
		bad "$unit: exposure $level > $max"
		fail=1
	else
		ok "$unit: exposure $level <= $max"
	fi
	# a unit systemd cannot parse still gets a rating: make it fail here
	warn=$(printf '%s\n' "$out" | grep -i 'unknown\|ignoring\|failed to parse' || true)
	if [ -n "$warn" ]; then
		printf '%s\n' "$warn"
		bad "$unit: systemd does not understand all of it"
		fail=1
	fi
done

# the paths of the production configs against the units
d=$(mktemp -d /tmp/htg-test-units.XXXXXX)
trap 'rm -rf "$d"' EXIT
(set -a; . "$src/production.env"; set +a
 "$src/render" "$src/htg-milter.conf.in" "$d/htg-milter.conf" &&
 "$src/render" "$src/htg-policyd.conf.in" "$d/htg-policyd.conf") ||
	{ bad "cannot render the daemons' configs"; exit 1; }
for daemon in htg-milter htg-policyd; do
	unit=
	for u in $HTG_UNITS; do
		case $u in */$daemon.service|$daemon.service) unit=$u ;; esac
	done
	[ -n "$unit" ] || { bad "no $daemon.service in HTG_UNITS"; fail=1; continue; }
	# files the daemon writes: the directory (LMDB writes its lock file),
	# temp_dir, pid_file, log_file, unix sockets
	for key in directory temp_dir pid_file log_file socket policy_socket \
		   socketmap_socket; do
		val=$(sed -n "s/^$key *= *//p" "$d/$daemon.conf" | tail -n 1)
		val=${val#unix:}
		case $val in /*) ;; *) continue ;; esac
		if writable_ok "$unit" "$val"; then
			ok "$daemon.service may write $key = $val"
		else
			bad "$daemon.service: $key = $val is read-only in the unit's sandbox (ReadWritePaths=)"
			fail=1
		fi
	done
done
echo "$nok passed, $nfail failed"
exit $fail
