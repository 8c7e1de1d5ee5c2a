"""AUTHENTICATE PLAIN (RFC 9051 §6.2.2, RFC 4959 SASL-IR, RFC 4616)."""

from harness import ServerTestCase, b64, caps_of, plain_ir, status_re


class AuthenticatePlain(ServerTestCase):

    def expect_continuation(self, c):
        line = c.read_response()
        self.assertTrue(line.startswith("+ "), f"expected a '+ ' continuation, got {line!r}")
        return line

    def test_initial_response(self):
        """SASL-IR: `a AUTHENTICATE PLAIN <b64>` => `a OK [CAPABILITY ...]`
        with no continuation."""
        c = self.connect()
        untagged, tagged = c.command("a", "AUTHENTICATE PLAIN " + plain_ir("alice", self.users["alice"]))
        self.assertRegex(tagged, status_re("a", "OK", "CAPABILITY"))
        self.assertEqual([u for u in untagged if u.startswith("+")], [])
        self.assertIn("IMAP4REV2", caps_of(tagged))

    def test_continuation(self):
        """Without an initial response the server sends "+ " (empty
        challenge), the client sends the base64 line, then `a OK`."""
        c = self.connect()
        c.send_line("a AUTHENTICATE PLAIN")
        cont = self.expect_continuation(c)
        self.assertEqual(cont, "+ ", "PLAIN's challenge is empty")
        c.send_line(plain_ir("bob", self.users["bob"]))
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "OK", "CAPABILITY"))

    def test_empty_initial_response(self):
        """`=` is an empty initial response (RFC 9051 §6.2.2): the server
        continues with "+ " and the credentials follow; `a OK`."""
        c = self.connect()
        c.send_line("a AUTHENTICATE PLAIN =")
        self.expect_continuation(c)
        c.send_line(plain_ir("alice", self.users["alice"]))
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "OK"))

    def test_cancel(self):
        """A "*" line cancels: tagged BAD; still not authenticated; usable."""
        c = self.connect()
        c.send_line("a AUTHENTICATE PLAIN")
        self.expect_continuation(c)
        c.send_line("*")
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "BAD"))
        _, tagged = c.command("b", "ENABLE IMAP4rev2")
        self.assertRegex(tagged, status_re("b", "BAD"), "ENABLE needs authentication")
        self.assertNoop(c)

    def test_invalid_base64_initial_response(self):
        """Undecodable base64 as initial response => tagged BAD."""
        c = self.connect()
        for tag, ir in (("a", "!!!!"), ("b", "AGFsaWNl=AA"), ("c", "AGFsaWNlAHB")):
            # bad characters; data after padding; bad length
            _, tagged = c.command(tag, "AUTHENTICATE PLAIN " + ir)
            self.assertRegex(tagged, status_re(tag, "BAD"))
        self.assertNoop(c)

    def test_invalid_base64_continuation(self):
        """Undecodable base64 after "+ " => tagged BAD; usable afterwards."""
        c = self.connect()
        c.send_line("a AUTHENTICATE PLAIN")
        self.expect_continuation(c)
        c.send_line("%%%% not base64")
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "BAD"))
        self.assertNoop(c)

    def test_wrong_password(self):
        """Wrong password => NO [AUTHENTICATIONFAILED]; same as an unknown
        user (identical text)."""
        c = self.connect()
        _, wrong = c.command("a", "AUTHENTICATE PLAIN " + plain_ir("alice", "wrong-one"))
        _, unknown = c.command("b", "AUTHENTICATE PLAIN " + plain_ir("nosuch", "wrong-one"))
        self.assertRegex(wrong, status_re("a", "NO", "AUTHENTICATIONFAILED"))
        self.assertRegex(unknown, status_re("b", "NO", "AUTHENTICATIONFAILED"))
        self.assertEqual(wrong[2:], unknown[2:])

    def test_authzid_other_user(self):
        """authzid bob with alice's credentials => NO with
        [AUTHORIZATIONFAILED] or [AUTHENTICATIONFAILED] (no proxy logins)."""
        c = self.connect()
        _, tagged = c.command("a", "AUTHENTICATE PLAIN "
                              + plain_ir("alice", self.users["alice"], authzid="bob"))
        self.assertRegex(tagged, r"^a NO \[(AUTHORIZATIONFAILED|AUTHENTICATIONFAILED)\]")
        self.assertNoop(c)

    def test_authzid_same_user(self):
        """authzid equal to authcid is allowed => OK."""
        c = self.connect()
        _, tagged = c.command("a", "AUTHENTICATE PLAIN "
                              + plain_ir("alice", self.users["alice"], authzid="alice"))
        self.assertRegex(tagged, status_re("a", "OK"))

    def test_unknown_mechanism(self):
        """An unsupported mechanism => tagged NO, no continuation."""
        c = self.connect()
        for tag, mech in (("a", "FOOBAR"), ("b", "CRAM-MD5"), ("c", "LOGIN")):
            c.send_line(f"{tag} AUTHENTICATE {mech}")
            self.assertRegex(c.read_response(), status_re(tag, "NO"))
        self.assertNoop(c)

    def test_mechanism_case_insensitive(self):
        """`authenticate plain <ir>` (lower case) works."""
        c = self.connect()
        _, tagged = c.command("a", "authenticate plain " + plain_ir("alice", self.users["alice"]))
        self.assertRegex(tagged, status_re("a", "OK"))

    def test_missing_mechanism(self):
        """`a AUTHENTICATE` without a mechanism => BAD."""
        c = self.connect()
        _, tagged = c.command("a", "AUTHENTICATE")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertNoop(c)

    def test_missing_nul(self):
        """A well-formed base64 message that is not a PLAIN message (no NUL
        separators) fails: tagged NO or BAD, session usable."""
        c = self.connect()
        _, tagged = c.command("a", "AUTHENTICATE PLAIN " + b64("alice alice-Secret-1"))
        self.assertRegex(tagged, status_re("a", "(NO|BAD)"))
        self.assertNoop(c)

    def test_imaplib_authenticate(self):
        """imaplib's AUTHENTICATE (continuation style) logs in."""
        m = self.server.imap()
        try:
            pw = self.users["carol"]
            typ, _ = m.authenticate("PLAIN", lambda _: f"\0carol\0{pw}".encode())
            self.assertEqual(typ, "OK")
        finally:
            m.logout()
