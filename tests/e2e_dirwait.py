"""A directory outage seen by logins (issue 15, item 5): while the
PostgreSQL directory cannot be read, SMTP AUTH must get a temporary
answer (454 4.7.0), never 535 5.7.8 "authentication failed", and POP3 a
-ERR [SYS/TEMP]; a login that arrives during a short outage waits for the
directory and succeeds when it is back (htg-passdb(3), wait=).

Postfix's Dovecot SASL client answers 535 to any failure Dovecot sends
and 454 only when the auth server has not answered within 10 s, so the
htg passdb does not answer a directory failure before wait= (15 s).

PostgreSQL labs only: these stop the lab's primary (./htg-lab pg stop)
and start it again, whatever happens.
"""

import smtplib
import threading
import time

from htglab import ENV, TIMEOUT, test, check, skip, pop3_login, tls_context
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
