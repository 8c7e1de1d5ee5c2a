#!/usr/bin/env python3
"""Idle-session memory: RSS growth of a running roost per idle session.

Opens N connections (plaintext, or TLS with --tls), logs each in, leaves
them idle, and reads the server's RSS (/proc/PID/status VmRSS) before and
after. Bounded: N is capped at 15,000 (the machine's descriptor limit is
20,000 per process, for this client too) and every step has a timeout.

  bench/idle_memory.py --bin build/roost -n 5000 [--tls]
"""
import argparse
import os
import selectors
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(binary, tmp):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{tmp}/key.pem",
                    "-out", f"{tmp}/cert.pem", "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    imap, imaps = free_port(), free_port()
    with open(f"{tmp}/roost.conf", "w") as f:
        f.write(f"imap_listen = 127.0.0.1:{imap}\nimaps_listen = 127.0.0.1:{imaps}\n"
                "tls_cert = cert.pem\ntls_key = key.pem\npasswd_file = passwd\n"
                "password_scheme = PLAIN\nlog_level = warn\nmax_connections = 19000\n")
    subprocess.run([binary, "user", "add", "bench", "--password-stdin", "-c", f"{tmp}/roost.conf"],
                   input=b"benchpw\n", check=True, capture_output=True)
    proc = subprocess.Popen([binary, "serve", "-c", f"{tmp}/roost.conf"],
                            stderr=open(f"{tmp}/log", "w"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", imap), timeout=1).close()
            return proc, imap, imaps
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def read_until(sock, token, deadline):
    data = b""
    while token not in data:
        if time.time() > deadline:
            raise TimeoutError(token)
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def open_sessions(n, port, use_tls, deadline):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if use_tls:
            s = ctx.wrap_socket(s)
        read_until(s, b"\r\n", deadline)
        s.sendall(b"a LOGIN bench benchpw\r\n")
        read_until(s, b"a OK", deadline)
        socks.append(s)
    return socks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/roost")
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    n = min(args.n, 15000)
    with tempfile.TemporaryDirectory() as tmp:
        proc, imap, imaps = start_server(os.path.abspath(args.bin), tmp)
        try:
            deadline = time.time() + 300
            warm = open_sessions(50, imaps if args.tls else imap, args.tls, deadline)
            time.sleep(0.5)
            before = rss_kib(proc.pid)
            socks = open_sessions(n, imaps if args.tls else imap, args.tls, deadline)
            time.sleep(1.0)
            after = rss_kib(proc.pid)
            per = (after - before) * 1024 / n
            kind = "TLS" if args.tls else "plaintext"
            print(f"idle {kind} sessions: {n}, server RSS {before} KiB -> {after} KiB, "
                  f"{per / 1024:.2f} KiB per session")
            for s in socks + warm:
                s.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
