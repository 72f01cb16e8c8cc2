"""Simulated government answers (issue 16, item 3), through the lab's real
Postfix and Dovecot: htgctl flow respond FLOW ack|echo|refuse [--delay S].

A message delivered to a responding flow still reaches the flow's target
(the government mailbox); htg-policyd's flow map adds the respond
recipient, Postfix pipes the message to htg-respond, which sends the
answer through the inbound SMTP service to the account's logical address,
where POP3 picks it up: From <flow>@<header domain>, In-Reply-To and
References naming the submitted Message-ID, audited as "answer".
"""

import base64
import email
import os
import subprocess
import time
import uuid

from htglab import ENV, test, check, ctl, htg_message, submit
from e2e_dovecot import audit
from e2e_translate import fetch
from htglab import gov_login, demo_login

FLOW = ENV.get("HTG_DEMO_FLOW", "dms")


class Respond:
    def __init__(self, mode, delay=None):
        self.args = ["flow", "respond", FLOW, mode] + (
            ["--delay", str(delay)] if delay is not None else [])

    def __enter__(self):
        r = ctl(*self.args)
        check(r.returncode == 0, "flow respond: %s" % r.stderr)

    def __exit__(self, *exc):
        ctl("flow", "respond", FLOW, "off")
        return False


def answered(mode, token, **kw):
    msgid = "<%s@client.example>" % token
    with Respond(mode, **kw):
        t0 = time.time()
        got = submit(htg_message(token))
        check(got[0] == "ok", "submission: %r" % (got,))
        answer = fetch(demo_login, token, timeout=60)
        took = time.time() - t0
    delivered = fetch(gov_login, token)      # the flow still delivers
    check(answer["X-HTG-Simulated"] == mode, "X-HTG-Simulated: %r" % answer["X-HTG-Simulated"])
    check(email.utils.parseaddr(answer["From"])[1] ==
          "%s@%s" % (ENV["HTG_DEMO_FLOW"], ENV["HTG_HEADER_DOMAIN"]), "From: %r" % answer["From"])
    check(email.utils.parseaddr(answer["To"])[1] == ENV["HTG_DEMO_LOGICAL"],
          "To: %r" % answer["To"])
    check(answer["In-Reply-To"] == msgid and answer["References"] == msgid,
          "In-Reply-To %r, References %r" % (answer["In-Reply-To"], answer["References"]))
    ev = [e for e in audit(ENV["HTG_DEMO_USER"], "--event", "answer")
          if e.get("message_id") == msgid]
    check(len(ev) == 1 and ev[0].get("flow") == ENV["HTG_DEMO_FLOW"] and
          mode in ev[0].get("detail", ""), "answer events: %r" % ev)
    return answer, delivered, took


@test
def respond_ack_is_a_receipt_in_the_account_mailbox():
    token = uuid.uuid4().hex
    answer, delivered, _ = answered("ack", token)
    body = answer.get_payload(decode=True).decode()
    # the attachment's name as the government side got it (renamed)
    name = [p.get_filename() for p in delivered.walk() if p.get_filename()]
    check(name and name[0] in body, "names %r not in %r" % (name, body))
    check("<%s@client.example>" % token in body, "receipt: %r" % body)


@test
def respond_echo_returns_the_delivered_message():
    token = uuid.uuid4().hex
    answer, delivered, _ = answered("echo", token)
    check(answer.get_content_type() == "multipart/mixed", answer.get_content_type())
    att = [p for p in answer.walk() if p.get_filename() == "bericht.eml"]
    check(len(att) == 1 and att[0].get_content_type() == "application/octet-stream",
          "parts: %r" % [p.get_content_type() for p in answer.walk()])
    inner = email.message_from_bytes(att[0].get_payload(decode=True))
    check(inner["Message-ID"] == "<%s@client.example>" % token,
          "echoed Message-ID %r" % inner["Message-ID"])
    check(inner.get_filename() == delivered.get_filename(),
          "echoed attachment %r, delivered %r" % (inner.get_filename(),
                                                  delivered.get_filename()))


@test
def respond_refuse_is_a_functional_refusal():
    token = uuid.uuid4().hex
    answer, _, _ = answered("refuse", token)
    check("afgewezen" in answer.get_payload(decode=True).decode(), "not a refusal")


@test
def respond_waits_its_delay():
    token = uuid.uuid4().hex
    _, _, took = answered("ack", token, delay=3)
    check(took >= 3, "answered after %.1f s" % took)


def lookup(key, table):
    return subprocess.run(["postmap", "-c", ENV["HTG_POSTFIX_CONFIG"], "-q", key,
                           table], capture_output=True, text=True).stdout.strip()


@test
def respond_off_adds_no_answer_recipient():
    """The flow map is what gives a message its answer: with respond off
    it names only the flow's target (Postfix's own view, postmap)."""
    key = "%s@%s" % (FLOW, ENV["HTG_SUBMIT_DOMAIN"])
    table = "socketmap:unix:%s:flow" % os.path.join(ENV["HTG_LAB_DIR"], "run",
                                                    "socketmap.sock")
    with Respond("ack"):
        on = lookup(key, table)
    off = lookup(key, table)
    check("htg-respond@htg-respond.invalid" in on, "on: %r" % on)
    check(off and "htg-respond" not in off and "," not in off, "off: %r" % off)
