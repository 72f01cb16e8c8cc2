"""Skeleton suite: the gateway end to end (transport, auth, envelope, Cc/Bcc,
pickup). Registered into htglab.TESTS; run by tests/e2e.py."""

import base64
import json
import os
import poplib
import smtplib
import ssl
import uuid

from htglab import (ENV, TIMEOUT, DELIVERY_WAIT, test, check, expect_reply, ctl,
                    tls_context, smtp_connect, smtp_submission, cmd, flow_rcpt,
                    htg_message, submit, pop3_login, pop3_find, wait_for_message,
                    gov_login, demo_login, pop3_delete, inbound_send)



@test
def submission_delivers_to_flow_mailbox():
    """STARTTLS + AUTH PLAIN as the demo account to the demo flow; the
    government mailbox has it over POP3."""
    token = uuid.uuid4().hex
    got = submit(htg_message(token))
    check(got[0] == "ok", "submission refused: %r" % (got,))
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "message not in the government mailbox within %d s" % DELIVERY_WAIT)
    pop3_delete(gov_login, token)


@test
def submission_auth_login_works():
    s = smtp_connect()
    s.starttls(context=tls_context())
    s.ehlo("client.example")
    s.user, s.password = ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"]
    code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    s.quit()
    check(code == 235, "AUTH LOGIN gave %d" % code)


@test
def submission_offers_only_plain_login_after_tls():
    s = smtp_connect()
    before = s.esmtp_features.get("auth")
    s.starttls(context=tls_context())
    s.ehlo("client.example")
    after = s.esmtp_features.get("auth", "")
    size = s.esmtp_features.get("size")
    dsn = "dsn" in s.esmtp_features
    s.quit()
    check(before is None, "AUTH advertised before TLS: %r" % before)
    check(sorted(after.upper().split()) == ["LOGIN", "PLAIN"],
          "AUTH mechanisms after TLS: %r" % after)
    check(size == "52428800", "SIZE %r" % size)
    check(dsn, "DSN not advertised")


@test
def smtp_commands_before_starttls_refused():
    """HTG-TLS (004 3.3.3): only EHLO, NOOP, QUIT, STARTTLS before TLS."""
    s = smtp_connect()
    bad = []
    for line in ("MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"],
                 "RCPT TO:<%s>" % flow_rcpt(), "DATA", "HELO client.example",
                 "AUTH PLAIN " + base64.b64encode(b"\0a\0b").decode(),
                 "VRFY postmaster", "ETRN example.com", "RSET", "HELP",
                 "EXPN postmaster", "BDAT 10 LAST", "XCLIENT NAME=x",
                 "XFORWARD NAME=x"):
        code, msg = cmd(s, line)
        if not 500 <= code < 600:
            bad.append("%s -> %d %s" % (line.split()[0], code, msg))
    code, _ = cmd(s, "NOOP")
    if code != 250:
        bad.append("NOOP -> %d" % code)
    s.quit()
    check(not bad, "; ".join(bad))


@test
def smtp_mail_before_starttls_is_530():
    s = smtp_connect()
    code, msg = cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
    s.quit()
    check(code == 530 and msg.startswith("5.7.0"), "got %d %s" % (code, msg))


@test
def smtp_mail_before_auth_is_530_htg_auth():
    s = smtp_submission(auth=False)
    got = cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
    s.quit()
    expect_reply(("MAIL",) + got, 530, "5.7.0", "HTG-AUTH")


@test
def smtp_tls12_client_refused():
    s = smtp_connect()
    try:
        s.starttls(context=tls_context(max_tls12=True))
        s.ehlo("client.example")
        ok = True
    except (ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionError):
        ok = False
    check(not ok, "a TLS 1.2-only client completed STARTTLS")


@test
def smtp_wrong_password_refused():
    s = smtp_connect()
    s.starttls(context=tls_context())
    s.ehlo("client.example")
    s.user, s.password = ENV["HTG_DEMO_USER"], "wrong-" + ENV["HTG_DEMO_PASSWORD"]
    try:
        s.auth("PLAIN", s.auth_plain)
        ok = True
    except smtplib.SMTPAuthenticationError as e:
        ok = False
        check(e.smtp_code == 535, "wrong password gave %d" % e.smtp_code)
    s.close()
    check(not ok, "wrong password accepted")


@test
def sender_not_owned_refused():
    got = submit(htg_message(uuid.uuid4().hex), sender="someone@elders.nl")
    expect_reply(got, 553, "5.7.1", "HTG-SENDER")


@test
def unknown_flow_refused():
    got = submit(htg_message(uuid.uuid4().hex), rcpt=flow_rcpt("geenstroom"))
    expect_reply(got, 550, "5.1.1", "HTG-RCPT-FLOW")


@test
def recipient_outside_submit_domain_refused():
    rcpt = "%s@%s" % (ENV["HTG_DEMO_FLOW"], ENV["HTG_HEADER_DOMAIN"])
    got = submit(htg_message(uuid.uuid4().hex), rcpt=rcpt)
    check(got[0] == "RCPT" and got[1] >= 500, "got %r" % (got,))


@test
def flow_not_granted_refused():
    ctl("flow", "del", "emcs")      # left by a run that stopped half way
    r = ctl("flow", "add", "emcs", "--deliver-to", "emcs-inbox@douane.overheid.nl")
    check(r.returncode == 0, "flow add: " + r.stderr)
    try:
        got = submit(htg_message(uuid.uuid4().hex), rcpt=flow_rcpt("emcs"))
        expect_reply(got, 550, "5.7.1", "HTG-RCPT-FLOW")
    finally:
        ctl("flow", "del", "emcs")


@test
def grant_changes_are_live():
    """htgctl revoke/grant take effect at the next RCPT: no reload."""
    rcpt = flow_rcpt()
    r = ctl("revoke", ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_FLOW"])
    check(r.returncode == 0, "revoke: " + r.stderr)
    try:
        got = submit(htg_message(uuid.uuid4().hex), rcpt=rcpt)
        expect_reply(got, 550, "5.7.1", "HTG-RCPT-FLOW")
    finally:
        r = ctl("grant", ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_FLOW"])
    check(r.returncode == 0, "grant: " + r.stderr)
    s = smtp_submission()
    code1, _ = cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
    code2, msg2 = cmd(s, "RCPT TO:<%s>" % rcpt)
    s.quit()
    check(code1 == 250 and code2 == 250, "after re-grant: %d %s" % (code2, msg2))


@test
def second_recipient_refused():
    s = smtp_submission()
    try:
        cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
        c1, m1 = cmd(s, "RCPT TO:<%s>" % flow_rcpt())
        c2, m2 = cmd(s, "RCPT TO:<%s>" % flow_rcpt())
    finally:
        s.quit()
    check(c1 == 250, "first RCPT: %d %s" % (c1, m1))
    expect_reply(("RCPT", c2, m2), 452, "4.5.3", "HTG-RCPT-ONE")


@test
def cc_refused():
    got = submit(htg_message(uuid.uuid4().hex, "Cc: <ander@htpoort.nl>\r\n"))
    expect_reply(got, 550, "5.7.1", "HTG-HDR-CC")


@test
def bcc_refused():
    got = submit(htg_message(uuid.uuid4().hex, "Bcc: <ander@htpoort.nl>\r\n"))
    expect_reply(got, 550, "5.7.1", "HTG-HDR-CC")


@test
def pop3_commands_before_stls_refused():
    """HTG-TLS for POP3 (004 4.3.3), also from 127.0.0.1."""
    p = poplib.POP3(ENV["HTG_HOST"], int(ENV["HTG_POP3_PORT"]), timeout=TIMEOUT)
    bad = []
    for line in ("USER " + ENV["HTG_DEMO_USER"], "PASS " + ENV["HTG_DEMO_PASSWORD"],
                 "AUTH PLAIN " + base64.b64encode(
                     ("\0%s\0%s" % (ENV["HTG_DEMO_USER"],
                                    ENV["HTG_DEMO_PASSWORD"])).encode()).decode(),
                 "APOP %s 0123456789abcdef0123456789abcdef" % ENV["HTG_DEMO_USER"],
                 "STAT", "LIST", "RETR 1", "NOOP", "XYZZY"):
        try:
            resp = p._shortcmd(line)
            bad.append("%s -> %r" % (line.split()[0], resp))
        except poplib.error_proto:
            pass
    caps = p.capa()
    p.quit()
    check("STLS" in caps, "CAPA lacks STLS: %r" % caps)
    check(not bad, "; ".join(bad))


@test
def pop3_tls12_client_refused():
    try:
        p = pop3_login(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"],
                       ctx=tls_context(max_tls12=True))
        p.quit()
        ok = True
    except (ssl.SSLError, poplib.error_proto, ConnectionError, EOFError):
        ok = False
    check(not ok, "a TLS 1.2-only client logged in over POP3")


@test
def pop3_wrong_password_refused():
    try:
        p = pop3_login(ENV["HTG_DEMO_USER"], "wrong-" + ENV["HTG_DEMO_PASSWORD"])
        p.quit()
        ok = True
    except poplib.error_proto:
        ok = False
    check(not ok, "wrong password accepted")


@test
def inbound_unknown_address_refused_at_rcpt():
    s = smtplib.SMTP(ENV["HTG_HOST"], int(ENV["HTG_INBOUND_PORT"]), timeout=TIMEOUT)
    s.ehlo("overheid.example")
    cmd(s, "MAIL FROM:<dms-inbox@douane.overheid.nl>")
    code, msg = cmd(s, "RCPT TO:<onbekend@postbus.htpoort.nl>")
    s.quit()
    check(code == 550 and msg.startswith("5.1.1"), "got %d %s" % (code, msg))


@test
def pickup_retr_dele_quit_and_dropped_connection():
    """Government answer to the demo logical address, picked up over POP3:
    a dropped connection deletes nothing; DELE + QUIT does."""
    token = uuid.uuid4().hex
    inbound_send(token, ENV["HTG_DEMO_LOGICAL"])
    check(wait_for_message(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"], token),
          "answer not in the demo mailbox")
    # RETR + DELE, then drop the connection without QUIT
    p = demo_login()
    num = pop3_find(p, token)
    p.retr(num)
    p.dele(num)
    p.sock.close()
    p = demo_login()
    num = pop3_find(p, token)
    check(num is not None, "message gone after a dropped connection")
    p.retr(num)
    p.dele(num)
    p.quit()
    p = demo_login()
    num = pop3_find(p, token)
    p.quit()
    check(num is None, "message still there after DELE + QUIT")
    # the pickup is audited: at least RETR and DELE with the Message-ID
    r = ctl("audit", ENV["HTG_DEMO_USER"], "--json")
    check(r.returncode == 0, "audit: " + r.stderr)
    events = [e for e in json.loads(r.stdout)
              if e.get("message_id") == "<%s@douane.overheid.nl>" % token]
    kinds = [e["event"] for e in events]
    check("retr" in kinds and "dele" in kinds, "audit events: %r" % kinds)
    check(kinds.count("dele") == 1, "dele recorded %d times (dropped "
          "connection must record none)" % kinds.count("dele"))


@test
def password_change_effective_at_once():
    new = "new-" + uuid.uuid4().hex
    r = ctl("account", "passwd", ENV["HTG_DEMO_USER"], "--password-stdin",
            stdin=new + "\n")
    check(r.returncode == 0, "passwd: " + r.stderr)
    try:
        p = pop3_login(ENV["HTG_DEMO_USER"], new)
        p.quit()
        try:
            p = pop3_login(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"])
            p.quit()
            old_ok = True
        except poplib.error_proto:
            old_ok = False
        check(not old_ok, "old password still accepted")
    finally:
        ctl("account", "passwd", ENV["HTG_DEMO_USER"], "--password-stdin",
            stdin=ENV["HTG_DEMO_PASSWORD"] + "\n")


@test
def no_secret_in_logs():
    for name in os.listdir(ENV["HTG_LOG_DIR"]):
        with open(os.path.join(ENV["HTG_LOG_DIR"], name), "rb") as f:
            data = f.read()
        for secret in (ENV["HTG_DEMO_PASSWORD"], ENV["HTG_GOV_PASSWORD"]):
            check(secret.encode() not in data, "a password appears in " + name)


