#!/usr/bin/env python3
"""Milter throughput and memory: a large base64 attachment through htg-milter.

usage: bench/milter-throughput.py BUILD_DIR [SIZE_MB ...]   (default 1 10 50)

Speaks the milter protocol (version 6) to a private htg-milter started from
BUILD_DIR, as Postfix's cleanup would: MAIL, RCPT, header fields, the body in
64 KB BODY packets, EOM; reads every modification back (the replaced body
included). The protocol client is bench/milter-client.c (compiled here), so
the client's own cost stays out of the figure; --python uses the slower
pure-Python client below instead. The message is multipart/mixed with one application/pdf part,
base64, whose file name must be rewritten (HTG-FILENAME), so the whole body
is decoded, validated, spooled and sent back. For each size it prints the
time, MB/s (message bytes in / wall time of header..EOM of the second message
through a fresh milter per size; the first warms it up) and the milter's peak
RSS (VmHWM). With the C client it sends a warm-up message and then
BENCH_REPEAT (default 7) measured ones through the same milter, and prints
the median time (and the slowest..fastest rate). It asserts nothing.
"""

import base64
import os
import random
import statistics
import socket
import struct
import subprocess
import sys
import tempfile
import time


REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))   # measured messages per size


def packet(cmd, data=b""):
    return struct.pack("!I", len(data) + 1) + cmd + data


def read_packet(f):
    hdr = f.read(4)
    if len(hdr) < 4:
        raise EOFError("milter closed the connection")
    (n,) = struct.unpack("!I", hdr)
    body = f.read(n)
    return body[:1], body[1:]


def expect(f, what, ok=(b"c",)):
    cmd, data = read_packet(f)
    if cmd not in ok:
        raise RuntimeError("%s: reply %r %r" % (what, cmd, data[:200]))
    return cmd, data


def make_message(path, size_mb):
    rnd = random.Random(size_mb)
    boundary = "==bench=="
    with open(path, "wb") as out:
        out.write(("--%s\r\nContent-Type: application/pdf\r\n"
                   "Content-Transfer-Encoding: base64\r\n"
                   "Content-Disposition: attachment; filename=\"groot-bestand.pdf\"\r\n"
                   "\r\n" % boundary).encode())
        remaining = size_mb * 1024 * 1024 * 3 // 4     # base64 grows 4/3
        while remaining > 0:
            n = min(remaining, 57 * 1024)
            enc = base64.b64encode(rnd.randbytes(n))
            out.write(b"\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + b"\r\n")
            remaining -= n
        out.write(("--%s--\r\n" % boundary).encode())
    return boundary


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def c_client(tmp):
    exe = os.path.join(tmp, "milter-client")
    if not os.path.exists(exe):
        subprocess.run(["gcc", "-O2", "-Wall", "-Wno-comment", "-o", exe,
                        os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "milter-client.c")], check=True)
    return exe


def run_once(build, tmp, body_path, boundary, n, use_c=True):
    sock = os.path.join(tmp, "milter-%d.sock" % n)
    ctl = os.path.join(build, "tools", "htgctl")
    directory = os.path.join(tmp, "dir")
    if not os.path.exists(directory):
        if os.geteuid() == 0:   # htgctl as root works as the owner
            os.chmod(tmp, 0o755)
            subprocess.run([ctl, "-d", directory, "init", "--owner", "nobody"],
                           check=True, stdout=subprocess.DEVNULL)
        subprocess.run([ctl, "-d", directory, "account", "add", "bench@x.nl"],
                       check=True, stdin=subprocess.DEVNULL)
    milter = subprocess.Popen([os.path.join(build, "milter", "htg-milter"), "-f", "-c",
                               "/dev/null", "-o", "socket=unix:" + sock,
                               "-o", "directory=" + os.environ.get("BENCH_DIRECTORY", directory), "-o", "temp_dir=" + tmp,
                               "-o", "log_file=" + os.path.join(tmp, "milter.log")]
                              + [a for o in os.environ.get("BENCH_OPTIONS", "").split()
                                 for a in ("-o", o)])
    try:
        s = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                s.connect(sock)
                break
            except OSError:
                time.sleep(0.05)
        if use_c:
            s.close()
            # a warm-up message first (thread, spool, first directory write),
            # then REPEAT measured ones through the same milter: the median
            times = []
            for i in range(1 + REPEAT):
                out = subprocess.run([c_client(tmp), sock, body_path, boundary],
                                     check=True, capture_output=True,
                                     text=True).stdout.split()
                if i > 0:
                    times.append(float(out[2]))
            return (int(out[0]), int(out[1]), statistics.median(times),
                    vm_hwm_kb(milter.pid), min(times), max(times))
        f = s.makefile("rwb", buffering=0)
        r = s.makefile("rb")
        f.write(packet(b"O", struct.pack("!III", 6, 0x1FF, 0)))
        expect(r, "optneg", ok=(b"O",))
        f.write(packet(b"D", b"M" + b"{auth_authen}\0bench@x.nl\0"))
        f.write(packet(b"M", b"<ik@x.nl>\0"))
        expect(r, "MAIL")
        f.write(packet(b"R", b"<dms@msa-smtp.htpoort.nl>\0"))
        expect(r, "RCPT")
        t0 = time.perf_counter()
        for name, value in (("From", "<ik@x.nl>"), ("To", "<dms@htpoort.nl>"),
                            ("Message-ID", "<%s@x.nl>" % os.urandom(8).hex()),
                            ("MIME-Version", "1.0"),
                            ("Content-Type", 'multipart/mixed; boundary="%s"' % boundary)):
            f.write(packet(b"L", name.encode() + b"\0" + value.encode() + b"\0"))
            expect(r, "header " + name)
        f.write(packet(b"N"))
        expect(r, "EOH")
        size = 0
        with open(body_path, "rb") as body:
            while True:
                chunk = body.read(65535)
                if not chunk:
                    break
                size += len(chunk)
                f.write(packet(b"B", chunk))
                expect(r, "BODY")
        f.write(packet(b"E"))
        replaced = 0
        while True:
            cmd, data = read_packet(r)
            if cmd == b"b":
                replaced += len(data)
            elif cmd in (b"c", b"a"):
                break
            elif cmd in (b"h", b"m", b"i", b"p"):
                continue
            else:
                raise RuntimeError("EOM: reply %r %r" % (cmd, data[:200]))
        elapsed = time.perf_counter() - t0
        f.write(packet(b"Q"))
        s.close()
        return size, replaced, elapsed, vm_hwm_kb(milter.pid), elapsed, elapsed
    finally:
        milter.terminate()
        milter.wait()


def main():
    args = [a for a in sys.argv[1:] if a != "--python"]
    use_c = "--python" not in sys.argv
    build = os.path.abspath(args[0])
    sizes = [int(x) for x in args[1:]] or [1, 10, 50]
    print("htg-milter, milter protocol v6, multipart + base64 attachment renamed, "
          "%s client" % ("C" if use_c else "Python"))
    print("%8s %12s %12s %9s %9s %12s %17s" % ("size", "bytes in", "bytes back", "seconds",
                                                "MB/s", "peak RSS", "MB/s min..max"))
    with tempfile.TemporaryDirectory(prefix="htg-bench-") as tmp:
        for mb in sizes:
            body = os.path.join(tmp, "body-%d" % mb)
            boundary = make_message(body, mb)
            size, back, secs, hwm, fast, slow = run_once(build, tmp, body, boundary,
                                                          mb, use_c)
            print("%6d MB %12d %12d %9.4f %9.1f %9.1f MB %8.1f..%.1f" % (
                mb, size, back, secs, size / secs / 1e6, hwm / 1024.0,
                size / slow / 1e6, size / fast / 1e6), flush=True)
            os.unlink(body)


if __name__ == "__main__":
    main()
