"""Stalled output (issue 4 item 4): a client that stops reading a large
FETCH is cut after output_stall_timeout, its memory is freed, and other
clients keep being served meanwhile. A slow client that keeps reading is
not cut."""

import re
import socket
import time

from harness import USERS, ServerTestCase, status_re
from imap.test_fetch import deliver
from imap.test_fetch_large import SANITIZED, big_message, rss_kb

MB = 1024 * 1024


class OutputStall(ServerTestCase):
    settings = {"mail_fsync": "no", "output_stall_timeout": 2}
    users = dict(USERS)

    @classmethod
    def prepare(cls, server):
        # 24 MB in all: far more than the loopback socket buffers hold.
        deliver(server.dir, "alice", [big_message(4 * MB, f"m{i}") for i in range(6)])
        deliver(server.dir, "carol", [big_message(4 * MB, "slow")])

    def select(self, c):
        _, tagged = c.command("S1", "SELECT INBOX")
        self.assertRegex(tagged, status_re("S1", "OK"))

    def test_stalled_reader_is_cut_others_served(self):
        pid = self.server.proc.pid
        a = self.connect(timeout=30)
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.login(a, "alice")
        self.select(a)
        b = self.connect()
        self.login(b, "bob")
        rss_before = rss_kb(pid)
        a.send(b"F1 FETCH 1:* BODY.PEEK[]\r\n")
        start = time.monotonic()
        # bob is served normally while alice's output is stuck.
        worst = 0.0
        while "kind=output_stall" not in self.server.log():
            self.assertLess(time.monotonic() - start, 8, self.server.log_tail())
            t0 = time.monotonic()
            self.assertNoop(b)
            worst = max(worst, time.monotonic() - t0)
            time.sleep(0.1)
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 1.5)
        self.assertLess(worst, 1.0)
        # The connection is closed without waiting for the client: what
        # remains are the bytes already in the socket buffers, then EOF.
        try:
            data = a.read_until_eof(timeout=10)
            self.assertNotIn(b"F1 OK", data)
        except ConnectionResetError:
            pass
        deadline = time.monotonic() + 5
        while not re.search(r'event=disconnect .*user="?alice"? .*reason="output stalled"',
                            self.server.log()):
            self.assertLess(time.monotonic(), deadline, self.server.log_tail())
            time.sleep(0.1)
        if not SANITIZED:
            self.assertLess(rss_kb(pid) - rss_before, 8 * 1024)
        self.assertNoop(b, tag="N2")

    def test_slow_reader_not_cut(self):
        """A reader that keeps taking bytes, slowly (about 1 MB/s, so the
        4 MB message takes longer than the stall timeout), gets it all."""
        c = self.connect(timeout=30)
        self.login(c, "carol")
        self.select(c)
        c.send(b"F2 FETCH 1 BODY.PEEK[]\r\n")
        got = 0
        start = time.monotonic()
        c.sock.settimeout(30)
        tail = b""
        while b"F2 OK" not in tail:
            chunk = c.sock.recv(32 * 1024)
            self.assertTrue(chunk, self.server.log_tail())
            got += len(chunk)
            tail = tail[-200:] + chunk
            time.sleep(0.03)
        self.assertGreater(time.monotonic() - start, 2.5)
        self.assertGreater(got, 4 * MB)
        self.assertNotRegex(self.server.log(), r'user="?carol"? .*reason="output stalled"')
