"""Exactly-once LMTP (issue 6): a message Postfix hands over again is
saved once.

Postfix delivers again when the lmtp process died after saving a
message but before its 250 arrived. The htg plugin keeps a record per
(account, Message-ID): "pending" before the save, "done" with the
deliver audit event. These tests build each state the way a crash
leaves it, without racing a kill: a delivery that fails at the save
(the Maildir's tmp/ not writable) leaves "pending" and no message; a
copy of the message put into new/ by hand is what a crash after the
save leaves. Registered into htglab.TESTS; run by tests/e2e.py.
"""

import os
import smtplib
import uuid

from htglab import ENV, TIMEOUT, test, check, ctl, wait_until
from e2e_dovecot import Account, audit, find, lmtp_deliver, lmtp_message, \
    lmtp_send, lmtp_socket


def copies(acct, msgid):
    """How many messages with this Message-ID POP3 shows."""
    p = acct.login()
    try:
        n = 0
        while find(p, msgid) is not None:
            n += 1
            p.dele(find(p, msgid))   # hide it from the next find
        p.rset()
    finally:
        p.quit()
    return n


def deliver_fails_at_save(acct, token):
    """Deliver with the inbox's tmp/ unwritable: the save fails after
    the plugin recorded "pending". Returns the Message-ID."""
    tmp = acct.mail_dir("Maildir", "tmp")
    os.chmod(tmp, 0o500)
    try:
        msgid, msg = lmtp_message(acct.address, token)
        lm = smtplib.LMTP(lmtp_socket(), timeout=TIMEOUT)
        try:
            lm.sendmail("dms-inbox@douane.overheid.nl", [acct.address], msg)
            failed = None
        except smtplib.SMTPDataError as e:
            failed = e
        finally:
            lm.quit()
    finally:
        os.chmod(tmp, 0o700)
    check(failed is not None and failed.smtp_code == 451,
          "delivery into an unwritable Maildir: %r" % (failed,))
    return msgid


def dovecot_log():
    with open(os.path.join(ENV["HTG_LOG_DIR"], "dovecot.log"),
              errors="replace") as f:
        return f.read()


def delivers(acct, msgid):
    return [e for e in audit(acct.user, "--event", "deliver")
            if e["message_id"] == msgid]


@test
def lmtp_redelivery_after_the_250_is_saved_once():
    """The same message over LMTP twice (Postfix retrying after a lost
    250): both answered 250, one copy, one deliver event."""
    a = Account()
    token = uuid.uuid4().hex
    msgid = lmtp_deliver(a.address, token)
    again = lmtp_deliver(a.address, token)    # checks the 250
    check(again == msgid, "test bug: different Message-IDs")
    check(copies(a, msgid) == 1, "the retry was saved again")
    check(len(delivers(a, msgid)) == 1, "deliver events: %r"
          % delivers(a, msgid))
    # Dovecot's log process writes the line a moment after the reply
    wait_until(lambda: ("Message-ID %s was delivered to %s before" % (
        msgid, a.user)) in dovecot_log(), "the skipped duplicate logged",
        timeout=10)
    # the same Message-ID for another account is another delivery
    b = Account()
    lmtp_deliver(b.address, token)
    check(copies(b, msgid) == 1, "another account's copy was skipped")


@test
def lmtp_retry_after_a_save_that_never_happened_delivers():
    """"pending" and no message (a crash before the save): the retry
    delivers it."""
    a = Account()
    a.deliver()                     # creates the Maildir
    token = uuid.uuid4().hex
    msgid = deliver_fails_at_save(a, token)
    check(copies(a, msgid) == 0, "a failed save left a message")
    lmtp_deliver(a.address, token)
    check(copies(a, msgid) == 1, "the retry did not deliver")
    check(len(delivers(a, msgid)) == 1, "deliver events: %r"
          % delivers(a, msgid))
    # and now it is done: a third attempt saves nothing
    lmtp_deliver(a.address, token)
    check(copies(a, msgid) == 1, "a third copy")


@test
def lmtp_retry_after_a_save_without_its_record_is_skipped():
    """"pending" and the message in the mailbox (a crash between the
    Maildir commit and the directory commit): the retry finds it by
    Message-ID and saves nothing."""
    a = Account()
    a.deliver()
    token = uuid.uuid4().hex
    msgid = deliver_fails_at_save(a, token)
    # what the crashed delivery left: the message in new/
    new = a.mail_dir("Maildir", "new")
    path = os.path.join(new, "%s.M1P1.crashed" % token)
    with open(path, "w", newline="") as f:
        f.write(lmtp_message(a.address, token)[1])
    st = os.stat(new)
    os.chown(path, st.st_uid, st.st_gid)
    lmtp_deliver(a.address, token)
    check(copies(a, msgid) == 1, "the retry saved a second copy")
    check(delivers(a, msgid) == [], "a skipped retry was audited as a "
          "delivery")
    check(("Message-ID %s is already in INBOX" % msgid) in dovecot_log(),
          "the skipped retry is not logged")
    # the record is now "done": no search next time either
    lmtp_deliver(a.address, token)
    check(copies(a, msgid) == 1, "a third copy")


@test
def lmtp_message_without_message_id_is_delivered_each_time():
    """No Message-ID, nothing to recognise: every delivery is saved
    (Postfix's cleanup gives every message it accepts one)."""
    a = Account()
    msg = ("From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
           "Subject: zonder id\r\n\r\nbody\r\n" % a.address)
    for _ in range(2):
        lmtp_send(a.address, msg)
    p = a.login()
    try:
        n = len(p.list()[1])
    finally:
        p.quit()
    check(n == 2, "%d messages instead of 2" % n)


@test
def htgctl_expire_drops_old_delivery_records():
    """htgctl expire deletes records past their window (default 1 d)."""
    a = Account()
    token = uuid.uuid4().hex
    msgid = lmtp_deliver(a.address, token)
    lmtp_deliver(a.address, token)
    check(copies(a, msgid) == 1, "the retry was saved again")
    r = ctl("expire", "--now", "2100-01-01T00:00:00Z")
    check(r.returncode == 0 and "delivery records" in r.stdout,
          "expire: %r %r" % (r.stdout, r.stderr))
    n = int(r.stdout.split(",")[1].split()[0])
    check(n >= 1, "no delivery record expired: %r" % r.stdout)
    # the record is gone: the same message counts as new again
    lmtp_deliver(a.address, token)
    check(copies(a, msgid) == 2, "expired record still deduplicated")
