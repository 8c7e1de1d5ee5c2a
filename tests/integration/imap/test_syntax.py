"""Tags and command syntax (RFC 9051 §2.2.1, §9)."""

import time

from harness import ServerTestCase, status_re


class Tags(ServerTestCase):

    def test_unknown_command(self):
        """An unknown command => tagged BAD; NOOP OK afterwards."""
        c = self.connect()
        for tag, cmd in (("a", "FOOBAR"), ("b", "FOOBAR arg (list \"q\")"), ("c", "X-NONE")):
            _, tagged = c.command(tag, cmd)
            self.assertRegex(tagged, status_re(tag, "BAD"))
        self.assertNoop(c)

    def test_odd_valid_tags_preserved(self):
        """Every valid tag is echoed exactly: `a.1`, `Z]9`, all allowed
        punctuation, a 200-character tag, digits only."""
        c = self.connect()
        tags = ["a.1", "Z]9", "!#$&'-./:;<=>?@^_`|~]", "T" * 200, "0001", "a-b_c"]
        for tag in tags:
            untagged, tagged = c.command(tag, "NOOP")
            self.assertRegex(tagged, status_re(tag, "OK"))
            self.assertEqual(untagged, [], tag)

    def test_tag_case_preserved(self):
        """Tags are echoed with their case: `aBc` stays `aBc`."""
        c = self.connect()
        c.send_line("aBc NOOP")
        self.assertRegex(c.read_response(), status_re("aBc", "OK"))

    def test_invalid_tags_untagged_bad(self):
        """A line whose tag is invalid is answered `* BAD` (no tag to
        echo): `+x`, `(a`, `a*b`, `a%b`, `a\\b`, `a"b`, `a{b`, `x+y`; the
        session goes on."""
        c = self.connect()
        for bad in ("+x NOOP", "(a NOOP", "a*b NOOP", "a%b NOOP", "a\\b NOOP", 'a"b NOOP',
                    "a{b NOOP", "x+y NOOP", ") NOOP"):
            c.send_line(bad)
            line = c.read_response()
            self.assertRegex(line, r"^\* BAD ", bad)
        self.assertNoop(c)

    def test_star_tag_is_bad(self):
        """`* NOOP` (untagged marker as tag) => `* BAD`."""
        c = self.connect()
        c.send_line("* NOOP")
        self.assertRegex(c.read_response(), r"^\* BAD ")
        self.assertNoop(c)

    def test_empty_line(self):
        """An empty line => `* BAD`; NOOP OK afterwards."""
        c = self.connect()
        c.send(b"\r\n")
        self.assertRegex(c.read_response(), r"^\* BAD ")
        self.assertNoop(c)

    def test_tag_without_command(self):
        """`a` alone => BAD (tagged a, or untagged); NOOP OK."""
        c = self.connect()
        c.send_line("a")
        self.assertRegex(c.read_response(), r"^(a|\*) BAD ")
        self.assertNoop(c)

    def test_noop_with_arguments(self):
        """NOOP takes no arguments: `a NOOP junk` and `b NOOP (x)` => BAD."""
        c = self.connect()
        _, tagged = c.command("a", "NOOP junk")
        self.assertRegex(tagged, status_re("a", "BAD"))
        _, tagged = c.command("b", "NOOP (x)")
        self.assertRegex(tagged, status_re("b", "BAD"))
        self.assertNoop(c)

    def test_extra_spaces(self):
        """`a  NOOP` (two spaces) and `b NOOP ` (trailing space) violate
        the grammar => BAD."""
        c = self.connect()
        c.send_line("a  NOOP")
        self.assertRegex(c.read_response(), r"^(a|\*) BAD ")
        c.send_line("b NOOP ")
        self.assertRegex(c.read_response(), r"^(b|\*) BAD ")
        self.assertNoop(c)

    def test_bare_lf_accepted(self):
        """A command ended by a bare LF is accepted (documented leniency of
        the parser)."""
        c = self.connect()
        c.send(b"a NOOP\n")
        self.assertRegex(c.read_response(), status_re("a", "OK"))

    def test_pipelined(self):
        """Three commands in one send are answered in order."""
        c = self.connect()
        c.send(b"p1 NOOP\r\np2 CAPABILITY\r\np3 NOOP\r\n")
        _, t1 = c.read_tagged("p1")
        untagged, t2 = c.read_tagged("p2")
        _, t3 = c.read_tagged("p3")
        self.assertRegex(t1, status_re("p1", "OK"))
        self.assertRegex(t2, status_re("p2", "OK"))
        self.assertRegex(t3, status_re("p3", "OK"))
        self.assertEqual(len(untagged), 1)

    def test_byte_at_a_time(self):
        """A LOGIN sent one byte per segment is assembled and answered."""
        c = self.connect()
        data = f'a LOGIN alice "{self.users["alice"]}"\r\n'.encode()
        for i in range(len(data)):
            c.send(data[i:i + 1])
            time.sleep(0.002)
        self.assertRegex(c.read_tagged("a")[1], status_re("a", "OK"))
        self.assertEqual(c.quiet(0.1), b"")
