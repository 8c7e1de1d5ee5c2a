"""Session states (RFC 9051 §3): commands valid per state, NOOP, LOGOUT."""

from harness import ServerTestCase, plain_ir, quote, status_re


class WrongState(ServerTestCase):

    def test_enable_before_auth(self):
        """ENABLE in the not-authenticated state => tagged BAD; NOOP OK."""
        c = self.connect()
        untagged, tagged = c.command("a", "ENABLE IMAP4rev2")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertFalse([u for u in untagged if u.upper().startswith("* ENABLED")])
        self.assertNoop(c)

    def test_auth_commands_after_login(self):
        """LOGIN, AUTHENTICATE and STARTTLS in the authenticated state =>
        tagged BAD each (no "+" for AUTHENTICATE); NOOP OK afterwards."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("a", f"LOGIN bob {quote(self.users['bob'])}")
        self.assertRegex(tagged, status_re("a", "BAD"))
        _, tagged = c.command("b", "AUTHENTICATE PLAIN " + plain_ir("bob", self.users["bob"]))
        self.assertRegex(tagged, status_re("b", "BAD"))
        c.send_line("c AUTHENTICATE PLAIN")
        self.assertRegex(c.read_response(), status_re("c", "BAD"))
        _, tagged = c.command("d", "STARTTLS")
        self.assertRegex(tagged, status_re("d", "BAD"))
        self.assertNoop(c)


class NoopLogout(ServerTestCase):

    def test_noop_every_state(self):
        """NOOP => OK: not authenticated (plaintext, after STARTTLS, IMAPS)
        and authenticated."""
        c = self.connect()
        self.assertNoop(c, "n1")
        self.starttls(c)
        self.assertNoop(c, "n2")
        self.login(c)
        self.assertNoop(c, "n3")
        d = self.connect(tls=True)
        self.assertNoop(d, "n4")
        self.login(d)
        self.assertNoop(d, "n5")

    def _logout(self, c, tag="z"):
        c.send_line(f"{tag} LOGOUT")
        bye = c.read_response()
        self.assertRegex(bye, r"^\* BYE ")
        self.assertRegex(c.read_response(), status_re(tag, "OK"))
        self.assertEqual(c.read_until_eof(), b"")

    def test_logout_preauth(self):
        """LOGOUT => `* BYE ...`, then `z OK ...`, then EOF."""
        self._logout(self.connect())

    def test_logout_authenticated(self):
        """The same after LOGIN."""
        c = self.connect()
        self.login(c)
        self._logout(c)

    def test_logout_tls(self):
        """The same on IMAPS after LOGIN."""
        c = self.connect(tls=True)
        self.login(c)
        self._logout(c)

    def test_logout_stops_pipeline(self):
        """`a LOGOUT\\r\\nb NOOP\\r\\n` in one send: BYE, a OK, EOF; b is
        never answered."""
        c = self.connect()
        c.send(b"a LOGOUT\r\nb NOOP\r\n")
        self.assertRegex(c.read_response(), r"^\* BYE ")
        self.assertRegex(c.read_response(), status_re("a", "OK"))
        self.assertEqual(c.read_until_eof(), b"")

    def test_logout_with_argument_is_bad(self):
        """`a LOGOUT now` => BAD and the connection stays open."""
        c = self.connect()
        untagged, tagged = c.command("a", "LOGOUT now")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertEqual(untagged, [])
        self.assertNoop(c)
        self._logout(c)

    def test_imaplib_noop(self):
        """imaplib noop() before and after login."""
        m = self.server.imap()
        try:
            self.assertEqual(m.noop()[0], "OK")
            m.login("bob", self.users["bob"])
            self.assertEqual(m.noop()[0], "OK")
        finally:
            m.logout()
