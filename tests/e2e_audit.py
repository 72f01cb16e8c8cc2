"""Pickup audit details (issue 5.4): the Message-ID the mail plugin
records is read from the message itself (not through Dovecot's index
cache), so these tests pin down what it reads. Registered into
htglab.TESTS; run by tests/e2e.py.
"""

import uuid

from htglab import test, check
from e2e_dovecot import Account, audit, kept, lmtp_send


def deliver_raw(acct, header_block, token):
    msg = ("From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
           "Subject: antwoord %s\r\n%s\r\nAntwoord %s\r\n"
           % (acct.address, token, header_block, token))
    lmtp_send(acct.address, msg)


def pickup_first(acct):
    """RETR 1, DELE 1, QUIT: the only message in the inbox."""
    p = acct.login()
    p.retr(1)
    p.dele(1)
    r = p.quit()
    check(r.startswith(b"+OK"), "QUIT: %r" % r)


@test
def audit_message_id_folded_and_lowercase_header():
    """A folded 'message-id:' header (name in lower case, value on the
    next line): retr, dele and the retention record carry the id without
    the line break or the blanks around it."""
    a = Account()
    token = uuid.uuid4().hex
    msgid = "<%s@overheid.example>" % token
    deliver_raw(a, "message-id:\r\n\t %s  \r\n" % msgid, token)
    pickup_first(a)
    for event in ("retr", "dele"):
        ev = audit(a.user, "--event", event)
        check(len(ev) == 1 and ev[0]["message_id"] == msgid,
              "%s events: %r" % (event, ev))
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == msgid, "kept: %r" % k)


@test
def audit_message_id_first_header_and_none():
    """Two Message-ID headers: the first counts. No Message-ID header:
    the events are still written, with an empty id."""
    a = Account()
    token = uuid.uuid4().hex
    first = "<first-%s@overheid.example>" % token
    deliver_raw(a, "Message-ID: %s\r\nMessage-ID: <second-%s@x>\r\n"
                % (first, token), token)
    pickup_first(a)
    ev = audit(a.user, "--event", "dele")
    check(len(ev) == 1 and ev[0]["message_id"] == first, "dele: %r" % ev)

    b = Account()
    deliver_raw(b, "", uuid.uuid4().hex)
    pickup_first(b)
    ev = audit(b.user, "--event", "retr") + audit(b.user, "--event", "dele")
    check(len(ev) == 2 and all(e["message_id"] == "" for e in ev),
          "events without Message-ID: %r" % ev)
