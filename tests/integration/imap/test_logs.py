"""Structured session logs: key=value lines with a session id; credentials
never logged."""

import re
import time

from harness import ServerTestCase, plain_ir, quote, status_re

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) ")
SID = re.compile(r"\bsid=([0-9a-f]{16})\b")
WRONG = "Wr0ng-Pa55word-XyZ"


class Logs(ServerTestCase):

    def wait_for(self, pred, what, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            lines = [l for l in self.server.log().splitlines() if "event=" in l]
            found = [l for l in lines if pred(l)]
            if found:
                return found
            if time.monotonic() > deadline:
                self.fail(f"no log line for {what}; event lines:\n" + "\n".join(lines[-30:]))
            time.sleep(0.05)

    def wait_logout(self, port):
        """Waits for event=logout of the session from local port `port`."""
        sid, _ = self.session_lines(port)
        self.wait_for(lambda l: f"sid={sid}" in l and "event=logout" in l, f"logout of {sid}")

    def session_lines(self, port):
        """The sid of the connection from local port `port`, and all lines
        with that sid."""
        connect = self.wait_for(lambda l: "event=connect" in l and f"port={port}" in l.split(),
                                f"connect from port {port}")
        m = SID.search(connect[0])
        self.assertIsNotNone(m, connect[0])
        sid = m.group(1)
        return sid, [l for l in self.server.log().splitlines() if f"sid={sid}" in l]

    def test_session_events(self):
        """A session that fails a LOGIN, logs in and logs out produces
        event=connect (with ip= and port=), event=login result=fail,
        event=login result=ok and event=logout, all with the same 16-hex
        sid=, in that order; every event line has the timestamp/level
        prefix."""
        c = self.connect()
        port = c.sock.getsockname()[1]
        _, t = c.command("a", f"LOGIN alice {quote(WRONG)}")
        self.assertRegex(t, status_re("a", "NO"))
        self.login(c, tag="b")
        c.send_line("z LOGOUT")
        c.read_until_eof()
        self.wait_logout(port)
        sid, lines = self.session_lines(port)
        lines = [l for l in lines if "event=" in l]
        events = [re.search(r"\bevent=(\S+)", l).group(1) for l in lines]
        self.assertIn("connect", events)
        self.assertIn("logout", events)
        fail = [i for i, l in enumerate(lines) if "event=login" in l and "result=fail" in l.split()]
        ok = [i for i, l in enumerate(lines) if "event=login" in l and "result=ok" in l.split()]
        self.assertEqual(len(fail), 1, lines)
        self.assertEqual(len(ok), 1, lines)
        order = [events.index("connect"), fail[0], ok[0], events.index("logout")]
        self.assertEqual(order, sorted(order), lines)
        self.assertIn("ip=127.0.0.1", lines[events.index("connect")].split())
        self.assertRegex(lines[ok[0]], r'\buser="?alice"?( |$)')
        for l in lines:
            self.assertRegex(l, LINE)

    def test_every_event_has_sid(self):
        """Every connect/login/logout/disconnect line carries sid=."""
        c = self.connect()
        port = c.sock.getsockname()[1]
        self.login(c)
        c.send_line("z LOGOUT")
        c.read_until_eof()
        self.wait_logout(port)
        for l in self.server.log().splitlines():
            if re.search(r"\bevent=(connect|login|logout|disconnect|tls)\b", l):
                self.assertRegex(l, SID)

    def test_passwords_never_logged(self):
        """Neither passwords (right or wrong, LOGIN or AUTHENTICATE, quoted
        or literal) nor the PLAIN base64 appear in the log, even at
        log_level=info after failures."""
        c = self.connect()
        c.command("a", f"LOGIN alice {quote(WRONG)}")
        c.command("b", f"LOGIN nosuchuser {quote(WRONG)}")
        ir_wrong = plain_ir("alice", WRONG + "2")
        c.command("c", "AUTHENTICATE PLAIN " + ir_wrong)
        c.send(b"d LOGIN alice {%d+}\r\n%s\r\n" % (len(WRONG) + 1, (WRONG + "3").encode()))
        c.read_tagged("d")
        ir_ok = plain_ir("alice", self.users["alice"])
        _, t = c.command("e", "AUTHENTICATE PLAIN " + ir_ok)
        self.assertRegex(t, status_re("e", "OK"))
        c.send_line("z LOGOUT")
        c.read_until_eof()
        d = self.connect()
        port = d.sock.getsockname()[1]
        self.login(d, "carol")
        d.send_line("z LOGOUT")
        d.read_until_eof()
        self.wait_logout(port)
        log = self.server.log()
        for secret in (WRONG, self.users["alice"], self.users["carol"], ir_wrong, ir_ok,
                       'sp ace\\"q'):
            self.assertNotIn(secret, log)

    def test_disconnect_logged(self):
        """A client that just drops the connection produces
        event=disconnect (or logout) with its sid."""
        c = self.connect()
        port = c.sock.getsockname()[1]
        c.close()
        sid, _ = self.session_lines(port)
        self.wait_for(lambda l: f"sid={sid}" in l and
                      re.search(r"\bevent=(disconnect|logout)\b", l), f"disconnect of {sid}")

    def test_tls_event(self):
        """An IMAPS session logs event=tls result=ok with its sid and the
        TLS version; a STARTTLS session too."""
        for tls in (True, False):
            with self.subTest(imaps=tls):
                c = self.connect(tls=tls)
                if not tls:
                    self.starttls(c)
                port = c.sock.getsockname()[1]
                sid, _ = self.session_lines(port)
                line = self.wait_for(lambda l: f"sid={sid}" in l and "event=tls" in l.split(),
                                     f"tls of {sid}")[0]
                self.assertIn("result=ok", line.split())
                self.assertRegex(line, r"\bversion=TLSv1\.[23]\b")
