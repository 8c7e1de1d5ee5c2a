"""Every timeout ends with its log line, event=timeout kind=... (issue 4
item 4): pre-auth, idle autologout, TLS handshake (which writes nothing
at all: a BYE mid-handshake would be garbage to the client)."""

import re
import socket
import time

from harness import HOST, ServerTestCase


class TimeoutLogs(ServerTestCase):
    settings = {"preauth_timeout": 3, "idle_timeout": 2, "tls_handshake_timeout": 1}

    def wait_log(self, pattern, timeout=6):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.server.log()):
            self.assertLess(time.monotonic(), deadline, self.server.log_tail())
            time.sleep(0.05)

    def test_tls_handshake(self):
        s = socket.create_connection((HOST, self.server.imaps_port), timeout=6)
        s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, never finished
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass
        finally:
            s.close()
        self.wait_log(r"event=timeout kind=tls_handshake ip=127\.0\.0\.1 ")

    def test_preauth(self):
        c = self.connect()
        self.assertRegex(c.read_response(timeout=5), r"^\* BYE ")
        self.wait_log(r"event=timeout sid=[0-9a-f]{16} kind=preauth")

    def test_idle(self):
        c = self.connect()
        self.login(c)
        self.assertRegex(c.read_response(timeout=6), r"^\* BYE .*[Aa]utologout")
        self.wait_log(r"event=timeout sid=[0-9a-f]{16} kind=idle")
