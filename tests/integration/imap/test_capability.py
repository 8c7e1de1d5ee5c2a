"""Greeting and CAPABILITY in every state (RFC 9051 §7.1, §6.1.1, §6.2)."""

from harness import ServerTestCase, caps_of, plain_ir, quote, status_re

BASE = {"IMAP4REV1", "IMAP4REV2"}


class Greeting(ServerTestCase):

    def test_greeting_has_capability_code(self):
        """The greeting is `* OK [CAPABILITY ...] text` and lists IMAP4rev1
        and IMAP4rev2."""
        c = self.connect(read_greeting=False)
        g = c.greeting()
        self.assertRegex(g, r"^\* OK \[CAPABILITY [^\]]+\] ")
        self.assertLessEqual(BASE, caps_of(g))

    def test_greeting_caps_equal_capability_command(self):
        """The greeting's capabilities equal those of CAPABILITY, which
        answers with exactly one untagged CAPABILITY and a tagged OK."""
        c = self.connect()
        self.assertEqual(caps_of(c.greeting_line), self.caps(c, "a1"))

    def test_capability_lowercase_command(self):
        """Command names are case-insensitive: `a capability` works."""
        c = self.connect()
        untagged, tagged = c.command("a", "capability")
        self.assertRegex(tagged, status_re("a", "OK"))
        self.assertEqual(len(untagged), 1)
        self.assertLessEqual(BASE, caps_of(untagged[0]))

    def test_capability_with_argument_is_bad(self):
        """CAPABILITY takes no arguments: `a CAPABILITY foo` is tagged BAD
        with no untagged CAPABILITY, and the session goes on."""
        c = self.connect()
        untagged, tagged = c.command("a", "CAPABILITY foo")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertEqual(untagged, [])
        self.assertNoop(c)


class CapsLoopback(ServerTestCase):
    """plaintext_auth=loopback (the default): plaintext login is allowed on
    127.0.0.1."""

    def test_preauth_plaintext(self):
        """Pre-auth on the plaintext port: STARTTLS, AUTH=PLAIN, SASL-IR,
        LITERAL+, ID, ENABLE; no LOGINDISABLED."""
        c = self.connect()
        caps = self.caps(c)
        self.assertLessEqual(BASE | {"STARTTLS", "AUTH=PLAIN", "SASL-IR", "LITERAL+", "ID",
                                     "ENABLE"}, caps)
        self.assertNotIn("LOGINDISABLED", caps)

    def test_after_starttls(self):
        """After STARTTLS: no STARTTLS, no LOGINDISABLED, AUTH=PLAIN."""
        c = self.connect()
        self.starttls(c)
        caps = self.caps(c)
        self.assertLessEqual(BASE | {"AUTH=PLAIN"}, caps)
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)

    def test_after_login(self):
        """After LOGIN: the tagged OK carries [CAPABILITY ...] equal to a
        following CAPABILITY; neither lists STARTTLS, AUTH=... or
        LOGINDISABLED."""
        c = self.connect()
        ok = self.login(c)
        code_caps = caps_of(ok)
        self.assertIsNotNone(code_caps, f"no [CAPABILITY] in {ok!r}")
        caps = self.caps(c)
        self.assertEqual(code_caps, caps)
        self.assertLessEqual(BASE, caps)
        for cap in caps:
            self.assertFalse(cap == "STARTTLS" or cap.startswith("AUTH=") or cap == "LOGINDISABLED",
                             f"{cap} advertised after login: {caps}")

    def test_after_authenticate(self):
        """After AUTHENTICATE PLAIN: the tagged OK carries [CAPABILITY ...]
        without AUTH=/STARTTLS/LOGINDISABLED."""
        c = self.connect()
        _, ok = c.command("a", "AUTHENTICATE PLAIN " + plain_ir("bob", self.users["bob"]))
        self.assertRegex(ok, status_re("a", "OK", "CAPABILITY"))
        caps = caps_of(ok)
        self.assertLessEqual(BASE, caps)
        self.assertFalse({c for c in caps if c.startswith("AUTH=")} | ({"STARTTLS", "LOGINDISABLED"} & caps))

    def test_imaps(self):
        """On the IMAPS port: the greeting and CAPABILITY list AUTH=PLAIN but
        not STARTTLS nor LOGINDISABLED."""
        c = self.connect(tls=True)
        greeting_caps = caps_of(c.greeting_line)
        caps = self.caps(c)
        self.assertEqual(greeting_caps, caps)
        self.assertLessEqual(BASE | {"AUTH=PLAIN"}, caps)
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)


class CapsPlaintextNever(ServerTestCase):
    """plaintext_auth=never: TLS required even on loopback."""

    plaintext_auth = "never"

    def test_preauth_plaintext_logindisabled(self):
        """Plaintext pre-auth: LOGINDISABLED and STARTTLS, no AUTH=PLAIN."""
        c = self.connect()
        caps = self.caps(c)
        self.assertIn("LOGINDISABLED", caps)
        self.assertIn("STARTTLS", caps)
        self.assertNotIn("AUTH=PLAIN", caps)
        self.assertLessEqual(BASE, caps)

    def test_login_privacyrequired(self):
        """LOGIN in plaintext (even with the right password) is refused with
        `NO [PRIVACYREQUIRED]`; the session stays unauthenticated."""
        c = self.connect()
        _, tagged = c.command("a", f"LOGIN alice {quote(self.users['alice'])}")
        self.assertRegex(tagged, status_re("a", "NO", "PRIVACYREQUIRED"))
        _, tagged = c.command("b", "ENABLE IMAP4rev2")
        self.assertRegex(tagged, status_re("b", "BAD"))

    def test_authenticate_ir_privacyrequired(self):
        """AUTHENTICATE PLAIN with an initial response in plaintext is
        refused with `NO [PRIVACYREQUIRED]`."""
        c = self.connect()
        _, tagged = c.command("a", "AUTHENTICATE PLAIN " + plain_ir("alice", self.users["alice"]))
        self.assertRegex(tagged, status_re("a", "NO", "PRIVACYREQUIRED"))

    def test_authenticate_no_ir_privacyrequired(self):
        """AUTHENTICATE PLAIN without initial response in plaintext: the
        very next line is `a NO [PRIVACYREQUIRED]` (no "+" asking for a
        password that would be refused)."""
        c = self.connect()
        c.send_line("a AUTHENTICATE PLAIN")
        self.assertRegex(c.read_response(), status_re("a", "NO", "PRIVACYREQUIRED"))
        self.assertNoop(c)

    def test_starttls_then_login(self):
        """After STARTTLS: AUTH=PLAIN, no LOGINDISABLED, and LOGIN works."""
        c = self.connect()
        self.starttls(c)
        caps = self.caps(c)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.assertNotIn("STARTTLS", caps)
        self.login(c)

    def test_imaps_login(self):
        """On IMAPS no LOGINDISABLED, and LOGIN works."""
        c = self.connect(tls=True)
        self.assertNotIn("LOGINDISABLED", caps_of(c.greeting_line))
        self.login(c)



class CapsPlaintextNeverOverride(ServerTestCase):
    """`roost serve -c CONF -o plaintext_auth=never` (config says always):
    the command-line override wins."""

    plaintext_auth = "always"
    serve_args = ("-o", "plaintext_auth=never")

    def test_override_applies(self):
        """LOGINDISABLED advertised, LOGIN answered NO [PRIVACYREQUIRED]."""
        c = self.connect()
        caps = self.caps(c)
        self.assertIn("LOGINDISABLED", caps)
        self.assertNotIn("AUTH=PLAIN", caps)
        _, tagged = c.command("a", f"LOGIN alice {quote(self.users['alice'])}")
        self.assertRegex(tagged, status_re("a", "NO", "PRIVACYREQUIRED"))


class CapsPlaintextAlways(ServerTestCase):
    """plaintext_auth=always behaves like loopback here (we are on
    127.0.0.1): AUTH=PLAIN, no LOGINDISABLED, LOGIN works."""

    plaintext_auth = "always"

    def test_login_allowed(self):
        """AUTH=PLAIN advertised and LOGIN OK in plaintext."""
        c = self.connect()
        caps = self.caps(c)
        self.assertIn("AUTH=PLAIN", caps)
        self.assertNotIn("LOGINDISABLED", caps)
        self.login(c)
