"""The government side for end-to-end tests: a small SMTP server standing
in for a government party (TLS 1.3 with a certificate the lab CA signed),
certificates for it, and Postfix's queue as the lab's root sees it.
Shared by e2e_sec_postfix.py (TLS to the government side) and
e2e_sec_relay.py (Message-ID claims of relayed flows)."""

import json
import os
import socket
import ssl
import subprocess
import threading

from htglab import ENV, TIMEOUT


def lab(*parts):
    return os.path.join(ENV["HTG_LAB_DIR"], *parts)


class GovServer(threading.Thread):
    """A small SMTP server on the lab's address standing in for a government
    party: offers STARTTLS with the given certificate (None: no STARTTLS),
    records each session's TLS version and each message it accepted."""

    def __init__(self, port, cert=None, key=None, max_tls12=False):
        super().__init__(daemon=True)
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
            if max_tls12:
                self.ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        host = ENV["HTG_HOST"]    # where the lab's transport sends it
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop_flag = threading.Event()
        self.sessions = []        # dicts: tls, messages, error

    def run(self):
        while not self.stop_flag.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            sess = {"tls": None, "messages": [], "error": None}
            self.sessions.append(sess)
            try:
                self.session(conn, sess)
            except (OSError, ssl.SSLError) as e:
                sess["error"] = repr(e)
            finally:
                conn.close()

    def session(self, conn, sess):
        conn.settimeout(TIMEOUT)
        f = conn.makefile("rb")
        conn.sendall(b"220 gov.example ESMTP\r\n")
        while True:
            line = f.readline()
            if not line:
                return
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                ext = b"250-gov.example\r\n250-STARTTLS\r\n" if (
                    self.ctx and sess["tls"] is None) else b"250-gov.example\r\n"
                conn.sendall(ext + b"250 8BITMIME\r\n")
            elif verb == b"STARTTLS" and self.ctx and sess["tls"] is None:
                conn.sendall(b"220 go ahead\r\n")
                conn = self.ctx.wrap_socket(conn, server_side=True)
                sess["tls"] = conn.version()
                f = conn.makefile("rb")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = b""
                while True:
                    l = f.readline()
                    if not l or l == b".\r\n":
                        break
                    data += l
                sess["messages"].append(data.decode(errors="replace"))
                conn.sendall(b"250 2.0.0 accepted\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=10)
        self.sock.close()


def postqueue(*args):
    return subprocess.run(["postqueue", "-c", ENV["HTG_POSTFIX_CONFIG"]] + list(args),
                          capture_output=True, text=True)


def queue_entry(qid):
    for line in postqueue("-j").stdout.splitlines():
        if line.strip():
            e = json.loads(line)
            if e["queue_id"] == qid:
                return e
    return None


def make_cert(d, name, signed):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s\n" % ENV["HTG_GOV_SMTP_DOMAIN"])
    subj = "/CN=%s" % ENV["HTG_GOV_SMTP_DOMAIN"]
    if signed:
        csr = os.path.join(d, name + ".csr")
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
                        "-keyout", key, "-out", csr], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", lab("ssl", "ca.pem"),
                        "-CAkey", lab("ssl", "ca.key"), "-CAcreateserial", "-days", "2",
                        "-extfile", ext, "-out", crt], check=True, capture_output=True)
    else:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-days", "2", "-subj", subj, "-addext",
                        "subjectAltName=DNS:%s" % ENV["HTG_GOV_SMTP_DOMAIN"],
                        "-keyout", key, "-out", crt], check=True, capture_output=True)
    return crt, key
