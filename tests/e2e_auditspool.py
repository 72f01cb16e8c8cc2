"""Audit events the directory did not take are kept on the node and
written later, once (issue 15, bench/README.md "Faults on a multi-node
lab", finding 2; doc/scale.md "What a failure can cost the audit").

The fault hits exactly the window: a test-only trigger in the lab's
PostgreSQL database makes the INSERT of one audit event fail - the event
whose Message-ID carries the test's token, of one kind - while every
other write (the mailbox save, the delivery record, the Message-ID claim)
goes through. That is what a failover between the mail's commit and the
event's commit does to the event. Then:

- Dovecot LMTP's "deliver" event (written after the mailbox save, in the
  commit that marks the delivery record done) lands in the audit spool
  (the pickup journal of the node's state folder); the message is
  delivered once; the event is not in the directory and the delivery
  record stays pending. With the fault gone, the next successful audit
  write on the node (another delivery) applies the spool: the event is
  there exactly once and the record is done - no htgctl involved.
- htg-milter's "submit" event (written after the 250, with the claim's
  settle) likewise; the next submission's event applies it.
- htg-policyd's "refuse" event (a RCPT refused for a flow not granted)
  likewise; its next refusal applies it.
- htgctl audit applies the spool before it lists: the event shows,
  once; htgctl stats (the every-minute timer of an installed node)
  applies it too.

PostgreSQL labs only (the trigger); the spool itself is backend-neutral
and unit-tested on both (lib/test-audit-spool.c).
"""

import glob
import os
import subprocess
import uuid

from htglab import (ENV, test, check, ctl, skip, backend, flow_rcpt,
                    htg_message, submit, wait_until, journal_dir)
from e2e_dovecot import Account, audit, lmtp_deliver
from e2e_sec_milter import delivered_once

TRIGGER = "e2e_auditspool_fault"


def psql(sql):
    r = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1",
                        ENV["HTG_PG_URI"], "-c", sql],
                       capture_output=True, text=True)
    check(r.returncode == 0, "psql: %s" % r.stderr.strip())
    return r.stdout.strip()


class AuditFault:
    """While the block runs, the directory refuses to insert the audit
    event of this kind whose Message-ID contains token (a BEFORE INSERT
    trigger that raises); everything else is written."""

    def __init__(self, event, token, column="message_id"):
        self.event, self.token, self.column = event, token, column

    def __enter__(self):
        check(self.token.isalnum() and self.column in ("message_id", "flow"),
              "test bug: token")
        psql("CREATE OR REPLACE FUNCTION htg.%s() RETURNS trigger "
             "LANGUAGE plpgsql AS $f$ BEGIN "
             "IF NEW.event = '%s' AND strpos(NEW.%s, '%s') > 0 THEN "
             "RAISE EXCEPTION 'e2e_auditspool: fault for %%', NEW.%s; "
             "END IF; RETURN NEW; END $f$; "
             "DROP TRIGGER IF EXISTS %s ON htg.audit; "
             "CREATE TRIGGER %s BEFORE INSERT ON htg.audit FOR EACH ROW "
             "EXECUTE FUNCTION htg.%s()"
             % (TRIGGER, self.event, self.column, self.token, self.column,
                TRIGGER, TRIGGER, TRIGGER))
        return self

    def __exit__(self, *exc):
        self.lift()
        return False

    def lift(self):
        psql("DROP TRIGGER IF EXISTS %s ON htg.audit; "
             "DROP FUNCTION IF EXISTS htg.%s()" % (TRIGGER, TRIGGER))


def in_directory(event, token, column="message_id"):
    """How many events of this kind with token in their Message-ID (or
    flow) the directory holds (read straight from the table: htgctl
    would apply the spool first)."""
    return int(psql("SELECT count(*) FROM htg.audit WHERE event = '%s' AND "
                    "strpos(%s, '%s') > 0" % (event, column, token)))


def spooled(token):
    """The token's event is in a journal slot of the node's state folder
    and the marker says there is something to apply."""
    d = journal_dir()
    if not os.path.exists(os.path.join(d, "audit-spooled")):
        return False
    for slot in glob.glob(os.path.join(d, "[0-9]*")):
        with open(slot, "rb") as f:
            if token.encode() in f.read():
                return True
    return False


def delivery_state(account, msgid):
    return psql("SELECT state FROM htg.deliveries WHERE account = '%s' AND "
                "message_id = convert_to('%s', 'SQL_ASCII')"
                % (account, msgid))


def need_pg():
    if backend() != "postgresql":
        skip("the fault is a PostgreSQL trigger (this lab: %s)" % backend())


@test
def auditspool_deliver_event_kept_and_applied_by_next_delivery():
    """LMTP: the deliver event's commit fails after the mailbox save; the
    message is there once, the event is spooled (not in the directory,
    the delivery record pending); the next delivery on the node applies
    it: exactly once, record done."""
    need_pg()
    a = Account()
    token = uuid.uuid4().hex
    with AuditFault("deliver", token):
        msgid = lmtp_deliver(a.address, token)     # 250: the mail is fine
        # the event was written (or spooled) before LMTP's 250
        check(spooled(token), "deliver event not in the audit spool")
        check(in_directory("deliver", token) == 0,
              "the fault did not hit: the event is in the directory")
        check(delivery_state(a.user, msgid) == "P",
              "delivery record: %r" % delivery_state(a.user, msgid))
        # htgctl cannot apply it either while the fault lasts
        check(not [e for e in audit(a.user, "--event", "deliver")
                   if e["message_id"] == msgid], "listed during the fault")
    # the next audit write on this node (any process) applies the spool
    lmtp_deliver(a.address, uuid.uuid4().hex)
    check(in_directory("deliver", token) == 1,
          "after the next delivery: %d deliver events"
          % in_directory("deliver", token))
    check(delivery_state(a.user, msgid) == "D",
          "delivery record: %r" % delivery_state(a.user, msgid))
    check(not os.path.exists(os.path.join(journal_dir(), "audit-spooled")),
          "the marker stayed")
    p = a.login()
    _, listing, _ = p.list()
    n = 0
    for entry in listing:
        _, lines, _ = p.top(int(entry.split()[0]), 0)
        n += any(token.encode() in l for l in lines if
                 l.lower().startswith(b"message-id:"))
    p.quit()
    check(n == 1, "the message is in the mailbox %d times" % n)
    ev = [e for e in audit(a.user, "--event", "deliver")
          if e["message_id"] == msgid]
    check(len(ev) == 1 and ev[0]["uid"] > 0, "deliver events: %r" % ev)


def submit_with_fault(token):
    """A submission whose submit event the directory refuses: accepted
    (250), delivered once, the event spooled, not in the directory."""
    with AuditFault("submit", token):
        got = submit(htg_message(token))
        check(got[1] == 250, "submission: %r" % (got,))
        # the milter writes it when the transaction has ended (after
        # the 250, in a thread of its own)
        wait_until(lambda: spooled(token), "the submit event spooled",
                   timeout=60)
        check(in_directory("submit", token) == 0,
              "the fault did not hit: the event is in the directory")
        # the mail is fine (and its LMTP delivery, whose deliver event
        # the fault lets through, is over before the fault is lifted)
        delivered_once(token)


@test
def auditspool_submit_event_kept_and_applied_by_next_submission():
    """htg-milter: the submit event's commit (with the claim's settle)
    fails after the 250; the event is spooled; the next submission's
    audit write applies it: exactly once."""
    need_pg()
    token = uuid.uuid4().hex
    submit_with_fault(token)
    check(in_directory("submit", token) == 0, "applied before the next write")
    nxt = uuid.uuid4().hex
    got = submit(htg_message(nxt))
    check(got[1] == 250, "next submission: %r" % (got,))
    wait_until(lambda: in_directory("submit", nxt) == 1,
               "the next submission's event", timeout=60)
    wait_until(lambda: in_directory("submit", token) == 1,
               "the spooled submit event applied", timeout=60)
    delivered_once(nxt)
    ev = [e for e in audit(ENV["HTG_DEMO_USER"], "--event", "submit")
          if token in e["message_id"]]
    check(len(ev) == 1 and ev[0]["queue_id"] and ev[0]["detail"],
          "submit events: %r" % ev)


@test
def auditspool_htgctl_applies_the_spool_before_it_lists():
    """A spooled submit event, the fault gone, no other audit write on the
    node: htgctl audit applies the spool, then lists it, once."""
    need_pg()
    token = uuid.uuid4().hex
    submit_with_fault(token)
    check(in_directory("submit", token) == 0, "applied before htgctl")
    for _ in range(2):      # a second run applies nothing twice
        ev = [e for e in audit(ENV["HTG_DEMO_USER"], "--event", "submit")
              if token in e["message_id"]]
        check(len(ev) == 1, "submit events: %r" % ev)
    check(in_directory("submit", token) == 1, "in the directory: %d"
          % in_directory("submit", token))


@test
def auditspool_htgctl_stats_applies_the_spool():
    """htgctl stats (htg-stats.timer: every minute, as htg) applies the
    spool as well: a spooled event is in the directory after it, once."""
    need_pg()
    token = uuid.uuid4().hex
    submit_with_fault(token)
    check(in_directory("submit", token) == 0, "applied before htgctl")
    r = ctl("stats")
    check(r.returncode == 0, "stats: " + r.stderr)
    check(in_directory("submit", token) == 1, "after htgctl stats: %d"
          % in_directory("submit", token))


@test
def auditspool_policy_refuse_event_kept_and_applied_by_next_refusal():
    """htg-policyd: a RCPT refused (a flow not granted) whose refuse
    event the directory does not take: still refused, the event spooled;
    the next refusal's audit write applies it, once."""
    need_pg()
    token = uuid.uuid4().hex[:12]
    flow = "spool" + token
    to = [l.split("\t")[1] for l in ctl("flow", "list").stdout.splitlines()
          if l.split("\t")[0] == ENV["HTG_DEMO_FLOW"]]
    check(to, "no demo flow")
    r = ctl("flow", "add", flow, "--deliver-to", to[0])
    check(r.returncode == 0, "flow add: " + r.stderr)
    try:
        with AuditFault("refuse", token, column="flow"):
            got = submit(htg_message(uuid.uuid4().hex), rcpt=flow_rcpt(flow))
            check(got[0] == "RCPT" and got[1] == 550 and "HTG-RCPT" in got[2],
                  "RCPT to a flow not granted: %r" % (got,))
            # written (or spooled) before the policy answer
            check(spooled(token), "refuse event not in the audit spool")
            check(in_directory("refuse", token, "flow") == 0,
                  "the fault did not hit: the event is in the directory")
        got = submit(htg_message(uuid.uuid4().hex), rcpt=flow_rcpt(flow))
        check(got[1] == 550, "second RCPT: %r" % (got,))
        check(in_directory("refuse", token, "flow") == 2,
              "refuse events after the next refusal: %d (want 2: the "
              "spooled one and the new one)"
              % in_directory("refuse", token, "flow"))
        ev = [e for e in audit(ENV["HTG_DEMO_USER"], "--event", "refuse")
              if e.get("flow") == flow]
        check(len(ev) == 2 and all(e["session"] == "htg-policyd" for e in ev),
              "refuse events: %r" % ev)
    finally:
        ctl("flow", "del", flow)
