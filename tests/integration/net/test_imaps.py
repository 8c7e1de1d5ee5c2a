"""Implicit TLS (IMAPS, RFC 8314): versions, certificate, resumption."""

import socket
import ssl
import warnings

from harness import HOST, ServerTestCase, cert_der, status_re


class IMAPS(ServerTestCase):

    def test_imaplib_login(self):
        """imaplib.IMAP4_SSL with a context trusting the generated cert:
        login OK, noop OK, logout BYE."""
        m = self.server.imaps()
        try:
            self.assertEqual(m.login("bob", self.users["bob"])[0], "OK")
            self.assertEqual(m.noop()[0], "OK")
        finally:
            self.assertEqual(m.logout()[0], "BYE")

    def test_certificate(self):
        """The server presents the configured certificate; TLS >= 1.2."""
        c = self.connect(tls=True)
        self.assertEqual(c.sock.getpeercert(binary_form=True), cert_der(self.server.ca_file))
        self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))

    def test_tls12(self):
        """A TLS 1.2-only client connects (positive control for the next
        test) and gets the greeting."""
        c = self.server.raw_tls(self.server.context(maximum_version=ssl.TLSVersion.TLSv1_2))
        self.addCleanup(c.close)
        self.assertEqual(c.sock.version(), "TLSv1.2")
        self.assertTrue(c.greeting().startswith("* OK "))

    def test_tls11_refused(self):
        """A client limited to TLS 1.0/1.1 cannot complete a handshake."""
        ctx = self.server.context()
        try:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        except (ssl.SSLError, ValueError) as e:
            self.skipTest(f"this client cannot offer TLS 1.1: {e}")
        sock = socket.create_connection((HOST, self.server.imaps_port), timeout=10)
        try:
            with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError)) as cm:
                ctx.wrap_socket(sock, server_hostname=HOST)
            if "NO_PROTOCOLS_AVAILABLE" in str(cm.exception) or \
                    "NO_CIPHERS_AVAILABLE" in str(cm.exception):
                self.skipTest(f"this client cannot offer TLS 1.1: {cm.exception}")
        finally:
            sock.close()

    def _resume(self, ctx):
        first = self.server.raw_tls(ctx)
        self.addCleanup(first.close)
        first.greeting()       # TLS 1.3 tickets arrive after the handshake
        self.assertNoop(first)
        session = first.sock.session
        self.assertIsNotNone(session)
        self.assertFalse(first.sock.session_reused)
        second = self.server.raw_tls(ctx, session=session)
        self.addCleanup(second.close)
        self.assertTrue(second.greeting().startswith("* OK "))
        return second.sock.session_reused

    def test_session_resumption_tls13(self):
        """A second connection offering the first one's session resumes it
        (session_reused is True)."""
        self.assertTrue(self._resume(self.server.context()))

    def test_session_resumption_tls12(self):
        """The same with TLS 1.2 (session tickets or session-id cache)."""
        self.assertTrue(self._resume(self.server.context(
            maximum_version=ssl.TLSVersion.TLSv1_2)))

    def test_plaintext_on_imaps_port(self):
        """Plain IMAP bytes on the IMAPS port: no IMAP response in the clear;
        the connection is closed; the server keeps serving."""
        sock = socket.create_connection((HOST, self.server.imaps_port), timeout=10)
        try:
            sock.sendall(b"a CAPABILITY\r\n")
            data = b""
            while True:
                try:
                    chunk = sock.recv(4096)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                data += chunk
            self.assertNotIn(b"CAPABILITY", data)
        finally:
            sock.close()
        c = self.connect(tls=True)
        _, tagged = c.command("x", "NOOP")
        self.assertRegex(tagged, status_re("x", "OK"))
