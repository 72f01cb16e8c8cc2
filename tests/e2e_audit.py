"""Pickup audit (issue 5.4) on the live gateway: what counts as a
retrieval, htgctl audit's filters and expiry, and the Message-ID the mail
plugin records (read from the message itself, not through Dovecot's
index cache). Registered into htglab.TESTS; run by tests/e2e.py.
"""

import os
import struct
import uuid

from htglab import ENV, test, check, ctl, journal_dir
from e2e_dovecot import (Account, audit, find, kept, lmtp_message,
                         lmtp_send)


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


@test
def audit_counts_only_real_retrievals():
    """LIST, UIDL and STAT are size scans, not retrievals; TOP is 'top'."""
    a = Account()
    msgid = a.deliver()
    p = a.login()
    p.stat()
    p.list()
    p.uidl()
    p.quit()
    check(audit(a.user, "--event", "retr") == [] and
          audit(a.user, "--event", "top") == [], "a size scan was audited")
    p = a.login()
    p.top(1, 5)
    p.quit()
    ev = audit(a.user, "--message-id", msgid)
    check([e["event"] for e in ev] == ["deliver", "top"], "events %r" % ev)


@test
def audit_filters_on_the_live_gateway():
    a = Account()
    m1, m2 = a.deliver(), a.deliver()
    p = a.login()
    p.retr(find(p, m1))
    p.quit()
    ev = audit(a.user, "--message-id", m1)
    check([e["event"] for e in ev] == ["deliver", "top", "retr"],
          "--message-id: %r" % [e["event"] for e in ev])
    only_retr = audit(a.user, "--event", "retr")
    check(len(only_retr) == 1 and only_retr[0]["message_id"] == m1,
          "--event retr: %r" % only_retr)
    everything = audit(a.user)
    t_first = everything[0]["time"]
    later = audit(a.user, "--since", everything[1]["time"])
    check(len(later) == len(everything) - 1, "--since is not inclusive")
    earlier = audit(a.user, "--until", everything[1]["time"])
    check(len(earlier) == 1 and earlier[0]["time"] == t_first,
          "--until is not exclusive: %r" % earlier)
    check(audit(a.user, "--message-id", m2, "--event", "retr") == [],
          "filters are not combined")


@test
def audit_expire_bounds_the_trail():
    a = Account()
    a.deliver()
    cut = audit()[-1]["time"]
    r = ctl("audit", "expire", "--days", "1", "--now", cut)
    check(r.returncode == 0, "expire: " + r.stderr)
    check(r.stdout.startswith("expired "), "expire said %r" % r.stdout)
    r = ctl("audit", "expire", "--days", "0", "--now", cut)
    check(r.returncode == 0, "expire: " + r.stderr)
    left = audit()
    check(left and left[0]["time"] >= cut, "older events left: %r" % left[:1])


def journal_entries():
    """Entries waiting in the pickup journals (lib/htg-journal.c: the
    count is the fifth 32-bit word of a journal's head)."""
    jdir = journal_dir()
    n = 0
    for name in os.listdir(jdir) if os.path.isdir(jdir) else []:
        with open(os.path.join(jdir, name), "rb") as f:
            head = f.read(24)
        if len(head) == 24:
            n += struct.unpack("<6I", head)[4]
    return n


@test
def pickup_journal_applied_by_htgctl():
    """A QUIT makes its records, copies and events durable in the pickup
    journal (one flush); htgctl applies the journal before it reads, and
    a copy whose hard link did not survive is written again from it."""
    a = Account()
    msgid = a.deliver()
    pickup_first(a)
    check(journal_entries() >= 1, "the QUIT wrote no journal entry")
    kept_dir = a.mail_dir("htg-retained")
    files = os.listdir(kept_dir)
    check(len(files) == 1, "kept copies: %r" % files)
    path = os.path.join(kept_dir, files[0])
    with open(path, "rb") as f:
        body = f.read()
    os.unlink(path)         # as if the link were lost in a crash
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == msgid and
          k[0]["path"] == path, "retention list: %r" % k)
    check(journal_entries() == 0, "htgctl left journal entries")
    with open(path, "rb") as f:
        check(f.read() == body and b"Antwoord" in body,
              "the rewritten copy differs")
    kinds = [e["event"] for e in audit(a.user, "--message-id", msgid)]
    check(kinds == ["deliver", "retr", "dele"], "events: %r" % kinds)


@test
def pickup_journal_refuses_to_rewrite_into_a_foreign_directory():
    """htgctl applies the journal as root: a lost copy is written again
    only into a retention directory the mail user owns, and what it could
    not do is said on stderr; the record still goes in."""
    a = Account()
    msgid = a.deliver()
    pickup_first(a)
    kept_dir = a.mail_dir("htg-retained")
    path = os.path.join(kept_dir, os.listdir(kept_dir)[0])
    os.unlink(path)
    st = os.stat(kept_dir)
    os.chown(kept_dir, 0, 0)
    try:
        r = ctl("retention", "list", a.user, "--json")
    finally:
        os.chown(kept_dir, st.st_uid, st.st_gid)
    check(r.returncode == 0, "retention list: %r" % r)
    check("pickup journal" in r.stderr and "not the mail user's" in r.stderr,
          "no warning: %r" % r.stderr)
    check(not os.path.exists(path), "copy written into a root directory")
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == msgid, "retention list: %r" % k)


@test
def pickup_too_big_for_the_journal_takes_the_direct_way():
    """A message of more than a journal (1 MB) is kept the direct way:
    retention directory synced, records committed to the directory at
    QUIT, no journal entry; retention and audit are the same."""
    a = Account()
    msgid, msg = lmtp_message(a.address, uuid.uuid4().hex, 1100 * 1024)
    lmtp_send(a.address, msg)
    before = journal_entries()
    pickup_first(a)
    check(journal_entries() == before, "a 1.1 MB copy went into the journal")
    k = kept(a)
    check(len(k) == 1 and k[0]["message_id"] == msgid and
          os.path.getsize(k[0]["path"]) > 1024 * 1024,
          "retention list: %r" % k)
    kinds = [e["event"] for e in audit(a.user, "--message-id", msgid)]
    check(kinds == ["deliver", "retr", "dele"], "events: %r" % kinds)
