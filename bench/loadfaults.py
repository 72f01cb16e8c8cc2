"""loadfaults.py - bench/load-run.py's faults and its view of /proc.

The fault scenarios of load-run.py --fault (FAULTS: each breaks one part
of the lab for --down seconds and repairs it), the process helpers they
use (pid files, children of a master, kill -9, restarts), and the CPU
seconds of the gateway's parts from /proc (cpu_snapshot(), cpu_delta()).
bench/lmtp-crash.py and bench/pop3-bench.py use the /proc helpers too.
"""

import os
import secrets
import signal
import subprocess
import time

from loadlib import FLOWS, TOP

# --- CPU accounting -------------------------------------------------------------------


def proc_table():
    """pid -> (ppid, comm, cpu seconds of itself and its reaped children)."""
    tick = os.sysconf("SC_CLK_TCK")
    t = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        rest = st[st.rindex(")") + 2:].split()
        cpu = sum(int(x) for x in rest[11:15]) / tick   # utime stime cutime cstime
        t[int(d)] = (int(rest[1]), comm, cpu)
    return t


def cpu_snapshot(lab, gen_pid=None):
    """CPU seconds so far of each part of the gateway (process trees) and of
    the whole machine: per-connection processes that exited are in their
    master's cutime/cstime."""
    t = proc_table()
    kids = {}
    for pid, (ppid, _, _) in t.items():
        kids.setdefault(ppid, []).append(pid)

    def tree(root):
        if root is None or root not in t:
            return 0.0
        total, todo = 0.0, [root]
        while todo:
            p = todo.pop()
            total += t[p][2]
            todo += kids.get(p, [])
        return total
    snap = {
        "postfix": tree(postfix_master(lab)),
        "dovecot": tree(dovecot_master(lab)),
        "htg-milter": tree(read_pid(os.path.join(lab.run, "htg-milter.pid"))),
        "htg-policyd": tree(read_pid(os.path.join(lab.run, "htg-policyd.pid"))),
    }
    if gen_pid:
        snap["htg-load"] = tree(gen_pid)
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    snap["machine_busy"] = (sum(v) - v[3] - v[4]) / tick
    snap["machine_all"] = sum(v) / tick
    return snap


def cpu_delta(a, b, wall):
    out = {k: round(b[k] - a.get(k, 0), 2) for k in b if not k.startswith("machine")
           if k in a}
    all_ = b["machine_all"] - a["machine_all"]
    out["machine_busy_share"] = round((b["machine_busy"] - a["machine_busy"]) / all_, 3) \
        if all_ > 0 else None
    out["wall_s"] = round(wall, 1)
    return out


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --- faults ---------------------------------------------------------------------------


def proc_children(ppid):
    """[(pid, comm)] of the processes whose parent is ppid."""
    return [(pid, comm) for pid, (pp, comm, _) in proc_table().items()
            if pp == ppid]


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "\nState:\tZ" not in f.read()
    except OSError:
        return False


def kill9(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def wait_sock(path, timeout=15):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def start_daemon(lab, name, conf=None):
    conf = conf or os.path.join(lab.dir, "etc", name + ".conf")
    with open(os.path.join(lab.dir, "log", "startup.log"), "a") as log:
        subprocess.run([os.path.join(lab.prefix, "sbin", name), "-c", conf],
                       stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30)


def kill_daemon(lab, name):
    pid = read_pid(os.path.join(lab.run, name + ".pid"))
    ok = pid is not None and kill9(pid)
    t0 = time.time()
    while pid and alive(pid) and time.time() - t0 < 5:
        time.sleep(0.02)
    return pid if ok else None


def restart_milter(lab, conf=None):
    sock = os.path.join(lab.run, "milter.sock")
    try:
        os.unlink(sock)
    except FileNotFoundError:
        pass
    start_daemon(lab, "htg-milter", conf)
    return wait_sock(sock)


def restart_policyd(lab):
    for s in ("policy.sock", "socketmap.sock"):
        try:
            os.unlink(os.path.join(lab.run, s))
        except FileNotFoundError:
            pass
    start_daemon(lab, "htg-policyd")
    return wait_sock(os.path.join(lab.run, "socketmap.sock"))


def dovecot_master(lab):
    return read_pid(os.path.join(lab.dir, "dovecot/run/master.pid"))


def postfix_master(lab):
    return read_pid(os.path.join(lab.dir, "spool/postfix/pid/master.pid"))


def kill_children_named(master, names, repeat_s, every=0.5):
    """kill -9 every child of master whose name is in names, for repeat_s."""
    killed = 0
    t_end = time.time() + repeat_s
    while True:
        for pid, comm in proc_children(master or -1):
            if comm in names and kill9(pid):
                killed += 1
        if time.time() >= t_end:
            return killed
        time.sleep(every)


def port_open(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def fault_milter(lab, args):
    pid = kill_daemon(lab, "htg-milter")
    time.sleep(args.down)
    return {"killed": pid, "restarted": restart_milter(lab)}


def fault_policyd(lab, args):
    pid = kill_daemon(lab, "htg-policyd")
    time.sleep(args.down)
    return {"killed": pid, "restarted": restart_policyd(lab)}


def fault_dovecot_auth(lab, args):
    n = kill_children_named(dovecot_master(lab), ("auth", "auth-worker"), args.down)
    return {"killed": n, "respawned_by": "dovecot master"}


def fault_lmtp(lab, args):
    n = kill_children_named(dovecot_master(lab), ("lmtp",), args.down, every=0.2)
    return {"killed": n, "respawned_by": "dovecot master"}


def fault_dovecot(lab, args):
    m = dovecot_master(lab)
    kids = [p for p, _ in proc_children(m or -1)]
    for p in [m] + kids:
        if p:
            kill9(p)
    # grandchildren (none normally) and stragglers of this instance
    time.sleep(args.down)
    with open(os.path.join(lab.dir, "log", "startup.log"), "a") as log:
        r = subprocess.run(["dovecot", "-c", lab.dovecot_config],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30)
    t0 = time.time()
    while not port_open(lab.env["HTG_POP3_PORT"]) and time.time() - t0 < 15:
        time.sleep(0.1)
    return {"killed": 1 + len(kids), "restart_rc": r.returncode,
            "up": port_open(lab.env["HTG_POP3_PORT"])}


def fault_qmgr(lab, args):
    n = kill_children_named(postfix_master(lab), ("qmgr",), args.down, every=1.0)
    return {"killed": n, "respawned_by": "postfix master"}


def lab_cmd(lab, what):
    env = dict(os.environ, HTG_LAB_DIR=lab.dir,
               HTG_SUBMISSION_PORT=lab.env["HTG_SUBMISSION_PORT"],
               HTG_POP3_PORT=lab.env["HTG_POP3_PORT"],
               HTG_INBOUND_PORT=lab.env["HTG_INBOUND_PORT"],
               HTG_ENVIRONMENT=lab.env.get("HTG_ENVIRONMENT", "production"))
    t0 = time.time()
    r = subprocess.run([os.path.join(TOP, "htg-lab"), what], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    return r.returncode, time.time() - t0, r.stderr[-500:]


def fault_restart(lab, args):
    rc1, t1, e1 = lab_cmd(lab, "stop")
    time.sleep(args.down)
    rc2, t2, e2 = lab_cmd(lab, "start")
    info = {"stop_rc": rc1, "stop_s": round(t1, 1), "start_rc": rc2, "start_s": round(t2, 1)}
    if rc1 or rc2:
        info["error"] = (e1 + e2).strip()
    return info


def fault_htgctl(lab, args):
    """Directory writes under load: accounts, addresses and grants come and go."""
    n, t_end, i = 0, time.time() + args.down * 2, 0
    while time.time() < t_end:
        u = "churn%d@churn.load.example" % i
        lab.ctl("account", "add", u, "--password-stdin", stdin=secrets.token_hex(8) + "\n")
        lab.ctl("address", "add", "c%d@churn.load.example" % i, u)
        lab.ctl("grant", u, "lf%d" % (i % FLOWS))
        lab.ctl("revoke", u, "lf%d" % (i % FLOWS))
        lab.ctl("account", "del", u)
        # grant and revoke a flow the load does not use, on a load account
        la = "b%05d@load.example" % (i % args.accounts)
        lab.ctl("grant", la, "lf%d" % ((i % args.accounts + 2) % FLOWS))
        lab.ctl("revoke", la, "lf%d" % ((i % args.accounts + 2) % FLOWS))
        n += 7
        i += 1
    return {"htgctl_changes": n}


def fault_tmpfull(lab, args):
    """The milter's temp_dir on a tiny full tmpfs for --down seconds."""
    mnt = "/run/htg-load-tmpfull-%d" % os.getpid()
    os.makedirs(mnt, exist_ok=True)
    info = {"mount": mnt}
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", mnt],
                       check=True, timeout=30)
        try:
            with open(os.path.join(mnt, "fill"), "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass
        conf = os.path.join(lab.dir, "etc", "htg-milter-tmpfull.conf")
        with open(os.path.join(lab.dir, "etc", "htg-milter.conf")) as f:
            lines = [l for l in f if not l.startswith("temp_dir")]
        with open(conf, "w") as f:
            f.writelines(lines + ["temp_dir = %s\n" % mnt])
        # a graceful switch: the milter with the full temp dir
        kill_daemon(lab, "htg-milter")
        info["full_milter_up"] = restart_milter(lab, conf)
        time.sleep(args.down)
        kill_daemon(lab, "htg-milter")
        info["milter_restored"] = restart_milter(lab)
        os.unlink(conf)
    finally:
        r = subprocess.run(["umount", mnt], capture_output=True, timeout=30)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
        try:
            os.rmdir(mnt)
        except OSError:
            pass
    return info


FAULTS = {
    "milter": fault_milter,
    "policyd": fault_policyd,
    "dovecot-auth": fault_dovecot_auth,
    "lmtp": fault_lmtp,
    "dovecot": fault_dovecot,
    "qmgr": fault_qmgr,
    "restart": fault_restart,
    "htgctl": fault_htgctl,
    "tmpfull": fault_tmpfull,
}


def run_fault(name, lab, args, duration, gen):
    time.sleep(duration / 3.0)
    t0 = time.time()
    try:
        info = FAULTS[name](lab, args)
    except Exception as e:     # the run is still accounted for
        info = {"error": repr(e)}
    info["name"] = name
    info["at_s"] = round(duration / 3.0, 1)
    info["took_s"] = round(time.time() - t0, 1)
    return info
