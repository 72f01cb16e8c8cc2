"""Daemon resources suite (issue 13, finding 5): htg-policyd out of file
descriptors, its connection limit and RLIMIT_NOFILE, the slowloris deadline
of each request, and the same review for htg-milter (session limit, timeout,
RLIMIT_NOFILE). Each test starts daemons of its own (own sockets under the
lab's run directory, own log files) and stops them; the Postfix tests
restart the lab's daemons with settings and restore them.

No timing races: deadlines are seconds, bounds generous; CPU use is read
from /proc/PID/stat and log lines are counted, nothing is timed tightly.

HTG_SEC_POLICYD / HTG_SEC_MILTER name other binaries (an older build) to
see the tests fail there. Registered into htglab.TESTS; run by tests/e2e.py."""

import os
import re
import select
import signal
import socket
import struct
import subprocess
import time
import uuid

import htglab
from htglab import ENV, test, check, submit, htg_message, daemon_env
import e2e_policy


def lab(*parts):
    return os.path.join(ENV["HTG_LAB_DIR"], *parts)


def policyd_bin():
    return os.environ.get("HTG_SEC_POLICYD") or lab("prefix", "sbin", "htg-policyd")


def milter_bin():
    return os.environ.get("HTG_SEC_MILTER") or lab("prefix", "sbin", "htg-milter")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nofile_soft(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise htglab.Failure("no Max open files in /proc/%d/limits" % pid)


def read_log(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def unix_connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def closed_by_peer(s, wait):
    """True when the peer closed s within wait seconds (EOF or reset)."""
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return False
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True


def closed_within(socks, wait):
    """How many of socks the peer closed within wait seconds."""
    left, closed, deadline = list(socks), 0, time.time() + wait
    while left and time.time() < deadline:
        r, _, _ = select.select(left, [], [], max(0, deadline - time.time()))
        for s in r:
            left.remove(s)
            try:
                closed += s.recv(4096) == b""
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
    return closed


# --- a second htg-policyd or htg-milter ------------------------------------------

class SideDaemon:
    """One of our daemons in the foreground on sockets of its own; prlimit,
    when given, is the RLIMIT_NOFILE it starts with ("soft:hard")."""

    def spawn(self, what, argv, overrides, prlimit, probe, socks):
        self.what, self.socks = what, socks
        for p in socks + (self.log,):
            if os.path.exists(p):
                os.unlink(p)
        for o in overrides:
            argv += ["-o", o]
        if prlimit:
            argv = ["prlimit", "--nofile=" + prlimit, "--"] + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.time() + 15
        while True:
            check(self.proc.poll() is None, "%s exited: %s"
                  % (what, read_log(self.log)[-500:]))
            try:
                unix_connect(probe).close()
                break
            except OSError:
                check(time.time() < deadline, "%s did not come up" % what)
                time.sleep(0.05)

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for p in self.socks:
            if os.path.exists(p):
                os.unlink(p)


class Policyd(SideDaemon):
    def __init__(self, name, *overrides, prlimit=None):
        self.policy = lab("run", "sec-%s-policy.sock" % name)
        self.sockmap = lab("run", "sec-%s-map.sock" % name)
        self.log = os.path.join(ENV["HTG_LOG_DIR"], "htg-policyd-sec-%s.log" % name)
        argv = [policyd_bin(), "-f", "-c", lab("etc", "htg-policyd.conf"),
                "-o", "policy_socket=" + self.policy,
                "-o", "socketmap_socket=" + self.sockmap,
                "-o", "pid_file=", "-o", "log_file=" + self.log]
        self.spawn("htg-policyd", argv, overrides, prlimit, self.sockmap,
                   (self.policy, self.sockmap))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def sockmap_query(s, key="mailbox nobody@example.org"):
    """One socketmap lookup on s: the reply netstring ("" when closed)."""
    s.sendall(b"%d:%s," % (len(key), key.encode()))
    buf = b""
    while not (buf and re.fullmatch(rb"\d+:.*,", buf, re.S)):
        chunk = s.recv(4096)
        if not chunk:
            return ""
        buf += chunk
    return buf.decode("utf-8", "replace")


POLICY_REQ = ("request=smtpd_access_policy\nprotocol_state=RCPT\n"
              "sender=a@example.org\nrecipient=b@example.org\n\n")


def policy_query(s):
    """One policy request on s: the answer ("" when closed)."""
    buf = b""
    try:
        s.sendall(POLICY_REQ.encode())
        while not buf.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                return ""
            buf += chunk
    except (ConnectionResetError, BrokenPipeError):
        return ""
    return buf.decode("utf-8", "replace")


# --- htg-policyd ------------------------------------------------------------------

@test
def policyd_out_of_fds_does_not_spin():
    """Finding 5: RLIMIT_NOFILE lowered under a running htg-policyd (40) and
    100 clients: accept() fails with EMFILE. The daemon stops accepting
    (the listener leaves the epoll set): its CPU time over 2 s stays under
    0.3 s and it logs a handful of lines, not 265,000; the connections it
    holds are still served; once they close, new clients are served."""
    # user= : the daemon keeps our uid, so prlimit may lower its limit
    # without CAP_SYS_RESOURCE (a container may lack it)
    with Policyd("fds", "max_connections=200", "user=") as d:
        subprocess.run(["prlimit", "--pid", str(d.pid), "--nofile=40:40"],
                       check=True)
        conns = [unix_connect(d.sockmap) for _ in range(100)]
        try:
            time.sleep(1.0)        # the daemon takes what it can, then EMFILE
            lines0 = len(read_log(d.log).splitlines())
            cpu0 = cpu_seconds(d.pid)
            time.sleep(2.0)
            cpu = cpu_seconds(d.pid) - cpu0
            lines = len(read_log(d.log).splitlines()) - lines0
            check(cpu < 0.3, "out of descriptors: %.2f s CPU in 2 s" % cpu)
            check(lines <= 3, "out of descriptors: %d log lines in 2 s" % lines)
            text = read_log(d.log)
            check("not accepting until a connection closes" in text,
                  "no EMFILE warning: %s" % text[-600:])
            check(len(text.splitlines()) < 30, "log lines: %d"
                  % len(text.splitlines()))
            r = sockmap_query(conns[0])
            check(r != "", "an accepted client is not served")
        finally:
            for c in conns:
                c.close()
        # the queued clients are accepted (EOF) as slots free; then ours
        deadline = time.time() + 15
        while True:
            try:
                s = unix_connect(d.sockmap, timeout=3)
                r = sockmap_query(s)
                s.close()
                if r:
                    break
            except OSError:
                pass
            check(time.time() < deadline, "not served again after the "
                  "connections closed")
            time.sleep(0.2)
        check(d.proc.poll() is None, "htg-policyd died")


@test
def policyd_nofile_fits_max_connections():
    """RLIMIT_NOFILE is raised (soft up to hard) to fit max_connections plus
    a margin; when the hard limit is too low the log says so and the
    connection limit is lowered to fit: the client beyond it is closed at
    once (Postfix tempfails at once) instead of running the daemon out of
    descriptors."""
    with Policyd("raise", "max_connections=1000", prlimit="64:4096") as d:
        soft = nofile_soft(d.pid)
        check(soft >= 1000 + 32, "soft RLIMIT_NOFILE %d for 1000 connections"
              % soft)
        check(re.search(r"RLIMIT_NOFILE raised from 64 to \d+", read_log(d.log)),
              "raise not logged")
    with Policyd("low", "max_connections=1000", prlimit="64:64") as d:
        text = read_log(d.log)
        m = re.search(r"RLIMIT_NOFILE is 64 .*serving at most (\d+) connections",
                      text)
        check(m, "a hard limit too low is not logged: %s" % text[-400:])
        limit = int(m.group(1))
        check(0 < limit < 60, "limit %d" % limit)
        conns = []
        try:
            for i in range(limit):
                s = unix_connect(d.sockmap)
                conns.append(s)
                check(sockmap_query(s), "client %d of %d not served" % (i, limit))
            extra = [unix_connect(d.sockmap) for _ in range(5)]
            conns += extra
            for s in extra:
                check(closed_by_peer(s, 10), "a client beyond the limit is "
                      "not closed at once")
            time.sleep(0.5)
            check(cpu_seconds(d.pid) < 2.0, "CPU %.2f s" % cpu_seconds(d.pid))
        finally:
            for s in conns:
                s.close()
        text = read_log(d.log)
        check(text.count("connection limit") <= 2,
              "limit warnings not rate-limited: %d" % text.count("connection limit"))


@test
def policyd_slowloris_disconnected_while_others_served():
    """request_timeout = 2: a policy client and a socketmap client that send
    one byte every 0.4 s are disconnected within a few seconds of their
    first byte (before, every byte restarted the idle timer: held forever);
    a client that sends nothing is closed after idle_timeout (4); a normal
    client asking every 0.4 s is answered throughout and stays connected."""
    with Policyd("slow", "request_timeout=2", "idle_timeout=4", "max_ttl=0") as d:
        idle = unix_connect(d.sockmap)
        slow_p = unix_connect(d.policy)
        slow_m = unix_connect(d.sockmap)
        normal = unix_connect(d.policy)
        t0 = time.time()
        slow_p.sendall(b"request=smtpd_access_policy\n")
        slow_m.sendall(b"900:")
        closed = {}
        answers = 0
        while time.time() - t0 < 14 and len(closed) < 3:
            for name, s in (("policy", slow_p), ("socketmap", slow_m),
                            ("idle", idle)):
                if name in closed:
                    continue
                if closed_by_peer(s, 0):
                    closed[name] = time.time() - t0
                    continue
                if name != "idle":
                    try:
                        s.sendall(b"x")
                    except (BrokenPipeError, ConnectionResetError):
                        closed[name] = time.time() - t0
            r = policy_query(normal)
            check(r.startswith("action="), "normal client not served: %r" % r)
            answers += 1
            time.sleep(0.4)
        for s in (idle, slow_p, slow_m):
            s.close()
        check("policy" in closed and "socketmap" in closed,
              "slow clients still connected after %.0f s: closed %r"
              % (time.time() - t0, closed))
        check(all(1.9 <= closed[k] <= 8 for k in ("policy", "socketmap")),
              "slow clients closed at %r (request_timeout 2)" % closed)
        check("idle" in closed and closed["idle"] >= 3.9,
              "idle client: %r (idle_timeout 4)" % closed)
        check(policy_query(normal).startswith("action="),
              "normal client lost its connection")
        normal.close()
        check(answers >= 10, "normal client answered %d times" % answers)
        text = read_log(d.log)
        check(text.count("request not complete within request_timeout") >= 1,
              "deadline not logged")


@test
def policyd_connection_limit_postfix_tempfails():
    """The lab's htg-policyd with max_connections = 6, every slot held by
    idle clients: a submission through Postfix gets a 4xx at once (the
    client beyond the limit is closed at once: Postfix retries once, then
    answers smtpd_policy_service_default_action), never hangs and is never
    accepted unchecked; once the clients close, 250."""
    with e2e_policy.PolicydWith("max_connections=6"):
        held = []
        try:
            while True:             # until the daemon closes one at once
                check(len(held) < 12, "the limit of 6 does not hold")
                s = unix_connect(lab("run", "policy.sock"))
                held.append(s)
                if policy_query(s) == "":
                    break
            t0 = time.time()
            got = submit(htg_message(uuid.uuid4().hex))
            took = time.time() - t0
            check(400 <= got[1] < 500, "at the connection limit: %r" % (got,))
            check(took < 30, "took %.1f s" % took)
            print("     at the limit: %s %d %s (%.1f s)" % (got[0], got[1],
                  got[2][:60], took), flush=True)
        finally:
            for s in held:
                s.close()
        # smtpd's resolve_clnt caches a failed lookup per process (see
        # policy_daemon_killed_under_load): fresh processes
        e2e_policy.postfix_reload()
        got = submit(htg_message(uuid.uuid4().hex))
        check(got[0] == "ok", "after the clients closed: %r" % (got,))


# --- a second htg-milter --------------------------------------------------------------

SMFIF_NEEDED = 0x01 | 0x10 | 0x02       # ADDHDRS | CHGHDRS | CHGBODY
OPTNEG = b"O" + struct.pack(">III", 6, 0x1FF, 0x1FFFFF)


def milter_optneg(s, wait=10):
    """Option negotiation: the reply packet, or b"" when closed."""
    s.sendall(struct.pack(">I", len(OPTNEG)) + OPTNEG)
    s.settimeout(wait)
    buf = b""
    try:
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
            chunk = s.recv(4096)
            if not chunk:
                return b""
            buf += chunk
    except (ConnectionResetError, socket.timeout):
        return b""
    return buf[4:]


class Milter(SideDaemon):
    def __init__(self, name, *overrides, prlimit=None):
        self.sock = lab("run", "sec-%s-milter.sock" % name)
        self.log = os.path.join(ENV["HTG_LOG_DIR"], "htg-milter-sec-%s.log" % name)
        argv = [milter_bin(), "-f", "-c", lab("etc", "htg-milter.conf"),
                "-o", "socket=unix:" + self.sock, "-o", "pid_file=",
                "-o", "log_file=" + self.log]
        self.spawn("htg-milter", argv, overrides, prlimit, self.sock,
                   (self.sock,))

    def stop(self):
        SideDaemon.stop(self, timeout=20)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


@test
def milter_session_limit_closes_at_negotiation():
    """max_sessions = 2: two MTA sessions negotiate; the third is closed at
    option negotiation (no reply: Postfix applies milter_default_action =
    tempfail); once a session ends, a new one negotiates again. The
    refusals are logged rate-limited."""
    with Milter("limit", "max_sessions=2") as m:
        a, b = unix_connect(m.sock), unix_connect(m.sock)
        check(milter_optneg(a)[:1] == b"O", "first session not negotiated")
        check(milter_optneg(b)[:1] == b"O", "second session not negotiated")
        extra = []
        for _ in range(3):
            c = unix_connect(m.sock)
            extra.append(c)
            check(milter_optneg(c) == b"", "a session beyond max_sessions "
                  "was negotiated")
        a.close()
        deadline = time.time() + 15
        while True:
            c = unix_connect(m.sock)
            extra.append(c)
            if milter_optneg(c)[:1] == b"O":
                break
            check(time.time() < deadline, "no session after one ended")
            time.sleep(0.2)
        for s in extra + [b]:
            s.close()
        text = read_log(m.log)
        check("max_sessions 2 reached" in text, "refusal not logged")
        check(text.count("max_sessions 2 reached") <= 2,
              "refusals not rate-limited: %d" % text.count("max_sessions 2 reached"))


@test
def milter_out_of_fds_does_not_spin():
    """libmilter's listener retries accept() at once on EMFILE (100 % CPU,
    no log line). RLIMIT_NOFILE lowered under a running htg-milter that
    holds 50 idle connections, to 3 descriptors above those it has: the
    clients beyond are closed at once (Postfix tempfails), its CPU time over
    2 s stays under 0.3 s, one warning is logged; once the connections
    close, a session negotiates again. (Never below the descriptors in use:
    libmilter's pool controller then fails poll() with EINVAL and stops
    after 16 tries, a state no real process reaches.)"""
    # user= : prlimit on a process of our own uid needs no capability
    with Milter("fds", "user=") as m:
        idle = [unix_connect(m.sock) for _ in range(50)]
        time.sleep(1.0)
        top = max(int(fd) for fd in os.listdir("/proc/%d/fd" % m.pid))
        subprocess.run(["prlimit", "--pid", str(m.pid),
                        "--nofile=%d:%d" % (top + 4, top + 4)], check=True)
        extra = [unix_connect(m.sock) for _ in range(20)]
        try:
            time.sleep(0.5)
            cpu0 = cpu_seconds(m.pid)
            time.sleep(2.0)
            cpu = cpu_seconds(m.pid) - cpu0
            check(cpu < 0.3, "out of descriptors: %.2f s CPU in 2 s" % cpu)
            closed = closed_within(extra, 5)
            check(closed >= 15, "%d of 20 clients beyond the limit closed at "
                  "once" % closed)
            text = read_log(m.log)
            check(1 <= text.count("closing new MTA connections at once") <= 2,
                  "warnings: %s" % text[-500:])
        finally:
            for s in idle + extra:
                s.close()
        deadline = time.time() + 15
        while True:
            s = unix_connect(m.sock)
            ok = milter_optneg(s)[:1] == b"O"
            s.close()
            if ok:
                break
            check(time.time() < deadline, "no session after the clients left")
            time.sleep(0.2)
        check(m.proc.poll() is None, "htg-milter died")


@test
def milter_partial_command_times_out():
    """timeout = 2 (smfi_settimeout): a client that sends part of a command
    and stops is disconnected after the timeout, where libmilter's default
    (7210 s) held a worker thread for two hours."""
    with Milter("timeout", "timeout=2") as m:
        s = unix_connect(m.sock)
        s.sendall(b"\x00\x00")          # half a packet length
        t0 = time.time()
        check(closed_by_peer(s, 15), "still connected after %.0f s"
              % (time.time() - t0))
        s.close()
        check(m.proc.poll() is None, "htg-milter died")


@test
def milter_nofile_raised():
    """RLIMIT_NOFILE is raised to the hard limit at start (each session
    needs its socket and maybe a spool file; libmilter's accept loop spins
    on EMFILE); when the hard limit cannot fit max_sessions, fewer are
    served and the log says so."""
    with Milter("raise", "max_sessions=500", prlimit="64:4096") as m:
        check(nofile_soft(m.pid) == 4096, "soft RLIMIT_NOFILE %d"
              % nofile_soft(m.pid))
    with Milter("low", "max_sessions=500", prlimit="128:128") as m:
        text = read_log(m.log)
        check(re.search(r"RLIMIT_NOFILE is 128 .*serving at most 32 sessions",
                        text), "a hard limit too low is not logged: %s"
              % text[-400:])


@test
def milter_session_limit_postfix_tempfails():
    """The lab's htg-milter with max_sessions = 1, held by a client that
    negotiated: a submission through Postfix gets 4xx (milter_default_action
    = tempfail), never 250 unchecked and never a hang; after the client
    leaves, 250."""
    pidfile = lab("run", "htg-milter.pid")
    sock = lab("run", "milter.sock")
    conf = lab("etc", "htg-milter.conf")

    def restart(*overrides):
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 20
        while e2e_policy.pid_running(pid):
            check(time.time() < deadline, "htg-milter did not stop")
            time.sleep(0.05)
        if os.path.exists(sock):
            os.unlink(sock)
        argv = [lab("prefix", "sbin", "htg-milter"), "-c", conf]
        for o in overrides:
            argv += ["-o", o]
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, env=daemon_env())
        deadline = time.time() + 15
        while True:
            try:
                unix_connect(sock).close()
                break
            except OSError:
                check(time.time() < deadline, "htg-milter did not come back")
                time.sleep(0.05)

    restart("max_sessions=1")
    try:
        held = unix_connect(sock)
        check(milter_optneg(held)[:1] == b"O", "held session")
        t0 = time.time()
        try:
            got = submit(htg_message(uuid.uuid4().hex))
        except htglab.smtplib.SMTPResponseException as e:
            got = ("session", e.smtp_code, e.smtp_error.decode())
        check(400 <= got[1] < 500, "at max_sessions: %r" % (got,))
        check(time.time() - t0 < 60, "took %.0f s" % (time.time() - t0))
        print("     at the limit: %s %d %s (%.1f s)" % (got[0], got[1],
              got[2][:60], time.time() - t0), flush=True)
        held.close()
        time.sleep(0.5)
        got = submit(htg_message(uuid.uuid4().hex))
        check(got[0] == "ok", "after the session ended: %r" % (got,))
    finally:
        restart()
