"""FETCH of large messages and of whole mailboxes: streaming and memory
(issue 3 item 7).

The server must stream literals from the store as the client reads them:
its resident memory (VmRSS of the server process) must not grow by
anything like the data size, a slow reader must not hold up other
clients, and the data must arrive intact.

Messages are delivered into Maildir new/ before the server starts, with
mail_fsync off (throwaway test data).
"""

import base64
import hashlib
import random
import re
import sys
import time

from harness import USERS, ServerTestCase, roost_bin, status_re
from imap.test_fetch import crlf, deliver

MB = 1024 * 1024
LONG_TIMEOUT = 120.0


def big_message(size, subject):
    """A text message of about `size` bytes: numbered 100-byte lines."""
    header = crlf(f"From: big@example.com\nTo: someone@example.com\nSubject: {subject}\n"
                  "Date: Wed, 9 Feb 1994 10:00:00 +0000\n\n")
    line_len = 100
    n = max(1, (size - len(header)) // line_len)
    filler = b"x" * (line_len - 2 - 16)
    body = b"".join(b"%015d " % i + filler + b"\r\n" for i in range(n))
    return header + body


def sanitized():
    """Whether roost is an ASan build: its allocator keeps freed memory in
    a quarantine (256 MB by default), so RSS says nothing about leaks or
    buffering there; the memory bounds are checked on normal builds."""
    with open(roost_bin(), "rb") as f:
        return b"__asan_init" in f.read()


SANITIZED = sanitized()


def rss_kb(pid):
    """VmRSS of a process in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def report(text):
    sys.stderr.write(f"\n[fetch memory] {text}\n")


def check_growth(test, growth_mb, limit_mb, what):
    if SANITIZED:
        report(f"{what}: ASan build, bound of {limit_mb} MB not checked")
        return
    test.assertLess(growth_mb, limit_mb, f"{what}: RSS grew with the data size")


class LiteralReader:
    """Reads "* n FETCH (NAME {N}\\r\\n" + N bytes + ")\\r\\n" from a
    RawClient in pieces, hashing the data, with a callback per piece."""

    HEAD = re.compile(rb"^\* (\d+) FETCH \((.*) ~?\{(\d+)\}\r\n$")

    def __init__(self, client):
        self.c = client

    def read(self, on_piece=None, piece=256 * 1024, timeout=LONG_TIMEOUT):
        line = self.c.readline(timeout)
        m = self.HEAD.match(line)
        if not m:
            raise AssertionError(f"not a FETCH with a literal: {line[:200]!r}")
        n = int(m.group(3))
        h = hashlib.sha256()
        got = 0
        while got < n:
            data = self.c.read_exact(min(piece, n - got), timeout)
            h.update(data)
            got += len(data)
            if on_piece:
                on_piece(got)
        tail = self.c.readline(timeout)
        return int(m.group(1)), n, h.hexdigest(), tail


def attachment_message(data):
    """multipart/mixed: a text part, then `data` as a base64 attachment."""
    b64 = base64.encodebytes(data).replace(b"\n", b"\r\n")
    return crlf("From: att@example.com\nSubject: attachment\nMIME-Version: 1.0\n"
                'Content-Type: multipart/mixed; boundary="b"\n\n'
                "--b\nContent-Type: text/plain\n\nsee attachment\n"
                "--b\nContent-Type: application/octet-stream\n"
                "Content-Transfer-Encoding: base64\n\n") + b64 + crlf("--b--\n")


class FetchLarge(ServerTestCase):
    """alice: one 50 MB message; bob: one 20 MB message; carol: 3000
    messages of 10 KB; dave: a 12 MB binary attachment in base64."""

    settings = {"mail_fsync": "no"}
    users = dict(USERS, dave="dave-Secret-4")
    BIG = 50 * MB
    MEDIUM = 20 * MB
    MANY = 3000
    SMALL = 10 * 1024

    @classmethod
    def prepare(cls, server):
        cls.big = big_message(cls.BIG, "big")
        cls.medium = big_message(cls.MEDIUM, "medium")
        deliver(server.dir, "alice", [cls.big])
        cls.blob = random.Random(7).randbytes(12 * MB)
        deliver(server.dir, "dave", [attachment_message(cls.blob)])
        deliver(server.dir, "bob", [cls.medium])
        deliver(server.dir, "carol",
                [big_message(cls.SMALL, f"small {i}") for i in range(cls.MANY)])

    @classmethod
    def tearDownClass(cls):
        cls.big = cls.medium = cls.blob = None
        super().tearDownClass()

    def session(self, user, timeout=LONG_TIMEOUT):
        c = self.connect(timeout=timeout)
        self.login(c, user)
        untagged, tagged = c.command("s1", "SELECT INBOX", timeout=timeout)
        self.assertStatus(tagged, "s1", "OK")
        return c

    def pid(self):
        return self.server.proc.pid

    def test_50mb_message_memory(self):
        """FETCH 1 BODY.PEEK[] of a 50 MB message: byte-exact, and the
        server's RSS grows by far less than the message (< 16 MB)."""
        c = self.session("alice")
        pid = self.pid()
        base = rss_kb(pid)
        peak = [base]

        def sample(got):
            if got % (4 * MB) < 256 * 1024:
                peak[0] = max(peak[0], rss_kb(pid))
        c.send_line("a FETCH 1 BODY.PEEK[]")
        seq, n, digest, tail = LiteralReader(c).read(sample)
        peak[0] = max(peak[0], rss_kb(pid))
        self.assertEqual(seq, 1)
        self.assertEqual(n, len(self.big))
        self.assertEqual(digest, hashlib.sha256(self.big).hexdigest())
        self.assertEqual(tail, b")\r\n")
        _, tagged = c.read_tagged("a", LONG_TIMEOUT)
        self.assertStatus(tagged, "a", "OK")
        growth = (peak[0] - base) / 1024
        report(f"50 MB BODY[]: VmRSS before {base / 1024:.1f} MB, peak {peak[0] / 1024:.1f} MB, "
               f"growth {growth:.1f} MB")
        check_growth(self, growth, 16, "50 MB BODY[]")

    def test_50mb_binary_and_partial(self):
        """BINARY.PEEK[1] (measured, then streamed) and a partial at the
        end of the 50 MB message: right data, bounded memory."""
        c = self.session("alice")
        pid = self.pid()
        base = rss_kb(pid)
        c.send_line("b FETCH 1 BINARY.SIZE[1]")
        untagged, tagged = c.read_tagged("b", LONG_TIMEOUT)
        self.assertStatus(tagged, "b", "OK")
        body = self.big[self.big.index(b"\r\n\r\n") + 4:]
        self.assertIn(f"BINARY.SIZE[1] {len(body)}", " ".join(untagged))
        c.send_line("c FETCH 1 BINARY.PEEK[1]")
        _, n, digest, _ = LiteralReader(c).read()
        self.assertEqual(n, len(body))
        self.assertEqual(digest, hashlib.sha256(body).hexdigest())
        _, tagged = c.read_tagged("c", LONG_TIMEOUT)
        self.assertStatus(tagged, "c", "OK")
        off = len(self.big) - 1000
        untagged, tagged = c.command("d", f"FETCH 1 BODY.PEEK[]<{off}.5000>", LONG_TIMEOUT)
        self.assertStatus(tagged, "d", "OK")
        self.assertTrue(untagged[0].encode("utf-8", "surrogateescape").endswith(
            self.big[off:] + b")"))
        growth = (rss_kb(pid) - base) / 1024
        report(f"50 MB BINARY[1]: VmRSS growth {growth:.1f} MB")
        check_growth(self, growth, 16, "50 MB BINARY[1]")

    def test_base64_attachment_binary(self):
        """BINARY of a 12 MB base64 attachment: decoded while streamed,
        sent as literal8 (random bytes hold NUL), partials count decoded
        bytes; memory stays bounded."""
        c = self.session("dave")
        pid = self.pid()
        base = rss_kb(pid)
        peak = [base]

        def sample(got):
            if got % (2 * MB) < 256 * 1024:
                peak[0] = max(peak[0], rss_kb(pid))
        untagged, tagged = c.command("a", "FETCH 1 BINARY.SIZE[2]", LONG_TIMEOUT)
        self.assertStatus(tagged, "a", "OK")
        self.assertIn(f"BINARY.SIZE[2] {len(self.blob)}", " ".join(untagged))
        c.send_line("b FETCH 1 BINARY.PEEK[2]")
        _, n, digest, _ = LiteralReader(c).read(sample)
        self.assertEqual(n, len(self.blob))
        self.assertEqual(digest, hashlib.sha256(self.blob).hexdigest())
        _, tagged = c.read_tagged("b", LONG_TIMEOUT)
        self.assertStatus(tagged, "b", "OK")
        off = 5 * MB + 3
        untagged, tagged = c.command("c", f"FETCH 1 BINARY.PEEK[2]<{off}.100000>", LONG_TIMEOUT)
        self.assertStatus(tagged, "c", "OK")
        raw = untagged[0].encode("utf-8", "surrogateescape")
        head = f"* 1 FETCH (BINARY[2]<{off}> ".encode()
        self.assertTrue(raw.startswith(head), raw[:80])
        m = re.match(rb"~?\{(\d+)\}\r\n", raw[len(head):])
        self.assertIsNotNone(m)
        self.assertEqual(raw[len(head) + m.end():-1], self.blob[off:off + 100000])
        growth = (peak[0] - base) / 1024
        report(f"12 MB base64 BINARY[2]: VmRSS growth {growth:.1f} MB")
        check_growth(self, growth, 8, "12 MB BINARY[2]")

    def test_disconnect_mid_fetch(self):
        """A client that goes away in the middle of a 50 MB literal: the
        server frees the FETCH (no leak, no crash) and serves others; a
        pipelined command after a large FETCH is answered after it."""
        for i in range(3):
            c = self.session("alice")
            c.send_line("a FETCH 1 (UID BODY.PEEK[] BINARY.PEEK[1])")
            c.read_exact((i + 1) * 300 * 1024, LONG_TIMEOUT)
            c.close()
        c = self.session("alice")
        c.send(b"p1 FETCH 1 BODY.PEEK[]<0.20000000>\r\np2 FETCH 1 RFC822.SIZE\r\n")
        _, n, digest, _ = LiteralReader(c).read()
        self.assertEqual(digest, hashlib.sha256(self.big[:n]).hexdigest())
        _, tagged = c.read_tagged("p1", LONG_TIMEOUT)
        self.assertStatus(tagged, "p1", "OK")
        untagged, tagged = c.read_tagged("p2", LONG_TIMEOUT)
        self.assertStatus(tagged, "p2", "OK")
        self.assertIn(f"RFC822.SIZE {len(self.big)}", " ".join(untagged))

    def test_slow_reader_does_not_block_others(self):
        """A client that reads a 20 MB FETCH slowly does not delay another
        client's commands; the slow one gets all its data afterwards."""
        slow = self.session("bob")
        slow.send_line("a FETCH 1 BODY.PEEK[]")
        first = slow.read_exact(64 * 1024, LONG_TIMEOUT)   # the FETCH is under way
        other = self.session("carol")
        worst = 0.0
        for i in range(10):
            first += slow.read_exact(16 * 1024, LONG_TIMEOUT)  # trickle
            start = time.monotonic()
            _, tagged = other.command(f"o{i}", f"FETCH {i + 1} (FLAGS RFC822.SIZE)")
            worst = max(worst, time.monotonic() - start)
            self.assertStatus(tagged, f"o{i}", "OK")
            time.sleep(0.05)
        report(f"slow 20 MB reader: other client's slowest FETCH {worst * 1000:.0f} ms")
        self.assertLess(worst, 1.0)
        # Put back what was read and check the whole response.
        slow.pending = first + slow.pending
        m = re.match(rb"^\* 1 FETCH \(BODY\[\] \{(\d+)\}\r\n", slow.pending)
        self.assertIsNotNone(m, slow.pending[:100])
        n = int(m.group(1))
        self.assertEqual(n, len(self.medium))
        slow.pending = slow.pending[m.end():]
        h = hashlib.sha256()
        got = 0
        while got < n:
            data = slow.read_exact(min(MB, n - got), LONG_TIMEOUT)
            h.update(data)
            got += len(data)
        self.assertEqual(h.hexdigest(), hashlib.sha256(self.medium).hexdigest())
        self.assertEqual(slow.readline(LONG_TIMEOUT), b")\r\n")
        _, tagged = slow.read_tagged("a", LONG_TIMEOUT)
        self.assertStatus(tagged, "a", "OK")

    def test_many_messages_memory(self):
        """FETCH 1:* BODY.PEEK[] of 3000 messages (30 MB) and 1:* with
        ENVELOPE/BODYSTRUCTURE: every message answered, RSS bounded."""
        c = self.session("carol")
        pid = self.pid()
        base = rss_kb(pid)
        peak = base
        c.send_line("m FETCH 1:* BODY.PEEK[]")
        count = 0
        while True:
            line = c.read_response(LONG_TIMEOUT)
            if line.startswith("m "):
                break
            self.assertRegex(line, r"^\* \d+ FETCH \(BODY\[\] ")
            count += 1
            if count % 250 == 0:
                peak = max(peak, rss_kb(pid))
                time.sleep(0.01)                  # a client that is not the fastest
        self.assertRegex(line, status_re("m", "OK"))
        self.assertEqual(count, self.MANY)
        c.send_line("n FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
        count = 0
        while True:
            line = c.read_response(LONG_TIMEOUT)
            if line.startswith("n "):
                break
            count += 1
            if count % 500 == 0:
                peak = max(peak, rss_kb(pid))
        self.assertRegex(line, status_re("n", "OK"))
        self.assertEqual(count, self.MANY)
        growth = (peak - base) / 1024
        report(f"{self.MANY} x 10 KB BODY[] + metadata: VmRSS before {base / 1024:.1f} MB, "
               f"peak {peak / 1024:.1f} MB, growth {growth:.1f} MB")
        check_growth(self, growth, 12, f"{self.MANY} messages")
