#!/usr/bin/env python3
"""The end-to-end core against a Debian install made by the integration
guide (tests/integrate/debian12.sh writes ENV_FILE and runs this inside the
container's network namespace).

usage: tests/integrate/core.py ENV_FILE [TEST_NAME ...]

Reuses the suite's own tests (tests/e2e_skeleton.py: they need only the
ports, the CA, the demo credentials and HTG_CTL) and adds what is specific
to an install beside Debian's own Postfix: TLS 1.3 seen on the wire, the
retention copy after DELE, Debian's port 25 keeping out of the gateway's
addresses, the decisions in /var/log/mail.log. Prints "N passed, N failed".
"""

import json
import os
import shlex
import smtplib
import socket
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import htglab  # noqa: E402
from htglab import (ENV, TIMEOUT, test, check, expect_reply, ctl,  # noqa: E402
                    tls_context, smtp_connect, cmd, htg_message, submit,
                    pop3_login, pop3_find, wait_for_message, inbound_send)

# The suite's tests that hold for any install (names from tests/e2e_*.py).
REUSED = [
    "submission_delivers_to_flow_mailbox",      # milter+policy accept, LMTP, POP3
    "submission_auth_login_works",
    "submission_offers_only_plain_login_after_tls",
    "smtp_commands_before_starttls_refused",
    "smtp_mail_before_auth_is_530_htg_auth",
    "smtp_tls12_client_refused",
    "smtp_wrong_password_refused",
    "sender_not_owned_refused",                 # htg-policyd HTG-SENDER
    "unknown_flow_refused",                     # htg-policyd HTG-RCPT-FLOW
    "flow_not_granted_refused",
    "second_recipient_refused",                 # htg-milter HTG-RCPT-ONE
    "cc_refused",                               # htg-milter HTG-HDR-CC
    "bcc_refused",                              # cleanup header_checks
    "pop3_commands_before_stls_refused",
    "pop3_tls12_client_refused",
    "inbound_unknown_address_refused_at_rcpt",
    "pickup_retr_dele_quit_and_dropped_connection",
]


def tls_version_smtp(port):
    s = smtp_connect(port)
    s.starttls(context=tls_context())
    version = s.sock.version()
    s.ehlo("client.example")
    s.user, s.password = ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"]
    code, _ = s.auth("PLAIN", s.auth_plain)
    s.quit()
    return version, code


@test
def integrate_submission_587_is_tls13_with_auth_plain():
    version, code = tls_version_smtp(587)
    check(version == "TLSv1.3", "TLS version on 587: %r" % version)
    check(code == 235, "AUTH PLAIN gave %d" % code)


@test
def integrate_pop3_110_is_tls13():
    p = pop3_login(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"])
    version = p.sock.version()
    p.quit()
    check(version == "TLSv1.3", "TLS version on 110: %r" % version)


@test
def integrate_milter_rewrites_the_accepted_message():
    """The accepted message went through htg-milter: its attachment's name
    is replaced (HTG-FILENAME) before LMTP stores it."""
    token = uuid.uuid4().hex
    got = submit(htg_message(token))
    check(got[0] == "ok", "submission refused: %r" % (got,))
    check(wait_for_message(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], token),
          "message not delivered")
    p = pop3_login(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"])
    num = pop3_find(p, token)
    text = b"\n".join(p.retr(num)[1]).decode("latin-1")
    p.dele(num)
    p.quit()
    check("bericht.xml" not in text and 'filename="' in text,
          "attachment name not rewritten by the milter")


@test
def integrate_retention_after_dele_via_postfix_lmtp():
    """Government answer on the inbound port -> Postfix -> LMTP -> the demo
    mailbox; POP3 RETR, DELE, QUIT; htgctl retention list shows the copy."""
    token = uuid.uuid4().hex
    inbound_send(token, ENV["HTG_DEMO_LOGICAL"])
    check(wait_for_message(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"], token),
          "answer not delivered to the demo mailbox")
    p = pop3_login(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"])
    num = pop3_find(p, token)
    p.retr(num)
    p.dele(num)
    p.quit()
    r = ctl("retention", "list", ENV["HTG_DEMO_USER"], "--json")
    check(r.returncode == 0, "retention list: " + r.stderr)
    kept = [k for k in json.loads(r.stdout)
            if k.get("message_id") == "<%s@douane.overheid.nl>" % token]
    check(len(kept) == 1, "retention list: %r" % json.loads(r.stdout))
    path = ENV["HTG_MAIL_ROOT"] + kept[0]["path"][len("/var/lib/htg/mail"):]
    check(os.path.isfile(path), "kept copy missing: %s" % path)


def smtp_from(source, port):
    s = smtplib.SMTP(timeout=TIMEOUT, source_address=(source, 0))
    s.connect(ENV["HTG_HOST"], int(port))
    s.ehlo("client.example")
    return s


@test
def integrate_inbound_only_from_government_hosts():
    """A client outside government.cidr (HTG_STRANGER_SOURCE, an address of
    the container's loopback) is refused on the inbound port."""
    s = smtp_from(ENV["HTG_STRANGER_SOURCE"], ENV["HTG_INBOUND_PORT"])
    cmd(s, "MAIL FROM:<x@elders.example>")
    code, msg = cmd(s, "RCPT TO:<%s>" % ENV["HTG_DEMO_LOGICAL"])
    s.quit()
    check(code >= 500, "stranger got %d %s on the inbound port" % (code, msg))


@test
def integrate_stock_port_25_keeps_out_of_the_gateway():
    """Debian's own smtpd (port 25; its mynetworks let loopback relay)
    takes no mail for flow addresses or the businesses' mailboxes."""
    for rcpt in ("%s@%s" % (ENV["HTG_DEMO_FLOW"], ENV["HTG_SUBMIT_DOMAIN"]),
                 ENV["HTG_DEMO_LOGICAL"]):
        s = smtp_from(ENV["HTG_HOST"], ENV["HTG_STOCK_SMTP_PORT"])
        cmd(s, "MAIL FROM:<x@elders.example>")
        code, msg = cmd(s, "RCPT TO:<%s>" % rcpt)
        s.quit()
        check(code == 550 and msg.startswith("5.7.1"),
              "port 25 answered %d %s for %s" % (code, msg, rcpt))


def read_lines(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


@test
def integrate_decisions_in_mail_log():
    """One refusal per daemon, with its rule id: Postfix's line in
    /var/log/mail.log, and the daemon's own decision line where it logs
    (HTG_MILTER_LOG / HTG_POLICYD_LOG: mail.log when log_file is empty,
    i.e. syslog facility mail, else its file)."""
    token = uuid.uuid4().hex
    expect_reply(submit(htg_message(token, "Cc: <ander@htpoort.nl>\r\n")),
                 550, "5.7.1", "HTG-HDR-CC")
    expect_reply(submit(htg_message(token), rcpt="geenstroom-%s@%s"
                        % (token[:8], ENV["HTG_SUBMIT_DOMAIN"])),
                 550, "5.1.1", "HTG-RCPT-FLOW")
    rcpt = "geenstroom-%s@" % token[:8]
    found = {}
    deadline = time.time() + 10
    while True:
        mail = read_lines(ENV["HTG_MAIL_LOG"])
        found["postfix milter-reject HTG-HDR-CC"] = [
            l for l in mail if "milter-reject" in l and "HTG-HDR-CC" in l]
        found["postfix reject HTG-RCPT-FLOW"] = [
            l for l in mail if rcpt in l and "postfix/" in l
            and "HTG-RCPT-FLOW" in l]
        found["htg-milter rule=HTG-HDR-CC action=refuse"] = [
            l for l in read_lines(ENV["HTG_MILTER_LOG"])
            if "htg-milter" in l and "rule=HTG-HDR-CC" in l and "action=refuse" in l]
        found["htg-policyd rule=HTG-RCPT-FLOW"] = [
            l for l in read_lines(ENV["HTG_POLICYD_LOG"])
            if "htg-policyd" in l and rcpt in l and "rule=HTG-RCPT-FLOW" in l]
        if all(found.values()) or time.time() > deadline:
            break
        time.sleep(0.2)
    for what, lines in found.items():
        check(lines, "no %s line in its log" % what)
    for lines in found.values():
        print("     " + lines[-1][:160])


def inside(*args):
    """A command in the container (HTG_INSIDE: nsenter into its namespaces)."""
    return subprocess.run(shlex.split(ENV["HTG_INSIDE"]) + list(args),
                          capture_output=True, text=True)


def wait_socket(path):
    deadline = time.time() + 15
    while inside("test", "-S", path).returncode != 0:
        check(time.time() < deadline, "%s did not come back" % path)
        time.sleep(0.2)


def rcpt_on_port_25(rcpt):
    s = smtp_from(ENV["HTG_HOST"], ENV["HTG_STOCK_SMTP_PORT"])
    cmd(s, "MAIL FROM:<x@elders.example>")
    code, msg = cmd(s, "RCPT TO:<%s>" % rcpt)
    s.quit()
    return code, msg


@test
def integrate_daemons_down_mean_4xx_never_250():
    """systemctl stop htg-policyd: submission 451 4.3.5 at MAIL, and
    Debian's port 25 (its recipient check asks the same socketmap) 4xx for
    a local address; stop htg-milter: 454 4.3.0 at STARTTLS. After a start
    both answer as before. (Runs last: it restarts the daemons.)"""
    local = "root@localhost"
    code, msg = rcpt_on_port_25(local)
    check(code == 250, "port 25 before: %d %s" % (code, msg))
    r = inside("systemctl", "stop", "htg-policyd")
    check(r.returncode == 0, "systemctl stop htg-policyd: " + r.stderr)
    try:
        got = submit(htg_message(uuid.uuid4().hex))
        check(got[0] == "MAIL" and got[1] == 451 and got[2].startswith("4.3.5"),
              "htg-policyd down, submission: %r" % (got,))
        code, msg = rcpt_on_port_25(local)
        check(400 <= code < 500, "htg-policyd down, port 25: %d %s" % (code, msg))
    finally:
        inside("systemctl", "start", "htg-policyd")
    wait_socket("/run/htg/socketmap.sock")
    r = inside("systemctl", "stop", "htg-milter")
    check(r.returncode == 0, "systemctl stop htg-milter: " + r.stderr)
    try:
        s = smtp_connect()
        msg = ""
        try:
            s.starttls(context=tls_context())
            code = 220
        except smtplib.SMTPResponseException as e:
            code, msg = e.smtp_code, e.smtp_error.decode()
        s.close()
        check(code == 454 and msg.startswith("4.3.0"),
              "htg-milter down, STARTTLS: %d" % code)
    finally:
        inside("systemctl", "start", "htg-milter")
    wait_socket("/run/htg/milter.sock")
    code, msg = rcpt_on_port_25(local)
    check(code == 250, "port 25 after: %d %s" % (code, msg))
    got = submit(htg_message(uuid.uuid4().hex))
    check(got[0] == "ok", "submission after the restarts: %r" % (got,))


def main():
    htglab.load_env(sys.argv[1])
    import e2e_skeleton  # noqa: F401  (registers the reused tests)
    only = sys.argv[2:]
    names = REUSED + [fn.__name__ for fn in htglab.TESTS
                      if fn.__name__.startswith("integrate_")]
    byname = {fn.__name__: fn for fn in htglab.TESTS}
    passed = failed = 0
    for name in names:
        if only and name not in only:
            continue
        fn = byname[name]
        t0 = time.time()
        try:
            fn()
            print("ok   %s (%.1f s)" % (name, time.time() - t0), flush=True)
            passed += 1
        except Exception as e:  # any exception is a failed test
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    socket.setdefaulttimeout(TIMEOUT)
    sys.exit(main())
