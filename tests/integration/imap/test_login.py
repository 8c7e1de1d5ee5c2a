"""LOGIN (RFC 9051 §6.2.3): argument syntax, literals, results, state."""

from harness import ServerTestCase, caps_of, quote, status_re


class Login(ServerTestCase):

    def test_login_ok_with_capability(self):
        """`a LOGIN alice pw` (atoms) => `a OK [CAPABILITY ...]`."""
        c = self.connect()
        _, tagged = c.command("a", f"LOGIN alice {self.users['alice']}")
        self.assertRegex(tagged, status_re("a", "OK", "CAPABILITY"))
        self.assertIn("IMAP4REV2", caps_of(tagged))

    def test_wrong_password_and_unknown_user_identical(self):
        """A wrong password and an unknown user both give
        `NO [AUTHENTICATIONFAILED]` with identical text (no user
        enumeration); the session stays unauthenticated and usable."""
        c = self.connect()
        _, wrong = c.command("a", 'LOGIN alice "not-the-password"')
        _, unknown = c.command("b", 'LOGIN nosuchuser "not-the-password"')
        self.assertRegex(wrong, status_re("a", "NO", "AUTHENTICATIONFAILED"))
        self.assertRegex(unknown, status_re("b", "NO", "AUTHENTICATIONFAILED"))
        self.assertEqual(wrong[2:], unknown[2:])
        # still not authenticated: a correct LOGIN works now
        self.login(c)

    def test_quoted_with_escapes(self):
        """Quoted strings with \\" and \\\\ escapes: carol's password
        `sp ace"q\\b` sent as "sp ace\\"q\\\\b" logs in."""
        c = self.connect()
        self.assertEqual(quote(self.users["carol"]), '"sp ace\\"q\\\\b"')
        _, tagged = c.command("a", f'LOGIN "carol" {quote(self.users["carol"])}')
        self.assertRegex(tagged, status_re("a", "OK"))

    def test_quoted_escape_mismatch_fails(self):
        """The same password without unescaping (backslash kept literally
        before q) does not match: escapes are only \\\\ and \\"."""
        c = self.connect()
        _, tagged = c.command("a", 'LOGIN carol "sp ace\\"q\\\\\\\\b"')
        self.assertRegex(tagged, status_re("a", "NO", "AUTHENTICATIONFAILED"))

    def test_synchronizing_literal(self):
        """`a LOGIN alice {N}`: the server answers "+ " before the client
        sends the N bytes, then `a OK`."""
        c = self.connect()
        pw = self.users["alice"].encode()
        c.send(b"a LOGIN alice {%d}\r\n" % len(pw))
        cont = c.read_response()
        self.assertTrue(cont.startswith("+ "), f"expected continuation, got {cont!r}")
        c.send(pw + b"\r\n")
        untagged, tagged = c.read_tagged("a")
        self.assertRegex(tagged, status_re("a", "OK"))

    def test_literal_with_space_and_quote(self):
        """A literal carries carol's password verbatim (no escaping)."""
        c = self.connect()
        pw = self.users["carol"].encode()
        c.send(b"a LOGIN carol {%d}\r\n" % len(pw))
        self.assertTrue(c.read_response().startswith("+ "))
        c.send(pw + b"\r\n")
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "OK"))

    def test_nonsync_literals(self):
        """LITERAL+ `{n+}` for user and password in one send: no "+"
        continuation, just `a OK`."""
        c = self.connect()
        pw = self.users["alice"].encode()
        c.send(b"a LOGIN {5+}\r\nalice {%d+}\r\n%s\r\n" % (len(pw), pw))
        untagged, tagged = c.read_tagged("a")
        self.assertRegex(tagged, status_re("a", "OK"))
        self.assertFalse([u for u in untagged if u.startswith("+")], untagged)
        self.assertEqual(c.quiet(0.2), b"")

    def test_login_twice_is_bad(self):
        """A second LOGIN in the authenticated state is tagged BAD; the
        session continues (NOOP OK)."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("b", f"LOGIN alice {quote(self.users['alice'])}")
        self.assertRegex(tagged, status_re("b", "BAD"))
        self.assertNoop(c)

    def test_missing_and_extra_arguments(self):
        """LOGIN with one argument, or three, is tagged BAD."""
        c = self.connect()
        _, tagged = c.command("a", "LOGIN alice")
        self.assertRegex(tagged, status_re("a", "BAD"))
        _, tagged = c.command("b", f"LOGIN alice {quote(self.users['alice'])} extra")
        self.assertRegex(tagged, status_re("b", "BAD"))
        _, tagged = c.command("c", "LOGIN")
        self.assertRegex(tagged, status_re("c", "BAD"))
        self.login(c)

    def test_list_argument_is_bad(self):
        """A parenthesized list is not an astring: `LOGIN (alice) pw` BAD."""
        c = self.connect()
        _, tagged = c.command("a", f"LOGIN (alice) {quote(self.users['alice'])}")
        self.assertRegex(tagged, status_re("a", "BAD"))

    def test_user_name_is_case_sensitive(self):
        """User names are case-sensitive: ALICE is not alice."""
        c = self.connect()
        _, tagged = c.command("a", f"LOGIN ALICE {quote(self.users['alice'])}")
        self.assertRegex(tagged, status_re("a", "NO", "AUTHENTICATIONFAILED"))

    def test_imaplib_login_logout(self):
        """imaplib: login() returns OK, logout() returns BYE."""
        m = self.server.imap()
        try:
            typ, _ = m.login("carol", self.users["carol"])
            self.assertEqual(typ, "OK")
            self.assertEqual(m.state, "AUTH")
        finally:
            typ, _ = m.logout()
        self.assertEqual(typ, "BYE")


class LoginPipelining(ServerTestCase):
    """LOGIN waits for the password hash on a worker; commands after it must
    still run in order, in the state LOGIN left."""

    def test_pipelined_after_login(self):
        """`a LOGIN ...\\r\\nb CAPABILITY\\r\\nc ENABLE IMAP4rev2\\r\\n` in one
        send: a OK, then b's CAPABILITY already without AUTH=PLAIN, then
        c's ENABLED (valid only after login)."""
        c = self.connect()
        c.send(f"a LOGIN alice {quote(self.users['alice'])}\r\nb CAPABILITY\r\n"
               "c ENABLE IMAP4rev2\r\n".encode())
        _, ta = c.read_tagged("a")
        untagged_b, tb = c.read_tagged("b")
        untagged_c, tc = c.read_tagged("c")
        self.assertRegex(ta, status_re("a", "OK"))
        self.assertRegex(tb, status_re("b", "OK"))
        self.assertRegex(tc, status_re("c", "OK"))
        caps = caps_of(untagged_b[0])
        self.assertNotIn("AUTH=PLAIN", caps)
        self.assertTrue(any(u.upper().startswith("* ENABLED") for u in untagged_c), untagged_c)

    def test_pipelined_after_failed_login(self):
        """A failed LOGIN followed by ENABLE in one send: NO, then BAD
        (still not authenticated)."""
        c = self.connect()
        c.send(b'a LOGIN alice "nope"\r\nb ENABLE IMAP4rev2\r\n')
        _, ta = c.read_tagged("a")
        _, tb = c.read_tagged("b")
        self.assertRegex(ta, status_re("a", "NO", "AUTHENTICATIONFAILED"))
        self.assertRegex(tb, status_re("b", "BAD"))

    def test_literal_sent_in_pieces(self):
        """A synchronizing literal whose bytes arrive in two pieces, 0.3 s
        apart, is assembled: a OK."""
        c = self.connect()
        pw = self.users["alice"].encode()
        c.send(b"a LOGIN alice {%d}\r\n" % len(pw))
        self.assertTrue(c.read_response().startswith("+ "))
        c.send(pw[:5])
        self.assertEqual(c.quiet(0.3), b"")
        c.send(pw[5:] + b"\r\n")
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "OK"))

    def test_disconnect_during_login(self):
        """50 clients send LOGIN (and AUTHENTICATE) and close at once, while
        the hash is computed: the server survives (no use after free) and
        serves the next client."""
        for i in range(50):
            c = self.server.raw()
            try:
                c.greeting()
                if i % 2:
                    c.send(f"a LOGIN bob {quote(self.users['bob'])}\r\n".encode())
                else:
                    c.send(b"a AUTHENTICATE PLAIN AGJvYgBib2ItU2VjcmV0LTI=\r\n")
            finally:
                c.close()
        d = self.connect()
        self.login(d, "bob")
        self.server.assert_alive()

    def test_disconnect_mid_literal(self):
        """A client that closes in the middle of a literal does not disturb
        the server."""
        c = self.server.raw()
        c.greeting()
        c.send(b"a LOGIN alice {100+}\r\nabc")
        c.close()
        d = self.connect()
        self.assertNoop(d)
