"""Postfix end to end (issue 5): a private Postfix instance delivers into
roost over LMTP.

The test runs as root and starts its own Postfix (Debian's package) from a
temporary config_directory: smtpd on a free loopback port, its own queue
and data directories, no chroot, mail for the virtual domain example.test
handed to roost's LMTP listener (virtual_transport = lmtp:...). swaks sends
200 complete messages of 1 KB to 2 MB (deterministic: mailgen.py bodies
wrapped with a padding attachment) to smtpd while an IMAP session sits in
IDLE on INBOX counting EXISTS. Then every message must be in INBOX with
exactly the bytes handed to swaks, after the trace lines that Postfix and
roost put in front (Return-Path, Received, Delivered-To, X-Original-To).

swaks sends a --data file as it is, except that it dot-stuffs, turns bare
LF into CRLF, replaces %TOKENS% and the two characters "\\n", strips a
leading "From " line, and appends "\\r\\n." itself: so the files hold CRLF
messages without their last CRLF, and the generator checks that no token,
backslash or leading "From " occurs.

A second, smaller test delivers through the unix socket (lmtp:unix:), the
setup the README recommends, with the socket made reachable for the
postfix user as the README says.

Skipped (with the reason) when postfix or swaks is missing, or when not
running as root (Postfix's master must start as root).
"""

import base64
import grp
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import HOST, USERS, ServerTestCase, free_ports, keep_dirs, status_re
from mailgen import make_messages

POSTFIX = shutil.which("postfix") or ("/usr/sbin/postfix"
                                      if os.path.exists("/usr/sbin/postfix") else None)
SWAKS = shutil.which("swaks")
N_MESSAGES = 200
ARRIVAL_TIMEOUT = 120.0
# What swaks replaces inside a --data file (see the module comment).
SWAKS_REWRITES = re.compile(rb"\\n|%(NEWLINE|FROM_ADDRESS|TO_ADDRESS|MESSAGEID|SWAKS_VERSION|DATE"
                            rb"|NEW_HEADERS)%")
TRACE_RE = re.compile(rb"^(Return-Path|Received|Delivered-To|X-Original-To):", re.I)


def skip_reason():
    if POSTFIX is None:
        return "postfix is not installed (Debian package postfix)"
    if SWAKS is None:
        return "swaks is not installed (Debian package swaks)"
    if os.geteuid() != 0:
        return "Postfix's master must be started as root"
    return None


# ------------------------------------------------------------------ messages

def message_sizes(n, seed=5):
    """n sizes from 1 KB to 2 MB, spread evenly on a log scale, shuffled
    deterministically; the extremes are always included."""
    lo, hi = 1024, 2 * 1024 * 1024
    sizes = [int(lo * (hi / lo) ** (i / (n - 1))) for i in range(n)]
    random.Random(seed).shuffle(sizes)
    return sizes


def make_message(i, inner, size, rng):
    """A complete message of about `size` bytes (CRLF): a mailgen message
    as message/rfc822 plus a base64 attachment that fills the rest."""
    boundary = f"=_roost_postfix_{i}"
    head = (f"From: Postfix Test <sender@example.org>\r\n"
            f"To: alice@example.test\r\n"
            f"Subject: postfix end to end {i}\r\n"
            f"Date: Tue, 03 Jun 2025 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <postfix-e2e-{i}@example.org>\r\n"
            f"X-Roost-Seq: {i}\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n")
    if len(inner) > size // 2:
        inner = b"Subject: small inner part\r\n\r\nshort\r\n"
    parts = (head.encode() +
             f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n".encode() + inner +
             f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
             f"Content-Transfer-Encoding: base64\r\n\r\n".encode())
    tail = f"\r\n--{boundary}--\r\n".encode()
    room = max(0, size - len(parts) - len(tail))
    raw = rng.randbytes(room * 3 // 4)
    b64 = base64.b64encode(raw)
    lines = b"\r\n".join(b64[j:j + 76] for j in range(0, len(b64), 76))
    return parts + lines + tail


def make_corpus(n):
    rng = random.Random(42)
    inners = make_messages(n, seed=7)
    msgs = [make_message(i, inners[i], size, rng)
            for i, size in enumerate(message_sizes(n))]
    for m in msgs:
        # What swaks would change (see the module comment) must not occur.
        assert not SWAKS_REWRITES.search(m) and not m.startswith(b"From "), m[:200]
        assert m.endswith(b"\r\n") and b"\r\n.\r\n" not in m[-5:]
    return msgs


def strip_trace(data):
    """The message without the leading trace header fields (with their
    continuation lines)."""
    lines = data.split(b"\r\n")
    i = 0
    while i < len(lines) and TRACE_RE.match(lines[i]):
        i += 1
        while i < len(lines) and lines[i][:1] in (b" ", b"\t"):
            i += 1
    return b"\r\n".join(lines[i:]), i


# ------------------------------------------------------------------ postfix

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {dir}
queue_directory = {dir}/queue
data_directory = {dir}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.roost-test.example
mydomain = roost-test.example
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
relayhost =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = example.test
virtual_mailbox_maps = static:ok
virtual_alias_maps =
virtual_transport = {transport}
# The test compares bytes: no header rewriting or MIME conversion.
local_header_rewrite_clients =
disable_mime_output_conversion = yes
smtputf8_enable = no
message_size_limit = 20480000
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
biff = no
smtpd_banner = $myhostname ESMTP
queue_run_delay = 5s
minimal_backoff_time = 5s
maximum_backoff_time = 10s
lmtp_connection_cache_on_demand = yes
"""

# No chroot anywhere: the instance reads its config from the temp dir.
MASTER_CF = """\
{smtp_addr} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixInstance:
    """A private Postfix in a temporary directory (root required)."""

    def __init__(self, transport):
        self.dir = tempfile.mkdtemp(prefix="roost-postfix-")
        # Postfix wants its config directory and queue owned by root and
        # not writable by others; the postfix user must reach the queue.
        os.chmod(self.dir, 0o755)
        self.port = free_ports(1)[0]
        self.log_path = os.path.join(self.dir, "maillog")
        with open(os.path.join(self.dir, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, transport=transport))
        with open(os.path.join(self.dir, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(smtp_addr=f"{HOST}:{self.port}"))
        self.started = False

    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.dir, *args], capture_output=True,
                              text=True, timeout=timeout)

    def start(self):
        # The queue directory belongs to root; `postfix check` creates the
        # tree inside it (and data_directory) with the owners (mail_owner,
        # setgid_group) and modes Postfix wants.
        os.makedirs(os.path.join(self.dir, "queue"), 0o755)
        r = self.postfix("check")
        if r.returncode != 0:
            raise AssertionError(f"postfix check: {r.stdout}{r.stderr}\n{self.log()}")
        r = self.postfix("start")
        if r.returncode != 0:
            raise AssertionError(f"postfix start: {r.stdout}{r.stderr}\n{self.log()}")
        self.started = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"postfix smtpd did not answer on {self.port}\n{self.log()}")

    def stop(self):
        if self.started:
            try:
                self.postfix("stop", timeout=30)
            except subprocess.TimeoutExpired:
                self.postfix("abort", timeout=30)
            self.started = False

    def cleanup(self):
        self.stop()
        if keep_dirs():
            print(f"\n[kept postfix dir {self.dir}]")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self, n=60):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return "(no maillog)"

    def queue_ids(self):
        """Queue ids still in the queue (mailq)."""
        r = self.postfix("flush")  # keep deferred mail moving while we wait
        del r
        out = subprocess.run(["postqueue", "-c", self.dir, "-j"], capture_output=True,
                             text=True, timeout=30).stdout
        return [line for line in out.splitlines() if line.strip()]


def swaks_send(port, path, rcpt="alice@example.test"):
    r = subprocess.run(
        [SWAKS, "--server", HOST, "--port", str(port), "--from", "sender@example.org",
         "--to", rcpt, "--helo", "client.example.org", "--data", "@" + path,
         "--suppress-data", "--timeout", "60"],
        capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"swaks {path}: exit {r.returncode}\n{r.stdout[-2000:]}"
                             f"{r.stderr[-2000:]}")


# ------------------------------------------------------------------ IMAP side

class IdleCounter(threading.Thread):
    """An IMAP session in IDLE on INBOX that records the highest EXISTS."""

    def __init__(self, client, target):
        super().__init__(daemon=True)
        self.c = client
        self.target = target
        self.exists = 0
        self.error = None
        self.done = threading.Event()
        self.stop_flag = threading.Event()

    def run(self):
        try:
            while not self.stop_flag.is_set() and self.exists < self.target:
                try:
                    line = self.c.readline(timeout=1.0)
                except TimeoutError:
                    continue
                m = re.match(rb"^\* (\d+) EXISTS\r\n", line)
                if m:
                    self.exists = max(self.exists, int(m.group(1)))
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.done.set()


@unittest.skipIf(skip_reason() is not None, skip_reason() or "")
class PostfixTestBase(ServerTestCase):
    users = USERS
    transport = None  # "inet" or "unix"

    @classmethod
    def setUpClass(cls):
        lmtp_port = free_ports(1)[0]
        cls.lmtp_port = lmtp_port
        cls.settings = {"lmtp_listen": f"{HOST}:{lmtp_port}", "mail_fsync": "no"}
        super().setUpClass()
        if cls.transport == "unix":
            sock = os.path.join(cls.server.dir, "state", "lmtp.sock")
            cls.make_socket_reachable(sock)
            target = f"lmtp:unix:{sock}"
        else:
            target = f"lmtp:inet:{HOST}:{lmtp_port}"
        cls.postfix_instance = PostfixInstance(target)
        try:
            cls.postfix_instance.start()
        except BaseException:
            cls.postfix_instance.cleanup()
            super().tearDownClass()
            raise

    @classmethod
    def make_socket_reachable(cls, sock):
        """As the README says: the postfix user needs search permission on
        the directories above the socket and write permission on it (here
        through the socket's group)."""
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.1)
        for d in (cls.server.dir, os.path.dirname(sock)):
            os.chmod(d, (os.stat(d).st_mode & 0o7777) | 0o001)
        os.chown(sock, -1, grp.getgrnam("postfix").gr_gid)
        os.chmod(sock, 0o660)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.postfix_instance.cleanup()
        finally:
            super().tearDownClass()

    # -- helpers
    def idle_session(self, user, target):
        c = self.connect(timeout=30)
        self.login(c, user)
        _, tagged = c.command("S1", "SELECT INBOX")
        self.assertRegex(tagged, status_re("S1", "OK"))
        c.send_line("I1 IDLE")
        line = c.readline(timeout=10)
        self.assertTrue(line.startswith(b"+ "), line)
        counter = IdleCounter(c, target)
        counter.start()
        return c, counter

    def send_all(self, msgs, rcpt, workers=6):
        tmp = tempfile.mkdtemp(prefix="roost-swaks-")
        self.addCleanup(shutil.rmtree, tmp, True)
        paths = []
        for i, m in enumerate(msgs):
            p = os.path.join(tmp, f"m{i:03d}.eml")
            with open(p, "wb") as f:
                f.write(m[:-2])  # swaks appends the last CRLF itself
            paths.append(p)
        errors = []
        lock = threading.Lock()
        it = iter(paths)

        def worker():
            while True:
                with lock:
                    p = next(it, None)
                if p is None:
                    return
                try:
                    swaks_send(self.postfix_instance.port, p, rcpt)
                except Exception as e:
                    with lock:
                        errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        self.assertEqual(errors, [], "swaks failures")

    def fetch_all(self, user):
        """{X-Roost-Seq: bytes} of every message in the user's INBOX."""
        c = self.connect(timeout=60)
        self.login(c, user)
        _, tagged = c.command("S2", "EXAMINE INBOX")
        self.assertRegex(tagged, status_re("S2", "OK"))
        c.send_line("F1 UID FETCH 1:* (BODY.PEEK[])")
        got = []
        while True:
            line = c.readline(timeout=60)
            if line.startswith(b"F1 "):
                self.assertRegex(line.decode(), status_re("F1", "OK"))
                break
            m = re.match(rb"^\* \d+ FETCH \(.*BODY\[\] \{(\d+)\}\r\n$", line)
            self.assertTrue(m, line[:200])
            got.append(c.read_exact(int(m.group(1)), timeout=60))
            self.assertEqual(c.readline(timeout=10), b")\r\n")
        return got

    def check_delivered(self, msgs, got):
        self.assertEqual(len(got), len(msgs))
        by_seq = {}
        for data in got:
            body, n_trace = strip_trace(data)
            self.assertGreaterEqual(n_trace, 1, data[:500])
            m = re.search(rb"^X-Roost-Seq: (\d+)\r$", body, re.M)
            self.assertIsNotNone(m, body[:500])
            by_seq[int(m.group(1))] = body
        self.assertEqual(sorted(by_seq), list(range(len(msgs))))
        for i, m in enumerate(msgs):
            if by_seq[i] != m:
                a = by_seq[i]
                k = next((j for j in range(min(len(a), len(m))) if a[j] != m[j]),
                         min(len(a), len(m)))
                self.fail(f"message {i}: {len(a)} bytes stored, {len(m)} sent; first "
                          f"difference at {k}: {a[k - 40:k + 40]!r} vs {m[k - 40:k + 40]!r}")

    def wait_arrival(self, counter, n):
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while time.monotonic() < deadline and counter.exists < n and not counter.done.is_set():
            time.sleep(0.2)
        counter.stop_flag.set()
        counter.join(timeout=5)
        self.assertIsNone(counter.error)
        self.assertEqual(
            counter.exists, n,
            f"IDLE saw {counter.exists} of {n}\nqueue: {self.postfix_instance.queue_ids()[:5]}"
            f"\nmaillog:\n{self.postfix_instance.log()}\nroost:\n{self.server.log_tail()}")

    def deliver_and_check(self, user, n):
        msgs = make_corpus(n)
        c, counter = self.idle_session(user, n)
        self.send_all(msgs, f"{user}@example.test")
        self.wait_arrival(counter, n)
        c.send_line("DONE")
        got = self.fetch_all(user)
        self.check_delivered(msgs, got)


class PostfixLmtpInet(PostfixTestBase):
    transport = "inet"

    def test_200_messages_through_postfix(self):
        """200 messages of 1 KB..2 MB: all in INBOX byte for byte, each
        announced to the IDLE session."""
        self.deliver_and_check("alice", N_MESSAGES)


class PostfixLmtpUnix(PostfixTestBase):
    transport = "unix"

    def test_unix_socket_delivery(self):
        """The README's setup: virtual_transport = lmtp:unix:<socket>."""
        self.deliver_and_check("bob", 12)


if __name__ == "__main__":
    unittest.main()
