"""Submission audit and per-account report mode (issue 16, items 1-2),
through the lab's real Postfix with smtplib:

- every accepted submission is a "submit" audit event (account,
  Message-ID, queue id, flow, size, TLS version, remote address), written
  by htg-milter in the commit of its Message-ID claim;
- every refusal is a "refuse" event with its rule id, SMTP stage and reply
  text: the milter's (end of message) and the policy daemon's (RCPT);
- htgctl account mode USER report|enforce, live: a would-be refusal by
  either daemon is logged and audited as "report" and the message passes
  (a refusal of the header's shape, here Cc, still lets the milter rename
  the attachment); back to enforce it is refused again.
"""

import re
import uuid

from htglab import (ENV, test, check, ctl, expect_reply, flow_rcpt, htg_message,
                    submit, wait_until, AccountSetting)
from e2e_dovecot import audit
from e2e_sec_milter import delivered_once
from e2e_translate import fetch
from htglab import gov_login

CC = "Cc: <iemand@mijnbedrijf.nl>\r\n"
DENIED_FLOW = "nietvoorjou"


def milter_remote():
    """The client address htg-milter audits: the bare address, as
    htg-policyd's and Dovecot's events have it (Postfix's {client_addr}
    macro writes IPv6 as the literal IPv6:::1; the milter takes the
    prefix off)."""
    return ENV["HTG_HOST"]


def events(kind, key, value):
    return [e for e in audit(ENV["HTG_DEMO_USER"], "--event", kind)
            if e.get(key) == value]


def queue_id(text):
    m = re.search(r"queued as (\w+)", text)
    check(m, "no queue id in %r" % text)
    return m.group(1)


def msgid_of(token):
    return "<%s@client.example>" % token


class DeniedFlow:
    """A flow that exists (to the government mailbox) but is not granted
    to the demo account."""

    def __enter__(self):
        # where the demo flow goes: the government mailbox
        to = [l.split("\t")[1] for l in ctl("flow", "list").stdout.splitlines()
              if l.split("\t")[0] == ENV["HTG_DEMO_FLOW"]]
        check(to, "no demo flow")
        ctl("flow", "add", DENIED_FLOW, "--deliver-to", to[0])
        return flow_rcpt(DENIED_FLOW)

    def __exit__(self, *exc):
        ctl("flow", "del", DENIED_FLOW)
        return False


def ReportMode():
    return AccountSetting("mode", "report", "enforce")


@test
def audit_submission_accepted_is_a_submit_event():
    token = uuid.uuid4().hex
    got = submit(htg_message(token))
    check(got[0] == "ok", "submission: %r" % (got,))
    qid = queue_id(got[2])
    # written when the session has ended and the claim is settled
    ev = wait_until(lambda: events("submit", "queue_id", qid),
                    "the submit event of %s" % qid)
    check(len(ev) == 1, "submit events of %s: %r" % (qid, ev))
    check(ev[0].get("detail") == "committed", "detail: %r" % ev[0])
    e = ev[0]
    for key, want in (("message_id", msgid_of(token)),
                      ("flow", ENV["HTG_DEMO_FLOW"]), ("tls", "TLSv1.3"),
                      ("remote", milter_remote()), ("session", "htg-milter")):
        check(e.get(key) == want, "%s: %r, want %r (%r)" % (key, e.get(key), want, e))
    check(e["size"] > 200, "size %r" % e["size"])
    delivered_once(token)


@test
def audit_milter_refusal_is_a_refuse_event():
    """(The Cc field comes before the Message-ID field, and the milter
    reads no further than the refused field: the event has no
    Message-ID; it has the rule, stage and reply text.)"""
    token = uuid.uuid4().hex
    before = len(events("refuse", "rule", "HTG-HDR-CC"))
    got = submit(htg_message(token, extra_headers=CC))
    expect_reply(got, 550, "5.7.1", "HTG-HDR-CC")
    ev = events("refuse", "rule", "HTG-HDR-CC")
    check(len(ev) == before + 1, "refuse events: %r" % ev)
    e = ev[-1]
    check(e.get("rule") == "HTG-HDR-CC" and e.get("session") == "htg-milter"
          and e.get("stage") and "HTG-HDR-CC" in e.get("detail", "")
          and e.get("flow") == ENV["HTG_DEMO_FLOW"], "event: %r" % e)


@test
def audit_policy_refusal_is_a_refuse_event():
    token = uuid.uuid4().hex
    with DeniedFlow() as rcpt:
        before = len(events("refuse", "flow", DENIED_FLOW))
        got = submit(htg_message(token), rcpt=rcpt)
        check(got[0] == "RCPT" and got[1] == 550 and "HTG-RCPT" in got[2],
              "RCPT to a flow not granted: %r" % (got,))
        ev = events("refuse", "flow", DENIED_FLOW)
    check(len(ev) == before + 1, "refuse events: %r" % ev)
    e = ev[-1]
    check(e.get("session") == "htg-policyd" and e.get("stage") == "RCPT"
          and e.get("rule", "").startswith("HTG-RCPT")
          and e.get("detail", "").startswith("550 ")
          and e.get("remote") == ENV["HTG_HOST"] and e.get("tls") == "TLSv1.3",
          "event: %r" % e)


@test
def account_report_mode_passes_and_audits():
    """In report mode the milter's and the policy daemon's would-be
    refusals pass and are audited as "report"; back in enforce mode the
    same submissions are refused. No reload anywhere."""
    cc_token, flow_token = uuid.uuid4().hex, uuid.uuid4().hex
    with DeniedFlow() as rcpt:
        with ReportMode():
            got = submit(htg_message(cc_token, extra_headers=CC))
            check(got[0] == "ok", "Cc in report mode: %r" % (got,))
            got = submit(htg_message(flow_token), rcpt=rcpt)
            check(got[0] == "ok", "flow not granted, report mode: %r" % (got,))
        ev = [e for e in events("report", "rule", "HTG-HDR-CC")
              if e.get("session") == "htg-milter"]
        check(ev, "milter report events: %r" % ev)
        ev = [e for e in events("report", "flow", DENIED_FLOW)
              if e.get("session") == "htg-policyd"]
        check(ev and ev[-1].get("rule", "").startswith("HTG-RCPT"),
              "policy report events: %r" % ev)
        # the Cc was only reported: the message still left renamed
        cc_msg = fetch(gov_login, cc_token)
        names = [p.get_filename() for p in cc_msg.walk() if p.get_filename()]
        check(names and names[0] != "bericht.xml" and names[0].endswith(".xml"),
              "attachment of the reported message: %r" % names)
        delivered_once(flow_token)
        # enforce again: refused
        expect_reply(submit(htg_message(uuid.uuid4().hex, extra_headers=CC)),
                     550, "5.7.1", "HTG-HDR-CC")
        got = submit(htg_message(uuid.uuid4().hex), rcpt=rcpt)
        check(got[0] == "RCPT" and got[1] == 550, "enforce again: %r" % (got,))
