"""Logical-address translation (issue 16, item 4; 002 footnote 2: "and
vice versa"), through the lab's real Postfix and Dovecot:

- htgctl account translate USER on: a submission from the account's real
  address reaches the government side with the envelope sender
  (Return-Path) and the From header rewritten to the account's logical
  address (Postfix's lmtp/smtp_generic_maps, fed live by htg-policyd's
  socketmap "translate"); off: the real address, live;
- the milter still judges what the client sent (the "submit" audit event
  is the client's message), and the DSN of a translated submission still
  reaches the business.
"""

import email
import email.utils
import time
import uuid

from htglab import (ENV, test, check, ctl, flow_rcpt, htg_message, submit,
                    gov_login, demo_login, wait_until, AccountSetting)
from e2e_dovecot import audit

EXT_FLOW = "buitenland"


def Translate():
    return AccountSetting("translate", "on", "off")


def fetch(login, token, timeout=30):
    """The message whose text (anywhere: a DSN has it deep inside) holds
    token, taken out of the mailbox, as an email.message."""
    deadline = time.time() + timeout
    while True:
        p = login()
        try:
            _, listing, _ = p.list()
            for entry in listing:
                num = int(entry.split()[0])
                _, lines, _ = p.retr(num)
                if any(token.encode() in l for l in lines):
                    p.dele(num)
                    return email.message_from_bytes(b"\r\n".join(lines))
        finally:
            p.quit()
        check(time.time() < deadline, "%s not delivered" % token)
        time.sleep(0.3)


def addr(value):
    return email.utils.parseaddr(value or "")[1].lower()


@test
def translate_on_government_sees_the_logical_address():
    token = uuid.uuid4().hex
    with Translate():
        got = submit(htg_message(token))
        check(got[0] == "ok", "submission: %r" % (got,))
        m = fetch(gov_login, token)
    logical = ENV["HTG_DEMO_LOGICAL"].lower()
    check(addr(m["From"]) == logical, "From: %r" % m["From"])
    check(addr(m["Return-Path"]) == logical, "Return-Path: %r" % m["Return-Path"])
    raw = m.as_string().lower()
    check(ENV["HTG_DEMO_SENDER"].lower() not in raw,
          "the real address is still in the message")


@test
def translate_off_government_sees_the_real_address():
    token = uuid.uuid4().hex
    got = submit(htg_message(token))
    check(got[0] == "ok", "submission: %r" % (got,))
    m = fetch(gov_login, token)
    check(addr(m["From"]) == ENV["HTG_DEMO_SENDER"].lower(), "From: %r" % m["From"])
    check(addr(m["Return-Path"]) == ENV["HTG_DEMO_SENDER"].lower(),
          "Return-Path: %r" % m["Return-Path"])


@test
def translate_keeps_rules_and_dsn_on_the_real_address():
    """The milter audits the client's message (its own Message-ID, the
    flow); a submission that bounces (the lab delivers nothing off this
    machine) brings its DSN back to the business's mailbox."""
    token = uuid.uuid4().hex
    ctl("flow", "add", EXT_FLOW, "--deliver-to", "ontvanger@extern.example")
    ctl("grant", ENV["HTG_DEMO_USER"], EXT_FLOW)
    try:
        with Translate():
            msg = htg_message(token, to="%s@%s" % (EXT_FLOW, ENV["HTG_HEADER_DOMAIN"]))
            got = submit(msg, rcpt=flow_rcpt(EXT_FLOW))
            check(got[0] == "ok", "submission: %r" % (got,))
            dsn = fetch(demo_login, token)
        check(dsn.get_content_type() == "multipart/report",
              "not a DSN: %r" % dsn.get_content_type())
        ev = wait_until(lambda: [e for e in audit(ENV["HTG_DEMO_USER"], "--event",
                                                  "submit")
                                 if e.get("message_id") == "<%s@client.example>" % token],
                        "the submit event")
        check(len(ev) == 1 and ev[0].get("flow") == EXT_FLOW,
              "the milter's submit event: %r" % ev)
    finally:
        ctl("revoke", ENV["HTG_DEMO_USER"], EXT_FLOW)
        ctl("flow", "del", EXT_FLOW)
