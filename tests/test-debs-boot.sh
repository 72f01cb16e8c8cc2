#!/bin/sh
# test-debs-boot.sh - install the built .debs into a systemd container and
# run the units for real: the package's user, directory and modes, units
# installed disabled, the sandbox of each unit (sockets 0660 group postfix
# made by an unprivileged daemon, postqueue -j under NoNewPrivileges, the
# milter reachable from Postfix's smtpd), reload, logrotate, the
# retention service, purge.
#
# usage: tests/test-debs-boot.sh [DEBDIR]    (default: build/debs, made by
#        tests/test-debs.sh)              as root; needs systemd-nspawn
#
# The container is this host's own system: a copy of /etc and of dpkg's
# database, /usr as an overlay (the host's /usr stays untouched), private
# /var, /run and network, systemd 252 as PID 1. It boots into one test unit
# that runs the checks below and powers off; nothing of the host changes.
# Ends with "N passed, N failed"; exit 0 when none failed.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
debs=$(cd "${1:-$top/build/debs}" && pwd)
[ "$(id -u)" = 0 ] || { echo "test-debs-boot: run as root" >&2; exit 1; }
command -v systemd-nspawn >/dev/null ||
	{ echo "test-debs-boot: systemd-nspawn missing (systemd-container)" >&2; exit 1; }
ls "$debs"/htg-tools_*.deb "$debs"/htg-milter_*.deb "$debs"/htg-policyd_*.deb \
	"$debs"/dovecot-htg_*.deb >/dev/null

work=$(mktemp -d /tmp/htg-debs-boot.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$work/out" "$root"/var/lib "$root"/var/log "$root"/var/tmp "$root"/var/spool \
	"$root"/tmp "$root"/run "$root"/proc "$root"/sys "$root"/dev "$root"/root \
	"$root"/usr/lib "$root"/debs "$root"/out "$work/usr-upper" "$work/usr-work"
for l in bin sbin lib lib32 lib64; do
	[ -L /$l ] && ln -s "$(readlink /$l)" "$root/$l"
done
cp /usr/lib/os-release "$root/usr/lib/"	# nspawn looks before mounting /usr
cp -a /etc "$root/etc"
cp -a /var/lib/dpkg "$root/var/lib/dpkg"
# what the host's packages made under /var (Postfix's queue, logrotate)
for d in /var/spool/postfix /var/lib/postfix /var/lib/logrotate; do
	[ -d $d ] && mkdir -p "$root$(dirname $d)" && cp -a $d "$root$d"
done
# a fresh machine: no user htg yet (the package must make it), no services
# of the host started at boot
for f in passwd group shadow gshadow; do
	sed -i -e '/^htg:/d' -e 's/,htg$//' -e 's/,htg,/,/' -e 's/:htg,/:/' \
		-e 's/:htg$/:/' "$root/etc/$f"
done
rm -rf "$root"/etc/systemd/system/*.wants
rm -f "$root/etc/machine-id"
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"
echo >>"$root/etc/machine-id"
rm -rf "$root/etc/htg" "$root/etc/logrotate.d/htg-milter" "$root/etc/logrotate.d/htg-policyd"

cat >"$root/etc/systemd/system/htg-boot-test.service" <<'EOF'
[Unit]
Description=HTG package test inside the container
After=sysinit.target
[Service]
Type=oneshot
ExecStart=/bin/sh /debs/inner.sh
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=300
EOF

sed -n '/^#--- inner ---$/,$p' "$0" >"$work/inner.sh"
mkdir -p "$work/debs"
cp "$debs"/*.deb "$work/inner.sh" "$work/debs/"
rm -f "$work"/debs/*-dbgsym_*.deb

timeout 600 systemd-nspawn -q -D "$root" --register=no --keep-unit \
	--link-journal=no --private-network -M htg-debs-boot \
	--overlay="/usr:$work/usr-upper:/usr" \
	--bind-ro="$work/debs:/debs" --bind="$work/out:/out" \
	-b -- systemd.unit=htg-boot-test.service >"$work/boot.log" 2>&1 || true
mkdir -p "$top/build"
cp "$work/boot.log" "$top/build/debs-boot.boot.log"
if [ ! -f "$work/out/result" ]; then
	tail -30 "$work/boot.log"
	echo "test-debs-boot: the test unit did not finish (boot log above)"
	exit 1
fi
cp "$work/out/log" "$top/build/debs-boot.log"
cat "$work/out/log" | grep -E '^(ok|FAIL|info)' || true
cat "$work/out/result"
grep -q ' 0 failed$' "$work/out/result"
exit $?

#--- inner ---
# runs inside the container as a oneshot unit, systemd as PID 1
exec >/out/log 2>&1
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "ok: $*"; }
bad()  { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else bad "$desc"; fi; }
info() { echo "info: $*"; }
finish() { echo "$pass passed, $fail failed" >/out/result; exit 0; }
set -x

# --- install ---------------------------------------------------------------
check "ps 1 is systemd" test "$(ps -p 1 -o comm=)" = systemd
# the host's policy-rc.d (for the lab) denies every start and stop, which
# would hide what our maintainer scripts do; this one lets ours through and
# keeps the host's other services (e.g. an unconfigured Dovecot) down. The
# overlay keeps the host's file as it is.
printf '#!/bin/sh\ncase "$1" in htg-*) exit 0 ;; esac\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
check "dpkg -i of the four packages" dpkg -i /debs/htg-tools_*.deb \
	/debs/htg-milter_*.deb /debs/htg-policyd_*.deb /debs/dovecot-htg_*.deb
check "user htg made by the package" id htg
check "group htg" getent group htg
check "/var/lib/htg/directory htg:htg 2770" \
	test "$(stat -c '%U:%G %a' /var/lib/htg/directory)" = "htg:htg 2770"
check "data.mdb htg:htg 660" \
	test "$(stat -c '%U:%G %a' /var/lib/htg/directory/data.mdb)" = "htg:htg 660"
check "/var/lib/htg/mail htg:htg 750" \
	test "$(stat -c '%U:%G %a' /var/lib/htg/mail)" = "htg:htg 750"
check "/var/spool/htg (temp_dir) htg:htg 700" \
	test "$(stat -c '%U:%G %a' /var/spool/htg)" = "htg:htg 700"
check "conffiles /etc/htg" test -f /etc/htg/htg-milter.conf -a -f /etc/htg/htg-policyd.conf
for u in htg-milter.service htg-policyd.service htg-retention.timer; do
	check "$u installed disabled" test "$(systemctl is-enabled $u)" = disabled
	check "$u not started" test "$(systemctl is-active $u)" = inactive
done
check "htgctl as root works as htg" htgctl account list

# --- a Postfix for postqueue and smtpd ---------------------------------------
cat >/etc/postfix/main.cf <<'EOF'
compatibility_level = 3.6
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = boot-test.example
mydestination = localhost
alias_maps =
local_recipient_maps =
maillog_file = /var/log/postfix.log
smtpd_milters = unix:/run/htg/milter.sock
milter_default_action = tempfail
EOF
# the sockets are in /run/htg: Postfix's daemons must not be chrooted
postconf -F '*/*/chroot = n'
postfix post-install create-missing || true
postfix check
check "postfix start" postfix start
sleep 1

# --- the daemons under their units ---------------------------------------------
check "systemctl start htg-policyd" systemctl start htg-policyd.service
check "systemctl start htg-milter" systemctl start htg-milter.service
sleep 2
for u in htg-policyd htg-milter; do
	check "$u active" systemctl is-active --quiet $u.service
	pid=$(systemctl show -p MainPID --value $u.service)
	info "$u: $(ps -o user=,group=,supgrp= -p "$pid")"
	check "$u runs as htg, never root" \
		test "$(ps -o user= -p "$pid")" = htg
	check "$u: no capabilities" \
		grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/$pid/status
	check "$u: NoNewPrivs" grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/$pid/status
	info "$u: $(systemd-analyze security $u.service | tail -1)"
done
info "$(ls -la /run/htg)"
check "/run/htg htg:htg 755" test "$(stat -c '%U:%G %a' /run/htg)" = "htg:htg 755"
for s in milter.sock policy.sock socketmap.sock; do
	check "/run/htg/$s 660 group postfix" \
		test "$(stat -c '%a %G' /run/htg/$s)" = "660 postfix"
done

# who may connect: group postfix yes, any other user no
cat >/tmp/connect.py <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("refused:", e); sys.exit(1)
if len(sys.argv) > 2:
    s.sendall(sys.argv[2].encode().replace(b"|", b"\n"))
    print(s.recv(4096).decode().strip())
EOF
check "postfix may connect to the policy socket" setpriv --reuid=postfix \
	--regid=postfix --init-groups python3 /tmp/connect.py /run/htg/policy.sock \
	"request=smtpd_access_policy|protocol_state=RCPT|sender=a@example.org|recipient=b@example.org||"
check "nobody may not connect to the milter socket" sh -c \
	'! setpriv --reuid=nobody --regid=nogroup --clear-groups python3 /tmp/connect.py /run/htg/milter.sock'

# Postfix's smtpd reaches the milter (a 4xx tempfail would mean it did not)
cat >/tmp/smtp.py <<'EOF'
import smtplib
s = smtplib.SMTP("127.0.0.1", 25, timeout=30)
s.ehlo("boot-test.example")
code, msg = s.docmd("MAIL FROM:<a@example.org>")
print("MAIL", code, msg.decode())
code2, msg2 = s.docmd("RCPT TO:<b@localhost>")
print("RCPT", code2, msg2.decode())
s.rset()
try:
    s.sendmail("a@example.org", ["b@localhost"],
               "From: <a@example.org>\r\nTo: <b@localhost>\r\nSubject: t\r\n\r\nbody\r\n")
    print("EOM accepted")
except smtplib.SMTPException as e:
    print("EOM refused", e)
EOF
python3 /tmp/smtp.py >/tmp/smtp.out 2>&1 || true
info "smtp: $(cat /tmp/smtp.out)"
check "the milter decided (an HTG rule id in the reply)" grep -q 'EOM .*HTG-' /tmp/smtp.out
check "Postfix logged the session" grep -q 'postfix/smtpd.*connect from' /var/log/postfix.log
check "smtpd reached the milter (no connect warning, no milter tempfail)" \
	sh -c '! grep -q "connect to Milter service\|4\.7\.1 Service unavailable" \
		/var/log/postfix.log /tmp/smtp.out'
grep -i milter /var/log/postfix.log | tail -5

# postqueue -j inside the milter's sandbox: the same unit, another command
mk_pq() {	# name, SupplementaryGroups[, command]
	sed -e "s|^ExecStart=.*|ExecStart=${3:-/usr/sbin/postqueue -j}|" \
	    -e 's|^Type=.*|Type=oneshot|' -e '/^ExecReload=/d' -e '/^Restart/d' \
	    -e "s|^SupplementaryGroups=.*|SupplementaryGroups=$2|" \
	    -e '/^\[Install\]/,$d' \
	    /lib/systemd/system/htg-milter.service >/run/systemd/system/$1.service
}
mk_pq htg-pq "postfix postdrop"
mk_pq htg-pq-nopostdrop "postfix"
systemctl daemon-reload
check "postqueue -j works in htg-milter's sandbox" systemctl start htg-pq.service
check "postqueue -j fails without group postdrop (NoNewPrivileges ignores set-gid)" \
	sh -c '! systemctl start htg-pq-nopostdrop.service'
journalctl -u htg-pq-nopostdrop.service --no-pager | tail -3
# syslog (the daemons' default log) from inside the sandbox: /dev/log
for u in htg-milter htg-policyd; do
	sed -e "s|^ExecStart=.*|ExecStart=/usr/bin/logger -p mail.info -t $u-sandbox hello-from-$u|" \
	    -e 's|^Type=.*|Type=oneshot|' -e '/^ExecReload=/d' -e '/^Restart/d' \
	    -e '/^\[Install\]/,$d' \
	    /lib/systemd/system/$u.service >/run/systemd/system/$u-syslog.service
done
systemctl daemon-reload
for u in htg-milter htg-policyd; do
	systemctl start $u-syslog.service
	sleep 1
	check "syslog reachable in $u's sandbox" \
		sh -c "journalctl -t $u-sandbox --no-pager | grep -q hello-from-$u"
done

# --- reload (SIGHUP: re-read config, reopen logs) -----------------------------
mpid=$(systemctl show -p MainPID --value htg-milter.service)
check "systemctl reload htg-milter" systemctl reload htg-milter.service
sleep 6
check "htg-milter still active 6 s after reload" systemctl is-active --quiet htg-milter.service
check "htg-milter same process after reload" \
	test "$(systemctl show -p MainPID --value htg-milter.service)" = "$mpid"
ppid=$(systemctl show -p MainPID --value htg-policyd.service)
check "systemctl reload htg-policyd" systemctl reload htg-policyd.service
sleep 2
check "htg-policyd same process after reload" \
	test "$(systemctl show -p MainPID --value htg-policyd.service)" = "$ppid"

# --- logrotate, for a daemon that writes a log file -----------------------------
for d in htg-milter htg-policyd; do
	if ! grep -q '^log_file *= */var/log/htg/' /etc/htg/$d.conf; then
		info "$d logs to syslog by default; a log file for this test"
		sed -i "s|^log_file *=.*|log_file = /var/log/htg/$d.log|" /etc/htg/$d.conf
		grep -q "^log_file = /var/log/htg/$d.log" /etc/htg/$d.conf ||
			echo "log_file = /var/log/htg/$d.log" >>/etc/htg/$d.conf
		systemctl restart $d.service
		sleep 2
	fi
	pid=$(systemctl show -p MainPID --value $d.service)
	check "$d writes /var/log/htg/$d.log" test -s /var/log/htg/$d.log
	info "$(ls -la /var/log/htg)"
	check "logrotate -f $d" logrotate -v -f /etc/logrotate.d/$d
	sleep 1
	# something to log after the rotation
	setpriv --reuid=postfix --regid=postfix --init-groups python3 \
		/tmp/connect.py /run/htg/policy.sock "request=smtpd_access_policy|protocol_state=RCPT|sender=a@example.org|recipient=b@example.org||" || true
	python3 /tmp/smtp.py >/dev/null 2>&1 || true
	sleep 1
	check "$d reopened its log after rotation" test -s /var/log/htg/$d.log.1 -a -s /var/log/htg/$d.log
	check "$d same process after logrotate" \
		test "$(systemctl show -p MainPID --value $d.service)" = "$pid"
done

# --- retention service -------------------------------------------------------
check "htg-retention.service runs (as htg, sandboxed)" systemctl start htg-retention.service
journalctl -u htg-retention.service --no-pager | tail -5

# --- upgrade: what runs is restarted, what is stopped stays stopped -----------
systemctl start htg-milter.service
systemctl stop htg-policyd.service
sleep 1
mpid=$(systemctl show -p MainPID --value htg-milter.service)
check "dpkg -i again (upgrade path)" dpkg -i /debs/htg-tools_*.deb \
	/debs/htg-milter_*.deb /debs/htg-policyd_*.deb /debs/dovecot-htg_*.deb
sleep 1
check "upgrade restarted the running milter" sh -c \
	"systemctl is-active --quiet htg-milter.service &&
	 [ \"\$(systemctl show -p MainPID --value htg-milter.service)\" != $mpid ]"
check "upgrade left the stopped policyd stopped" \
	test "$(systemctl is-active htg-policyd.service)" = inactive
check "upgrade kept the units disabled" \
	test "$(systemctl is-enabled htg-milter.service)" = disabled

# --- two units share /run/htg ---------------------------------------------------
systemctl start htg-milter.service htg-policyd.service
for i in 1 2 3 4 5 6 7 8 9 10; do	# Type=simple: the socket comes after
	[ -S /run/htg/milter.sock ] && [ -S /run/htg/policy.sock ] && break
	sleep 0.5
done
check "both sockets there" test -S /run/htg/milter.sock -a -S /run/htg/policy.sock
check "stop htg-policyd" systemctl stop htg-policyd.service
check "the milter's socket survives the policyd's stop" test -S /run/htg/milter.sock
check "stop htg-milter" systemctl stop htg-milter.service

# --- purge ---------------------------------------------------------------------
postfix stop >/dev/null 2>&1 || true
systemctl start htg-milter.service htg-policyd.service htg-retention.timer
check "dpkg --purge" dpkg --purge dovecot-htg htg-milter htg-policyd htg-tools
check "removal stopped the daemons and the timer" sh -c \
	'! pgrep -x htg-milter && ! pgrep -x htg-policyd &&
	 [ "$(systemctl is-active htg-retention.timer)" != active ]'
check "/etc/htg gone" test ! -e /etc/htg
check "units gone" test ! -e /lib/systemd/system/htg-milter.service
check "the milter's spool gone" test ! -e /var/spool/htg
info "kept: $(ls -d /var/lib/htg/* 2>/dev/null | tr '\n' ' ')(businesses' mail and audit: never purged)"
set +x
finish
