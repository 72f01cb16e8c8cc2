"""Dovecot suite (issue 5): POP3 pickup against the lab's real Dovecot.

Directory-driven users and addresses, LMTP to logical addresses, the
pre-TLS command table, retention after DELE (restore, purge on a given
clock, a failed retention keeps the message), the pickup audit, pickup
hygiene. Each test makes its own account, so tests do not see each
other's mail. Registered into htglab.TESTS; run by tests/e2e.py.
"""

import base64
import calendar
import json
import os
import poplib
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import uuid

from htglab import (ENV, TIMEOUT, test, check, ctl, tls_context, pop3_login,
                    host_is_ipv6)

DOMAIN = "e2e-pickup.test"


# --- helpers --------------------------------------------------------------------

class Account:
    """A fresh account with a password and one logical address."""

    def __init__(self, retention_days=None):
        tag = uuid.uuid4().hex[:10]
        self.user = "acct-%s@%s" % (tag, DOMAIN)
        self.address = "box-%s@postbus.%s" % (tag, DOMAIN)
        self.password = "pw-" + uuid.uuid4().hex
        args = ["account", "add", self.user, "--password-stdin"]
        if retention_days is not None:
            args += ["--retention-days", str(retention_days)]
        r = ctl(*args, stdin=self.password + "\n")
        check(r.returncode == 0, "account add: " + r.stderr)
        r = ctl("address", "add", self.address, self.user)
        check(r.returncode == 0, "address add: " + r.stderr)

    def login(self):
        return pop3_login(self.user, self.password)

    def deliver(self, rcpt=None, token=None):
        """One message over LMTP (as Postfix delivers); returns its
        Message-ID."""
        token = token or uuid.uuid4().hex
        return lmtp_deliver(rcpt or self.address, token)

    def mail_dir(self, *parts):
        return os.path.join(ENV["HTG_LAB_DIR"], "mail", self.user, *parts)


def lmtp_socket():
    return os.path.join(ENV["HTG_LAB_DIR"], "dovecot", "run", "lmtp")


def lmtp_message(rcpt, token, size=0):
    msgid = "<%s@overheid.example>" % token
    body = ("Antwoord %s\r\n" % token) + ("x" * 76 + "\r\n") * (size // 78)
    return msgid, ("From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
                   "Subject: antwoord %s\r\nMessage-ID: %s\r\n\r\n%s"
                   % (rcpt, token, msgid, body))


def lmtp_send(rcpt, msg):
    lm = smtplib.LMTP(lmtp_socket(), timeout=TIMEOUT)
    try:
        refused = lm.sendmail("dms-inbox@douane.overheid.nl", [rcpt], msg)
    finally:
        lm.quit()
    check(not refused, "LMTP refused %r" % refused)


def lmtp_deliver(rcpt, token):
    msgid, msg = lmtp_message(rcpt, token)
    lmtp_send(rcpt, msg)
    return msgid


def listing_ids(p):
    """Message-IDs of the messages a POP3 session shows, by number."""
    ids = {}
    _, listing, _ = p.list()
    for entry in listing:
        num = int(entry.split()[0])
        _, lines, _ = p.top(num, 0)
        for line in lines:
            if line.lower().startswith(b"message-id:"):
                ids[num] = line.split(b":", 1)[1].strip().decode()
    return ids


def find(p, msgid):
    for num, mid in listing_ids(p).items():
        if mid == msgid:
            return num
    return None


def audit(*args):
    r = ctl("audit", *(list(args) + ["--json"]))
    check(r.returncode == 0, "audit: " + r.stderr)
    return json.loads(r.stdout)


def kept(acct):
    r = ctl("retention", "list", acct.user, "--json")
    check(r.returncode == 0, "retention list: " + r.stderr)
    return json.loads(r.stdout)


def epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339[:19], "%Y-%m-%dT%H:%M:%S"))


class POP3From(poplib.POP3):
    """POP3 from a source address of our choice on 127/8: Dovecot's auth
    penalty (2 s and doubling per failure) is kept per remote IP, so each
    expected failure comes from an address of its own. IPv6 loopback is
    ::1 alone: there the failures share it and wait out the penalty (at
    most 15 s, below TIMEOUT)."""

    def __init__(self, source, *args, **kw):
        self.source = source
        poplib.POP3.__init__(self, *args, **kw)

    def _create_socket(self, timeout):
        return socket.create_connection(
            (self.host, self.port), timeout,
            source_address=None if host_is_ipv6() else (self.source, 0))


def login_fails(user, password):
    source = "127.%d.%d.%d" % tuple(os.urandom(3))
    p = POP3From(source, ENV["HTG_HOST"], int(ENV["HTG_POP3_PORT"]),
                 timeout=TIMEOUT)
    p.stls(context=tls_context())
    token = base64.b64encode(("\0%s\0%s" % (user, password)).encode())
    try:
        p._shortcmd("AUTH PLAIN " + token.decode())
        p.quit()
        return False
    except poplib.error_proto:
        return True


AUTH_MODULE = "/usr/lib/dovecot/modules/auth/libauthdb_htg.so"


def ensure_our_auth_module():
    """Dovecot loads auth drivers only from its own module directory, which
    every lab on a machine shares; another checkout's lab start may have
    put its build there since ours started. The legacy profile and the TLS
    version need this build's driver: put it back (by rename, as htg-lab
    does) and reload the lab's Dovecot so its auth process loads it."""
    ours = os.path.join(ENV["HTG_LAB_DIR"], "prefix", "lib", "dovecot",
                        "modules", "auth", "libauthdb_htg.so")
    with open(ours, "rb") as f1, open(AUTH_MODULE, "rb") as f2:
        if f1.read() == f2.read():
            return
    tmp = os.path.join(os.path.dirname(AUTH_MODULE), ".libauthdb_htg.so.e2e")
    shutil.copyfile(ours, tmp)
    os.chmod(tmp, 0o644)
    os.rename(tmp, AUTH_MODULE)
    subprocess.run(["doveadm", "-c", ENV["HTG_DOVECOT_CONFIG"], "reload"],
                   capture_output=True, check=False)
    # the old auth process maps the replaced file as "(deleted)" until it
    # is gone; the next login starts one with ours
    title = "dovecot-htg-lab-%s/auth" % ENV["HTG_POP3_PORT"]
    deadline = time.time() + 20
    while time.time() < deadline:
        stale = False
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if not f.read().startswith(title.encode()):
                        continue
                with open("/proc/%s/maps" % pid) as f:
                    stale |= "libauthdb_htg.so (deleted)" in f.read()
            except OSError:
                continue
        if not stale:
            return
        time.sleep(0.2)


# --- users and addresses ----------------------------------------------------------

@test
def lmtp_delivers_every_owned_address_to_one_mailbox():
    """Any address an account owns lands in its mailbox, whatever the case
    of the address (Postfix matches virtual addresses case-insensitively)."""
    a = Account()
    second = "tweede-%s" % a.address
    r = ctl("address", "add", second, a.user)
    check(r.returncode == 0, "address add: " + r.stderr)
    m1 = a.deliver()
    m2 = a.deliver(rcpt=second.upper())
    m3 = a.deliver(rcpt=a.user)
    p = a.login()
    ids = set(listing_ids(p).values())
    p.quit()
    check({m1, m2, m3} <= ids, "mailbox has %r, want %r" % (ids, {m1, m2, m3}))
    ev = [e for e in audit(a.user, "--event", "deliver")]
    check(len(ev) == 3 and all(e["uid"] > 0 for e in ev),
          "deliver events: %r" % ev)


@test
def lmtp_unknown_address_refused_at_rcpt():
    lm = smtplib.LMTP(lmtp_socket(), timeout=TIMEOUT)
    try:
        lm.ehlo("postfix.example")
        lm.mail("dms-inbox@douane.overheid.nl")
        code, msg = lm.rcpt("onbekend-%s@postbus.%s" % (uuid.uuid4().hex, DOMAIN))
    finally:
        lm.quit()
    check(code == 550 and b"5.1.1" in msg, "got %d %r" % (code, msg))


@test
def login_is_the_full_mailbox_name_any_case():
    a = Account()
    p = pop3_login(a.user.upper(), a.password)
    p.quit()
    check(login_fails(a.user.split("@")[0], a.password),
          "a login without the domain was accepted")
    check(login_fails(a.address, a.password),
          "an owned address is not a login")


@test
def disabled_and_deleted_accounts_refused_at_once():
    a = Account()
    p = a.login()
    p.quit()
    r = ctl("account", "disable", a.user)
    check(r.returncode == 0, "disable: " + r.stderr)
    check(login_fails(a.user, a.password), "disabled account logged in")
    a.deliver()   # mail to a disabled account is still kept
    r = ctl("account", "enable", a.user)
    check(r.returncode == 0, "enable: " + r.stderr)
    p = a.login()
    n = len(p.list()[1])
    p.quit()
    check(n == 1, "mail delivered while disabled: %d messages" % n)
    r = ctl("account", "del", a.user)
    check(r.returncode == 0, "del: " + r.stderr)
    check(login_fails(a.user, a.password), "deleted account logged in")


# --- POP3 before TLS (HTG-TLS, 004 4.3.3) ------------------------------------------

PRE_TLS_REFUSED = ["USER x@y.nl", "PASS secret", "APOP x@y.nl 0123456789abcdef",
                   "AUTH PLAIN " + base64.b64encode(b"\0x@y.nl\0pw").decode(),
                   "AUTH", "STAT", "LIST", "RETR 1", "TOP 1 0", "DELE 1",
                   "UIDL", "NOOP", "RSET", "LAST", "XCLIENT ADDR=1.2.3.4",
                   "ID", "xyzzy"]


def raw_pop3():
    s = socket.create_connection((ENV["HTG_HOST"], int(ENV["HTG_POP3_PORT"])),
                                 timeout=TIMEOUT)
    f = s.makefile("rb")
    greeting = f.readline()
    check(greeting.startswith(b"+OK"), "greeting %r" % greeting)
    return s, f


@test
def pop3_pre_tls_command_table():
    """Every command but CAPA, STLS and QUIT is refused before TLS with the
    HTG-TLS text, from 127.0.0.1 too; nothing is executed."""
    bad = []
    for line in PRE_TLS_REFUSED:
        s, f = raw_pop3()
        s.sendall(line.encode() + b"\r\n")
        reply = f.readline()
        if not reply.startswith(b"-ERR [HTG-TLS] ") or b"STLS" not in reply:
            bad.append("%s -> %r" % (line.split()[0], reply))
        s.close()
    check(not bad, "; ".join(bad))


@test
def pop3_pre_tls_capa_stls_quit_answered():
    s, f = raw_pop3()
    s.sendall(b"CAPA\r\n")
    caps = []
    line = f.readline()
    check(line.startswith(b"+OK"), "CAPA: %r" % line)
    while True:
        line = f.readline()
        if line in (b".\r\n", b""):
            break
        caps.append(line.strip().decode())
    check("STLS" in caps, "CAPA lacks STLS: %r" % caps)
    check("USER" not in caps and not any(c.startswith("SASL") for c in caps),
          "CAPA before TLS offers a login: %r" % caps)
    s.sendall(b"QUIT\r\n")
    check(f.readline().startswith(b"+OK"), "QUIT before TLS not answered")
    s.close()
    s, f = raw_pop3()
    s.sendall(b"STLS\r\n")
    check(f.readline().startswith(b"+OK"), "STLS not answered")
    t = tls_context().wrap_socket(s, server_hostname=ENV["HTG_HOST"])
    check(t.version() == "TLSv1.3", "TLS version %s" % t.version())
    t.close()


# --- retention after DELE ------------------------------------------------------------

@test
def dele_without_quit_deletes_nothing():
    a = Account()
    msgid = a.deliver()
    p = a.login()
    num = find(p, msgid)
    p.retr(num)
    p.dele(num)
    p.sock.close()      # dropped: no UPDATE state (RFC 1939 6)
    p = a.login()
    check(find(p, msgid) is not None, "message gone after a dropped session")
    p.quit()
    check(kept(a) == [], "a copy was kept without QUIT: %r" % kept(a))
    check(audit(a.user, "--event", "dele") == [], "dele audited without QUIT")


@test
def dele_quit_retains_with_deadline_and_audits():
    ensure_our_auth_module()
    a = Account(retention_days=3)
    msgid = a.deliver()
    p = a.login()
    num = find(p, msgid)
    p.retr(num)
    p.dele(num)
    p.quit()
    p = a.login()
    check(find(p, msgid) is None, "POP3 still shows a DELEd message")
    check(len(p.list()[1]) == 0, "POP3 shows something: %r" % (p.list(),))
    p.quit()
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == msgid, "retention list: %r" % k)
    check(epoch(k[0]["deadline"]) - epoch(k[0]["retained"]) == 3 * 86400,
          "deadline is not 3 days after the DELE: %r" % k[0])
    check(os.path.isfile(k[0]["path"]), "kept copy missing: %s" % k[0]["path"])
    ev = audit(a.user, "--message-id", msgid)
    kinds = [e["event"] for e in ev]
    check(kinds == ["deliver", "top", "retr", "dele"], "events: %r" % kinds)
    for e in ev[1:]:
        check(e.get("remote") == ENV["HTG_HOST"] and e.get("session")
              and e.get("tls") == "TLSv1.3" and e["size"] > 0
              and e["uid"] == ev[0]["uid"], "event fields: %r" % e)


@test
def restore_puts_the_copy_back():
    a = Account()
    msgid = a.deliver()
    p = a.login()
    p.dele(find(p, msgid))
    p.quit()
    r = ctl("retention", "restore", a.user, msgid.strip("<>"))
    check(r.returncode == 0, "restore: " + r.stderr)
    p = a.login()
    num = find(p, msgid)
    check(num is not None, "restored message not in the mailbox")
    _, lines, _ = p.retr(num)
    p.quit()
    check(any(b"Antwoord" in line for line in lines), "restored body differs")
    check(kept(a) == [], "copy still listed after restore")
    check([e["event"] for e in audit(a.user, "--event", "restore")] == ["restore"],
          "restore not audited")
    r = ctl("retention", "restore", a.user, msgid)
    check(r.returncode == 1, "a second restore of the same copy succeeded")


@test
def purge_only_after_the_deadline():
    """The purge runs on a given clock (--now): no waiting for days."""
    a = Account(retention_days=2)
    msgid = a.deliver()
    p = a.login()
    p.dele(find(p, msgid))
    p.quit()
    k = kept(a)
    check(len(k) == 1, "retention list: %r" % k)
    deadline = epoch(k[0]["deadline"])
    r = ctl("retention", "purge", a.user, "--now", "@%d" % (deadline - 1))
    check(r.returncode == 0 and "purged 0 " in r.stdout, "early purge: %r" % r)
    check(len(kept(a)) == 1, "copy purged before its deadline")
    r = ctl("retention", "purge", a.user, "--now", "@%d" % deadline)
    check(r.returncode == 0 and "purged 1 " in r.stdout, "purge: %r" % r)
    check(kept(a) == [] and not os.path.exists(k[0]["path"]),
          "copy left after purge")
    ev = audit(a.user, "--event", "purge")
    check(len(ev) == 1 and ev[0]["message_id"] == msgid, "purge audit %r" % ev)


@test
def failed_retention_keeps_the_message():
    """If no copy can be kept, QUIT expunges nothing and says so."""
    a = Account()
    msgid = a.deliver()
    kept_dir = a.mail_dir("htg-retained")
    os.makedirs(kept_dir, exist_ok=True)
    st = os.stat(a.mail_dir())
    os.chown(kept_dir, st.st_uid, st.st_gid)
    os.chmod(kept_dir, 0o500)       # the mail user cannot write a copy
    try:
        p = a.login()
        p.dele(find(p, msgid))
        try:
            reply = p.quit()
        except poplib.error_proto as e:
            reply = e.args[0]
    finally:
        os.chmod(kept_dir, 0o700)
    check(reply.startswith(b"-ERR") and b"nothing was deleted" in reply,
          "QUIT answered %r" % reply)
    p = a.login()
    check(find(p, msgid) is not None, "message expunged without a copy")
    p.quit()
    check(kept(a) == [] and os.listdir(kept_dir) == [], "half-kept copy left")
    check(audit(a.user, "--event", "dele") == [], "a failed DELE was audited")


@test
def two_concurrent_sessions_default_profile():
    """Without the legacy lock profile, two sessions may run at once; a
    message DELEd by both is kept and audited once, and both QUITs
    succeed."""
    a = Account()
    msgid = a.deliver()
    p1 = a.login()
    p2 = a.login()
    n1, n2 = find(p1, msgid), find(p2, msgid)
    check(n1 is not None and n2 is not None, "second session sees nothing")
    p1.dele(n1)
    p2.dele(n2)
    r1 = p1.quit()
    r2 = p2.quit()      # its message is already gone: not an error
    check(r1.startswith(b"+OK") and r2.startswith(b"+OK"),
          "QUIT answers %r %r" % (r1, r2))
    p = a.login()
    check(find(p, msgid) is None, "message still there")
    p.quit()
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == msgid,
          "copies kept: %r" % k)
    check(len(audit(a.user, "--event", "dele")) == 1, "dele audited twice")


# --- pickup hygiene (004 4.1.1) -----------------------------------------------------

@test
def hygiene_reports_and_retains_retrieved_messages():
    a = Account(retention_days=5)
    m_read, m_new = a.deliver(), a.deliver()
    p = a.login()
    p.retr(find(p, m_read))
    p.quit()
    root = os.path.join(ENV["HTG_LAB_DIR"], "mail")
    now = int(time.time())

    def report(days_ahead, *extra):
        r = ctl("hygiene", a.user, "--json", "--mail-root", root, "--days", "7",
                "--now", "@%d" % (now + days_ahead * 86400), *extra)
        check(r.returncode == 0, "hygiene: " + r.stderr)
        return json.loads(r.stdout)[0]

    h = report(6)
    check(h["waiting"] == 2 and h["retrieved_not_deleted"] == 0 and
          h["oldest_waiting_seconds"] >= 6 * 86400, "after 6 days: %r" % h)
    h = report(8)
    check(h["retrieved_not_deleted"] == 1, "after 8 days: %r" % h)
    h = report(8, "--retain")
    check(h["moved_to_retention"] == 1, "--retain: %r" % h)
    p = a.login()
    ids = set(listing_ids(p).values())
    p.quit()
    check(ids == {m_new}, "mailbox after --retain: %r" % ids)
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == m_read, "retained: %r" % k)
    ev = audit(a.user, "--event", "expunge")
    check(len(ev) == 1 and ev[0].get("rule") == "HTG-HYGIENE", "audit %r" % ev)
    r = ctl("retention", "restore", a.user, m_read)
    check(r.returncode == 0, "restore after hygiene: " + r.stderr)


# --- legacy Digipoort profile (001 1.2, opt-in per account) ---------------------------

def inbound_to(rcpt, token):
    msgid, msg = lmtp_message(rcpt, token)
    s = smtplib.SMTP(ENV["HTG_HOST"], int(ENV["HTG_INBOUND_PORT"]),
                     timeout=TIMEOUT)
    s.sendmail("dms-inbox@douane.overheid.nl", [rcpt], msg)
    s.quit()
    return msgid


def postfix_flush():
    subprocess.run(["postqueue", "-c", ENV["HTG_POSTFIX_CONFIG"], "-f"],
                   capture_output=True, check=False)


@test
def legacy_profile_locks_the_mailbox():
    """While a POP3 session holds a legacy-profile mailbox, a second session
    is refused ([IN-USE]) and LMTP defers (451 4.2.0); Postfix keeps the
    message and delivers it once the session has ended."""
    ensure_our_auth_module()
    a = Account()
    r = ctl("account", "profile", a.user, "legacy")
    check(r.returncode == 0, "profile: " + r.stderr)
    a.deliver()
    p1 = a.login()
    try:
        try:
            p2 = a.login()
            p2.quit()
            check(False, "a second session got the locked mailbox")
        except poplib.error_proto as e:
            check(b"[IN-USE]" in e.args[0], "second session: %r" % e.args)
        msgid, msg = lmtp_message(a.address, uuid.uuid4().hex)
        lm = smtplib.LMTP(lmtp_socket(), timeout=TIMEOUT)
        try:
            lm.sendmail("dms-inbox@douane.overheid.nl", [a.address], msg)
            deferred = None
        except (smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused) as e:
            deferred = e
        finally:
            lm.quit()
        check(deferred is not None and "451" in str(deferred) and
              "4.2.0" in str(deferred), "LMTP into a held mailbox: %r" % deferred)
        queued = inbound_to(a.address, uuid.uuid4().hex)
    finally:
        p1.quit()
    deadline = time.time() + 30
    while time.time() < deadline:
        postfix_flush()
        p = a.login()
        found = find(p, queued)
        p.quit()
        if found is not None:
            break
        time.sleep(0.5)
    check(found is not None, "the deferred message never arrived")
    r = ctl("account", "profile", a.user, "standard")
    check(r.returncode == 0, "profile: " + r.stderr)
    p1, p2 = a.login(), a.login()     # standard profile: no lock
    p1.quit()
    p2.quit()
