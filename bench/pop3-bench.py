#!/usr/bin/env python3
"""pop3-bench - POP3 pickup sessions per second, with and without the htg
Dovecot plugins, in one run (issue 5.8). Prints figures, asserts nothing.

usage: bench/pop3-bench.py LAB_ENV [-c CLIENTS] [-m MESSAGES] [-r ROUNDS]
                           [-s SIZE] [--cpu-detail]

One session = connect, STLS (TLS 1.3), AUTH PLAIN, LIST, RETR 1, DELE 1,
QUIT: a business picking up one government answer of SIZE bytes (default
10240). CLIENTS processes (default 4) each run MESSAGES sessions (default
40: the mailbox starts with 40 messages and is empty at the end) back to
back against each Dovecot; sessions/s = all sessions / wall time. The two
alternate ROUNDS times (default 4), in the order A B B A A B ..., so drift
on the machine and the warm-up of whichever runs second hit both alike;
the median rate of each is compared.

Where the difference goes, per round and side: the CPU time all of that
Dovecot's processes used per session (user + system, from /proc; its
master's reaped children included; the kernel's own flush work and the
clients are not), by kind of process with --cpu-detail ("dovecot", the
master, holds processes that exited during the round), and the median
time from
sending QUIT to its answer (the synced writes of "with" happen there).
"with" keeps each DELEd message as a hard link, so its QUIT frees no
inode or blocks: that work comes with `htgctl retention purge`, which
the run times at the end (outside the rounds) and prints.

  with     the lab's Dovecot (LAB_ENV): htg passdb/userdb on the LMDB
           directory, the pop3-login plugin, the mail plugin (a retention
           copy per DELE; records, copies and audit events synced to
           disk at QUIT through the pickup journal).
  without  the same Dovecot binary and the lab's dovecot.conf with the
           htg pieces taken out: passwd-file with the same SHA512-CRYPT
           hashes, no login or mail plugin; its own port and base_dir
           under $HTG_LAB_DIR/bench-pop3; its accounts (base-N@bench.test)
           keep their mailboxes next to the lab's, under the same mail
           root.

Each client has its own account (bench-N@bench.test, made with htgctl, for
"with"; base-N@bench.test in the passwd-file for "without"; same passwords),
whose Maildir is filled with
enough 10 KB messages before each round by writing Maildir files: delivery
is not measured. Run as root against a running lab (./htg-lab start).
"""

import argparse
import base64
import multiprocessing
import os
import pwd
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from htglab import ENV, ctl, load_env  # noqa: E402  (lab.env, htgctl)
sys.path.insert(0, HERE)
import loadfaults as LR  # noqa: E402  (load-run.py's /proc table)


# --- the baseline Dovecot ---------------------------------------------------------

def baseline_config(lab_conf, bench, port, users_file):
    """The lab's dovecot.conf without any htg piece."""
    out = []
    skip_block = False
    for line in open(lab_conf):
        s = line.strip()
        if s.startswith(("passdb {", "userdb {")):
            kind = s.split()[0]
            out.append("%s {\n  driver = passwd-file\n  args = %s\n}\n"
                       % (kind, users_file))
            skip_block = True
            continue
        if skip_block:
            if s == "}":
                skip_block = False
            continue
        if s.startswith("login_plugins"):
            continue
        if s.startswith("mail_plugins"):
            line = line.replace(" htg", "")
        if s.startswith("htg_directory"):
            continue
        for key, value in (("instance_name", "htg-bench-%d" % port),
                           ("base_dir", bench + "/run"),
                           ("state_dir", bench + "/state"),
                           ("log_path", bench + "/dovecot.log"),
                           ("info_log_path", bench + "/dovecot.log")):
            if s.startswith(key + " "):
                line = "%s = %s\n" % (key, value)
        if s.startswith("port = ") and s != "port = 0":
            line = line.replace(s, "port = %d" % port)
        out.append(line)
    return "".join(out)


def start_baseline(bench, port, accounts):
    lab_conf = ENV["HTG_DOVECOT_CONFIG"]
    users = bench + "/users"
    with open(users, "w") as f:
        for user, password in accounts:
            h = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p",
                                password], capture_output=True, text=True,
                               check=True).stdout.strip()
            f.write("%s:%s::::::\n" % (user, h))
    os.chmod(users, 0o644)
    for d in ("run", "state"):
        os.makedirs(os.path.join(bench, d), exist_ok=True)
    conf = bench + "/dovecot.conf"
    with open(conf, "w") as f:
        f.write(baseline_config(lab_conf, bench, port, users))
    lab_extra = os.path.join(os.path.dirname(lab_conf), "dovecot-lab.conf")
    if os.path.exists(lab_extra):
        shutil.copy(lab_extra, bench + "/dovecot-lab.conf")
    subprocess.run(["dovecot", "-c", conf], check=True)
    for _ in range(100):
        try:
            socket.create_connection((ENV["HTG_HOST"], port), 1).close()
            return conf
        except OSError:
            time.sleep(0.1)
    raise SystemExit("baseline dovecot did not start (%s/dovecot.log)" % bench)


def stop_baseline(conf):
    subprocess.run(["dovecot", "-c", conf, "stop"], capture_output=True)


# --- mailboxes ------------------------------------------------------------------------

def fill(maildir, count, size, owner):
    """count messages of about size bytes, written as Maildir files."""
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    body = ("x" * 76 + "\n") * (size // 77)
    now = int(time.time())
    for i in range(count):
        token = uuid.uuid4().hex
        name = "%d.B%s.bench" % (now, token)
        with open(os.path.join(maildir, "tmp", name), "w") as f:
            f.write("From: <gov@overheid.example>\nTo: <bench@bench.test>\n"
                    "Message-ID: <%s@bench>\nSubject: bench\n\n%s"
                    % (token, body))
        os.rename(os.path.join(maildir, "tmp", name),
                  os.path.join(maildir, "new", name))
    for root, dirs, files in os.walk(os.path.dirname(maildir)):
        for n in dirs + files:
            os.chown(os.path.join(root, n), owner.pw_uid, owner.pw_gid)
    os.chown(os.path.dirname(maildir), owner.pw_uid, owner.pw_gid)


# --- the client ------------------------------------------------------------------------

def readline(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    return line


def cmd(f, w, line):
    w.write(line.encode() + b"\r\n")
    w.flush()
    reply = readline(f)
    if not reply.startswith(b"+OK"):
        raise RuntimeError("%s: %r" % (line.split()[0], reply))
    return reply


def multiline(f):
    n = 0
    while True:
        line = readline(f)
        if line == b".\r\n":
            return n
        n += len(line)


def session(port, user, password, ctx):
    s = socket.create_connection((ENV["HTG_HOST"], port), 30)
    f = s.makefile("rb")
    readline(f)
    s.sendall(b"STLS\r\n")
    if not readline(f).startswith(b"+OK"):
        raise RuntimeError("STLS")
    t = ctx.wrap_socket(s, server_hostname=ENV["HTG_HOST"])
    f, w = t.makefile("rb"), t.makefile("wb")
    token = base64.b64encode(("\0%s\0%s" % (user, password)).encode())
    cmd(f, w, "AUTH PLAIN " + token.decode())
    cmd(f, w, "LIST")
    multiline(f)
    cmd(f, w, "RETR 1")
    multiline(f)
    cmd(f, w, "DELE 1")
    t0 = time.perf_counter()
    cmd(f, w, "QUIT")
    quit_s = time.perf_counter() - t0
    t.close()
    return quit_s


def client(port, user, password, sessions, result):
    ctx = ssl.create_default_context(cafile=ENV["HTG_CA_FILE"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    n = errors = 0
    quits = []
    for _ in range(sessions):
        try:
            quits.append(session(port, user, password, ctx))
            n += 1
        except Exception:
            errors += 1
    result.put((n, errors, quits))


def cpu_seconds(pidfile):
    """CPU seconds (user + system) used so far by a Dovecot instance, by
    kind of process (pop3, pop3-login, auth, ...; "dovecot" is its master
    with the children it has reaped)."""
    with open(pidfile) as f:
        master = int(f.read().strip())
    kinds = {}
    for pid, (ppid, comm, cpu) in LR.proc_table().items():
        if pid == master or ppid == master:
            kinds[comm] = kinds.get(comm, 0) + cpu
    return kinds


def run_round(port, accounts, sessions, pidfile):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client,
                                     args=(port, u, p, sessions, q))
             for u, p in accounts]
    c0 = cpu_seconds(pidfile)
    t0 = time.time()
    for p in procs:
        p.start()
    got = [q.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.time() - t0
    done = sum(n for n, _, _ in got)
    c1 = cpu_seconds(pidfile)
    kinds = {k: (c1.get(k, 0) - c0.get(k, 0)) * 1000.0 / max(done, 1)
             for k in set(c0) | set(c1)}
    quits = [x for _, _, qs in got for x in qs]
    return {"rate": done / elapsed, "errors": sum(e for _, e, _ in got),
            "cpu": sum(kinds.values()), "kinds": kinds,
            "quit": statistics.median(quits) * 1000 if quits else 0.0}


# --- main ----------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lab_env")
    ap.add_argument("-c", "--clients", type=int, default=4)
    ap.add_argument("-m", "--messages", type=int, default=40)
    ap.add_argument("-r", "--rounds", type=int, default=4)
    ap.add_argument("-s", "--size", type=int, default=10240)
    ap.add_argument("--cpu-detail", action="store_true",
                    help="CPU per session by kind of Dovecot process")
    a = ap.parse_args()
    load_env(a.lab_env)
    lab = ENV["HTG_LAB_DIR"]
    bench = os.path.join(lab, "bench-pop3")
    shutil.rmtree(bench, ignore_errors=True)
    os.makedirs(bench)
    os.chmod(bench, 0o755)
    owner = pwd.getpwnam("htg")
    port = int(ENV["HTG_POP3_PORT"]) + 1000
    accounts = []
    for i in range(a.clients):
        user = "bench-%d@bench.test" % i
        password = uuid.uuid4().hex
        ctl("account", "del", user)
        r = ctl("account", "add", user, "--password-stdin", stdin=password + "\n")
        if r.returncode != 0:
            raise SystemExit("htgctl: " + r.stderr)
        shutil.rmtree(os.path.join(lab, "mail", user), ignore_errors=True)
        accounts.append((user, password))
    # The baseline's accounts have names of their own but their mailboxes
    # sit next to the lab's, under the same mail root: the same file
    # system neighbourhood for both (ext4 allocates a new file's inode
    # near its directory's, and how long that takes depends on what was
    # deleted there lately: measured, see bench/README.md).
    base_accounts = [("base-%d@bench.test" % i, p)
                     for i, (_, p) in enumerate(accounts)]
    for user, _ in base_accounts:
        shutil.rmtree(os.path.join(lab, "mail", user), ignore_errors=True)
    conf = start_baseline(bench, port, base_accounts)
    rates = {"without": [], "with": []}
    purged, purge_s = 0, 0.0
    try:
        # warm-up, not counted: processes, page cache, the auth process
        sides = [("without", port, base_accounts, bench + "/run/master.pid"),
                 ("with", int(ENV["HTG_POP3_PORT"]), accounts,
                  os.path.join(lab, "dovecot", "run", "master.pid"))]
        for name, p, accts, pidfile in sides:
            for user, _ in accts:
                fill(os.path.join(lab, "mail", user, "Maildir"), 10, a.size,
                     owner)
            run_round(p, accts, 10, pidfile)
        for rnd in range(a.rounds):
            order = list(sides)
            if rnd % 2 == 1:
                order.reverse()     # ABBA: the second of a pair runs warmer
            for name, p, accts, pidfile in order:
                for user, _ in accts:
                    # a fresh mailbox each round: Dovecot's index and log
                    # of the previous rounds would slow both sides down
                    # round after round (measured: -10 % over 6 rounds)
                    maildir = os.path.join(lab, "mail", user, "Maildir")
                    shutil.rmtree(maildir, ignore_errors=True)
                    fill(maildir, a.messages, a.size, owner)
                # the fill's dirty pages go to disk now, not in the first
                # fsync of whichever Dovecot syncs during the round
                os.sync()
                r = run_round(p, accts, a.messages, pidfile)
                rates[name].append(r)
                print("round %d %-7s %7.1f sessions/s  %5.2f CPU-ms/session"
                      "  QUIT %5.2f ms%s" % (
                          rnd + 1, name, r["rate"], r["cpu"], r["quit"],
                          " (%d errors)" % r["errors"] if r["errors"] else ""),
                      flush=True)
    finally:
        stop_baseline(conf)
        # "with" keeps every DELEd message (a hard link), so its QUIT
        # frees no inode or blocks; that work (and the file system's
        # discard, if mounted so) comes with the purge, timed here
        t0 = time.time()
        for user, _ in accounts:
            r = ctl("retention", "purge", user, "--now", "@9999999999")
            words = r.stdout.split()
            if len(words) > 1 and words[0] == "purged":
                purged += int(words[1])
        purge_s = time.time() - t0
        for user, _ in accounts:
            ctl("account", "del", user)
        for user, _ in accounts + base_accounts:
            shutil.rmtree(os.path.join(lab, "mail", user), ignore_errors=True)
    def med(name, key):
        return statistics.median(r[key] for r in rates[name])

    without, with_ = med("without", "rate"), med("with", "rate")
    pairs = [w["rate"] / wo["rate"]
             for w, wo in zip(rates["with"], rates["without"])]
    print("POP3 pickup sessions/s (STLS, AUTH PLAIN, LIST, RETR, DELE, QUIT; "
          "%d B messages, %d clients x %d sessions, %d rounds)"
          % (a.size, a.clients, a.messages, a.rounds))
    print("  without htg plugins: %7.1f (median)" % without)
    print("  with htg plugins:    %7.1f (median)" % with_)
    print("  ratio with/without:  %7.3f (target >= 0.95)" % (with_ / without))
    print("  per-round ratios:    %s (median %.3f)"
          % (" ".join("%.3f" % r for r in pairs), statistics.median(pairs)))
    # where the difference goes: Dovecot's own CPU per session (all its
    # processes; not the kernel's flush threads) and the QUIT round trip
    # the client waits for (the synced writes of "with" happen there)
    print("  Dovecot CPU-ms/session: without %.2f, with %.2f (ratio %.3f)"
          % (med("without", "cpu"), med("with", "cpu"),
             med("with", "cpu") / med("without", "cpu")))
    if a.cpu_detail:
        for k in sorted(set(rates["with"][0]["kinds"]) |
                        set(rates["without"][0]["kinds"])):
            print("    %-12s CPU-ms/session: without %.3f, with %.3f" % (
                k, statistics.median(r["kinds"].get(k, 0)
                                     for r in rates["without"]),
                statistics.median(r["kinds"].get(k, 0)
                                  for r in rates["with"])))
    print("  htgctl retention purge afterwards (applies the journal left, frees "
          "the copies):\n    %d in %.2f s (%.2f ms each, outside the sessions)"
          % (purged, purge_s, purge_s * 1000 / max(purged, 1)))
    print("  QUIT median ms:         without %.2f, with %.2f (+%.2f)"
          % (med("without", "quit"), med("with", "quit"),
             med("with", "quit") - med("without", "quit")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
