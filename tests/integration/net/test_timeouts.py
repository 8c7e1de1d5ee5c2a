"""Timeouts: the pre-authentication login timeout."""

import socket
import time

from harness import HOST, ServerTestCase


class PreauthTimeout(ServerTestCase):
    settings = {"preauth_timeout": 2, "tls_handshake_timeout": 3}

    def test_idle_preauth_gets_bye(self):
        """With preauth_timeout=2 an idle unauthenticated connection gets
        `* BYE ...` within ~4 s, then EOF (nothing else)."""
        c = self.connect(timeout=8)
        start = time.monotonic()
        line = c.read_response(timeout=6)
        self.assertRegex(line, r"^\* BYE ")
        self.assertLess(time.monotonic() - start, 4.5)
        self.assertGreater(time.monotonic() - start, 1.0)
        self.assertEqual(c.read_until_eof(timeout=3), b"")

    def test_tls_preauth_gets_bye(self):
        """The same on IMAPS."""
        c = self.connect(tls=True, timeout=8)
        line = c.read_response(timeout=6)
        self.assertRegex(line, r"^\* BYE ")
        self.assertEqual(c.read_until_eof(timeout=3), b"")

    def test_authenticated_not_cut(self):
        """After LOGIN the pre-auth timeout no longer applies: NOOP works
        after 3.5 s of silence."""
        c = self.connect()
        self.login(c)
        self.assertEqual(c.quiet(3.5), b"")
        self.assertNoop(c)

    def test_silent_tcp_connection_closed(self):
        """A TCP connection that never even completes TLS on IMAPS is
        closed as well (tls_handshake_timeout=3: within 10 s)."""
        s = socket.create_connection((HOST, self.server.imaps_port), timeout=12)
        try:
            start = time.monotonic()
            data = s.recv(100)
            self.assertEqual(data, b"")
            self.assertLess(time.monotonic() - start, 11)
        except ConnectionResetError:
            pass
        finally:
            s.close()
