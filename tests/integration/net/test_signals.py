"""Signals: SIGTERM shuts down politely, SIGHUP reloads the certificate."""

import os
import signal
import tempfile
import time
import unittest

from harness import (USERS, RoostServer, cert_der, insecure_context, make_cert, quote,
                     status_re)
from harness import run_cli as harness_run_cli


class Signals(unittest.TestCase):

    def setUp(self):
        self.server = RoostServer(users=USERS)
        self.addCleanup(self.server.cleanup)
        self.server.start()

    def clients(self):
        """Sessions in several states: 2 plaintext pre-auth, 1 logged in,
        1 STARTTLS'ed, 1 IMAPS logged in."""
        srv = self.server
        out = []
        for _ in range(2):
            c = srv.raw()
            c.greeting()
            out.append(c)
        c = srv.raw()
        c.greeting()
        c.command("l", f"LOGIN alice {quote(USERS['alice'])}")
        out.append(c)
        c = srv.raw()
        c.greeting()
        _, t = c.command("s", "STARTTLS")
        self.assertRegex(t, status_re("s", "OK"))
        c.starttls(srv.context())
        out.append(c)
        c = srv.raw_tls()
        c.greeting()
        _, t = c.command("l", f"LOGIN bob {quote(USERS['bob'])}")
        self.assertRegex(t, status_re("l", "OK"))
        out.append(c)
        for c in out:
            self.addCleanup(c.close)
        return out

    def test_sigterm(self):
        """SIGTERM: every connected session receives `* BYE ...` then EOF,
        and the process exits with status 0 within 10 s."""
        conns = self.clients()
        start = time.monotonic()
        self.server.signal(signal.SIGTERM)
        for i, c in enumerate(conns):
            line = c.read_response(timeout=10)
            self.assertRegex(line, r"^\* BYE ", f"session {i}")
            self.assertEqual(c.read_until_eof(timeout=10), b"", f"session {i}")
        rc = self.server.wait_exit(max(0.1, 10 - (time.monotonic() - start)))
        self.assertIsNotNone(rc, "roost did not exit within 10 s of SIGTERM")
        self.server.check_clean_exit()

    def test_sigterm_idle(self):
        """SIGTERM with no sessions: exit status 0 within 10 s."""
        self.assertEqual(self.server.stop(), 0)

    def test_sigint(self):
        """SIGINT (Ctrl-C under `make run`) also exits 0 with BYE."""
        c = self.server.raw()
        self.addCleanup(c.close)
        c.greeting()
        self.server.signal(signal.SIGINT)
        self.assertRegex(c.read_response(timeout=10), r"^\* BYE ")
        self.assertEqual(self.server.wait_exit(), 0)

    def peer_der(self):
        c = self.server.raw_tls(insecure_context())
        try:
            c.greeting()
            return c.sock.getpeercert(binary_form=True)
        finally:
            c.close()

    def test_sighup_reloads_certificate(self):
        """SIGHUP after replacing tls/cert.pem and tls/key.pem: new IMAPS
        and STARTTLS connections see the new certificate (DER compare);
        sessions opened before keep working; the server keeps running."""
        srv = self.server
        old = self.clients()
        self.assertEqual(self.peer_der(), cert_der(srv.ca_file))
        with tempfile.TemporaryDirectory() as d:
            new_cert, new_key = make_cert(d, cn="renewed.localhost")
            new_der = cert_der(new_cert)
            # replace atomically, key first (as a renewal tool would)
            os.replace(new_key, srv.key + ".new")
            os.replace(srv.key + ".new", srv.key)
            os.replace(new_cert, srv.cert + ".new")
            os.replace(srv.cert + ".new", srv.cert)
        self.assertNotEqual(new_der, cert_der(srv.ca_file))
        srv.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while self.peer_der() != new_der:
            self.assertLess(time.monotonic(), deadline, "new certificate not served 5 s after SIGHUP")
            time.sleep(0.1)
        # STARTTLS uses it too
        c = srv.raw()
        self.addCleanup(c.close)
        c.greeting()
        _, t = c.command("s", "STARTTLS")
        self.assertRegex(t, status_re("s", "OK"))
        c.starttls(insecure_context())
        self.assertEqual(c.sock.getpeercert(binary_form=True), new_der)
        # old sessions keep working (and old TLS ones keep the old cert)
        for i, o in enumerate(old):
            _, t = o.command(f"n{i}", "NOOP")
            self.assertRegex(t, status_re(f"n{i}", "OK"))
        self.assertEqual(old[-1].sock.getpeercert(binary_form=True), cert_der(srv.ca_file))
        srv.assert_alive()
        self.assertEqual(srv.stop(), 0)

    def test_sighup_bad_certificate_keeps_old(self):
        """SIGHUP while tls/cert.pem is garbage: the reload fails, the
        server keeps running and serving the old certificate."""
        srv = self.server
        with open(srv.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        srv.signal(signal.SIGHUP)
        time.sleep(0.5)
        srv.assert_alive()
        self.assertEqual(self.peer_der(), cert_der(srv.ca_file))
        self.assertEqual(srv.stop(), 0)

    def test_sighup_reloads_passwd(self):
        """SIGHUP re-reads the passwd-file: a user added with `roost user
        add` while the server runs can log in after SIGHUP; a deleted one
        cannot."""
        srv = self.server
        srv.add_user("newbie", "newbie-Pw-7")
        run = harness_run_cli(["user", "del", "bob", "-c", srv.conf])
        self.assertEqual(run.returncode, 0, run.stderr)
        srv.signal(signal.SIGHUP)
        def login(user, pw):
            c = srv.raw()
            try:
                c.greeting()
                return c.command("a", f"LOGIN {user} {quote(pw)}")[1]
            finally:
                c.close()

        deadline = time.monotonic() + 5
        while True:
            new = login("newbie", "newbie-Pw-7")
            if new.startswith("a OK ") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        old = login("bob", USERS["bob"])
        self.assertRegex(new, status_re("a", "OK"))
        self.assertRegex(old, status_re("a", "NO", "AUTHENTICATIONFAILED"))
        self.assertEqual(srv.stop(), 0)

    def test_sighup_no_change(self):
        """SIGHUP with nothing changed: the server keeps running and
        serving TLS with the same certificate."""
        self.server.signal(signal.SIGHUP)
        time.sleep(0.3)
        self.server.assert_alive()
        c = self.server.raw_tls(self.server.context())
        self.addCleanup(c.close)
        self.assertTrue(c.greeting().startswith("* OK "))
        self.assertEqual(self.server.stop(), 0)


