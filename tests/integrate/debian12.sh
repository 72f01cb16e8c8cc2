#!/usr/bin/env bash
# debian12.sh - the integration guide (doc/integrate.md), tested on a fresh
# Debian 12 root.
#
# usage: tests/integrate/debian12.sh [--debs DIR | --build-debs]
#
#   --debs DIR      install the .debs in DIR (built by dpkg-buildpackage)
#   --build-debs    build them first from a clean export of this tree's HEAD
#                   (git archive; needs debian/), the default
#
# What it does (as root; needs a Debian mirror for debootstrap and apt):
#  1. a Debian 12 root with Debian's stock postfix ("Internet Site"),
#     dovecot-core, dovecot-pop3d, dovecot-lmtpd, systemd and rsyslog,
#     built once with debootstrap and cached as a tar under $CACHE;
#  2. a fresh copy of it for this run, our packages installed into it;
#  3. exactly the guide's snippets (configs/integrate/) added to the stock
#     /etc/postfix and /etc/dovecot - it fails if one would replace a stock
#     setting or service - the test certificate where the guide puts it, the
#     guide's htgctl steps;
#  4. the root booted with systemd-nspawn --boot --private-network (its own
#     network namespace: ports 25/587/110/2525 on its own loopback, nothing on
#     the host's), "systemctl enable --now htg-policyd htg-milter" inside;
#  5. tests/integrate/core.py from the host, inside the container's network
#     namespace, against that install, over IPv4 (127.0.0.1) and over IPv6
#     (::1); then the container is powered off.
#
# Environment: HTG_INTEGRATE_CACHE (default /var/cache/htg-integrate: the base
# root tar and the run's root), HTG_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), HTG_DEBIAN_SECURITY (default
# http://deb.debian.org/debian-security), HTG_INTEGRATE_DROP (an extended
# regexp: snippet lines matching it are left out - to see a check fail).
# Ends with "N passed, N failed" (core.py) and the times of each phase.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${HTG_INTEGRATE_CACHE:-/var/cache/htg-integrate}
MIRROR=${HTG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${HTG_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
DROP=${HTG_INTEGRATE_DROP:-}
GUIDE=$TOP/configs/integrate
# Debian's packages the guide starts from, and what a Debian 12 server has
# anyway (systemd as PID 1; rsyslog for /var/log/mail.log; ssl-cert for the
# snakeoil certificate of Debian's own main.cf). Our packages' run-time
# libraries are cached too, so that a run needs the mirror for nothing else.
STOCK="postfix dovecot-core dovecot-pop3d dovecot-lmtpd systemd systemd-sysv
rsyslog ssl-cert ca-certificates openssl liblmdb0 libmilter1.0.1 libssl3
libcrypt1 lmdb-utils"
KEY=$(printf '%s\n' "bookworm $MIRROR $SECURITY $STOCK v1" | sha256sum | cut -c1-12)
BASE=$CACHE/base-bookworm-$KEY.tar
WORK=$CACHE/run
ROOT=$WORK/root
mode=

say() { printf 'integrate: %s\n' "$*"; }
die() { printf 'integrate: %s\n' "$*" >&2; exit 1; }
T0=$SECONDS TL=$SECONDS TIMES=""
phase() { TIMES="$TIMES $1=$((SECONDS - TL))s"; TL=$SECONDS; }

while [ $# -gt 0 ]; do
	case $1 in
	--debs) DEBS=$(cd "$2" && pwd); mode=debs; shift ;;
	--build-debs) mode=build-debs ;;
	*) die "usage: $0 [--debs DIR | --build-debs]" ;;
	esac
	shift
done
if [ -z "$mode" ]; then
	[ -d "$TOP/debian" ] || die "no debian/ in this tree: use --debs DIR"
	mode=build-debs
fi
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, systemd-nspawn)"
for c in debootstrap systemd-nspawn nsenter python3 openssl; do
	command -v $c >/dev/null || die "$c missing (htg-lab installs debootstrap and systemd-container)"
done

# --- 1. the base root, cached ------------------------------------------------

in_root() {	# command... : in the (not booted) root, /proc mounted
	mount -t proc proc "$ROOT/proc"
	local rc=0
	chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@" || rc=$?
	umount "$ROOT/proc"
	return $rc
}

make_base() {
	local tmp=$CACHE/base.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	say "debootstrap bookworm from $MIRROR"
	debootstrap --variant=minbase bookworm "$tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$CACHE/debootstrap.log"; die "debootstrap failed"; }
	cat >"$tmp/etc/apt/sources.list" <<-EOF
	deb $MIRROR bookworm main
	deb $MIRROR bookworm-updates main
	deb $SECURITY bookworm-security main
	EOF
	# No daemon starts while packages are installed into a chroot.
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 0755 "$tmp/usr/sbin/policy-rc.d"
	echo mail.example.nl >"$tmp/etc/hostname"
	echo mail.example.nl >"$tmp/etc/mailname"
	# "Internet Site": the Postfix an admin already runs (a main.cf to add
	# to; "No configuration" leaves none).
	printf '%s\n' "postfix postfix/main_mailer_type select Internet Site" \
		"postfix postfix/mailname string mail.example.nl" |
		chroot "$tmp" debconf-set-selections
	local ROOT=$tmp
	say "apt-get install (stock):" $STOCK
	{ in_root apt-get update -q &&
	  in_root apt-get install -y -q --no-install-recommends $STOCK &&
	  in_root apt-get clean; } >"$CACHE/base-apt.log" 2>&1 ||
		{ tail -30 "$CACHE/base-apt.log"; die "apt-get in the base root failed"; }
	tar -C "$tmp" --numeric-owner -cf "$BASE.tmp" .
	mv "$BASE.tmp" "$BASE"
	rm -rf "$tmp"
}

mkdir -p "$CACHE"
if [ -f "$BASE" ]; then
	say "base root from the cache: $BASE"
else
	make_base
fi
phase base

# --- 2. a fresh root with our packages ----------------------------------------

NSPAWN_PID=
cleanup() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" 2>/dev/null || true	# poweroff
		for _ in $(seq 1 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NSPAWN_PID" 2>/dev/null || true
	fi
	mountpoint -q "$ROOT/proc" 2>/dev/null && umount "$ROOT/proc" || true
}
trap cleanup EXIT

rm -rf "$WORK"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$BASE"
phase fresh-root

build_debs() {	# from a clean export of HEAD, never in a working tree
	local d=/tmp/htg-integrate-build
	rm -rf "$d"
	mkdir -p "$d/src" "$d/debs"
	git -C "$TOP" archive HEAD | tar -x -C "$d/src"
	say "dpkg-buildpackage -us -uc -b in $d/src (git archive HEAD)"
	(cd "$d/src" && dpkg-buildpackage -us -uc -b) >"$WORK/dpkg-buildpackage.log" 2>&1 ||
		{ tail -30 "$WORK/dpkg-buildpackage.log"; die "dpkg-buildpackage failed"; }
	mv "$d"/*.deb "$d/debs/"
	DEBS=$d/debs
}

[ "$mode" = debs ] || build_debs
mkdir -p "$ROOT/tmp/htg-debs"
for f in "$DEBS"/*.deb; do
	case $f in *-dbgsym_*) ;; *) cp "$f" "$ROOT/tmp/htg-debs/" ;; esac
done
ls "$ROOT"/tmp/htg-debs/*.deb >/dev/null 2>&1 || die "no .deb in $DEBS"
say "installing:" $(cd "$ROOT/tmp/htg-debs" && ls)
in_root sh -c 'apt-get install -y -q --no-install-recommends /tmp/htg-debs/*.deb' \
	>"$WORK/apt-ours.log" 2>&1 || { tail -30 "$WORK/apt-ours.log"; die "installing our .debs failed"; }
phase install

# --- 3. the guide's snippets, added to the stock files --------------------------

snippet() {	# file: its lines, less those HTG_INTEGRATE_DROP matches
	if [ -n "$DROP" ]; then grep -v -E -e "$DROP" "$1" || true; else cat "$1"; fi
}

# Nothing of Debian's is replaced: no main.cf parameter of ours is set in
# the stock main.cf, no service of ours is in the stock master.cf.
stock_params=$(chroot "$ROOT" postconf -n | sed 's/ =.*//')
for p in $(sed -n 's/^\([a-z_0-9]*\) *=.*/\1/p' "$GUIDE/main.cf.htg"); do
	! grep -qx "$p" <<<"$stock_params" || die "main.cf.htg would replace Debian's $p"
done
for s in $(awk '/^[^#[:space:]]/ { print $1 "/" $2 }' "$GUIDE/master.cf.htg"); do
	[ -z "$(chroot "$ROOT" postconf -M "$s" 2>/dev/null)" ] ||
		die "master.cf.htg would replace Debian's service $s"
done
[ ! -e "$ROOT/etc/dovecot/conf.d/90-htg.conf" ] || die "90-htg.conf exists in the stock root"
[ -z "$DROP" ] || say "leaving out snippet lines matching: $DROP"

# /etc/postfix (doc/integrate.md "Postfix")
snippet "$GUIDE/main.cf.htg" >>"$ROOT/etc/postfix/main.cf"
snippet "$GUIDE/master.cf.htg" >>"$ROOT/etc/postfix/master.cf"
install -d -m 0755 "$ROOT/etc/postfix/htg"
# the tables as the guide copies them: from the package (htg-tools ships
# configs/ in /usr/share/htg-gateway)
tables=$ROOT/usr/share/htg-gateway/postfix
for f in htg_auth_required.regexp smtpd_command_filter.regexp \
	 submission_header_checks smtp_tls_policy transport; do
	install -m 0644 "$tables/$f" "$ROOT/etc/postfix/htg/$f" ||
		die "$tables/$f missing"
done
# The site's own value: the government side is this loopback's 127.0.0.1
# and ::1 (the tests connect from 127.0.0.2 and fd00:2::2 to see a
# stranger refused).
printf '127.0.0.1/32\tgovernment\n[::1]/128\tgovernment\n' \
	>"$ROOT/etc/postfix/htg/government.cidr"
# /etc/dovecot (doc/integrate.md "Dovecot")
snippet "$GUIDE/90-htg.conf" >"$ROOT/etc/dovecot/conf.d/90-htg.conf"

# The certificate where the guide puts it: self-signed for this test
# (the clients trust exactly it).
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=msa-smtp.htpoort.nl" \
	-addext "subjectAltName=DNS:msa-smtp.htpoort.nl,DNS:localhost,IP:127.0.0.1,IP:::1" \
	-keyout "$ROOT/etc/ssl/private/msa-smtp.htpoort.nl.key" \
	-out "$ROOT/etc/ssl/certs/msa-smtp.htpoort.nl.pem" 2>/dev/null
chmod 0600 "$ROOT/etc/ssl/private/msa-smtp.htpoort.nl.key"

chroot "$ROOT" postfix check 2>&1 | sed 's/^/postfix check: /' || true
chroot "$ROOT" postconf -n >/dev/null 2>"$WORK/postconf.err" || true
[ ! -s "$WORK/postconf.err" ] || { sed 's/^/postconf: /' "$WORK/postconf.err"; }
chroot "$ROOT" doveconf -n >/dev/null 2>"$WORK/doveconf.err" ||
	{ cat "$WORK/doveconf.err"; die "doveconf does not read the configuration"; }

# The guide's htgctl steps (doc/integrate.md "Accounts")
DEMO_PASSWORD=$(openssl rand -hex 12) GOV_PASSWORD=$(openssl rand -hex 12)
htgctl() { chroot "$ROOT" htgctl "$@"; }
htgctl account add demo@mijnbedrijf.nl --password-stdin <<<"$DEMO_PASSWORD"
htgctl address add ik@mijnbedrijf.nl demo@mijnbedrijf.nl
htgctl address add nl000000001@postbus.htpoort.nl demo@mijnbedrijf.nl
htgctl account add douane@overheid.nl --password-stdin <<<"$GOV_PASSWORD"
htgctl address add dms-inbox@douane.overheid.nl douane@overheid.nl
htgctl flow add dms --deliver-to dms-inbox@douane.overheid.nl
htgctl grant demo@mijnbedrijf.nl dms
rm -f "$ROOT/usr/sbin/policy-rc.d"
phase configure

# --- 4. boot it ---------------------------------------------------------------------

say "booting the root (systemd-nspawn --boot --private-network)"
systemd-nspawn -D "$ROOT" --private-network --register=no --keep-unit -q --boot \
	</dev/null >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!
# the container's PID 1: nspawn's child once it runs systemd (nspawn forks
# a short-lived helper first)
LEADER=
for _ in $(seq 1 300); do
	for pid in $(pgrep -P "$NSPAWN_PID" 2>/dev/null); do
		[ "$(cat /proc/$pid/comm 2>/dev/null)" = systemd ] && LEADER=$pid
	done
	[ -n "$LEADER" ] && break
	sleep 0.1
done
[ -n "$LEADER" ] || die "no container process (see $WORK/console.log)"
inside() { nsenter -t "$LEADER" -m -u -i -n -p -- "$@"; }
for _ in $(seq 1 600); do
	inside test -S /run/systemd/private 2>/dev/null && break
	sleep 0.1
done
state=$(inside timeout 120 systemctl is-system-running --wait 2>/dev/null || true)
say "systemd in the container: $state"

# the guide: systemctl enable --now htg-policyd htg-milter
inside systemctl enable --now htg-policyd htg-milter
for s in /run/htg/policy.sock /run/htg/socketmap.sock /run/htg/milter.sock; do
	for _ in $(seq 1 150); do inside test -S $s && break; sleep 0.1; done
	inside test -S $s || say "WARNING: $s missing"
done
# Postfix and Dovecot started at boot with the snippets in place; our
# daemons came later, which costs nothing (4xx meanwhile). Wait for the ports.
for p in 25 587 110 2525; do
	for _ in $(seq 1 150); do
		inside bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null && break
		sleep 0.1
	done
done
inside systemctl --no-pager --plain list-units 'postfix*' 'dovecot*' 'htg*' 'rsyslog*' |
	sed -n '/\.service/s/^/  /p'
phase boot

# --- 5. the core end-to-end checks --------------------------------------------------

# a second address on the container's loopback: a stranger over IPv6
nsenter --net=/proc/$LEADER/ns/net ip -6 addr add fd00:2::2/128 dev lo nodad
daemon_log() {	# where the daemon logs: log_file, or mail.log when empty (syslog)
	local f
	f=$(sed -n 's/^log_file *= *//p' "$ROOT/etc/htg/$1.conf" | tail -1)
	printf '%s' "$ROOT${f:-/var/log/mail.log}"
}
write_env() {	# host, stranger source, file
cat >"$3" <<EOF
HTG_HOST='$1'
HTG_STRANGER_SOURCE='$2'
HTG_SUBMISSION_PORT='587'
HTG_POP3_PORT='110'
HTG_INBOUND_PORT='2525'
HTG_STOCK_SMTP_PORT='25'
HTG_CA_FILE='$ROOT/etc/ssl/certs/msa-smtp.htpoort.nl.pem'
HTG_CTL='nsenter -t $LEADER -m -u -i -n -p -- htgctl'
HTG_INSIDE='nsenter -t $LEADER -m -u -i -n -p --'
HTG_ENVIRONMENT='production'
HTG_SUBMIT_DOMAIN='msa-smtp.htpoort.nl'
HTG_HEADER_DOMAIN='htpoort.nl'
HTG_DEMO_USER='demo@mijnbedrijf.nl'
HTG_DEMO_PASSWORD='$DEMO_PASSWORD'
HTG_DEMO_SENDER='ik@mijnbedrijf.nl'
HTG_DEMO_LOGICAL='nl000000001@postbus.htpoort.nl'
HTG_DEMO_FLOW='dms'
HTG_GOV_USER='douane@overheid.nl'
HTG_GOV_PASSWORD='$GOV_PASSWORD'
HTG_LOG_DIR='$ROOT/var/log'
HTG_MAIL_LOG='$ROOT/var/log/mail.log'
HTG_MILTER_LOG='$(daemon_log htg-milter)'
HTG_POLICYD_LOG='$(daemon_log htg-policyd)'
HTG_MAIL_ROOT='$ROOT/var/lib/htg/mail'
EOF
}
write_env 127.0.0.1 127.0.0.2 "$WORK/integrate.env"
write_env ::1 fd00:2::2 "$WORK/integrate6.env"
set +e
say "core checks over IPv4 (127.0.0.1)"
nsenter --net=/proc/$LEADER/ns/net python3 "$TOP/tests/integrate/core.py" \
	"$WORK/integrate.env" | tee "$WORK/core.out"
rc=${PIPESTATUS[0]}
say "core checks over IPv6 (::1)"
nsenter --net=/proc/$LEADER/ns/net python3 "$TOP/tests/integrate/core.py" \
	"$WORK/integrate6.env" | tee "$WORK/core6.out"
rc6=${PIPESTATUS[0]}
[ "$rc" != 0 ] || rc=$rc6
set -e
phase tests
if [ "$rc" != 0 ]; then
	say "mail.log (last 40 lines):"
	tail -40 "$ROOT/var/log/mail.log" 2>/dev/null | sed 's/^/  /' || true
fi
cleanup
NSPAWN_PID=
phase poweroff
say "times:$TIMES total=$((SECONDS - T0))s"
say "root kept for inspection: $ROOT (console: $WORK/console.log)"
exit $rc
