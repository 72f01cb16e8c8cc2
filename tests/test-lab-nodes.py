#!/usr/bin/env python3
"""test-lab-nodes.py - the multi-node lab: three nodes and a PostgreSQL
primary with its standby, brought up, crashed, stopped (issue 15 item 4).

usage: tests/test-lab-nodes.py          (as root; ~65 s)

Starts HTG_LAB_NODES=3 HTG_DIRECTORY_BACKEND=postgresql ./htg-lab start on
a lab of its own (HTG_NODES_TEST_LAB_DIR, default build/lab-nodes) and
ports of its own (HTG_NODES_TEST_SUBMISSION_PORT 22587, _POP3_PORT 22110,
_INBOUND_PORT 22025, _PG_PORT 22543, standby +1), then checks with real
clients and /proc:

- every component of every node opens the one directory: the URI with
  user htg's passfile, Dovecot's passdb/userdb the URI with user dovecot's;
  each node's state directory (HTG_STATE_DIR, htg_state_dir) is its own;
- every node's submission (STARTTLS with a certificate valid for the
  node's address, AUTH as the demo account), POP3 and inbound ports answer
  on its own address, and each node runs its own Postfix and Dovecot;
- the PostgreSQL cluster: scram logins of role htg with the passfile of
  user htg and of user dovecot (each 0600, its own), nobody else's, the
  standby streams synchronously, the servers listen on 127.0.0.1 only;
- node kill 2: every process of node 2 dies at once (SIGKILL: no clean
  shutdown in its logs), nodes 1 and 3 keep answering; node start 2 brings
  it back; node stop 2 stops it cleanly;
- pg stop / promote / start: writes go to the promoted standby, a row
  written before the stop is there, and the old primary comes back as a
  standby that has the rows written after the promotion; the same again
  with pg kill (SIGKILL) instead of pg stop;
- three nodes on LMDB are refused;
- faults under load with accounting (tests/htgfaults.py, short): node 2
  killed and started again, the PostgreSQL primary stopped and the standby
  promoted, clients failing over between the nodes: 0 lost, 0 duplicated,
  0 unchecked, 0 refused, no 250 while no server took writes (~35 s);
- stop: no process of the lab is left (no postgres, no Postfix master).

Until the PostgreSQL directory backend is built in (htgctl links libpq),
the nodes share the lab's LMDB directory through the test-only switch
HTG_LAB_TEST_SHARED_LMDB; the cluster is tested all the same. Ends with
"N passed, N failed".
"""

import os
import poplib
import pwd
import smtplib
import socket
import ssl
import stat
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests"))
import htglab  # noqa: E402
from htglab import ENV  # noqa: E402

LAB = os.path.abspath(os.environ.get("HTG_NODES_TEST_LAB_DIR",
                                     os.path.join(TOP, "build/lab-nodes")))
PORTS = {k: os.environ.get("HTG_NODES_TEST_%s_PORT" % k, d) for k, d in
         (("SUBMISSION", "22587"), ("POP3", "22110"), ("INBOUND", "22025"),
          ("PG", "22543"))}
PASSED = FAILED = 0


def lab_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HTG_")}
    env.update(HTG_LAB_DIR=LAB, HTG_LAB_NODES="3",
               HTG_DIRECTORY_BACKEND="postgresql",
               HTG_SUBMISSION_PORT=PORTS["SUBMISSION"],
               HTG_POP3_PORT=PORTS["POP3"], HTG_INBOUND_PORT=PORTS["INBOUND"],
               HTG_GOV_SMTP_PORT=str(int(PORTS["INBOUND"]) + 1),
               HTG_PG_PORT=PORTS["PG"])
    return env


def htg_lab(*args, env=None):
    return subprocess.run([os.path.join(TOP, "htg-lab")] + list(args),
                          env=env or lab_env(), capture_output=True, text=True)


def result(name, fn):
    global PASSED, FAILED
    t0 = time.time()
    try:
        fn()
        print("ok   %s (%.1f s)" % (name, time.time() - t0), flush=True)
        PASSED += 1
    except Exception as e:
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
        FAILED += 1


def check(cond, what):
    if not cond:
        raise AssertionError(what)


# --- processes, from /proc ---------------------------------------------------------

def proc_read(pid, name):
    try:
        with open("/proc/%s/%s" % (pid, name), "rb") as f:
            return f.read()
    except OSError:
        return b""


def proc_state(pid):
    """(state letter, parent pid) or None when gone."""
    st = proc_read(pid, "stat").decode(errors="replace")
    if not st:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def live(pid):
    s = proc_state(pid)
    return s is not None and s[0] != "Z"


def pids_naming(path):
    """Live processes whose command line names something under path, or
    whose MAIL_CONFIG (Postfix's) is under it, and all their descendants."""
    needle = path.encode()
    roots, parent, mine = set(), {}, set()
    pid = os.getpid()
    while pid > 1:              # this test and the shells that run it
        mine.add(pid)
        pid = (proc_state(pid) or ("", 0))[1]
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in mine:
            continue
        s = proc_state(pid)
        if s is None:
            continue
        parent[int(pid)] = s[1]
        if needle in proc_read(pid, "cmdline") or \
                b"MAIL_CONFIG=" + needle in proc_read(pid, "environ"):
            roots.add(int(pid))
    found, grew = set(roots), True
    while grew:
        grew = False
        for pid, pp in parent.items():
            if pid not in found and pp in found:
                found.add(pid)
                grew = True
    return {p for p in found if live(p)}


def comm(pid):
    return proc_read(pid, "comm").decode().strip()


# --- clients ------------------------------------------------------------------------

def answers(host, port):
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        return True
    except OSError:
        return False


def node_answers(node):
    """Submission with TLS and AUTH, POP3 greeting, inbound greeting."""
    s = htglab.smtp_submission(host=node.host)
    s.quit()
    p = poplib.POP3(node.host, int(ENV["HTG_POP3_PORT"]), timeout=10)
    check(p.getwelcome().startswith(b"+OK"), "%s: POP3 greeting" % node)
    p.quit()
    # the government side (the lab's clients connect from 127.0.0.1)
    s = smtplib.SMTP(node.host, int(ENV["HTG_INBOUND_PORT"]), timeout=10)
    code, _ = s.mail("dms-inbox@douane.overheid.nl")
    check(code == 250, "%s: inbound MAIL %d" % (node, code))
    code, text = s.rcpt(ENV["HTG_DEMO_LOGICAL"])
    check(code == 250, "%s: inbound RCPT %d %s" % (node, code, text))
    s.rset()
    s.quit()


def node_ports_closed(node):
    for k in ("HTG_SUBMISSION_PORT", "HTG_POP3_PORT", "HTG_INBOUND_PORT"):
        check(not answers(node.host, ENV[k]), "%s: %s still answers" % (node, k))


def psql(uri, sql, user="htg"):
    return subprocess.run(["runuser", "-u", user, "--", "psql", uri, "-XAtw",
                           "-c", sql], capture_output=True, text=True, cwd="/")


def sql_ok(uri, query, user="htg"):
    r = psql(uri, query, user)
    check(r.returncode == 0, "psql as %s: %s" % (user, r.stderr.strip()))
    return r.stdout.strip()


def server_uri(port):
    """The htg role's URI to one server (read-only allowed)."""
    return "postgresql://htg@127.0.0.1:%s/htg?passfile=%s/pgpass/htg" % (port, LAB)


# --- the tests ----------------------------------------------------------------------

def t_start():
    htg_lab("stop")
    # a fresh cluster: the primary on HTG_PG_PORT (a run before may have
    # left the roles swapped)
    subprocess.run(["rm", "-rf", os.path.join(LAB, "pg"), os.path.join(LAB, "pgpass")])
    r = htg_lab("start")
    if r.returncode != 0 and "no PostgreSQL directory backend" in r.stderr:
        # not built in yet: the nodes share the LMDB directory (test only)
        env = lab_env()
        env["HTG_LAB_TEST_SHARED_LMDB"] = "yes"
        r = htg_lab("start", env=env)
    check(r.returncode == 0, "start: %s%s" % (r.stdout[-800:], r.stderr[-800:]))
    htglab.load_env(os.path.join(LAB, "lab.env"))
    print("     (directory: %s)" % ENV["HTG_DIRECTORY"].split("?")[0])


def t_env():
    check(ENV["HTG_NODES"] == "127.0.1.1 127.0.1.2 127.0.1.3",
          "HTG_NODES: %r" % ENV.get("HTG_NODES"))
    ns = htglab.nodes()
    check([n.host for n in ns] == ENV["HTG_NODES"].split(), "nodes(): %r" % ns)
    check(ENV["HTG_HOST"] == "127.0.1.1", "HTG_HOST is node 1")
    check(len({n.dir for n in ns}) == 3 and len({n.mail_root for n in ns}) == 3,
          "each node has its own directory and mail root")
    check(ENV["HTG_DIRECTORY_BACKEND"] == "postgresql", "backend")


def t_nodes_answer():
    for n in htglab.nodes():
        node_answers(n)
    # only on the nodes' addresses
    check(not answers("127.0.1.4", ENV["HTG_SUBMISSION_PORT"]), "127.0.1.4 answers")
    check(not answers("127.0.0.1", ENV["HTG_SUBMISSION_PORT"]), "127.0.0.1 answers")
    # each node its own Postfix (own queue) and Dovecot (own base_dir)
    for n in htglab.nodes():
        r = subprocess.run(["postconf", "-c", n.postfix_config, "-h",
                            "queue_directory"], capture_output=True, text=True)
        check(r.stdout.strip() == n.dir + "/spool/postfix", "%s queue" % n)
        masters = [p for p in pids_naming(n.dir + "/") if comm(p) == "master"]
        check(len(masters) == 1, "%s: one Postfix master, got %r" % (n, masters))


def conf_values(path, key):
    """Values of 'key = value' lines of a config file (stripped)."""
    out = []
    for line in open(path):
        k, eq, v = line.strip().partition("=")
        if eq and k.strip() == key:
            out.append(v.strip())
    return out


def t_directory_settings():
    """Every component of every node opens the same directory: the URI
    (passfile of user htg), Dovecot's auth process the URI with user
    dovecot's passfile; each node's own state directory."""
    shared = not ENV["HTG_DIRECTORY"].startswith("postgresql://")
    d = ENV["HTG_DIRECTORY"]
    auth = d if shared else ENV["HTG_PG_AUTH_URI"]
    check(shared or d == ENV["HTG_PG_URI"], "HTG_DIRECTORY is the URI")
    check(("-d %s " % d) in ENV["HTG_CTL"] + " ", "HTG_CTL -d")
    for n in htglab.nodes():
        etc = os.path.join(n.dir, "etc")
        for f in ("htg-milter.conf", "htg-policyd.conf"):
            check(conf_values(os.path.join(etc, f), "directory") == [d], "%s %s" % (n, f))
        dc = n.dovecot_config
        # the passdb's args: the directory, then node=, pop3_port=,
        # lmtp_port= (home nodes: htg-route(3)); the userdb's: the directory
        args = [a.split()[0] for a in conf_values(dc, "args")]
        check(args == [auth, auth], "%s passdb/userdb args: %r" % (n, args))
        check(any(("node=node%d" % n.i) in a for a in conf_values(dc, "args")),
              "%s passdb args name the node" % n)
        check(conf_values(dc, "htg_directory") == [d], "%s htg_directory" % n)
        lab_conf = os.path.join(os.path.dirname(dc), "dovecot-lab.conf")
        check(conf_values(lab_conf, "htg_state_dir") == [n.dir + "/state"],
              "%s htg_state_dir" % n)
        master_cf = open(os.path.join(n.postfix_config, "master.cf")).read()
        check(master_cf.count(" -d %s " % d) == 2, "%s master.cf pipes" % n)
        for p in pids_naming(n.dir + "/"):
            if comm(p) in ("htg-milter", "htg-policyd"):
                check(("HTG_STATE_DIR=%s/state" % n.dir).encode() in
                      proc_read(p, "environ").split(b"\0"), "%s %s env" % (n, comm(p)))


def t_pg_auth():
    uri, auth_uri = ENV["HTG_PG_URI"], ENV["HTG_PG_AUTH_URI"]
    check(sql_ok(uri, "SELECT current_user, pg_is_in_recovery()") == "htg|f",
          "htg's URI reaches the primary as role htg")
    check(sql_ok(auth_uri, "SELECT current_user", "dovecot") == "htg",
          "dovecot's URI")
    for user, f in (("htg", "htg"), ("dovecot", "dovecot")):
        st = os.stat(os.path.join(LAB, "pgpass", f))
        check(stat.S_IMODE(st.st_mode) == 0o600 and
              st.st_uid == pwd.getpwnam(user).pw_uid, "passfile of %s" % user)
    # somebody else's passfile, or none: no login (libpq reads only the
    # reading user's own 0600 file; the server trusts nobody)
    check(psql(uri, "SELECT 1", "dovecot").returncode != 0, "dovecot with htg's passfile")
    check(psql(uri, "SELECT 1", "nobody").returncode != 0, "nobody logs in")
    check(psql("postgresql://postgres@127.0.0.1:%s/postgres" % PORTS["PG"], "SELECT 1",
               "postgres").returncode != 0, "the superuser over TCP")
    hba = open(os.path.join(LAB, "pg/primary/pg_hba.conf")).read()
    check("trust" not in hba.split("#")[-1] and "scram-sha-256" in hba, "pg_hba.conf")
    # the standby streams, and commits wait for it
    rep = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-XAtw", "-h",
                          LAB + "/pg/run", "-p", PORTS["PG"], "-d", "postgres", "-c",
                          "SELECT state, sync_state FROM pg_stat_replication"],
                         capture_output=True, text=True, cwd="/")
    check(rep.stdout.strip() == "streaming|sync", "replication: %r %s" %
          (rep.stdout, rep.stderr))
    # listening on loopback only
    ss = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout
    for port in (PORTS["PG"], str(int(PORTS["PG"]) + 1)):
        addrs = {line.split()[3].rsplit(":", 1)[0] for line in ss.splitlines()
                 if line.split()[3].endswith(":" + port)}
        check(addrs == {"127.0.0.1"}, "port %s listens on %r" % (port, addrs))


def postfix_log(node):
    try:
        return open(os.path.join(node.log_dir, "postfix.log")).read()
    except OSError:
        return ""


def t_node_kill():
    n1, n2, n3 = htglab.nodes()
    before = pids_naming(n2.dir + "/")
    kinds = {comm(p) for p in before}
    for k in ("master", "dovecot", "htg-milter", "htg-policyd", "smtpd"):
        check(k in kinds, "node 2 has no %s before the kill: %r" % (k, kinds))
    log_len = len(postfix_log(n2))
    r = htglab.lab("node", "kill", "2")
    check(r.returncode == 0, "node kill 2: %s" % r.stderr)
    left = [p for p in before if live(p)] + list(pids_naming(n2.dir + "/"))
    check(not left, "node 2 processes left: %r" % [(p, comm(p)) for p in left])
    node_ports_closed(n2)
    check("stopping the Postfix mail system" not in postfix_log(n2)[log_len:],
          "node kill stopped Postfix cleanly instead of killing it")
    node_answers(n1)
    node_answers(n3)
    r = htglab.lab("node", "start", "2")
    check(r.returncode == 0, "node start 2: %s" % r.stderr)
    node_answers(n2)


def t_node_stop():
    n2 = htglab.nodes()[1]
    log_len = len(postfix_log(n2))
    r = htglab.lab("node", "stop", "2")
    check(r.returncode == 0, "node stop 2: %s" % r.stderr)
    check(not pids_naming(n2.dir + "/"), "node 2 processes left")
    node_ports_closed(n2)
    check("stopping the Postfix mail system" in postfix_log(n2)[log_len:],
          "node stop: Postfix did not stop cleanly")
    r = htglab.lab("node", "start", "2")
    check(r.returncode == 0, "node start 2: %s" % r.stderr)
    node_answers(n2)


def t_pg_failover():
    uri = ENV["HTG_PG_URI"]
    p1, p2 = PORTS["PG"], str(int(PORTS["PG"]) + 1)
    sql_ok(uri, "DROP TABLE IF EXISTS lab_probe; CREATE TABLE lab_probe (n int);"
           "INSERT INTO lab_probe VALUES (1)")
    r = htglab.lab("pg", "stop")
    check(r.returncode == 0, "pg stop: %s" % r.stderr)
    check(psql(uri, "SELECT 1").returncode != 0, "writable with the primary down")
    r = htglab.lab("pg", "promote")
    check(r.returncode == 0, "pg promote: %s" % r.stderr)
    got = sql_ok(uri, "INSERT INTO lab_probe VALUES (2); SELECT inet_server_port(),"
                 " count(*) FROM lab_probe")
    check(got.splitlines()[-1] == "%s|2" % p2, "writes on the promoted: %r" % got)
    r = htglab.lab("pg", "start")
    check(r.returncode == 0, "pg start: %s" % r.stderr)
    sql_ok(uri, "INSERT INTO lab_probe VALUES (3)")
    # the old primary: a standby now, with every row (commits waited for it)
    check(sql_ok(server_uri(p1), "SELECT pg_is_in_recovery(), count(*) FROM lab_probe")
          == "t|3", "the old primary is a standby with the rows")
    # and back, by a crash this time: pg kill (SIGKILL; the dead postmaster
    # must not count as running), promote the old primary, start
    for args in (("pg", "kill"), ("pg", "promote"), ("pg", "start")):
        r = htglab.lab(*args)
        check(r.returncode == 0, "%s: %s" % (" ".join(args), r.stderr))
    got = sql_ok(uri, "INSERT INTO lab_probe VALUES (4); SELECT inet_server_port(),"
                 " count(*) FROM lab_probe")
    check(got.splitlines()[-1] == "%s|4" % p1, "writes after kill and promote: %r" % got)
    check(sql_ok(server_uri(p2), "SELECT pg_is_in_recovery(), count(*) FROM lab_probe")
          == "t|4", "the killed primary is a standby again, with the rows")
    sql_ok(uri, "DROP TABLE lab_probe")


def t_lmdb_nodes_refused():
    env = lab_env()
    env["HTG_DIRECTORY_BACKEND"] = "lmdb"
    r = htg_lab("start", env=env)
    check(r.returncode != 0 and "needs HTG_DIRECTORY_BACKEND=postgresql" in r.stderr,
          "three nodes on LMDB: %r %r" % (r.returncode, r.stderr))


def t_stop():
    r = htg_lab("stop")
    check(r.returncode == 0, "stop: %s" % r.stderr)
    left = pids_naming(LAB + "/")
    check(not left, "left: %r" % [(p, comm(p)) for p in left])
    pg = [p for p in os.listdir("/proc") if p.isdigit() and
          (LAB + "/pg").encode() in proc_read(p, "cmdline") and live(p)]
    check(not pg, "postgres left: %r" % pg)
    for n in htglab.nodes():
        node_ports_closed(n)
    for port in (PORTS["PG"], str(int(PORTS["PG"]) + 1)):
        check(not answers("127.0.0.1", port), "PostgreSQL still on %s" % port)


def t_faults_node_kill():
    """tests/htgfaults.py, short: node 2 killed under load (issue 15 items
    5 and 6): 0 lost, 0 duplicated, 0 unchecked, 0 refused."""
    import htgfaults
    acc, bad = htgfaults.node_kill(clients=4, rounds=1, per_phase=20,
                                   drain_timeout=90)
    check(not bad, "; ".join(bad))


def t_faults_pg_failover():
    """tests/htgfaults.py, short: the PostgreSQL primary stopped under load,
    the standby promoted, no node restarted: only 4xx during the outage
    (AUTH waits for the directory, then 454: htg-passdb(3)), 0 lost,
    0 duplicated, 0 unchecked."""
    import htgfaults
    acc, bad = htgfaults.pg_failover(clients=4, per_phase=20, drain_timeout=90)
    check(not bad, "; ".join(bad))


def main():
    if os.getuid() != 0:
        sys.exit("test-lab-nodes.py: run as root (it starts a lab)")
    t0 = time.time()
    result("three_nodes_and_postgresql_start", t_start)
    if FAILED:
        htg_lab("stop")
        print("%d passed, %d failed" % (PASSED, FAILED))
        return 1
    for name, fn in (("lab_env_lists_the_nodes", t_env),
                     ("every_node_answers_on_its_address", t_nodes_answer),
                     ("every_component_opens_the_directory", t_directory_settings),
                     ("postgresql_scram_passfiles_standby", t_pg_auth),
                     ("node_kill_leaves_the_others_answering", t_node_kill),
                     ("node_stop_is_clean_and_start_brings_it_back", t_node_stop),
                     ("pg_stop_promote_start", t_pg_failover),
                     ("nodes_on_lmdb_refused", t_lmdb_nodes_refused),
                     ("faults_node_kill_under_load", t_faults_node_kill),
                     ("faults_pg_failover_under_load", t_faults_pg_failover)):
        result(name, fn)
    result("stop_leaves_nothing_running", t_stop)
    print("took %.0f s" % (time.time() - t0))
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
