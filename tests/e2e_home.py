"""Home nodes (issue 15, item 3): mail storage stays local, users are
routed. Through the lab's real Dovecot:

- doveadm auth lookup/test: an account homed on another node gets the
  proxy fields of that node (POP3: host, the POP3 port, STLS, SASL PLAIN;
  LMTP: host, the LMTP port, protocol lmtp, STARTTLS), one homed on this
  node or without a home gets none, and Postfix's SASL service ("smtp")
  never does (submissions are accepted on any node); LMTP's lookup of an
  owned address or a disabled account routes it too;
- a POP3 login for an account homed on an unreachable node fails with a
  temporary error, and Dovecot goes on serving;
- real proxying, with a second Dovecot started from the lab's rendered
  configuration on 127.0.1.2 as the home node (own certificate from the
  lab CA, own mail storage): mail from the government side through the
  lab's Postfix lands on the home node (LMTP proxied over STARTTLS), POP3
  on the lab's node sees it and DELE leaves one retention record and one
  dele event, made on the home node.

On a multi-node lab (lab.env HTG_NODES with more than one address) the
same is asserted against the lab's own nodes: nodes_pop3_on_any_node_*.
"""

import json
import os
import re
import shutil
import subprocess
import time
import uuid

from htglab import (ENV, test, check, ctl, skip, pop3_login, pop3_find,
                    inbound_send, demo_login, wait_until, host_is_ipv6)
from e2e_dovecot import audit

PASSWORD = "Home-node-test-1"


def doveadm(*args, conf=None):
    return subprocess.run(["doveadm", "-c", conf or ENV["HTG_DOVECOT_CONFIG"]]
                          + list(args), capture_output=True, text=True)


def auth_fields(user, service, password=None):
    """The fields Dovecot's auth answers for user (doveadm auth lookup,
    or auth test with a password), as a dict; None when not found."""
    if password is None:
        r = doveadm("auth", "lookup", "-x", "service=" + service, user)
    else:
        r = doveadm("auth", "test", "-x", "service=" + service, user,
                    password)
    if r.returncode != 0:
        return None
    fields = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s+(\w+)\s*(?::\s*(.*)|=(.*))?$", line)
        if m:
            fields[m.group(1)] = (m.group(2) or m.group(3) or "").strip()
    return fields


class Nodes:
    """Nodes (name -> address) and accounts homed on them while the block
    runs; afterwards the accounts are deleted and the nodes forgotten, so
    that no other test's account gets a home (htgctl account add picks
    one when the directory has nodes)."""

    def __init__(self, nodes, accounts=()):
        self.nodes = nodes
        self.accounts = list(accounts)

    def __enter__(self):
        r = ctl("node", "list", "--json")
        check(r.returncode == 0, "node list: " + r.stderr)
        # a multi-node lab's own nodes stay
        self.had = {n["node"] for n in json.loads(r.stdout)}
        for name, address in self.nodes.items():
            if name in self.had:
                continue
            r = ctl("node", "set", name, address)
            check(r.returncode == 0, "node set: " + r.stderr)
        for user, home in self.accounts:
            r = ctl("account", "add", user, "--password-stdin", "--home",
                    home, stdin=PASSWORD + "\n")
            check(r.returncode == 0, "account add: " + r.stderr)
        return self

    def __exit__(self, *exc):
        for user, _ in self.accounts:
            ctl("account", "del", user)
        for name in self.nodes:
            if name not in self.had:
                ctl("node", "del", name)
        return False


def local_node():
    return {ENV["HTG_NODE"]: ENV["HTG_HOST"]}


def unused_address():
    return "fd00::dead" if host_is_ipv6() else "127.0.1.254"


@test
def home_auth_lookup_proxy_fields_only_for_another_node():
    tag = uuid.uuid4().hex[:8]
    far, here, none = ("far-%s@bedrijf.nl" % tag, "here-%s@bedrijf.nl" % tag,
                       "none-%s@bedrijf.nl" % tag)
    nodes = dict(local_node(), **{"e2e-far": "127.0.1.2"})
    with Nodes(nodes, [(far, "e2e-far"), (here, ENV["HTG_NODE"]),
                       (none, "none")]):
        for f in (auth_fields(far, "pop3"),
                  auth_fields(far, "pop3", PASSWORD)):
            check(f is not None, "lookup of %s failed" % far)
            check(f.get("host") == "127.0.1.2" and
                  f.get("port") == ENV["HTG_POP3_PORT"] and
                  f.get("starttls") == "yes" and
                  f.get("proxy_mech") == "plain" and
                  ("proxy" in f or f.get("proxy_maybe") == "y"),
                  "POP3 proxy fields of %s: %r" % (far, f))
            check(f.get("source_ip") == ENV["HTG_HOST"],
                  "the hop leaves from this node's address: %r" % f)
        f = auth_fields(far, "lmtp")
        check(f is not None and f.get("host") == "127.0.1.2" and
              f.get("port") == ENV["HTG_LMTP_PORT"] and
              f.get("protocol") == "lmtp" and f.get("starttls") == "yes" and
              "proxy" in f, "LMTP proxy fields of %s: %r" % (far, f))
        # Postfix's SASL: submissions are accepted on any node
        f = auth_fields(far, "smtp", PASSWORD)
        check(f is not None and "host" not in f and "proxy" not in f and
              "proxy_maybe" not in f, "smtp got proxy fields: %r" % f)
        # a wrong password is refused before any routing
        check(auth_fields(far, "pop3", "wrong") is None,
              "a wrong password passed")
        for user in (here, none, ENV["HTG_DEMO_USER"]):
            for service in ("pop3", "lmtp"):
                f = auth_fields(user, service)
                check(f is not None and f.get("user") == user,
                      "lookup %s %s: %r" % (service, user, f))
                check(not {"host", "proxy", "proxy_maybe", "port"} & set(f),
                      "%s (%s) got proxy fields: %r" % (user, service, f))
        # LMTP: an owned address routes to its account's home, and a
        # disabled account's mail still goes to its home node
        alias = "alias-%s@bedrijf.nl" % tag
        r = ctl("address", "add", alias, far)
        check(r.returncode == 0, r.stderr)
        f = auth_fields(alias, "lmtp")
        check(f is not None and f.get("user") == far and
              f.get("host") == "127.0.1.2", "lmtp lookup of an address: %r" % f)
        check(auth_fields(alias, "pop3", PASSWORD) is None,
              "an address is no POP3 login")
        ctl("account", "disable", far)
        f = auth_fields(far, "lmtp")
        check(f is not None and f.get("host") == "127.0.1.2",
              "a disabled account's mail is routed home: %r" % f)
        check(auth_fields(far, "pop3", PASSWORD) is None,
              "a disabled account logged in")


@test
def home_pop3_login_for_an_unreachable_home_fails_temporarily():
    far = "gone-%s@bedrijf.nl" % uuid.uuid4().hex[:8]
    nodes = dict(local_node(), **{"e2e-gone": unused_address()})
    logfile = os.path.join(ENV["HTG_LOG_DIR"], "dovecot.log")
    start = os.path.getsize(logfile)
    with Nodes(nodes, [(far, "e2e-gone")]):
        started = time.time()
        try:
            p = pop3_login(far, PASSWORD)
            p.quit()
            check(False, "a login for an unreachable home node succeeded")
        except Exception as e:  # poplib.error_proto: -ERR ...
            text = str(e)
        check("[SYS/TEMP]" in text, "not a temporary error: %r" % text)
        check(time.time() - started < 25, "the failure took %.1f s" %
              (time.time() - started))
        # and Dovecot goes on serving
        p = demo_login()
        p.stat()
        p.quit()
    with open(logfile) as f:
        f.seek(start)
        log = f.read()
    check(not re.search(r"(Panic|Fatal|killed with signal)", log),
          "Dovecot crashed or panicked: " + log[-600:])


@test
def home_lmtp_for_an_unreachable_home_is_deferred():
    """Postfix -> this node's LMTP -> the home node is down: 4xx, the
    message waits in Postfix's queue; nothing is stored on this node."""
    from govside import postqueue
    token = uuid.uuid4().hex
    far = "away-%s@bedrijf.nl" % token[:8]
    nodes = dict(local_node(), **{"e2e-gone": unused_address()})
    with Nodes(nodes, [(far, "e2e-gone")]):
        r = ctl("address", "add", far, far)
        check(r.returncode == 0, "address add: " + r.stderr)
        inbound_send(token, far)

        def deferred():
            for line in postqueue("-j").stdout.splitlines():
                e = json.loads(line) if line.strip() else {}
                for rc in e.get("recipients", []):
                    if rc.get("address") == far and rc.get("delay_reason"):
                        return e["queue_id"], rc["delay_reason"]
            return None
        qid, why = wait_until(deferred, "the delivery deferred")
        try:
            check(re.search(r"\b4\d\d\b", why) is not None,
                  "not a temporary refusal: %r" % why)
            check(not maildir_has(ENV["HTG_MAIL_ROOT"], far, token),
                  "stored on a node that is not its home")
        finally:
            subprocess.run(["postsuper", "-c", ENV["HTG_POSTFIX_CONFIG"],
                            "-d", qid], capture_output=True)


@test
def home_on_this_nodes_address_under_another_name_is_served_here():
    """proxy_maybe: a home node whose address is this node's own (a node
    registered twice, or a wrong node= setting) is served here, not
    proxied to itself (Dovecot compares host and port with the local
    ones)."""
    token = uuid.uuid4().hex
    user = "twin-%s@bedrijf.nl" % token[:8]
    nodes = dict(local_node(), **{"e2e-twin": ENV["HTG_HOST"]})
    with Nodes(nodes, [(user, "e2e-twin")]):
        p = pop3_login(user, PASSWORD)
        p.stat()
        p.quit()
        f = auth_fields(user, "pop3", PASSWORD)
        check(f is not None and f.get("proxy_maybe") == "y",
              "no proxy_maybe for the twin node: %r" % f)


# --- a second node: a Dovecot of its own, from the lab's configuration -------

NODE2 = "127.0.1.2"


def node2_config(d, lab_conf):
    """The lab's dovecot.conf turned into node 2's (127.0.1.2): its own
    base, state, log, certificate, mail storage and node name, the inet
    LMTP listener on, the lab's address trusted (it proxies to us)."""
    host = ENV["HTG_HOST"]
    out = []
    for line in lab_conf.splitlines():
        s = line.strip()
        key = s.split("=", 1)[0].strip() if "=" in s else ""
        ind = line[:len(line) - len(line.lstrip())]
        if key == "instance_name":
            line = "instance_name = htg-node2-%s" % ENV["HTG_POP3_PORT"]
        elif key == "base_dir":
            line = "base_dir = %s/run" % d
        elif key == "state_dir":
            line = "state_dir = %s/state" % d
        elif key == "listen":
            line = "listen = " + NODE2
        elif key in ("log_path", "info_log_path"):
            line = "%s = %s/dovecot.log" % (key, d)
        elif key == "ssl_cert":
            line = "ssl_cert = <%s/node2.pem" % d
        elif key == "ssl_key":
            line = "ssl_key = <%s/node2.key" % d
        elif key == "mail_home":
            line = "mail_home = %s/mail/%%u" % d
        elif key == "login_trusted_networks":
            line = "login_trusted_networks = %s/32" % host
        elif key == "address" and s.endswith(host):
            line = ind + "address = " + NODE2
        elif key == "args" and " node=" in s:
            line = re.sub(r"node=\S+", "node=e2e-node2", line)
        elif key == "port" and s == "port = 0" and out and \
                "inet_listener lmtp" in "\n".join(out[-3:]):
            line = ind + "port = " + ENV["HTG_LMTP_PORT"]
        out.append(line)
    return "\n".join(out) + "\n"


def node2_start(d):
    lab = ENV["HTG_LAB_DIR"]
    os.makedirs(d + "/run", exist_ok=True)
    os.makedirs(d + "/state", exist_ok=True)
    subprocess.run(["install", "-d", "-o", "htg", "-g", "htg", "-m", "0750",
                    d + "/mail"], check=True)
    with open(d + "/ext.cnf", "w") as f:
        f.write("subjectAltName=IP:%s\n" % NODE2)
    for cmd in (["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
                 "/CN=node2", "-keyout", d + "/node2.key", "-out",
                 d + "/node2.csr"],
                ["openssl", "x509", "-req", "-in", d + "/node2.csr", "-CA",
                 lab + "/ssl/ca.pem", "-CAkey", lab + "/ssl/ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", d + "/ext.cnf",
                 "-out", d + "/node2.pem"]):
        subprocess.run(cmd, check=True, capture_output=True)
    os.chmod(d + "/node2.key", 0o600)
    with open(ENV["HTG_DOVECOT_CONFIG"]) as f:
        conf = node2_config(d, f.read())
    with open(d + "/dovecot.conf", "w") as f:
        f.write(conf)
    # output to a file: the daemon would keep a pipe open
    with open(d + "/startup.log", "w") as log:
        r = subprocess.run(["dovecot", "-c", d + "/dovecot.conf"],
                           stdout=log, stderr=log)
    with open(d + "/startup.log") as log:
        check(r.returncode == 0, "node 2 dovecot: " + log.read())

    def up():
        import socket
        try:
            socket.create_connection((NODE2, int(ENV["HTG_POP3_PORT"])),
                                     timeout=1).close()
            socket.create_connection((NODE2, int(ENV["HTG_LMTP_PORT"])),
                                     timeout=1).close()
            return True
        except OSError:
            return False
    wait_until(up, "node 2's POP3 and LMTP listeners")


def node2_stop(d):
    subprocess.run(["dovecot", "-c", d + "/dovecot.conf", "stop"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pidfile = d + "/run/master.pid"
    deadline = time.time() + 10
    while os.path.exists(pidfile) and time.time() < deadline:
        time.sleep(0.1)


def maildir_get(root, user, token):
    """The stored message (bytes) of user under root holding token."""
    for sub in ("new", "cur"):
        p = os.path.join(root, user, "Maildir", sub)
        for name in os.listdir(p) if os.path.isdir(p) else ():
            with open(os.path.join(p, name), "rb") as f:
                data = f.read()
            if token.encode() in data:
                return data
    return None


def maildir_has(root, user, token):
    return maildir_get(root, user, token) is not None


@test
def home_pop3_and_lmtp_proxied_to_a_second_node():
    if host_is_ipv6():
        skip("node 2 needs a second IPv4 loopback address")
    if os.geteuid() != 0:
        skip("starting a Dovecot needs root")
    if len(ENV.get("HTG_NODES", "").split()) > 1:
        skip("a multi-node lab: its own node 2 is there "
             "(nodes_pop3_and_lmtp_on_any_node_reach_the_home_node)")
    d = os.path.join(ENV["HTG_LAB_DIR"], "e2e-node2")
    shutil.rmtree(d, ignore_errors=True)
    token = uuid.uuid4().hex
    user = "homed-%s@bedrijf.nl" % token[:8]
    nodes = dict(local_node(), **{"e2e-node2": NODE2})
    try:
        node2_start(d)
        with Nodes(nodes, [(user, "e2e-node2")]):
            r = ctl("address", "add", user, user)
            check(r.returncode == 0, "address add: " + r.stderr)
            # the government side's mail: Postfix -> this node's LMTP ->
            # proxied to node 2 (STARTTLS, verified), stored there only
            inbound_send(token, user)
            wait_until(lambda: maildir_has(d + "/mail", user, token),
                       "delivery on node 2")
            check(not maildir_has(ENV["HTG_MAIL_ROOT"], user, token),
                  "the mail was stored on the proxying node too")
            with open(d + "/dovecot.log") as f:
                n2log = f.read()
            check(re.search(r"lmtp\(%s\).*saved mail to INBOX" %
                            re.escape(user), n2log),
                  "node 2's LMTP log: " + n2log[-800:])
            # node 2's trace header: the hop came over TLS
            head = maildir_get(d + "/mail", user, token).split(b"\n\n")[0]
            check(re.search(rb"using TLSv1\.3.*\n?.*with LMTPS", head,
                            re.S) is not None,
                  "node 2's Received header: %r" % head[:600])
            # POP3 on this node: proxied to node 2, sees and deletes it
            p = pop3_login(user, PASSWORD)
            num = pop3_find(p, token)
            check(num is not None, "POP3 through the proxy misses the mail")
            p.dele(num)
            p.quit()
            wait_until(lambda: not maildir_has(d + "/mail", user, token),
                       "the DELE applied on node 2")
            r = ctl("retention", "list", user, "--json")
            check(r.returncode == 0, r.stderr)
            kept = json.loads(r.stdout)
            check(len(kept) == 1 and kept[0]["path"].startswith(d + "/mail/"),
                  "one retention record, on node 2: %r" % kept)
            dele = [e for e in audit(user) if e["event"] == "dele"]
            check(len(dele) == 1, "dele events: %r" % dele)
            with open(d + "/dovecot.log") as f:
                n2log = f.read()
            # the pickup ran on node 2, after STLS, with the client's
            # address passed on by XCLIENT (node 2 trusts this node)
            check(re.search(r"pop3-login: Info: Login: user=<%s>.*TLS" %
                            re.escape(user), n2log),
                  "node 2's POP3 login: " + n2log[-800:])
    finally:
        node2_stop(d)
        ctl("retention", "purge", user)
        if os.path.exists(d + "/dovecot.log"):	# for a failure's post-mortem
            shutil.copy(d + "/dovecot.log",
                        os.path.join(ENV["HTG_LOG_DIR"], "e2e-node2.log"))
        shutil.rmtree(d, ignore_errors=True)


# --- a multi-node lab (HTG_LAB_NODES=N: lab.env HTG_NODES) -------------------

def pop3_login_at(host, user, password):
    import base64
    import poplib
    from htglab import TIMEOUT, tls_context
    p = poplib.POP3(host, int(ENV["HTG_POP3_PORT"]), timeout=TIMEOUT)
    p.stls(context=tls_context())
    token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    p._shortcmd("AUTH PLAIN " + token)
    return p


def inbound_send_at(host, token, rcpt):
    import smtplib
    from htglab import TIMEOUT
    s = smtplib.SMTP(host, int(ENV["HTG_INBOUND_PORT"]), timeout=TIMEOUT)
    msg = ("From: <dms-inbox@douane.overheid.nl>\r\nTo: <%s>\r\n"
           "Subject: antwoord %s\r\nMessage-ID: <%s@douane.overheid.nl>\r\n"
           "\r\nAntwoord %s\r\n") % (rcpt, token, token, token)
    s.sendmail("dms-inbox@douane.overheid.nl", [rcpt], msg)
    s.quit()


def lab_nodes():
    """(address, name) of the lab's nodes, in HTG_NODES order; skips on a
    lab with one node or whose nodes are not in the directory."""
    addresses = ENV.get("HTG_NODES", "").split()
    if len(addresses) < 2:
        skip("one node (lab.env HTG_NODES): HTG_LAB_NODES=3 ./htg-lab start")
    r = ctl("node", "list", "--json")
    check(r.returncode == 0, "node list: " + r.stderr)
    by_address = {n["address"]: n["node"] for n in json.loads(r.stdout)}
    missing = [a for a in addresses if a not in by_address]
    if missing:
        skip("the lab registers no node for %s (htgctl node set)" % missing)
    return [(a, by_address[a]) for a in addresses]


@test
def nodes_pop3_and_lmtp_on_any_node_reach_the_home_node():
    (home_addr, home), (other_addr, _) = lab_nodes()[:2]
    token = uuid.uuid4().hex
    user = "roam-%s@bedrijf.nl" % token[:8]
    r = ctl("account", "add", user, "--password-stdin", "--home", home,
            stdin=PASSWORD + "\n")
    check(r.returncode == 0, "account add: " + r.stderr)
    try:
        r = ctl("address", "add", user, user)
        check(r.returncode == 0, "address add: " + r.stderr)
        # the government side's mail reaches node 2; it lands on node 1
        inbound_send_at(other_addr, token, user)

        def seen_at(host):
            p = pop3_login_at(host, user, PASSWORD)
            try:
                return pop3_find(p, token)
            finally:
                p.quit()
        wait_until(lambda: seen_at(home_addr), "the mail on the home node")
        check(seen_at(other_addr) is not None,
              "POP3 on another node misses the mail of an account homed "
              "on %s" % home)
        # DELE through node 2: one retention record, one dele event
        p = pop3_login_at(other_addr, user, PASSWORD)
        num = pop3_find(p, token)
        check(num is not None, "gone before DELE")
        p.dele(num)
        p.quit()
        check(seen_at(home_addr) is None, "still on the home node after DELE")
        r = ctl("retention", "list", user, "--json")
        check(r.returncode == 0 and len(json.loads(r.stdout)) == 1,
              "retention records: " + r.stdout + r.stderr)
        dele = [e for e in audit(user) if e["event"] == "dele"]
        check(len(dele) == 1, "dele events: %r" % dele)
    finally:
        ctl("retention", "purge", user)
        ctl("account", "del", user)
