"""Per-user rates (issue 4 item 2): the command token bucket delays an
over-rate session's commands, refuses sustained abuse with `NO [LIMIT]`
and a retry time, and never slows another user's session; download and
upload windows hold the user's transfers."""

import re
import time

from harness import ServerTestCase, status_re


class CommandBucket(ServerTestCase):
    settings = {"command_rate": "10", "command_burst": "5",
                "throttle_max_delay_ms": "2000", "throttle_max_delayed": "4",
                "connect_rate_per_ip": "0", "threads": "1"}

    def test_delay_then_refuse_other_user_unaffected(self):
        a = self.connect()
        self.login(a)            # one command of the burst
        b = self.connect()
        self.login(b, user="bob")
        for i in range(4):       # rest of the burst: immediate
            _, t = a.command(f"f{i}", "NOOP")
            self.assertRegex(t, status_re(f"f{i}", "OK"))
        start = time.monotonic()
        # delayed commands (~100 ms each), until the 5th delayed in a row
        # is refused
        for i in range(10):
            _, t = a.command("r1", "NOOP")
            if " NO " in t:
                break
        self.assertGreater(time.monotonic() - start, 0.25)
        self.assertRegex(t, status_re("r1", "NO", "LIMIT"))
        self.assertRegex(t, r"retry in \d+\.\d seconds")
        # pipelined flood from a while bob runs NOOPs: bob is not slowed
        a.send(b"".join(f"p{i} NOOP\r\n".encode() for i in range(20)))
        lat = []
        for i in range(4):  # within bob's own burst
            s = time.monotonic()
            _, t = b.command(f"b{i}", "NOOP")
            lat.append(time.monotonic() - s)
            self.assertRegex(t, status_re(f"b{i}", "OK"))
        self.assertLess(max(lat), 0.05, lat)
        # one episode logged, not one line per command
        time.sleep(0.5)
        log = self.server.log()
        starts = re.findall(r'event=throttle sid=\S+ user="?alice"? \S+ kind=commands', log)
        self.assertEqual(len(starts), 1, self.server.log_tail(30))


class DownloadWindow(ServerTestCase):
    settings = {"download_limit": "20k", "bandwidth_window": "1s",
                "connect_rate_per_ip": "0"}

    def test_fetch_output_shaped(self):
        a = self.connect()
        self.login(a)
        body = ("x" * 70 + "\r\n") * 600  # ~43 KB
        msg = f"Subject: big\r\n\r\n{body}".encode()
        a.send(f"A1 APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
        self.assertRegex(a.read_tagged("A1")[1], status_re("A1", "OK"))
        _, t = a.command("s", "SELECT INBOX")
        start = time.monotonic()
        for i in range(2):
            _, t = a.command(f"F{i}", "FETCH 1 BODY.PEEK[]", timeout=20)
            self.assertRegex(t, status_re(f"F{i}", "OK"))
        # ~86 KB at 20 KB/s within a rolling second: well over a second
        self.assertGreater(time.monotonic() - start, 1.5)
        self.assertIn("kind=download", self.server.log())


class WorkShare(ServerTestCase):
    """user_cpu_percent: a user's bulk FETCHes beyond its burst continue in
    slices spaced to hold its share of the thread's time; another user on
    the same thread is not slowed."""
    settings = {"user_cpu_percent": "1", "user_cpu_burst_ms": "1",
                "connect_rate_per_ip": "0", "threads": "1", "mail_fsync": "no"}

    def test_bulk_fetch_spaced_other_user_unaffected(self):
        a = self.connect()
        self.login(a)
        body = ("z" * 70 + "\r\n") * 600  # ~43 KB
        for i in range(40):
            msg = f"Subject: m{i}\r\n\r\n{body}".encode()
            a.send(f"A{i} APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
            self.assertRegex(a.read_tagged(f"A{i}")[1], status_re(f"A{i}", "OK"))
        a.command("s", "SELECT INBOX")
        b = self.connect()
        self.login(b, user="bob")
        start = time.monotonic()
        # ~1.7 MB per FETCH: a few ms of the thread each, at 1% of it
        a.send(b"".join(b"F%d FETCH 1:* BODY.PEEK[]\r\n" % i for i in range(4)))
        lat = []
        for i in range(5):
            s = time.monotonic()
            _, t = b.command(f"b{i}", "NOOP")
            lat.append(time.monotonic() - s)
            self.assertRegex(t, status_re(f"b{i}", "OK"))
            time.sleep(0.05)
        for i in range(4):
            untagged, t = a.read_tagged(f"F{i}", timeout=30)
            self.assertRegex(t, status_re(f"F{i}", "OK"))
            self.assertEqual(sum(1 for u in untagged if " FETCH " in u), 40)
        self.assertGreater(time.monotonic() - start, 0.3)
        self.assertLess(max(lat), 0.25, lat)
        self.assertIn("kind=cpu", self.server.log())


class UploadWindow(ServerTestCase):
    settings = {"upload_limit": "10k", "bandwidth_window": "1s",
                "connect_rate_per_ip": "0"}

    def test_next_command_waits_after_big_append(self):
        a = self.connect()
        self.login(a)
        msg = b"Subject: up\r\n\r\n" + b"y" * 30000 + b"\r\n"
        start = time.monotonic()
        # the literal is counted as it arrives: the APPEND itself waits
        a.send(f"A1 APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
        self.assertRegex(a.read_tagged("A1")[1], status_re("A1", "OK"))
        _, t = a.command("n", "NOOP")
        self.assertRegex(t, status_re("n", "OK"))
        self.assertGreater(time.monotonic() - start, 0.8)
        self.assertIn("kind=upload", self.server.log())
