"""Connection limits (issue 4 item 1): per address before login, attempts
per minute, per user, per user+address with refuse and replace-oldest, and
the server total on both ports. Over a connection-level limit the greeting
is `* BYE [UNAVAILABLE]`; over a per-user limit LOGIN answers `NO [LIMIT]`
(RFC 5530)."""

import select
import socket
import time

from harness import ServerTestCase, quote, status_re


def login_cmd(c, tag, user, password):
    return c.command(tag, f"LOGIN {quote(user)} {quote(password)}")


class PreauthPerAddress(ServerTestCase):
    settings = {"max_preauth_connections_per_ip": "2", "connect_rate_per_ip": "0"}

    def test_third_preauth_connection_refused_with_reason(self):
        a, b = self.connect(), self.connect()
        c = self.connect(read_greeting=False)
        self.assertRegex(c.greeting(), r"^\* BYE \[UNAVAILABLE\] \S")
        # logging in frees the address's pre-login slot
        self.login(a)
        d = self.connect()
        self.login(d)
        self.login(b)
        self.assertIn("reason=ip_preauth", self.server.log())

    def test_imaps_refusal_after_handshake(self):
        """IMAPS: the BYE comes after the TLS handshake, readable."""
        a, b = self.connect(), self.connect()
        c = self.connect(tls=True, read_greeting=False)
        self.assertRegex(c.greeting(), r"^\* BYE \[UNAVAILABLE\] \S")
        for cl in (a, b):
            cl.command("z", "LOGOUT")
            cl.read_until_eof()
        time.sleep(0.2)


class ConnectRate(ServerTestCase):
    settings = {"connect_rate_per_ip": "3"}

    def test_attempts_per_minute(self):
        # the harness's start-up probe may have used attempts already
        greetings = []
        for _ in range(4):
            c = self.connect(read_greeting=False)
            greetings.append(c.greeting())
            c.close()
        self.assertTrue(greetings[0].startswith("* OK"), greetings)
        self.assertRegex(greetings[-1], r"^\* BYE \[UNAVAILABLE\] .*attempts")
        self.assertIn("reason=ip_rate", self.server.log())

    def test_flood_is_held_and_logged_once(self):
        """A client that reconnects as soon as it is refused: each refused
        connection waits ~1 s for its BYE (a tarpit: retrying at once gains
        nothing), and the flood logs one refusal line, not one per
        connection (the rest are counted in the next line's
        refused_unlogged)."""
        for _ in range(3):  # use up the attempts of this minute
            self.connect(read_greeting=False).close()
        before = self.server.log().count("event=refused")
        waits = []
        for _ in range(5):
            c = self.connect(read_greeting=False)
            t0 = time.monotonic()
            self.assertRegex(c.greeting(), r"^\* BYE \[UNAVAILABLE\]")
            waits.append(time.monotonic() - t0)
            c.close()
        self.assertGreaterEqual(min(waits), 0.8, waits)
        self.assertLessEqual(max(waits), 3.0, waits)
        time.sleep(0.2)
        self.assertLessEqual(self.server.log().count("event=refused") - before, 1)


class FloodHeldLonger(ServerTestCase):
    # max_connections 40: one address may have at most 40 / 8 = 5 held
    settings = {"max_preauth_connections_per_ip": "2", "connect_rate_per_ip": "0",
                "max_connections": "40"}

    def test_hold_grows_with_the_flood_and_is_bounded(self):
        """The more refused connections an address already has waiting,
        the longer the next one waits for its BYE (1 s per
        max_preauth_connections_per_ip held): a client that reconnects at
        once on refusal slows down in proportion to its flood. Beyond an
        eighth of max_connections held, the BYE comes at once."""
        self.connect(), self.connect()  # the address's two pre-login slots
        socks, t0 = [], time.monotonic()
        for _ in range(6):
            sk = socket.create_connection(("127.0.0.1", self.server.imap_port), timeout=10)
            self.addCleanup(sk.close)
            socks.append(sk)
            time.sleep(0.05)  # accepted in this order
        arrived = {}
        while len(arrived) < len(socks) and time.monotonic() - t0 < 10:
            ready, _, _ = select.select([s for s in socks if s not in arrived], [], [], 1)
            for sk in ready:
                data = sk.recv(4096)
                self.assertRegex(data.decode(), r"^\* BYE \[UNAVAILABLE\] ")
                arrived[sk] = time.monotonic() - t0
        waits = [arrived[sk] for sk in socks]
        # holds of 1, 1, 2, 2, 3 s; the sixth is over the bound: at once
        self.assertLess(waits[5], 0.8, waits)
        for i, want in enumerate((1, 1, 2, 2, 3)):
            self.assertGreaterEqual(waits[i], want - 0.2, waits)
            self.assertLess(waits[i], want + 1.0, waits)


class MaxConnectionsImaps(ServerTestCase):
    settings = {"max_connections": "1", "connect_rate_per_ip": "0"}

    def test_imaps_over_max_connections_gets_bye(self):
        """Before: IMAPS closed silently; now BYE after the handshake."""
        a = self.connect()
        c = self.connect(tls=True, read_greeting=False)
        self.assertRegex(c.greeting(), r"^\* BYE \[UNAVAILABLE\] Too many connections")
        p = self.connect(read_greeting=False)
        self.assertRegex(p.greeting(), r"^\* BYE \[UNAVAILABLE\] Too many connections")
        a.close()


class PerUserRefuse(ServerTestCase):
    settings = {"max_user_connections": "2", "max_userip_connections": "0",
                "connect_rate_per_ip": "0"}

    def test_third_session_no_limit_other_user_fine(self):
        a, b, c = self.connect(), self.connect(), self.connect()
        self.login(a)
        self.login(b)
        _, tagged = login_cmd(c, "L1", "alice", self.users["alice"])
        self.assertRegex(tagged, status_re("L1", "NO", "LIMIT"))
        # the refused connection may log in as another user
        self.login(c, user="bob")
        # the older sessions still work
        _, t = a.command("n1", "NOOP")
        self.assertRegex(t, status_re("n1", "OK"))
        # once one ends, the user may log in again
        b.command("z", "LOGOUT")
        b.read_until_eof()
        d = self.connect()
        deadline = time.monotonic() + 3
        while True:
            _, tagged = login_cmd(d, "L2", "alice", self.users["alice"])
            if "OK" in tagged or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertRegex(tagged, status_re("L2", "OK"))


class PerUserIpRefuse(ServerTestCase):
    settings = {"max_userip_connections": "1", "max_userip_connections_policy": "refuse",
                "connect_rate_per_ip": "0"}

    def test_second_session_from_address_refused(self):
        a, b = self.connect(), self.connect()
        self.login(a)
        _, tagged = login_cmd(b, "L1", "alice", self.users["alice"])
        self.assertRegex(tagged, status_re("L1", "NO", "LIMIT"))
        self.assertIn("address", tagged)


class PerUserIpReplaceOldest(ServerTestCase):
    settings = {"max_userip_connections": "2",
                "max_userip_connections_policy": "replace-oldest",
                "connect_rate_per_ip": "0", "threads": "2"}

    def test_longest_idle_session_replaced(self):
        a, b, c = self.connect(), self.connect(), self.connect()
        self.login(a)
        self.login(b)
        time.sleep(0.05)
        _, t = a.command("n1", "NOOP")  # b is now the longest idle
        self.assertRegex(t, status_re("n1", "OK"))
        self.login(c)
        bye = b.readline(timeout=5).decode()
        self.assertRegex(bye, r"^\* BYE \[UNAVAILABLE\] \S")
        b.read_until_eof()
        for cl, tag in ((a, "n2"), (c, "n3")):
            _, t = cl.command(tag, "NOOP")
            self.assertRegex(t, status_re(tag, "OK"))


class PerUserReplaceOldest(ServerTestCase):
    settings = {"max_user_connections": "1",
                "max_user_connections_policy": "replace-oldest",
                "connect_rate_per_ip": "0"}

    def test_user_limit_replaces(self):
        a, b = self.connect(), self.connect()
        self.login(a)
        self.login(b)
        self.assertRegex(a.readline(timeout=5).decode(), r"^\* BYE \[UNAVAILABLE\] ")
        _, t = b.command("n1", "NOOP")
        self.assertRegex(t, status_re("n1", "OK"))
