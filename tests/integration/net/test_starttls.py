"""STARTTLS (RFC 9051 §6.2.1) including the command-injection case."""

import ssl

from harness import ServerTestCase, cert_der, status_re


class StartTLS(ServerTestCase):

    def test_starttls_then_login(self):
        """`a STARTTLS` => `a OK`, nothing more in plaintext; the TLS
        handshake succeeds with the configured certificate; LOGIN works."""
        c = self.connect()
        untagged, tagged = c.command("a", "STARTTLS")
        self.assertRegex(tagged, status_re("a", "OK"))
        self.assertEqual(untagged, [])
        self.assertEqual(c.quiet(0.2), b"", "plaintext after the STARTTLS OK")
        c.starttls(self.server.context())
        self.assertEqual(c.sock.getpeercert(binary_form=True), cert_der(self.server.ca_file))
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
        self.login(c)
        self.assertNoop(c)

    def test_injection_is_discarded(self):
        """`a STARTTLS\\r\\nb CAPABILITY\\r\\n` in one send(): only a is
        answered; b, pipelined in plaintext, is never answered (neither
        before nor after the handshake); `c NOOP` over TLS gets OK."""
        c = self.connect()
        c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")
        untagged, tagged = c.read_tagged("a")
        self.assertRegex(tagged, status_re("a", "OK"))
        self.assertEqual(untagged, [])
        leftover = c.quiet(0.3)
        self.assertEqual(leftover, b"", "server answered in plaintext after STARTTLS OK")
        try:
            c.starttls(self.server.context())
        except ssl.SSLError as e:
            self.fail(f"TLS handshake failed after STARTTLS with pipelined input: {e}")
        untagged, tagged = c.command("c", "NOOP")
        self.assertRegex(tagged, status_re("c", "OK"))
        self.assertFalse([u for u in untagged if u.startswith("b ")], untagged)
        self.assertFalse([u for u in untagged if u.upper().startswith("* CAPABILITY")], untagged)
        self.assertEqual(c.quiet(0.3), b"")

    def test_starttls_twice_is_bad(self):
        """STARTTLS inside TLS => tagged BAD; the TLS session goes on."""
        c = self.connect()
        self.starttls(c)
        _, tagged = c.command("b", "STARTTLS")
        self.assertRegex(tagged, status_re("b", "BAD"))
        self.assertNoop(c)
        self.login(c)

    def test_starttls_after_login_is_bad(self):
        """STARTTLS in the authenticated state => tagged BAD; the plaintext
        session goes on."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("b", "STARTTLS")
        self.assertRegex(tagged, status_re("b", "BAD"))
        self.assertEqual(c.quiet(0.2), b"")
        self.assertNoop(c)

    def test_starttls_on_imaps_is_bad(self):
        """STARTTLS on the IMAPS port => tagged BAD."""
        c = self.connect(tls=True)
        _, tagged = c.command("a", "STARTTLS")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertNoop(c)

    def test_starttls_with_argument_is_bad(self):
        """`a STARTTLS x` => BAD, and the connection stays plaintext
        (a following NOOP is answered in plaintext)."""
        c = self.connect()
        _, tagged = c.command("a", "STARTTLS x")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertNoop(c)

    def test_imaplib_starttls(self):
        """imaplib: starttls() then login() over TLS."""
        m = self.server.imap()
        try:
            self.assertEqual(m.starttls(ssl_context=self.server.context())[0], "OK")
            self.assertEqual(m.login("alice", self.users["alice"])[0], "OK")
        finally:
            m.logout()

    def test_handshake_garbage_closes(self):
        """Garbage instead of a ClientHello after STARTTLS: the server closes
        that connection and keeps serving others."""
        c = self.connect()
        _, tagged = c.command("a", "STARTTLS")
        self.assertRegex(tagged, status_re("a", "OK"))
        c.send(b"b NOOP\r\n" * 10)
        c.read_until_eof()
        d = self.connect()
        self.assertNoop(d)
