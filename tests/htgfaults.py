#!/usr/bin/env python3
"""htgfaults.py - faults under load on a multi-node lab, with accounting
(issue 15, items 5 and 6).

usage:
  tests/htgfaults.py --env LAB_ENV [--scenario node-kill|pg-failover|all]
                     [--clients N] [--rounds R] [--per-phase M]
                     [--drain-timeout S] [--json FILE]

Against a running HTG_LAB_NODES=3 HTG_DIRECTORY_BACKEND=postgresql lab (as
root: it kills and starts nodes and PostgreSQL servers with ./htg-lab).
tests/test-lab-nodes.py runs the short version on its own lab inside
"./htg-lab check"; the long version (more clients, repeated kills) is the
command in bench/README.md.

The load: N client threads, real clients (smtplib: STARTTLS, AUTH PLAIN as
the demo account), each submitting HTG-conformant messages (a unique
Message-ID each, htglab.htg_message) to the demo flow, whose government
mailbox (douane@overheid.nl) lives on node 2. Client i starts each message
on node (i + n) mod 3; on a refused connection, a timeout, a dropped
session or any 4xx it tries the SAME message on the next node, as a client
with several MX hosts would (after a full round of nodes it waits 0.2 s);
it stops at a 250 (accepted) or a 5xx (refused). Every reply is recorded
with its time and node.

Scenario node-kill (per round): load until M messages are accepted;
"node kill 2" (SIGKILL of every process of the government mailbox's home
node: mail for it queues on nodes 1 and 3); load until M more are accepted
(clients fail over); "node start 2"; load until node 2 has accepted one
again and M more are accepted. Then the clients stop and the lab drains.

Scenario pg-failover: load until M are accepted; "pg stop" (the
primary, fast shutdown); the outage lasts until every client has seen at
least two failed attempts (at least 2 N); "pg promote" (the standby); load
until M more are accepted, no node restarted; "pg start" (the old primary
comes back as the standby) after the clients stop. The outage window is
[pg stop returned, pg promote started]: no server takes writes then, so
every reply in it must be a 4xx or a connection failure; a 250 in it is a
failure of its own ("accepted while the directory was down"). Measured:
time from "pg promote" returning to the first 250.

Drain: "postqueue -f" on every node (a node that comes back is not
retried before the other nodes' backoff, minimal_backoff_time 300 s;
the flush is the operator's "the node is back"), then wait until every
node's queue is empty (postqueue -j) and every accepted message has been
delivered, or --drain-timeout.

Accounting, per scenario (tests/htgaccount.py; the pass condition: 0 lost,
0 duplicated, 0 unchecked, 0 refused, no 250 during an outage):
  accepted     messages answered 250 (on some node)
  refused      messages answered 5xx (valid messages: should be 0)
  delivered    accepted messages in the government mailbox exactly once
  lost         accepted, in no mailbox after the drain
  duplicated   in a mailbox more than once (Maildir files, every node), or
               more than one "deliver" audit event for the Message-ID
  misrouted    in a mailbox other than douane@overheid.nl on node 2
  unchecked    delivered, but without having passed htg-milter: no
               Message-ID claim of the demo account for it in the
               directory (htg.msgids; the milter writes it at end of
               message, in its own commit, before Postfix may answer 250;
               with the directory down it cannot, and tempfails), or the
               delivered copy still names the client's file
               (filename="bericht.xml": the milter renames every
               attachment); also a delivered message never answered 250
  reused       (reported) messages whose 250 was lost in the fault (the
               session broke after DATA) and whose retry was refused 550
               5.7.1 HTG-MSGID "already used by this account (accepted as
               queue id Q)": correct (the first attempt took the
               Message-ID) when the message is delivered exactly once and
               that copy is queue id Q's (its Received: line); otherwise
               the refusal counts as refused
  blocked      (reported) messages given up after 3 retries answered 451
               4.7.1 HTG-MSGID "being accepted right now": a claim left
               pending by the fault (bench/README.md finding 6); one that
               is delivered anyway (its 250 lost) is "delivered
               unacknowledged", reported, not unchecked
  audit        accepted messages with no "deliver" audit event, or (reported,
               not a failure) no "submit" audit event: the milter writes
               that one when the SMTP transaction ends, after the 250, so a
               node killed in between loses it (doc/milter.md)
  pop3         the government mailbox's message count over POP3 through
               node 1 (proxied to node 2) equals its Maildir file count
"""

import argparse
import json
import os
import re
import smtplib
import ssl
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import htglab  # noqa: E402
from htgaccount import (FaultError, account, failed, report,  # noqa: E402
                        mailbox_copies)
from htglab import ENV  # noqa: E402

CONNECT_TIMEOUT = 15      # above Dovecot auth's connect_timeout=2 per server
# htg-milter's refusal of a Message-ID already accepted (milter-claim.c)
REUSE_RE = re.compile(r"HTG-MSGID: Message-ID already used by this account "
                      r"\(accepted as queue id ([0-9A-Za-z]+)")


def now():
    return time.time()


# --- one submission attempt ------------------------------------------------------

def attempt(host, message):
    """One SMTP session on host: ('ok', 250, text), ('4xx'|'5xx', code,
    text) or ('conn', 0, what) for a refused/timed-out/dropped session."""
    s = None
    try:
        s = smtplib.SMTP(host, int(ENV["HTG_SUBMISSION_PORT"]),
                         timeout=CONNECT_TIMEOUT)
        s.ehlo("client.example")
        s.starttls(context=htglab.tls_context())
        s.ehlo("client.example")
        s.user, s.password = ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_PASSWORD"]
        try:
            s.auth("PLAIN", s.auth_plain)
        except smtplib.SMTPAuthenticationError as e:
            kind, code, text = classify(e.smtp_code, e.smtp_error)
            # the password is right: a 5xx here is the gateway's fault;
            # the client retries it, and it is counted apart
            return ("auth5xx" if kind == "5xx" else kind), code, text
        for line in ("MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"],
                     "RCPT TO:<%s>" % htglab.flow_rcpt()):
            code, msg = s.docmd(line)
            if code != 250:
                return classify(code, msg)
        code, msg = s.data(message.encode())
        return classify(code, msg)
    except smtplib.SMTPResponseException as e:
        return classify(e.smtp_code, e.smtp_error)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as e:
        return "conn", 0, "%s: %s" % (type(e).__name__, e)
    finally:
        if s is not None:
            try:
                s.quit()
            except Exception:
                try:
                    s.close()
                except Exception:
                    pass


def classify(code, msg):
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else str(msg)
    if code == 250:
        return "ok", code, text
    if 400 <= code < 500:
        return "4xx", code, text
    if 500 <= code < 600:
        return "5xx", code, text
    return "conn", code, text       # e.g. -1: a dropped session


# --- the load ---------------------------------------------------------------------

class Load:
    """N client threads submitting until stop(); every attempt recorded:
    replies[i] = (reply time, client, token, node index, kind, code, text,
    time sent)."""

    def __init__(self, clients, run):
        self.hosts = [n.host for n in htglab.nodes()]
        self.run = run
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.replies = []
        self.accepted = {}          # token -> (time, node index)
        self.refused = {}           # token -> (code, text)
        self.offered = []
        self.blocked = []           # retries refused by a pending claim
        self.reused = {}            # token -> (queue id, node, code, text)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
                        for i in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()

    def client(self, i):
        n = 0
        while not self.stopping.is_set():
            token = "flt%s%02dx%05d" % (self.run, i, n)
            message = htglab.htg_message(token)
            with self.lock:
                self.offered.append(token)
            node, tries, pending = (i + n) % len(self.hosts), 0, 0
            ambiguous = False       # an attempt whose outcome we never saw
            while True:
                t_sent = now()
                kind, code, text = attempt(self.hosts[node], message)
                reuse = REUSE_RE.search(text) if kind == "5xx" else None
                if reuse and ambiguous:
                    # the reply to an earlier attempt was lost (after its
                    # DATA): that attempt took the Message-ID; account()
                    # checks the delivered copy is that queue id's
                    kind = "reuse"
                with self.cond:
                    self.replies.append((now(), i, token, node, kind, code, text,
                                         t_sent))
                    if kind == "reuse":
                        self.reused[token] = (reuse.group(1), node, code, text)
                    if kind == "ok":
                        self.accepted[token] = (now(), node)
                    elif kind == "5xx":
                        self.refused[token] = (code, text)
                    self.cond.notify_all()
                if kind in ("ok", "5xx", "reuse"):
                    break
                if kind == "conn":
                    ambiguous = True
                if kind == "4xx" and "is being accepted right now" in text:
                    pending += 1
                    if pending >= 3:
                        # a claim left pending (bench/README.md finding
                        # 6) holds this Message-ID for an hour: counted,
                        # and the client goes on with its next message
                        with self.lock:
                            self.blocked.append(token)
                        break
                node, tries = (node + 1) % len(self.hosts), tries + 1
                if tries % len(self.hosts) == 0:
                    time.sleep(0.2)
            n += 1

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join()

    def wait(self, pred, what, timeout):
        """Block until pred() (called with the lock held) is true."""
        deadline = now() + timeout
        with self.cond:
            while not pred():
                left = deadline - now()
                if left <= 0:
                    raise FaultError("timed out (%d s) waiting for %s" % (timeout, what))
                self.cond.wait(min(left, 1.0))

    def wait_accepted(self, more, what, timeout, node=None, since=None):
        base = len(self.accepted)
        since = since or now()

        def done():
            if len(self.accepted) < base + more:
                return False
            return node is None or any(t >= since and n == node
                                       for t, n in self.accepted.values())
        self.wait(done, what, timeout)


# --- the lab ------------------------------------------------------------------------

AUTH_MODULE = "/usr/lib/dovecot/modules/auth/libauthdb_htg.so"


def check_auth_module():
    """Dovecot loads auth drivers only from its own module directory, one
    file for every lab on the machine (htg-lab installs it at start): a
    node started after another worktree's lab start would load that
    lab's passdb (node 2's auth then dies at start: "one directory per
    auth process"). Says so; "htg-lab node start" installs the lab's."""
    mine = os.path.join(ENV["HTG_LAB_DIR"], "prefix/lib/dovecot/modules/auth",
                        os.path.basename(AUTH_MODULE))
    try:
        with open(mine, "rb") as a, open(AUTH_MODULE, "rb") as b:
            same = a.read() == b.read()
    except OSError:
        return      # not installed this way: nothing to compare
    if not same:
        # "htg-lab node start" puts this lab's back; a running auth
        # process keeps the module it loaded
        print("   note: %s is another lab's (started since this one); node "
              "start installs this lab's again" % AUTH_MODULE, flush=True)


def lab_cmd(*args):
    t0 = now()
    r = htglab.lab(*args)
    if r.returncode != 0:
        raise FaultError("htg-lab %s: %s" % (" ".join(args), r.stderr.strip()))
    return t0, now()


def queue_sizes():
    """Messages in each live node's Postfix queue (None: node down)."""
    sizes = []
    for n in htglab.nodes():
        r = subprocess.run(["postqueue", "-c", n.postfix_config, "-j"],
                           capture_output=True, text=True)
        sizes.append(len([l for l in r.stdout.splitlines() if l.strip()])
                     if r.returncode == 0 else None)
    return sizes


def flush_queues():
    for n in htglab.nodes():
        subprocess.run(["postqueue", "-c", n.postfix_config, "-f"],
                       capture_output=True)


FLUSH = True        # --no-flush: leave deferred mail to Postfix's backoff


def drain(load, timeout):
    """Flush, then wait until every queue is empty and every accepted
    message is in a mailbox (or timeout): seconds taken."""
    t0 = now()
    if FLUSH:
        flush_queues()
    prefix = "flt" + load.run
    while True:
        sizes = queue_sizes()
        if all(s == 0 for s in sizes):
            copies = mailbox_copies(prefix)
            if all(t in copies for t in load.accepted):
                return now() - t0
        if now() - t0 > timeout:
            hung = subprocess.run(["pgrep", "-fc", r"/lmtp \[local DATA proxying"],
                                  capture_output=True, text=True).stdout.strip()
            print("   drain timed out after %d s: queues %r, Dovecot LMTP "
                  "proxies waiting in DATA: %s" % (timeout, sizes, hung), flush=True)
            return None
        time.sleep(0.5)
        if FLUSH and int(now() - t0) % 10 == 0:
            flush_queues()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t - 2))


# --- the scenarios --------------------------------------------------------------------

def node_kill(clients, rounds, per_phase, drain_timeout, phase_timeout=120):
    """Returns (accounting, failures)."""
    check_auth_module()
    load = Load(clients, uuid.uuid4().hex[:8])
    started = iso(now())
    outages, dead = [], []
    load.start()
    try:
        load.wait_accepted(per_phase, "first accepts", phase_timeout)
        for r in range(rounds):
            t_kill, t_killed = lab_cmd("node", "kill", "2")
            # down until every client has failed over from node 2 and
            # per_phase more were accepted
            load.wait(lambda: len({r[1] for r in load.replies if r[0] >= t_killed
                                   and r[3] == 1 and r[4] == "conn"}) == clients,
                      "every client failing over from node 2", phase_timeout)
            load.wait_accepted(per_phase, "accepts with node 2 down", phase_timeout)
            t_start, t_up = lab_cmd("node", "start", "2")
            # counted from the kill until node 2 is up; the 250s of
            # nodes 1 and 3 are expected then (no "strict" window), a
            # 250 of node 2 between the kill's end and the start is not
            outages.append(("node 2 down (round %d)" % (r + 1), t_kill, t_up,
                            t_up, t_kill))
            dead.append((t_killed, t_start))
            load.wait_accepted(per_phase, "accepts with node 2 back", phase_timeout,
                               node=1, since=t_up)
    finally:
        load.stop()
        htglab.lab("node", "start", "2")    # whatever happened: back up
    d = drain(load, drain_timeout)
    acc = account(load, started, outages, d)
    # outages of a node: 250s from the other nodes are expected; a
    # 250 from node 2 while it was dead cannot be
    for (t_from, t_to), w in zip(dead, acc["outages"]):
        w["250_from_dead_node"] = sum(1 for r in load.replies
                                      if t_from <= r[0] <= t_to and r[3] == 1
                                      and r[4] == "ok")
    bad = failed(acc, strict_outage=False)
    bad += ["250 from the dead node 2" for w in acc["outages"]
            if w["250_from_dead_node"]]
    report("node-kill (%d clients, %d rounds)" % (clients, rounds), acc,
           "; 250s from node 2 while it was dead: %d" % sum(
               w["250_from_dead_node"] for w in acc["outages"]))
    return acc, bad


def pg_failover(clients, per_phase, drain_timeout, phase_timeout=120):
    check_auth_module()
    load = Load(clients, uuid.uuid4().hex[:8])
    started = iso(now())
    load.start()
    acc_extra = ""
    try:
        load.wait_accepted(per_phase, "first accepts", phase_timeout)
        t_stop, t_down = lab_cmd("pg", "stop")
        # the outage lasts until every client has failed twice
        load.wait(lambda: sum(1 for r in load.replies if r[0] >= t_down
                              and r[4] != "ok") >= 2 * clients,
                  "failed attempts during the outage", phase_timeout)
        t_promote, t_promoted = lab_cmd("pg", "promote")
        load.wait_accepted(per_phase, "accepts after the promotion", phase_timeout)
        first = min(t for t, _ in load.accepted.values() if t >= t_promoted)
        acc_extra = "; promote took %.1f s, first 250 %.2f s after it" % (
            t_promoted - t_promote, first - t_promoted)
    finally:
        load.stop()
    lab_cmd("pg", "start")      # the old primary: the standby again
    d = drain(load, drain_timeout)
    stale = revoke_seen_everywhere()
    # counted: from "pg stop" to the first 250 after the promotion; no
    # 250 at all between the stop's end and the promotion's start
    acc = account(load, started, [("PostgreSQL primary down", t_stop, first,
                                   t_down, t_promote)], d)
    acc["first_250_after_promote_s"] = round(first - t_promoted, 2)
    bad = failed(acc, strict_outage=True)
    bad += stale
    report("pg-failover (%d clients)" % clients, acc, acc_extra)
    return acc, bad


def revoke_seen_everywhere(timeout=2.0):
    """After a failover: every node's cached lookups still follow the
    directory's change notifications (a listener left on the old primary
    would keep a revoked grant alive). An account made through node 1,
    looked up (and cached) by every node, its flow revoked through node 2:
    every node refuses within timeout s (the contract of e2e_nodes.py's
    nodes_grant_revoked_on_one_refused_on_all). Returns the failures."""
    import e2e_nodes
    ns = htglab.nodes()
    bad = []

    def try_submit(a, n):
        try:
            return a.submit(n, uuid.uuid4().hex)
        except smtplib.SMTPResponseException as e:
            return "AUTH", e.smtp_code, str(e.smtp_error)
        except (OSError, smtplib.SMTPException) as e:
            return "conn", 0, str(e)
    with e2e_nodes.NodeAccount(ns[0]) as a:
        for n in ns:
            got = try_submit(a, n)
            if got[0] != "ok":
                bad.append("%r refused before the revoke: %r" % (n, got))
        if bad:
            return bad
        t0 = now()
        r = e2e_nodes.node_ctl(ns[1], "revoke", a.user, ENV["HTG_DEMO_FLOW"])
        if r.returncode != 0:
            return ["revoke: %s" % r.stderr.strip()]
        for n in ns:
            while True:
                got = try_submit(a, n)
                if got[0] != "ok":
                    if got[1] != 550 or "HTG-RCPT-FLOW" not in got[2]:
                        bad.append("%r: %r after the revoke" % (n, got))
                    break
                if now() - t0 > timeout:
                    bad.append("%r still accepts the revoked flow %.1f s after "
                               "the revoke (a stale cache)" % (n, now() - t0))
                    break
                time.sleep(0.1)
        print("   after the failover: revoke through node 2 refused on all "
              "nodes %.2f s after it%s" % (now() - t0, "" if not bad else
                                           " (FAILED)"), flush=True)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", required=True)
    ap.add_argument("--scenario", default="all",
                    choices=("node-kill", "pg-failover", "all"))
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1, help="node kills")
    ap.add_argument("--per-phase", type=int, default=10)
    ap.add_argument("--drain-timeout", type=int, default=90)
    ap.add_argument("--no-flush", action="store_true",
                    help="no postqueue -f at the drain (deferred mail waits "
                    "for minimal_backoff_time)")
    ap.add_argument("--json")
    a = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("htgfaults.py: run as root (it kills nodes)")
    htglab.load_env(a.env)
    global FLUSH
    FLUSH = not a.no_flush
    if len(htglab.nodes()) < 3 or htglab.backend() != "postgresql":
        sys.exit("htgfaults.py: needs HTG_LAB_NODES=3 HTG_DIRECTORY_BACKEND=postgresql")
    out, bad = {}, []
    if a.scenario in ("node-kill", "all"):
        out["node-kill"], b = node_kill(a.clients, a.rounds, a.per_phase,
                                        a.drain_timeout)
        bad += b
    if a.scenario in ("pg-failover", "all"):
        out["pg-failover"], b = pg_failover(a.clients, a.per_phase,
                                            a.drain_timeout)
        bad += b
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    print("FAIL: " + "; ".join(bad) if bad else "PASS: 0 lost, 0 duplicated, "
          "0 unchecked, 0 refused")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
