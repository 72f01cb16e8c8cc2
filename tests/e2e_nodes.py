"""More than one machine (issue 15, item 5): a lab of HTG_LAB_NODES nodes
(127.0.1.i, same ports, each its own Postfix, Dovecot, htg-milter and
htg-policyd) on one PostgreSQL directory, with real clients:

- an account made through node i works on every node at once; a grant
  revoked through one is refused on all (lookups are cached until the
  database announces the change: the test waits for that, at most 2 s,
  and says how long it took);
- a Message-ID used through node 1 is refused through node 2;
- POP3 on node 2 for an account homed on node 1 sees its mail (Dovecot
  proxies to the home node), and its DELE leaves one retention record
  and one audit trail, seen from every node;
- mail to an account homed on node 1 that enters at node 3 is stored on
  node 1 (LMTP proxied), once.

Skipped on a one-node lab.
"""

import json
import shlex
import subprocess
import time
import uuid

from htglab import (ENV, test, check, skip, expect_reply, flow_rcpt,
                    htg_message, submit, pop3_login, pop3_find, wait_until,
                    inbound_send)
import htglab

PASSWORD = "Nodes-Test-Pw-1"


def lab_nodes():
    ns = htglab.nodes()
    if len(ns) < 2:
        skip("a one-node lab (HTG_LAB_NODES=3 runs these)")
    return ns


def node_ctl(node, *args, stdin=None):
    return subprocess.run(shlex.split(node.ctl) + list(args), input=stdin,
                          capture_output=True, text=True)


def ok(r, what):
    check(r.returncode == 0, "%s: %s" % (what, r.stderr.strip()))
    return r


class NodeAccount:
    """An account made through node `via` (htgctl there), with one
    address and the demo flow granted; home: a node name or None."""

    def __init__(self, via, home=None):
        self.via = via
        self.token = uuid.uuid4().hex[:10]
        self.user = "n%s@nodes.example" % self.token
        self.sender = "ik%s@nodes.example" % self.token
        self.home = home

    def __enter__(self):
        args = ["account", "add", self.user, "--password-stdin"]
        if self.home:
            args += ["--home", self.home]
        ok(node_ctl(self.via, *args, stdin=PASSWORD + "\n"), "account add")
        ok(node_ctl(self.via, "address", "add", self.sender, self.user),
           "address add")
        ok(node_ctl(self.via, "grant", self.user, ENV["HTG_DEMO_FLOW"]), "grant")
        return self

    def __exit__(self, *exc):
        node_ctl(self.via, "account", "del", self.user)
        return False

    def submit(self, node, token):
        return submit(message(token, sender=self.sender), sender=self.sender,
                      user=self.user, password=PASSWORD, host=node.host)


def message(token, sender=None, msgid=None):
    """An HTG message from sender (default the demo sender), with the
    Message-ID msgid (default one made of the token)."""
    m = htg_message(token)
    if sender:
        m = m.replace("From: <%s>" % ENV["HTG_DEMO_SENDER"], "From: <%s>" % sender, 1)
    if msgid:
        m = m.replace("Message-ID: <%s@client.example>" % token,
                      "Message-ID: %s" % msgid, 1)
    return m


@test
def nodes_account_made_anywhere_works_everywhere():
    ns = lab_nodes()
    with NodeAccount(ns[-1]) as a:
        for n in ns:
            got = a.submit(n, uuid.uuid4().hex)
            check(got[0] == "ok", "%r: submission refused: %r" % (n, got))


@test
def nodes_grant_revoked_on_one_refused_on_all():
    ns = lab_nodes()
    with NodeAccount(ns[0]) as a:
        for n in ns:       # every node has looked it up (cached it)
            check(a.submit(n, uuid.uuid4().hex)[0] == "ok",
                  "%r: refused before the revoke" % n)
        t0 = time.time()
        ok(node_ctl(ns[1], "revoke", a.user, ENV["HTG_DEMO_FLOW"]), "revoke")
        for n in ns:
            got = wait_until(lambda: (lambda g: g if g[0] != "ok" else None)(
                a.submit(n, uuid.uuid4().hex)),
                "%r to refuse the revoked flow" % n, timeout=2)
            expect_reply(got, 550, "5.7.1", "HTG-RCPT-FLOW")
        print("    (all %d nodes refused %.2f s after the revoke)" %
              (len(ns), time.time() - t0))


@test
def nodes_message_id_used_on_one_refused_on_another():
    ns = lab_nodes()
    msgid = "<%s@client.example>" % uuid.uuid4().hex
    got = submit(message(uuid.uuid4().hex, msgid=msgid), host=ns[0].host)
    check(got[0] == "ok", "node 1 refused: %r" % (got,))
    got = submit(message(uuid.uuid4().hex, msgid=msgid), host=ns[1].host)
    expect_reply(got, 550, "5.7.1", "HTG-MSGID")


def audit(node, user):
    r = ok(node_ctl(node, "audit", user, "--json"), "audit")
    return json.loads(r.stdout)


def kept(node, user):
    r = ok(node_ctl(node, "retention", "list", user, "--json"), "retention")
    return json.loads(r.stdout)


@test
def nodes_pop3_on_another_node_proxies_to_home():
    ns = lab_nodes()
    home = "node1"
    with NodeAccount(ns[0], home=home) as a:
        token = uuid.uuid4().hex
        # enters at the last node, is stored on node 1 (LMTP proxied)
        inbound_send(token, a.sender, host=ns[-1].host)

        def seen():
            p = pop3_login(a.user, PASSWORD, host=ns[1].host)
            num = pop3_find(p, token)
            if num is None:
                p.quit()
                return None
            return p, num
        p, num = wait_until(seen, "the message through node 2")
        p.retr(num)
        p.dele(num)
        p.quit()
        # one retention record, one trail, the same from every node
        for n in ns:
            k = wait_until(lambda: kept(n, a.user), "retention record")
            check(len(k) == 1, "%r: retention records: %r" % (n, k))
            ev = [e["event"] for e in audit(n, a.user)
                  if e.get("message_id", "").startswith("<" + token)]
            # (pop3_find's TOP is audited too)
            check(all(ev.count(k) == 1 for k in ("deliver", "retr", "dele")),
                  "%r: audit trail %r" % (n, ev))
        # stored on node 1 only
        import glob
        for n in ns:
            files = glob.glob("%s/%s/**/*" % (n.mail_root, a.user), recursive=True)
            has = any(token in open(f, errors="replace").read()
                      for f in files if not f.endswith("dovecot.index.log")
                      and __import__("os").path.isfile(f))
            check(has == (n.i == 1), "%r: copy on this node: %s" % (n, has))


def send_and_drop(msg, host):
    """Up to the final dot, then the connection closed without reading
    the reply: the client never learns whether it was accepted."""
    s = htglab.smtp_submission(host=host)
    htglab.cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
    htglab.cmd(s, "RCPT TO:<%s>" % flow_rcpt())
    code, _ = htglab.cmd(s, "DATA")
    check(code == 354, "DATA: %d" % code)
    s.send(msg.encode() + b".\r\n")
    s.sock.close()
    s.sock = s.file = None


def home_of(user):
    r = ok(node_ctl(htglab.nodes()[0], "account", "list", "--json"), "list")
    homes = {a["user"]: a.get("home", "") for a in json.loads(r.stdout)}
    return homes.get(user, "")


def gov_copies(token, host):
    p = pop3_login(ENV["HTG_GOV_USER"], ENV["HTG_GOV_PASSWORD"], host=host)
    try:
        n = 0
        for entry in p.list()[1]:
            num = int(entry.split()[0])
            if any(token.encode() in l for l in p.top(num, 40)[1]):
                n += 1
        return n
    finally:
        p.quit()


@test
def nodes_lost_250_retry_through_another_node_not_delivered_twice():
    """A 250 lost on node 1 while the message waits in node 1's queue (the
    government mailbox's home node is stopped: its LMTP is deferred); the
    client retries the same message through node 3: refused, 550
    HTG-MSGID naming node 1's queue id and node 1 (node 1 settled its
    claim from its own queue), never accepted a second time. Once the
    home node is back the message arrives once."""
    ns = lab_nodes()
    home = home_of(ENV["HTG_GOV_USER"])
    check(home.startswith("node") and home not in ("node1", "node3"),
          "the government mailbox is homed on %r" % home)
    token = uuid.uuid4().hex
    msg = message(token)
    r = htglab.lab("node", "stop", home[4:])
    check(r.returncode == 0, "node stop: %s" % r.stderr)
    try:
        send_and_drop(msg, ns[0].host)
        # a 451 while node 1's transaction has not ended: the client
        # tries again, as it would
        got = wait_until(lambda: (lambda g: g if g[1] != 451 else None)(
            submit(msg, host=ns[2].host)), "the retry's verdict", timeout=60)
        expect_reply(got, 550, "5.7.1", "HTG-MSGID")
        check("on node1)" in got[2], "the refusal names node 1: %r" % got[2])
    finally:
        r = htglab.lab("node", "start", home[4:])
        check(r.returncode == 0, "node start: %s" % r.stderr)
    subprocess.run(["postqueue", "-c", ns[0].postfix_config, "-f"],
                   capture_output=True)
    wait_until(lambda: gov_copies(token, ns[0].host) >= 1,
               "the message delivered", timeout=60)
    check(gov_copies(token, ns[0].host) == 1, "delivered more than once")
