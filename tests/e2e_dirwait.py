"""A directory outage seen by logins (issue 15, item 5): while the
PostgreSQL directory cannot be read, SMTP AUTH must get a temporary
answer (454 4.7.0), never 535 5.7.8 "authentication failed", and POP3 a
-ERR [SYS/TEMP]; a login that arrives during a short outage waits for the
directory and succeeds when it is back (htg-passdb(3), wait=).

Postfix's Dovecot SASL client answers 535 to any failure Dovecot sends
and 454 only when the auth server has not answered within 10 s, so the
htg passdb does not answer a directory failure before wait= (15 s).

A directory that stops answering without closing its connections (a hung
server, a network that drops every packet) gives the same 4xx answers
after the directory's answer timeout, never a session that hangs.

PostgreSQL labs only: these stop the lab's primary (./htg-lab pg stop, or
SIGSTOP) and start it again, whatever happens.
"""

import os
import smtplib
import subprocess
import threading
import time
import uuid

from htglab import (ENV, TIMEOUT, test, check, skip, pop3_login, tls_context,
                    smtp_submission, cmd, submit, htg_message, flow_rcpt)
import htglab


def pg_only():
    if htglab.backend() != "postgresql":
        skip("a PostgreSQL lab (HTG_DIRECTORY_BACKEND=postgresql)")


def pg(cmd):
    r = htglab.lab("pg", cmd)
    check(r.returncode == 0, "pg %s: %s" % (cmd, r.stderr.strip()))


def smtp_auth_plain():
    """(code, text, seconds) of one AUTH PLAIN as the demo account."""
    t0 = time.time()
    s = smtplib.SMTP(ENV["HTG_HOST"], int(ENV["HTG_SUBMISSION_PORT"]),
                     timeout=TIMEOUT)
    try:
        s.ehlo("client.example")
        s.starttls(context=tls_context())
        s.ehlo("client.example")
        s.user, s.password = ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"]
        try:
            code, text = s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode(errors="replace"), time.time() - t0
    finally:
        s.close()


def pop3_result():
    """("+OK"|the -ERR line, seconds) of one POP3 login as the demo
    account."""
    t0 = time.time()
    try:
        p = pop3_login(ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"])
        p.quit()
        return "+OK", time.time() - t0
    except Exception as e:
        return str(e), time.time() - t0


@test
def auth_waits_for_a_directory_back_within_seconds():
    pg_only()
    pg("stop")
    back = []
    starter = threading.Timer(2.0, lambda: back.append(htglab.lab("pg", "start")))
    try:
        starter.start()
        code, text, took = smtp_auth_plain()
    finally:
        starter.join()
        if not back or back[0].returncode != 0:
            pg("start")
    check(code == 235, "AUTH during a 2 s outage: %s %s" % (code, text))
    check(took >= 1.5, "AUTH answered in %.1f s: did it wait for the "
          "directory?" % took)


@test
def auth_and_pop3_during_an_outage_are_temporary_failures():
    pg_only()
    got = {}
    pg("stop")
    try:
        smtp = threading.Thread(target=lambda: got.update(
            smtp=smtp_auth_plain()))
        pop3 = threading.Thread(target=lambda: got.update(pop3=pop3_result()))
        smtp.start()
        pop3.start()
        smtp.join()
        pop3.join()
    finally:
        pg("start")
    code, text, took = got["smtp"]
    check(code == 454 and text.startswith("4.7.0"),
          "AUTH with the directory down: %s %s (%.1f s), not 454 4.7.0" % (
              code, text, took))
    line, took = got["pop3"]
    check("[SYS/TEMP]" in line, "POP3 login with the directory down: %r "
          "(%.1f s)" % (line, took))
    # and back: the next login is answered at once
    code, text, took = smtp_auth_plain()
    check(code == 235 and took < 5, "AUTH after the outage: %s %s (%.1f s)"
          % (code, text, took))


def primary_pids():
    """The lab's PostgreSQL server processes (postmaster and children)."""
    if ENV.get("HTG_PG_STANDBY_PORT"):
        skip("a lab with a standby (the one-node PostgreSQL lab runs this)")
    pid_file = os.path.join(ENV["HTG_LAB_DIR"], "pg", "primary",
                            "postmaster.pid")
    with open(pid_file) as f:
        pm = f.readline().strip()
    kids = subprocess.run(["pgrep", "-P", pm], capture_output=True,
                          text=True).stdout.split()
    return [pm] + kids


@test
def a_silent_directory_gives_4xx_not_a_hang():
    """The database stops answering without closing its connections (a
    hung server, a network that drops every packet: every server
    process SIGSTOPped): a session authenticated before gets 4xx at MAIL
    FROM within the answer timeout (20 s, lib/htg-dir-pg.h) plus a
    reconnect, a new AUTH 454 4.7.0; nothing waits for TCP to give up."""
    pg_only()
    s = smtp_submission()
    # one transaction first: every daemon holds a live connection to the
    # database when it falls silent
    for line in ("MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"],
                 "RCPT TO:<%s>" % flow_rcpt()):
        check(cmd(s, line)[0] == 250, line)
    code, msg = s.data(htg_message("silent" + uuid.uuid4().hex[:10]).encode())
    check(code == 250, "the first message: %s %s" % (code, msg))
    pids = primary_pids()
    subprocess.run(["kill", "-STOP"] + pids, check=True)
    try:
        t0 = time.time()
        code, msg = cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
        took = time.time() - t0
        auth = smtp_auth_plain()
    finally:
        subprocess.run(["kill", "-CONT"] + primary_pids(),
                       stderr=subprocess.DEVNULL)
        try:
            s.close()
        except Exception:
            pass
    check(400 <= code < 500, "MAIL FROM with the directory silent: %s %s" % (
        code, msg))
    check(took < 60, "MAIL FROM answered after %.1f s" % took)
    check(auth[0] == 454, "AUTH with the directory silent: %s %s (%.1f s)" %
          auth)
    # and back: a whole submission goes through
    got = submit(htg_message("silent" + uuid.uuid4().hex[:10]))
    check(got[0] == "ok", "after the silence: %r" % (got,))
