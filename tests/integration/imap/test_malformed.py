"""Malformed input: every error is answered and the connection stays usable
(RFC 9051 §7.1.3 BAD, RFC 7888 LITERAL+, RFC 9051 §7.1 TOOBIG)."""

import random

from harness import ServerTestCase, status_re

MAX_LINE = 2048


class Malformed(ServerTestCase):
    settings = {"max_line_length": MAX_LINE}

    def bad_then_noop(self, data, tag="a"):
        """Sends data, expects one BAD (tagged `tag` or untagged), then
        `x NOOP` => `x OK` with nothing else in between."""
        c = self.connect()
        c.send(data)
        line = c.read_response()
        self.assertRegex(line, rf"^({tag}|\*) BAD ", f"for {data[:80]!r}")
        untagged, tagged = c.command("x", "NOOP")
        self.assertRegex(tagged, status_re("x", "OK"))
        self.assertEqual(untagged, [], f"extra responses for {data[:80]!r}")
        return c

    def test_unterminated_quote(self):
        """`a LOGIN "alice` then CRLF => BAD; NOOP OK."""
        self.bad_then_noop(b'a LOGIN "alice\r\n')

    def test_bad_escape(self):
        """`\\i` inside a quoted string is not a valid escape => BAD."""
        self.bad_then_noop(b'a LOGIN "al\\ice" "pw"\r\n')

    def test_nul_in_quoted(self):
        """A NUL byte inside a quoted string => BAD."""
        self.bad_then_noop(b'a LOGIN "al\x00ice" "pw"\r\n')

    def test_nul_in_atom(self):
        """A NUL byte in an atom => BAD."""
        self.bad_then_noop(b"a NOOP\x00\r\n")

    def test_8bit_in_atom(self):
        """An 8-bit byte in an atom/command name => BAD."""
        self.bad_then_noop(b"a NO\xc3\xa9OP\r\n")

    def test_bare_cr(self):
        """A bare CR inside a line => one BAD; the text after it up to LF
        is part of the bad line (`b NOOP` is not executed)."""
        c = self.bad_then_noop(b"a NOOP\rb NOOP\r\n")
        self.assertEqual(c.quiet(0.2), b"")

    def test_line_too_long(self):
        """A line longer than max_line_length (2048) => BAD; NOOP OK."""
        self.bad_then_noop(b"a NOOP " + b"x" * (MAX_LINE + 100) + b"\r\n")

    def test_very_long_line(self):
        """A 1 MB line is discarded without harm => BAD; NOOP OK."""
        self.bad_then_noop(b"a LOGIN " + b"y" * 1000000 + b"\r\n")

    def test_long_quoted_line(self):
        """A line over the limit inside a quoted string => BAD; NOOP OK."""
        self.bad_then_noop(b'a LOGIN alice "' + b"z" * (MAX_LINE * 3) + b'"\r\n')

    def test_literal_too_big_preauth(self):
        """`a LOGIN alice {100000}` before login (limit 8k) => `a NO
        [TOOBIG]` with no "+" continuation; NOOP OK."""
        c = self.connect()
        c.send(b"a LOGIN alice {100000}\r\n")
        line = c.read_response()
        self.assertRegex(line, status_re("a", "NO", "TOOBIG"))
        self.assertNoop(c, "x")

    def test_literal_limit_boundary_preauth(self):
        """max_literal_size_preauth (default 8k = 8192) is inclusive: {8192}
        gets "+ " (then the wrong password fails with NO, not TOOBIG);
        {8193} gets NO [TOOBIG] without "+"."""
        c = self.connect()
        c.send(b"a LOGIN alice {8192}\r\n")
        self.assertTrue(c.read_response().startswith("+ "))
        c.send(b"w" * 8192 + b"\r\n")
        _, tagged = c.read_tagged("a")
        self.assertRegex(tagged, r"^a NO ")
        self.assertNotIn("TOOBIG", tagged)
        c.send(b"b LOGIN alice {8193}\r\n")
        self.assertRegex(c.read_response(), status_re("b", "NO", "TOOBIG"))
        self.assertNoop(c, "x")

    def test_literal_limit_after_login(self):
        """After login the larger max_literal_size applies: a 20000-byte
        literal (TOOBIG before login) gets "+ " and the command runs."""
        c = self.connect()
        c.send(b'p ID ("name" {20000}\r\n')
        self.assertRegex(c.read_response(), status_re("p", "NO", "TOOBIG"))
        self.login(c)
        c.send(b'a ID ("name" {20000}\r\n')
        self.assertTrue(c.read_response().startswith("+ "))
        c.send(b"n" * 20000 + b")\r\n")
        _, tagged = c.read_tagged("a")
        self.assertRegex(tagged, r"^a (OK|BAD) ")   # RFC 2971 caps value length
        self.assertNoop(c, "x")

    def test_nonsync_literal_too_big(self):
        """`a LOGIN alice {100000+}` plus its 100000 bytes and CRLF => `a NO
        [TOOBIG]`; the bytes are skipped; `x NOOP` sent right after => OK."""
        c = self.connect()
        c.send(b"a LOGIN alice {100000+}\r\n" + b"p" * 100000 + b"\r\nx NOOP\r\n")
        untagged, tagged = c.read_tagged("a")
        self.assertRegex(tagged, status_re("a", "NO", "TOOBIG"))
        self.assertEqual(untagged, [])
        untagged, tagged = c.read_tagged("x")
        self.assertRegex(tagged, status_re("x", "OK"))
        self.assertEqual(untagged, [])

    def test_literal_then_garbage(self):
        """A literal followed by junk instead of SP/CRLF => BAD; NOOP OK."""
        self.bad_then_noop(b"a LOGIN {5+}\r\nalicejunk\r\n")

    def test_bad_literal_header(self):
        """Malformed literal headers `{}`, `{x}`, `{-1}` => BAD each."""
        for data in (b"a LOGIN {}\r\n", b"a LOGIN {x}\r\n", b"a LOGIN {-1}\r\n",
                     b"a LOGIN {99999999999999999999999}\r\n"):
            with self.subTest(data=data):
                c = self.connect()
                c.send(data)
                self.assertRegex(c.read_response(), r"^(a|\*) (BAD|NO) ")
                self.assertNoop(c, "x")

    def test_unbalanced_parens(self):
        """`a ID ("name" "x"` (no closing paren) and `a ID )` => BAD."""
        self.bad_then_noop(b'a ID ("name" "x"\r\n')
        self.bad_then_noop(b"a ID )\r\n")

    def test_deep_nesting(self):
        """1000 nested parentheses => BAD (depth limit), no crash."""
        self.bad_then_noop(b"a ID " + b"(" * 1000 + b")" * 1000 + b"\r\n")

    def test_random_garbage(self):
        """50 lines of random bytes (fixed seed, no CR/LF, not ending in a
        literal header): exactly 50 BAD responses, no OK/NO and no BYE,
        then `x NOOP` => OK."""
        rng = random.Random(20261123)
        lines = []
        for _ in range(50):
            n = rng.randint(1, 300)
            b = bytes(rng.choice([x for x in range(1, 256) if x not in (10, 13)])
                      for _ in range(n))
            if b.endswith(b"}"):
                b = b[:-1] + b"!"
            lines.append(b + b"\r\n")
        c = self.connect()
        c.send(b"".join(lines))
        c.send(b"x NOOP\r\n")
        untagged, tagged = c.read_tagged("x")
        self.assertRegex(tagged, status_re("x", "OK"))
        self.assertEqual(len(untagged), 50, untagged)
        for line in untagged:
            self.assertRegex(line, r"^\S+ BAD( |$)")
