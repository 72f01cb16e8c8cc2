"""Issue 13, finding 4: the directory fills and everything stops.

Through the real Dovecot and Postfix of the lab: a client looping
"TOP 1 0" costs one audit event, not one per command; a full directory
(a maximum set below what is in use, `htgctl map-max`) makes every writer
answer 4xx / -ERR - SMTP submission (the milter's Message-ID claim),
LMTP, POP3 QUIT whose records cannot be written - and loses nothing:
after the maximum is raised, the deferred mail is delivered, the same
submission is accepted, the DELE goes through, and what POP3 wrote into
the pickup journal meanwhile reaches the audit. Registered into
htglab.TESTS; run by tests/e2e.py.
"""

import json
import os
import poplib
import smtplib
import subprocess
import time
import uuid

from htglab import (ENV, TIMEOUT, test, check, ctl, lmdb_only, htg_message, submit,
                    inbound_send)
from e2e_dovecot import (Account, audit, find, kept, lmtp_message,
                         lmtp_socket, postfix_flush)


def stats():
    r = ctl("stats", "--json")
    check(r.returncode == 0, "stats: " + r.stderr)
    return json.loads(r.stdout)


def set_max(size):
    r = ctl("map-max", str(size))
    check(r.returncode == 0, "map-max %s: %s" % (size, r.stderr))


def lmtp_try(rcpt, msg):
    """None when LMTP took msg, else the refusal."""
    lm = smtplib.LMTP(lmtp_socket(), timeout=TIMEOUT)
    try:
        lm.sendmail("dms-inbox@douane.overheid.nl", [rcpt], msg)
        return None
    except (smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused) as e:
        return e
    finally:
        lm.quit()


def log_text(name):
    with open(os.path.join(ENV["HTG_LOG_DIR"], name), errors="replace") as f:
        return f.read()


@test
def dirfull_top_loop_is_one_event():
    """200 x TOP 1 0 and 20 x RETR 1 in one session: one top and one retr
    event (a repeat adds nothing to the audit), not 220."""
    lmdb_only("the directory's map")
    a = Account()
    msgid = a.deliver()
    p = a.login()
    for _ in range(200):
        p.top(1, 0)
    for _ in range(20):
        p.retr(1)
    p.quit()
    top = audit(a.user, "--event", "top")
    retr = audit(a.user, "--event", "retr")
    check(len(top) == 1 and top[0]["message_id"] == msgid, "top: %d events"
          % len(top))
    check(len(retr) == 1, "retr: %d events" % len(retr))


@test
def dirfull_full_directory_tempfails_and_loses_nothing():
    """Full (maximum = what is in use): submission 451 4.3.0, LMTP 4xx,
    Postfix keeps inbound mail queued, a QUIT whose records must go to the
    directory (a copy too big for the journal) is -ERR and expunges
    nothing; `htgctl stats` shows it full and the logs say why. Raised
    again: all of it goes through."""
    lmdb_only("the directory's map")
    a = Account()
    small = a.deliver()
    big_id, big = lmtp_message(a.address, uuid.uuid4().hex,
                               size=1100 * 1024)
    check(lmtp_try(a.address, big) is None, "big message not delivered")
    sub_token = uuid.uuid4().hex
    sub_msg = htg_message(sub_token)
    in_token = uuid.uuid4().hex
    in_msgid = "<%s@douane.overheid.nl>" % in_token
    lm_id, lm_msg = lmtp_message(a.address, uuid.uuid4().hex)
    before = stats()
    # at most what is in use (64 KiB is the least maximum; the margin
    # kept below the maximum is at least as much): full
    full_max = max(before["used"], 65536)
    set_max(full_max)
    try:
        st = stats()
        check(st["max"] == full_max and
              st["percent"] == st["used"] * 1000 // full_max / 10,
              "stats when full: %r" % st)

        got = submit(sub_msg)
        check(got[0] == "DATA" and got[1] == 451 and
              got[2].startswith("4.3.0"), "submission when full: %r"
              % (got,))

        refused = lmtp_try(a.address, lm_msg)
        if isinstance(refused, smtplib.SMTPDataError):
            codes = [refused.smtp_code]
        elif isinstance(refused, smtplib.SMTPRecipientsRefused):
            codes = [v[0] for v in refused.recipients.values()]
        else:
            codes = []
        check(codes and all(400 <= c < 500 for c in codes),
              "LMTP when full: %r" % (refused,))

        inbound_send(in_token, a.address)     # Postfix queues it: 250
        deferred = postfix_deferred(in_msgid)
        check(deferred is not None, "Postfix did not defer the inbound "
              "message (LMTP should answer 4xx)")
        check(" 4" in deferred, "deferral: %s" % deferred)

        p = a.login()
        nbig = find(p, big_id)
        check(nbig is not None, "big message not in the mailbox")
        p.retr(nbig)
        p.dele(nbig)
        try:
            r = p.quit()
            check(False, "QUIT when full: %r" % r)
        except poplib.error_proto as e:
            check(e.args[0].startswith(b"-ERR"), "QUIT: %r" % e.args)
        p = a.login()
        check(find(p, big_id) is not None, "QUIT -ERR expunged the message")
        # a small DELE fits the pickup journal: durable, applied later
        nsmall = find(p, small)
        p.dele(nsmall)
        r = p.quit()
        check(r.startswith(b"+OK"), "QUIT of a small DELE: %r" % r)
    finally:
        set_max(before["max"])

    check("directory full" in log_text("dovecot.log"),
          "dovecot.log does not say why")
    check("directory full" in log_text("htg-milter.log"),
          "htg-milter.log does not say why")
    # nothing lost
    got = submit(sub_msg)
    check(got[0] == "ok", "the same submission after: %r" % (got,))
    check(lmtp_try(a.address, lm_msg) is None, "LMTP after")
    deadline = time.time() + 30
    found = None
    while found is None and time.time() < deadline:
        postfix_flush()
        p = a.login()
        found = find(p, in_msgid)
        p.quit()
        if found is None:
            time.sleep(0.5)
    check(found is not None, "the queued inbound message never arrived")
    p = a.login()
    p.dele(find(p, big_id))
    r = p.quit()
    check(r.startswith(b"+OK"), "QUIT after: %r" % r)
    deles = {e["message_id"] for e in audit(a.user, "--event", "dele")}
    check(deles == {small, big_id}, "dele events: %r" % deles)
    check({k["message_id"] for k in kept(a)} == {small, big_id},
          "retained: %r" % kept(a))


def postfix_deferred(msgid, wait=30):
    """The status=deferred log line of the message with this Message-ID
    (its queue id from cleanup's message-id= line), or None."""
    deadline = time.time() + wait
    while time.time() < deadline:
        text = log_text("postfix.log")
        qid = None
        for line in text.splitlines():
            if "message-id=%s" % msgid in line:
                qid = line.split(": ")[1]
        if qid is not None:
            for line in text.splitlines():
                if (qid + ": to=") in line and "status=deferred" in line:
                    return line
        time.sleep(0.3)
    return None


def dovecot_reload():
    """doveadm reload, and wait until the master logged it: logins after
    that get processes with the new configuration."""
    log = os.path.join(ENV["HTG_LOG_DIR"], "dovecot.log")
    seen = log_text("dovecot.log").count("SIGHUP received")
    subprocess.run(["doveadm", "-c", ENV["HTG_DOVECOT_CONFIG"], "reload"],
                   capture_output=True, check=False)
    deadline = time.time() + 20
    while time.time() < deadline:
        if log_text("dovecot.log").count("SIGHUP received") > seen:
            return
        time.sleep(0.1)
    check(False, "Dovecot did not reload (%s)" % log)


def after_reload(what, fn, errors):
    """Right after a reload, a login or an LMTP delivery may meet a process
    that the reload is ending ("Internal login failure", a connection
    dropped before the greeting): try again."""
    for _ in range(50):
        try:
            return fn()
        except errors as e:
            last = e
            time.sleep(0.2)
    check(False, "no %s after the reload: %r" % (what, last))


def login_after_reload(acct):
    return after_reload("login", acct.login, (poplib.error_proto, OSError))


def deliver_after_reload(acct):
    return after_reload("LMTP delivery", acct.deliver,
                        (smtplib.SMTPServerDisconnected, OSError))


@test
def dirfull_session_bound_flushes_then_refuses():
    """htg_session_max_events = 3 (lab override, reloaded): the 4th TOP
    of a session writes the 3 waiting events at once (memory stays
    bounded); with the directory full and the pickup journal unusable,
    a retrieval whose event cannot be kept is refused (-ERR), none is
    served unaudited, and the log says why."""
    lmdb_only("the directory's map")
    lab_conf = os.path.join(os.path.dirname(ENV["HTG_DOVECOT_CONFIG"]),
                            "dovecot-lab.conf")
    with open(lab_conf) as f:
        saved = f.read()
    journal = os.path.join(ENV["HTG_DIRECTORY"], "journal")
    mode = os.stat(journal).st_mode & 0o7777
    old_max = stats()["max"]
    try:
        with open(lab_conf, "a") as f:
            f.write("\nplugin {\n  htg_session_max_events = 3\n}\n")
        dovecot_reload()
        # A pop3 process of the old configuration may still take a login
        # for a moment after the reload (it wrote nothing at the 4th TOP):
        # then again with a fresh account, in a process of the new one.
        for attempt in range(10):
            a = Account()
            ids = [deliver_after_reload(a) for _ in range(8)]
            p = login_after_reload(a)
            for n in (1, 2, 3, 4):
                p.top(n, 0)
            # before QUIT: the first three were written at the 4th TOP
            early = audit(a.user, "--event", "top")
            if len(early) == 0 and attempt < 9:
                p.quit()
                time.sleep(0.5)
                continue
            check(len(early) == 3, "events before QUIT: %d" % len(early))
            break
        p.quit()
        check(len(audit(a.user, "--event", "top")) == 4, "after QUIT")

        p = a.login()
        for n in (5, 6, 7):
            p.top(n, 0)
        set_max(max(stats()["used"], 65536))
        os.chmod(journal, 0)
        try:
            p.top(8, 0)
            check(False, "TOP 8 served without its audit event")
        except poplib.error_proto as e:
            check(e.args[0].startswith(b"-ERR"), "TOP 8: %r" % e.args)
        p.top(5, 0)         # audited already in this session: served
        os.chmod(journal, mode)
        set_max(old_max)
        p.quit()
    finally:
        os.chmod(journal, mode)
        set_max(old_max)
        with open(lab_conf, "w") as f:
            f.write(saved)
        dovecot_reload()
    got = {e["message_id"] for e in audit(a.user, "--event", "top")}
    check(got == set(ids[:7]), "top events: %d of %r" % (len(got), got))
    check("top of uid 8 refused" in log_text("dovecot.log"),
          "dovecot.log does not say why TOP 8 was refused")
