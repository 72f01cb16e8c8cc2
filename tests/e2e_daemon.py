"""Daemon skeleton suite (issue 14): the lab's configurations pass -n, SIGHUP
reloads htg-milter and htg-policyd (new settings live, a bad file keeps the
old ones, a moved log file is reopened), and without log_file both daemons
log to syslog (facility mail, ident per program, pid). Registered into
htglab.TESTS; run by tests/e2e.py."""

import os
import shutil
import signal
import smtplib  # noqa: F401
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from htglab import (ENV, TIMEOUT, test, check, expect_reply, cmd, flow_rcpt,
                    htg_message, submit, smtp_submission)


def lab(*parts):
    return os.path.join(os.path.dirname(ENV["HTG_LOG_DIR"]), *parts)


def prog(name):
    return lab("prefix", "sbin", name)


def conf(name):
    return lab("etc", name + ".conf")


def log_path(name):
    return os.path.join(ENV["HTG_LOG_DIR"], name + ".log")


def pid_of(name):
    with open(lab("run", name + ".pid")) as f:
        return int(f.read())


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def log_size(name):
    try:
        return os.path.getsize(log_path(name))
    except FileNotFoundError:
        return 0


def wait_log(name, offset, text, wait=15):
    """The log text written after offset once it holds text (or one of the
    texts of a tuple)."""
    texts = text if isinstance(text, tuple) else (text,)
    deadline = time.time() + wait
    while True:
        try:
            with open(log_path(name), errors="replace") as f:
                f.seek(offset)
                got = f.read()
        except FileNotFoundError:
            got = ""
        if any(t in got for t in texts):
            return got
        check(time.time() < deadline, "%s.log: no %r within %d s after "
              "offset %d: %r" % (name, text, wait, offset, got[-600:]))
        time.sleep(0.05)


def hup(name, expect="reloaded: "):
    """SIGHUP to the lab's daemon; the log after it, once it says expect."""
    offset = log_size(name)
    pid = pid_of(name)
    os.kill(pid, signal.SIGHUP)
    got = wait_log(name, offset, expect)
    check(alive(pid), "%s died on SIGHUP" % name)
    return got


class Edited:
    """Lines appended to a lab config (later settings win), the file restored
    and the daemon reloaded at the end."""

    def __init__(self, name, *lines):
        self.name, self.lines = name, lines

    def __enter__(self):
        with open(conf(self.name)) as f:
            self.saved = f.read()
        with open(conf(self.name), "a") as f:
            f.write("".join(line + "\n" for line in self.lines))
        return self

    def __exit__(self, *exc):
        with open(conf(self.name), "w") as f:
            f.write(self.saved)
        hup(self.name)
        return False


class Rotated:
    """The log file moved away (as logrotate does) for the block; after it,
    the lines of both files joined again under the log's name (the other
    tests read it) and the daemon reloaded onto it."""

    def __init__(self, name):
        self.name = name
        self.moved = log_path(name) + ".e2e-rotated"

    def __enter__(self):
        os.rename(log_path(self.name), self.moved)
        return self

    def __exit__(self, *exc):
        with open(self.moved, errors="replace") as f:
            old = f.read()
        try:
            with open(log_path(self.name), errors="replace") as f:
                new = f.read()
        except FileNotFoundError:
            new = ""
        with open(log_path(self.name), "w") as f:
            f.write(old + new)
        os.unlink(self.moved)
        hup(self.name, ("reloaded: ", "the old settings stay in force"))
        return False


def cc_message():
    return htg_message(uuid.uuid4().hex, "Cc: <ander@htpoort.nl>\r\n")


def rate_codes(n):
    s = smtp_submission()
    codes = []
    try:
        for _ in range(n):
            cmd(s, "MAIL FROM:<%s>" % ENV["HTG_DEMO_SENDER"])
            codes.append(cmd(s, "RCPT TO:<%s>" % flow_rcpt()))
            cmd(s, "RSET")
    finally:
        s.quit()
    return codes


@test
def daemons_lab_configs_pass_check():
    """htg-milter -n and htg-policyd -n accept the configurations the lab
    rendered from configs/*.conf.in: exit 0, nothing printed."""
    for name in ("htg-milter", "htg-policyd"):
        r = subprocess.run([prog(name), "-n", "-c", conf(name)],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0 and r.stdout == "" and r.stderr == "",
              "%s -n: rc %d %r %r" % (name, r.returncode, r.stdout, r.stderr))


@test
def daemons_reload_on_sighup():
    """SIGHUP: both daemons keep answering (a message accepted after it);
    htg-milter's mode enforce -> report -> enforce and htg-policyd's
    rate_limit take effect without a restart; a bad file keeps the old
    settings (the error names file:line); a log file moved away (logrotate)
    is reopened; a change of socket is logged as "needs restart"."""
    mpid, ppid = pid_of("htg-milter"), pid_of("htg-policyd")
    hup("htg-milter")
    hup("htg-policyd")
    got = submit(htg_message(uuid.uuid4().hex))
    check(got[0] == "ok", "after SIGHUP: %r" % (got,))

    # a live setting of each daemon
    expect_reply(submit(cc_message()), 550, "5.7.1", "HTG-HDR-CC")
    with Edited("htg-milter", "mode = report"):
        check("reloaded: mode=report" in hup("htg-milter"), "milter mode")
        offset = log_size("htg-milter")
        got = submit(cc_message())
        check(got[0] == "ok", "report mode refused: %r" % (got,))
        wait_log("htg-milter", offset, "rule=HTG-HDR-CC stage=HEADER action=report")
    expect_reply(submit(cc_message()), 550, "5.7.1", "HTG-HDR-CC")
    with Edited("htg-policyd", "rate_limit = 1"):
        hup("htg-policyd")
        codes = rate_codes(2)
        check(codes[0][0] == 250, "first: %r" % (codes,))
        expect_reply(("RCPT",) + codes[1], 450, "4.7.1", "HTG-RATE")
    check([c for c, _ in rate_codes(2)] == [250, 250], "rate limit still on")

    # a bad file: errors with file:line, the old settings stay, and the
    # log moved away by logrotate is reopened all the same
    for name, bad, key in (("htg-milter", "max_depth = eight", "max_depth"),
                           ("htg-policyd", "rate_window = 1h", "rate_window")):
        with Edited(name, "mode = report" if name == "htg-milter"
                    else "rate_limit = 1", bad):
            with open(conf(name)) as f:
                line = len(f.read().splitlines())
            with Rotated(name):
                os.kill(pid_of(name), signal.SIGHUP)
                got = wait_log(name, 0, "the old settings stay in force")
            check("%s:%d: %s:" % (conf(name), line, key) in got,
                  "%s: no file:line in %r" % (name, got))
            check("reloaded" not in got, "%s reloaded a bad file" % name)
    expect_reply(submit(cc_message()), 550, "5.7.1", "HTG-HDR-CC")
    check([c for c, _ in rate_codes(2)] == [250, 250],
          "a bad policyd file half applied")

    # a setting read at start only
    with Edited("htg-milter", "socket = unix:/nonexistent/milter.sock"):
        got = hup("htg-milter")
        check("socket changed" in got and "needs restart" in got, got)
    got = submit(htg_message(uuid.uuid4().hex))
    check(got[0] == "ok", "after socket change: %r" % (got,))

    # logrotate: the file moved away, SIGHUP, the next lines in a new file
    for name in ("htg-milter", "htg-policyd"):
        with Rotated(name):
            pid = pid_of(name)
            os.kill(pid, signal.SIGHUP)
            wait_log(name, 0, "reloaded: ")
            check(alive(pid), "%s died" % name)
    offset = log_size("htg-policyd")
    got = submit(htg_message(uuid.uuid4().hex))
    check(got[0] == "ok", "after logrotate: %r" % (got,))
    wait_log("htg-policyd", offset, "rule=- action=DUNNO")
    check(pid_of("htg-milter") == mpid and pid_of("htg-policyd") == ppid,
          "a daemon was restarted")


class Syslog:
    """A datagram socket standing in for /dev/log inside a private mount
    namespace: a directory with the device nodes the daemons open and this
    socket as "log", bind-mounted over /dev for the daemon only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="htg-e2e-syslog.")
        self.dev = os.path.join(self.dir, "dev")
        os.mkdir(self.dev)
        os.chmod(self.dir, 0o755)
        os.chmod(self.dev, 0o755)
        for node in ("null", "zero", "urandom", "random"):
            st = os.stat("/dev/" + node)
            os.mknod(os.path.join(self.dev, node), 0o666 | 0o020000, st.st_rdev)
            os.chmod(os.path.join(self.dev, node), 0o666)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.dev, "log"))
        os.chmod(os.path.join(self.dev, "log"), 0o666)
        self.sock.settimeout(0.2)
        self.lines = []
        # drained all the time, as a syslog daemon does: a full queue
        # (net.unix.max_dgram_qlen, 10 here) blocks the sender's syslog()
        self.running = True
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        while self.running:
            try:
                self.lines.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            except OSError:
                return

    def argv(self, argv):
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /dev && exec "$@"', self.dev] + argv

    def wait(self, text, wait=15):
        deadline = time.time() + wait
        while True:
            for line in list(self.lines):
                if text in line:
                    return line
            check(time.time() < deadline, "no syslog line with %r: %r"
                  % (text, self.lines[-10:]))
            time.sleep(0.05)

    def close(self):
        self.running = False
        self.reader.join()
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@test
def daemons_log_to_syslog():
    """Without log_file: a policy decision and the milter's start reach
    /dev/log as "<22>... htg-policyd[PID]: ..." (facility mail = 2, info = 6:
    2 * 8 + 6) and "<22>... htg-milter[PID]: ...", each daemon in its own
    mount namespace whose /dev/log is this test's socket."""
    sl = Syslog()
    procs = []
    try:
        psock = os.path.join(sl.dir, "policy.sock")
        p = subprocess.Popen(sl.argv(
            [prog("htg-policyd"), "-f", "-c", conf("htg-policyd"),
             "-o", "log_file=", "-o", "pid_file=", "-o", "socketmap_socket=",
             "-o", "policy_socket=" + psock]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        procs.append(p)
        line = sl.wait("htg-policyd[%d]: started: version" % p.pid)
        check(line.startswith("<22>"), "priority: %r" % line)
        deadline = time.time() + 10
        while not os.path.exists(psock):
            check(time.time() < deadline and p.poll() is None, "no policy socket")
            time.sleep(0.05)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(TIMEOUT)
        s.connect(psock)
        qid = "E2E%s" % uuid.uuid4().hex[:8].upper()
        s.sendall(("request=smtpd_access_policy\nprotocol_state=RCPT\n"
                   "policy_context=submission\nencryption_protocol=TLSv1.3\n"
                   "queue_id=%s\nsasl_username=%s\nsender=%s\nrecipient=%s\n\n"
                   % (qid, ENV["HTG_DEMO_USER"], ENV["HTG_DEMO_SENDER"],
                      flow_rcpt("geenstroom"))).encode())
        reply = b""
        while not reply.endswith(b"\n\n"):
            chunk = s.recv(4096)
            check(chunk, "policy connection closed")
            reply += chunk
        s.close()
        check(b"HTG-RCPT-FLOW" in reply, "reply %r" % reply)
        line = sl.wait("%s: account=%s" % (qid, ENV["HTG_DEMO_USER"]))
        check(line.startswith("<22>") and (" htg-policyd[%d]: " % p.pid) in line
              and "rule=HTG-RCPT-FLOW" in line, "decision line %r" % line)

        msock = os.path.join(sl.dir, "milter.sock")
        m = subprocess.Popen(sl.argv(
            [prog("htg-milter"), "-f", "-c", conf("htg-milter"),
             "-o", "log_file=", "-o", "pid_file=", "-o", "socket=unix:" + msock]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        procs.append(m)
        line = sl.wait("htg-milter[%d]: started: version" % m.pid)
        check(line.startswith("<22>"), "priority: %r" % line)
        m.send_signal(signal.SIGHUP)
        sl.wait("htg-milter[%d]: reloaded: " % m.pid)
        check(m.poll() is None, "htg-milter died on SIGHUP")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            proc.stderr.close()
        sl.close()
