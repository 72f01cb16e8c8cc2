#!/bin/sh
# test-units.sh - every systemd unit of ours is rated at most 2.0 by
# "systemd-analyze security" (issue 14: Debian's opendkim.service is 9.6)
# and parses cleanly. Run by make check with HTG_UNITS (the built units).
# Skipped (77) only when systemd-analyze is missing: htg-lab installs it.
set -u
max=${HTG_UNITS_MAX_EXPOSURE:-2.0}
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (Debian: package systemd)"
	exit 77
fi
[ -n "${HTG_UNITS:-}" ] || { echo "FAIL: HTG_UNITS is empty"; exit 1; }
fail=0
for unit in $HTG_UNITS; do
	[ -f "$unit" ] || { echo "FAIL: $unit: missing"; fail=1; continue; }
	out=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
	level=$(printf '%s\n' "$out" |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
	if [ -z "$level" ]; then
		printf '%s\n' "$out"
		echo "FAIL: $unit: no exposure level"
		fail=1
		continue
	fi
	if awk -v l="$level" -v m="$max" 'BEGIN { exit !(l > m) }'; then
		printf '%s\n' "$out" | grep '✗'
		echo "FAIL: $unit: exposure $level > $max"
		fail=1
	else
		echo "ok: $unit: exposure $level <= $max"
	fi
	# a unit systemd cannot parse still gets a rating: make it fail here
	warn=$(printf '%s\n' "$out" | grep -i 'unknown\|ignoring\|failed to parse' || true)
	if [ -n "$warn" ]; then
		printf '%s\n' "$warn"
		echo "FAIL: $unit: systemd does not understand all of it"
		fail=1
	fi
done
exit $fail
