"""FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9, §7.5.2; RFC 3516 BINARY;
RFC 3501 RFC822 items).

Messages are delivered into the users' Maildir new/ before the server
starts (the store picks them up on SELECT), so these tests depend only on
LOGIN, SELECT/EXAMINE and FETCH. Responses are parsed byte-exactly
(literals, literal8, quoted strings) by parse_fetch().
"""

import base64
import os
import re
import time

from harness import ServerTestCase, status_re

CRLF = b"\r\n"


def crlf(text):
    """Text with "\\n" line ends as CRLF bytes."""
    if isinstance(text, str):
        text = text.encode()
    return text.replace(b"\r\n", b"\n").replace(b"\n", CRLF)


# ---------------------------------------------------------------- messages

SIMPLE_HEADER = crlf(
    "From: Alice Example <alice@example.com>\n"
    "To: Bob <bob@example.com>\n"
    "Subject: simple\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\n"
    "Message-ID: <simple@example.com>\n"
    "X-Mixed-Case: yes\n"
    "subject-like: not the subject\n"
    "\n")
SIMPLE_BODY = crlf("Hello body line 1\nline 2\n")
SIMPLE = SIMPLE_HEADER + SIMPLE_BODY

BIN_DATA = b"\x00\x01\x02binary\x00data"
BIN_B64 = base64.b64encode(BIN_DATA)

INNER_HEADER = crlf(
    "From: inner@example.com\n"
    "Subject: inner\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="inner"\n'
    "\n")
INNER_P1_MIME = crlf("Content-Type: text/plain; charset=utf-8\n"
                     "Content-Transfer-Encoding: quoted-printable\n\n")
INNER_P1 = b"Caf=C3=A9 =3D ok"
INNER_P2_MIME = crlf("Content-Type: text/html\n\n")
INNER_P2 = b"<p>inner html</p>"
INNER_TEXT = (b"--inner" + CRLF + INNER_P1_MIME + INNER_P1 + CRLF + b"--inner" + CRLF +
              INNER_P2_MIME + INNER_P2 + CRLF + b"--inner--")
INNER = INNER_HEADER + INNER_TEXT

MULTI_HEADER = crlf(
    "From: multi@example.com\n"
    "To: someone@example.com\n"
    "Subject: multipart\n"
    "Date: Tue, 8 Feb 1994 10:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="outer"\n'
    "\n")
P1_MIME = crlf("Content-Type: text/plain; charset=us-ascii\n\n")
P1 = b"Part one text."
P2_MIME = crlf("Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
P2 = BIN_B64
P3_MIME = crlf("Content-Type: message/rfc822\n\n")
MULTI_TEXT = (crlf("preamble\n") + b"--outer" + CRLF + P1_MIME + P1 + CRLF +
              b"--outer" + CRLF + P2_MIME + P2 + CRLF +
              b"--outer" + CRLF + P3_MIME + INNER + CRLF + b"--outer--" + CRLF)
MULTI = MULTI_HEADER + MULTI_TEXT

ODD = crlf("From: odd@example.com\n"
           "Subject: oddcte\n"
           "MIME-Version: 1.0\n"
           "Content-Type: application/x-thing\n"
           "Content-Transfer-Encoding: x-unknown-thing\n"
           "\n"
           "begin 644 data\nxyz\nend\n")

MESSAGES = (SIMPLE, MULTI, ODD)


def deliver(server_dir, user, messages, first=1):
    """Writes messages into <dir>/mail/<user>/new/ as Maildir files."""
    base = os.path.join(server_dir, "mail", user)
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(base, sub), exist_ok=True)
    for i, data in enumerate(messages, first):
        name = f"{1700000000 + i}.M{i}P{os.getpid()}.roosttest"
        path = os.path.join(base, "new", name)
        with open(path + ".part", "wb") as f:
            f.write(data)
        os.rename(path + ".part", path)


# ---------------------------------------------------------------- parsing

class FetchParseError(Exception):
    pass


class _Parser:
    """Parses the values of an untagged FETCH (bytes)."""

    _LIT = re.compile(rb"(~?)\{(\d+)\}\r\n")

    def __init__(self, data, pos=0):
        self.b = data
        self.i = pos

    def peek(self):
        return self.b[self.i:self.i + 1]

    def expect(self, s):
        if not self.b.startswith(s, self.i):
            raise FetchParseError(f"expected {s!r} at {self.i}: {self.b[self.i:self.i + 40]!r}")
        self.i += len(s)

    def name(self):
        """An item name, e.g. BODY[HEADER.FIELDS (A B)]<0>: up to the first
        SP outside brackets."""
        start = self.i
        depth = 0
        while self.i < len(self.b):
            c = self.b[self.i:self.i + 1]
            if c == b"[":
                depth += 1
            elif c == b"]":
                depth -= 1
            elif c in (b" ", b")") and depth == 0:
                break
            self.i += 1
        return self.b[start:self.i].decode()

    def value(self):
        """Returns (kind, value): kind is quoted/literal/literal8/atom/nil/list."""
        c = self.peek()
        if c == b'"':
            return "quoted", self.quoted()
        if c in (b"{", b"~"):
            m = self._LIT.match(self.b, self.i)
            if not m:
                raise FetchParseError(f"bad literal at {self.i}")
            n = int(m.group(2))
            data = self.b[m.end():m.end() + n]
            if len(data) != n:
                raise FetchParseError("short literal")
            self.i = m.end() + n
            return ("literal8" if m.group(1) else "literal"), data
        if c == b"(":
            self.i += 1
            items = []
            while self.peek() != b")":
                # body-type-mpart = 1*body SP media-subtype: no SP
                # between the parts' lists.
                if items and not (self.peek() == b"(" and self.b[self.i - 1:self.i] == b")"):
                    self.expect(b" ")
                items.append(self.value())
            self.i += 1
            return "list", items
        start = self.i
        while self.i < len(self.b) and self.b[self.i:self.i + 1] not in (b" ", b")"):
            self.i += 1
        atom = self.b[start:self.i]
        if atom.upper() == b"NIL":
            return "nil", None
        return "atom", atom

    def quoted(self):
        self.expect(b'"')
        out = bytearray()
        while True:
            c = self.b[self.i:self.i + 1]
            if c == b"":
                raise FetchParseError("unterminated quoted")
            self.i += 1
            if c == b'"':
                return bytes(out)
            if c == b"\\":
                c = self.b[self.i:self.i + 1]
                self.i += 1
            out += c


class Fetch:
    """One parsed `* <seq> FETCH (...)`: seq, items {NAME: value},
    kinds {NAME: kind}, order [NAME...], raw (bytes)."""

    def __init__(self, raw):
        self.raw = raw
        m = re.match(rb"\* (\d+) FETCH \(", raw)
        if not m:
            raise FetchParseError(f"not a FETCH response: {raw[:80]!r}")
        self.seq = int(m.group(1))
        p = _Parser(raw, m.end())
        self.items, self.kinds, self.order = {}, {}, []
        while p.peek() != b")":
            if self.order:
                p.expect(b" ")
            name = p.name()
            p.expect(b" ")
            kind, value = p.value()
            self.items[name] = value
            self.kinds[name] = kind
            self.order.append(name)
        p.expect(b")")
        if p.i != len(raw):
            raise FetchParseError(f"bytes after the FETCH response: {raw[p.i:]!r}")

    def __getitem__(self, name):
        return self.items[name]

    def __contains__(self, name):
        return name in self.items

    def flags(self):
        kind, value = "list", self.items["FLAGS"]
        return {v.decode() for _, v in value}


def to_bytes(line):
    return line.encode("utf-8", "surrogateescape")


def fetch_responses(untagged):
    """The FETCH responses among untagged lines (others ignored)."""
    out = []
    for line in untagged:
        b = to_bytes(line)
        if re.match(rb"\* \d+ FETCH ", b):
            out.append(Fetch(b))
    return out


# ---------------------------------------------------------------- tests

class FetchCase(ServerTestCase):
    """Every user starts with SIMPLE, MULTI and ODD in INBOX."""

    @classmethod
    def prepare(cls, server):
        for user in cls.users:
            deliver(server.dir, user, MESSAGES)

    def session(self, user="alice", examine=False):
        c = self.connect()
        self.login(c, user)
        verb = "EXAMINE" if examine else "SELECT"
        untagged, tagged = c.command("s1", f"{verb} INBOX")
        self.assertStatus(tagged, "s1", "OK")
        self.assertTrue(any(re.match(r"^\* 3 EXISTS", u) for u in untagged), untagged)
        c.seq = self.seq_by_subject(c)
        return c

    def seq_by_subject(self, c):
        untagged, tagged = c.command("m1", "FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        self.assertStatus(tagged, "m1", "OK")
        seqs = {}
        for r in fetch_responses(untagged):
            subject = r["BODY[HEADER.FIELDS (SUBJECT)]"].decode().strip()
            seqs[subject.split(":", 1)[1].strip()] = r.seq
        self.assertEqual(set(seqs), {"simple", "multipart", "oddcte"})
        return seqs

    def fetch(self, c, tag, what, uid=False, status="OK", code=None):
        """FETCH (or UID FETCH); asserts the tagged status; returns the
        parsed FETCH responses."""
        untagged, tagged = c.command(tag, ("UID FETCH " if uid else "FETCH ") + what)
        self.assertStatus(tagged, tag, status, code)
        return fetch_responses(untagged)

    def fetch_one(self, c, tag, seq, items):
        rs = [r for r in self.fetch(c, tag, f"{seq} {items}") if r.seq == seq]
        self.assertTrue(rs, f"no FETCH response for {seq}")
        # An unsolicited FLAGS update may accompany the answer: take the
        # response with the most items.
        return max(rs, key=lambda r: len(r.order))


class FetchAttributes(FetchCase):

    def test_flags_uid_size_internaldate(self):
        """FLAGS, UID, RFC822.SIZE, INTERNALDATE in the requested order."""
        c = self.session()
        s = c.seq["simple"]
        r = self.fetch_one(c, "a", s, "(FLAGS UID RFC822.SIZE INTERNALDATE)")
        self.assertEqual(r.order, ["FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE"])
        self.assertEqual(int(r["RFC822.SIZE"]), len(SIMPLE))
        self.assertGreater(int(r["UID"]), 0)
        self.assertEqual(r.kinds["INTERNALDATE"], "quoted")
        self.assertRegex(r["INTERNALDATE"].decode(),
                         r"^[ 0-3][0-9]-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-"
                         r"[0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}$")
        self.assertNotIn("\\Seen", r.flags())

    def test_single_item_without_parens(self):
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"], "RFC822.SIZE")
        self.assertEqual(int(r["RFC822.SIZE"]), len(MULTI))

    def test_macros(self):
        """FAST, ALL, FULL expand to their items (RFC 9051 §6.4.5)."""
        c = self.session()
        s = c.seq["simple"]
        expect = {
            "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
            "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
            "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
        }
        for i, (macro, names) in enumerate(expect.items()):
            r = self.fetch_one(c, f"m{i}", s, macro)
            self.assertEqual(r.order, names, macro)

    def test_envelope_body_bodystructure(self):
        """ENVELOPE, BODY and BODYSTRUCTURE are parenthesized structures;
        BODY has no extension data, BODYSTRUCTURE of a multipart names its
        subtype and boundary."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["simple"], "(ENVELOPE BODY BODYSTRUCTURE)")
        env = r["ENVELOPE"]
        self.assertEqual(r.kinds["ENVELOPE"], "list")
        self.assertEqual(len(env), 10)
        self.assertEqual(env[1], ("quoted", b"simple"))
        self.assertEqual(env[9], ("quoted", b"<simple@example.com>"))
        self.assertEqual([v for _, v in r["BODY"][:2]], [b"text", b"plain"])
        r = self.fetch_one(c, "b", c.seq["multipart"], "BODYSTRUCTURE")
        bs = r["BODYSTRUCTURE"]
        self.assertEqual(r.kinds["BODYSTRUCTURE"], "list")
        self.assertEqual(bs[0][0], "list")         # first part
        self.assertIn(("quoted", b"mixed"), [v for v in bs if v[0] == "quoted"])
        self.assertIn(b"outer", r.raw)

    def test_uid_fetch_always_has_uid(self):
        """UID FETCH responses include UID even when not asked for (RFC
        9051 §6.4.9); the UID matches FETCH UID."""
        c = self.session()
        plain = {r.seq: int(r["UID"]) for r in self.fetch(c, "a", "1:* UID")}
        self.assertEqual(len(plain), 3)
        uids = sorted(plain.values())
        rs = self.fetch(c, "b", f"{uids[0]}:{uids[-1]} FLAGS", uid=True)
        self.assertEqual(len(rs), 3)
        for r in rs:
            self.assertIn("UID", r)
            self.assertEqual(int(r["UID"]), plain[r.seq])
            self.assertIn("FLAGS", r)
        rs = self.fetch(c, "c", f"{uids[1]} (UID RFC822.SIZE)", uid=True)
        self.assertEqual(len(rs), 1)
        self.assertEqual(rs[0].order.count("UID"), 1)

    def test_uid_fetch_nonexistent_is_empty(self):
        """UID FETCH of UIDs that do not exist: no data, tagged OK."""
        c = self.session()
        self.assertEqual(self.fetch(c, "a", "4000000000 FLAGS", uid=True), [])
        self.assertEqual(self.fetch(c, "b", "4000000000:4000000005 FLAGS", uid=True), [])


class FetchSections(FetchCase):

    def test_whole_message_header_text(self):
        """BODY.PEEK[], [HEADER], [TEXT] and the rev1 RFC822.HEADER are
        byte-exact."""
        c = self.session()
        s = c.seq["simple"]
        r = self.fetch_one(c, "a", s, "(BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] "
                                      "RFC822.HEADER)")
        self.assertEqual(r["BODY[]"], SIMPLE)
        self.assertEqual(r.kinds["BODY[]"], "literal")
        self.assertEqual(r["BODY[HEADER]"], SIMPLE_HEADER)
        self.assertEqual(r["BODY[TEXT]"], SIMPLE_BODY)
        self.assertEqual(r["RFC822.HEADER"], SIMPLE_HEADER)
        r = self.fetch_one(c, "b", c.seq["multipart"], "BODY.PEEK[]")
        self.assertEqual(r["BODY[]"], MULTI)

    def test_header_fields(self):
        """HEADER.FIELDS matches names case-insensitively and exactly (not
        by prefix), keeps message order and ends with the blank line;
        .NOT gives the rest; the response echoes the field list."""
        c = self.session()
        s = c.seq["simple"]
        r = self.fetch_one(c, "a", s, "BODY.PEEK[HEADER.FIELDS (x-mixed-CASE SUBJECT from)]")
        self.assertEqual(r["BODY[HEADER.FIELDS (x-mixed-CASE SUBJECT from)]"],
                         crlf("From: Alice Example <alice@example.com>\nSubject: simple\n"
                              "X-Mixed-Case: yes\n\n"))
        r = self.fetch_one(c, "b", s, "BODY.PEEK[HEADER.FIELDS.NOT (Subject From To Date "
                                      "Message-ID)]")
        self.assertEqual(r["BODY[HEADER.FIELDS.NOT (Subject From To Date Message-ID)]"],
                         crlf("X-Mixed-Case: yes\nsubject-like: not the subject\n\n"))
        r = self.fetch_one(c, "c", s, "BODY.PEEK[HEADER.FIELDS (X-Absent)]")
        self.assertEqual(r["BODY[HEADER.FIELDS (X-Absent)]"], CRLF)

    def test_partials(self):
        """<o.n>: a substring, named BODY[]<o>; a count beyond the end is
        truncated; a start beyond the end is an empty string; <0.n> of a
        short text is still a partial (RFC 9051 §6.4.5)."""
        c = self.session()
        s = c.seq["simple"]
        r = self.fetch_one(c, "a", s, "(BODY.PEEK[]<0.4> BODY.PEEK[TEXT]<6.4> "
                                      "BODY.PEEK[]<10.100000>)")
        self.assertEqual(r["BODY[]<0>"], SIMPLE[:4])
        self.assertEqual(r["BODY[TEXT]<6>"], SIMPLE_BODY[6:10])
        self.assertEqual(r["BODY[]<10>"], SIMPLE[10:])
        n = len(SIMPLE)
        r = self.fetch_one(c, "b", s, f"(BODY.PEEK[]<{n}.10> BODY.PEEK[]<{n + 500}.1> "
                                      f"BODY.PEEK[]<{n - 1}.1>)")
        self.assertEqual(r[f"BODY[]<{n}>"], b"")
        self.assertEqual(r[f"BODY[]<{n + 500}>"], b"")
        self.assertEqual(r[f"BODY[]<{n - 1}>"], SIMPLE[-1:])
        r = self.fetch_one(c, "c", s, "BODY.PEEK[HEADER.FIELDS (Subject)]<2.5>")
        self.assertEqual(r["BODY[HEADER.FIELDS (Subject)]<2>"], b"bject")
        # nz-number64: a zero count is a syntax error (RFC 9051 §9 partial).
        self.fetch(c, "d", f"{s} BODY.PEEK[]<0.0>", status="BAD")

    def test_nested_parts(self):
        """Part numbers into a multipart with an attached message/rfc822
        (RFC 9051 §6.4.5's example structure)."""
        c = self.session()
        s = c.seq["multipart"]
        items = ["1", "1.MIME", "2", "2.MIME", "3", "3.MIME", "3.HEADER", "3.TEXT", "3.1",
                 "3.1.MIME", "3.2", "3.2.MIME", "3.HEADER.FIELDS (subject)"]
        r = self.fetch_one(c, "a", s, "(" + " ".join(f"BODY.PEEK[{i}]" for i in items) + ")")
        expect = {
            "1": P1, "1.MIME": P1_MIME, "2": P2, "2.MIME": P2_MIME, "3": INNER,
            "3.MIME": P3_MIME, "3.HEADER": INNER_HEADER, "3.TEXT": INNER_TEXT,
            "3.1": INNER_P1, "3.1.MIME": INNER_P1_MIME, "3.2": INNER_P2,
            "3.2.MIME": INNER_P2_MIME, "3.HEADER.FIELDS (subject)": crlf("Subject: inner\n\n"),
        }
        for i in items:
            self.assertEqual(r[f"BODY[{i}]"], expect[i], i)
        r = self.fetch_one(c, "b", s, "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        self.assertEqual(r["BODY[HEADER]"], MULTI_HEADER)
        self.assertEqual(r["BODY[TEXT]"], MULTI_TEXT)

    def test_single_part_is_part_one(self):
        """A non-multipart message has exactly one part: BODY[1] is its
        text (RFC 9051 §6.4.5)."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["simple"], "BODY.PEEK[1]")
        self.assertEqual(r["BODY[1]"], SIMPLE_BODY)

    def test_nonexistent_sections_are_empty(self):
        """Sections that do not exist, or do not apply (HEADER of a text
        part), are empty strings, not errors."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"],
                           "(BODY.PEEK[4] BODY.PEEK[1.5] BODY.PEEK[3.3] BODY.PEEK[9.1.2] "
                           "BINARY.PEEK[7] BINARY.SIZE[7])")
        for name in ("BODY[4]", "BODY[1.5]", "BODY[3.3]", "BODY[9.1.2]", "BINARY[7]"):
            self.assertEqual(r[name], b"", name)
        self.assertEqual(r["BINARY.SIZE[7]"], b"0")
        r = self.fetch_one(c, "b", c.seq["simple"], "BODY.PEEK[2]")
        self.assertEqual(r["BODY[2]"], b"")

    def test_rfc822_items(self):
        """RFC822.SIZE and RFC822.HEADER (rev1); RFC822 and RFC822.TEXT are
        checked in FetchSeen (they set \\Seen)."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"], "(RFC822.SIZE RFC822.HEADER)")
        self.assertEqual(r["RFC822.HEADER"], MULTI_HEADER)
        self.assertEqual(int(r["RFC822.SIZE"]), len(MULTI))


class FetchBinary(FetchCase):

    def test_binary_decodes_base64_with_nul_as_literal8(self):
        """BINARY of a base64 part with NUL bytes: decoded, sent as ~{n};
        BINARY.SIZE is the decoded size (RFC 3516)."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"], "(BINARY.PEEK[2] BINARY.SIZE[2])")
        self.assertEqual(r["BINARY[2]"], BIN_DATA)
        self.assertEqual(r.kinds["BINARY[2]"], "literal8")
        self.assertEqual(int(r["BINARY.SIZE[2]"]), len(BIN_DATA))

    def test_binary_quoted_printable(self):
        """QP decoding; data without NUL is a normal literal."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"], "(BINARY.PEEK[3.1] BINARY.SIZE[3.1] "
                                                      "BINARY.PEEK[1])")
        self.assertEqual(r["BINARY[3.1]"], "Café = ok".encode())
        self.assertEqual(r.kinds["BINARY[3.1]"], "literal")
        self.assertEqual(int(r["BINARY.SIZE[3.1]"]), len("Café = ok".encode()))
        self.assertEqual(r["BINARY[1]"], P1)

    def test_binary_partial(self):
        """A partial of BINARY counts decoded bytes; the NUL test covers
        only the bytes sent."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"],
                           "(BINARY.PEEK[2]<3.6> BINARY.PEEK[2]<1.1> BINARY.PEEK[2]<100.5>)")
        self.assertEqual(r["BINARY[2]<3>"], BIN_DATA[3:9])
        self.assertEqual(r.kinds["BINARY[2]<3>"], "literal")
        self.assertEqual(r["BINARY[2]<1>"], BIN_DATA[1:2])
        self.assertEqual(r["BINARY[2]<100>"], b"")

    def test_binary_of_whole_message_and_composite(self):
        """BINARY[] is the message as stored; BINARY of a message/rfc822
        part is its bytes, undecoded."""
        c = self.session()
        r = self.fetch_one(c, "a", c.seq["multipart"], "(BINARY.PEEK[] BINARY.PEEK[3] "
                                                      "BINARY.SIZE[3])")
        self.assertEqual(r["BINARY[]"], MULTI)
        self.assertEqual(r["BINARY[3]"], INNER)
        self.assertEqual(int(r["BINARY.SIZE[3]"]), len(INNER))

    def test_unknown_cte(self):
        """BINARY of a part with an unknown Content-Transfer-Encoding =>
        NO [UNKNOWN-CTE]; BODY of it still works."""
        c = self.session()
        s = c.seq["oddcte"]
        self.fetch(c, "a", f"{s} BINARY.PEEK[1]", status="NO", code="UNKNOWN-CTE")
        self.fetch(c, "b", f"{s} BINARY.SIZE[1]", status="NO", code="UNKNOWN-CTE")
        r = self.fetch_one(c, "c", s, "BODY.PEEK[1]")
        self.assertEqual(r["BODY[1]"], crlf("begin 644 data\nxyz\nend\n"))
        self.assertNoop(c)


class FetchSeen(FetchCase):
    """\\Seen: each test uses its own user, since flags persist."""

    def test_peek_does_not_set_seen(self):
        c = self.session("alice")
        s = c.seq["simple"]
        self.fetch(c, "a", f"{s} (BODY.PEEK[] BODY.PEEK[TEXT] BINARY.PEEK[1] "
                           f"RFC822.HEADER BINARY.SIZE[1])")
        r = self.fetch_one(c, "b", s, "FLAGS")
        self.assertNotIn("\\Seen", r.flags())

    def test_body_sets_seen_and_reports_flags(self):
        """BODY[] sets \\Seen; the response includes the new FLAGS; later
        FETCHes see it, and a second BODY[] does not repeat FLAGS."""
        c = self.session("bob")
        s = c.seq["simple"]
        r = self.fetch_one(c, "a", s, "BODY[]")
        self.assertEqual(r["BODY[]"], SIMPLE)
        self.assertIn("FLAGS", r)
        self.assertIn("\\Seen", r.flags())
        r = self.fetch_one(c, "b", s, "FLAGS")
        self.assertIn("\\Seen", r.flags())
        rs = [x for x in self.fetch(c, "c", f"{s} BODY[TEXT]") if "BODY[TEXT]" in x]
        self.assertEqual(rs[0]["BODY[TEXT]"], SIMPLE_BODY)
        self.assertNotIn("FLAGS", rs[0])
        # rev1 RFC822.TEXT and RFC822 set \Seen too.
        m = c.seq["multipart"]
        r = self.fetch_one(c, "d", m, "RFC822.TEXT")
        self.assertEqual(r["RFC822.TEXT"], MULTI_TEXT)
        self.assertIn("\\Seen", r.flags())
        o = c.seq["oddcte"]
        r = self.fetch_one(c, "e", o, "(FLAGS RFC822)")
        self.assertEqual(r["RFC822"], ODD)
        self.assertIn("\\Seen", r.flags())
        self.assertEqual(r.order.count("FLAGS"), 1)

    def test_binary_sets_seen(self):
        c = self.session("carol")
        s = c.seq["multipart"]
        r = self.fetch_one(c, "a", s, "BINARY[1]")
        self.assertIn("\\Seen", r.flags())

    def test_seen_visible_to_other_session(self):
        """A second session of the same user sees \\Seen set by BODY[]."""
        a = self.session("alice")
        s = a.seq["oddcte"]
        self.fetch(a, "a", f"{s} BODY[HEADER]")
        b = self.session("alice")
        r = self.fetch_one(b, "b", b.seq["oddcte"], "FLAGS")
        self.assertIn("\\Seen", r.flags())


class FetchExamine(FetchCase):

    def test_examine_does_not_set_seen(self):
        """In a read-only mailbox BODY[] does not set \\Seen."""
        c = self.session("alice", examine=True)
        s = c.seq["simple"]
        r = self.fetch_one(c, "a", s, "(BODY[] FLAGS)")
        self.assertEqual(r["BODY[]"], SIMPLE)
        self.assertNotIn("\\Seen", r.flags())
        r = self.fetch_one(c, "b", s, "FLAGS")
        self.assertNotIn("\\Seen", r.flags())


class FetchErrors(FetchCase):

    BAD = (
        "1 (FOO)", "1 FOO", "1 BODY[MIME]", "1 BODY[0]", "1 BODY[1.0]", "1 BODY[HEADER.FIELDS]",
        "1 BODY[HEADER.FIELDS ()]", "1 BODY[]<1>", "1 BODY[]<a.1>", "1 BINARY[HEADER]",
        "1 BINARY.SIZE[1]<0.1>", "1 (ALL)", "1 ()", "1", "x FLAGS", "0 FLAGS", "1:x FLAGS",
        "1 FLAGS EXTRA", "1 \"FLAGS\"", "1 (FLAGS (UID))", "1 BODY[TEXT.1]",
        "1 BODY.PEEK", "1 RFC822.FOO",
    )

    def test_bad_syntax(self):
        """Unknown items and bad syntax => BAD; the session goes on."""
        c = self.session()
        for i, args in enumerate(self.BAD):
            untagged, tagged = c.command(f"b{i}", f"FETCH {args}")
            self.assertRegex(tagged, status_re(f"b{i}", "BAD"), args)
            self.assertEqual(fetch_responses(untagged), [], args)
        self.assertNoop(c)

    def test_seq_beyond_exists(self):
        """A sequence number beyond EXISTS => BAD (UID FETCH: just empty)."""
        c = self.session()
        self.fetch(c, "a", "4 FLAGS", status="BAD")
        self.fetch(c, "b", "1:5 FLAGS", status="BAD")
        self.assertEqual(len(self.fetch(c, "c", "1:* FLAGS")), 3)
        self.assertEqual(len(self.fetch(c, "d", "2:* FLAGS")), 2)
        self.assertEqual(len(self.fetch(c, "e", "*:2 RFC822.SIZE")), 2)

    def test_not_selected(self):
        """FETCH before SELECT => BAD."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("a", "FETCH 1 FLAGS")
        self.assertStatus(tagged, "a", "BAD")
        _, tagged = c.command("b", "UID FETCH 1 FLAGS")
        self.assertStatus(tagged, "b", "BAD")

    def test_pipelined_fetches_keep_order(self):
        """Several FETCHes sent at once are answered in order."""
        c = self.session()
        c.send(b"".join(f"p{i} FETCH 1:* (UID BODY.PEEK[])\r\n".encode() for i in range(5)))
        for i in range(5):
            untagged, tagged = c.read_tagged(f"p{i}")
            self.assertStatus(tagged, f"p{i}", "OK")
            self.assertEqual(len(fetch_responses(untagged)), 3)


class FetchExpunged(FetchCase):

    def test_expunged_by_other_session(self):
        """A message expunged by another session while still in our view:
        FETCH by sequence number sends what exists, then NO
        [EXPUNGEISSUED] and no EXPUNGE during the FETCH (RFC 9051 §7.5.1);
        UID FETCH skips it with OK."""
        a = self.session("bob")
        b = self.session("bob")
        s = b.seq["simple"]
        _, tagged = b.command("x1", f"STORE {s} +FLAGS.SILENT (\\Deleted)")
        if not tagged.startswith("x1 OK"):
            self.skipTest("STORE not available yet: " + tagged)
        _, tagged = b.command("x2", "EXPUNGE")
        if not tagged.startswith("x2 OK"):
            self.skipTest("EXPUNGE not available yet: " + tagged)
        time.sleep(0.2)
        untagged, tagged = a.command("f1", "FETCH 1:3 (UID RFC822.SIZE BODY.PEEK[HEADER])")
        self.assertFalse([u for u in untagged if re.match(r"^\* \d+ EXPUNGE", u)], untagged)
        rs = fetch_responses(untagged)
        data = [r for r in rs if "RFC822.SIZE" in r]
        self.assertEqual(len(data), 2, untagged)
        self.assertNotIn(a.seq["simple"], [r.seq for r in data])
        self.assertStatus(tagged, "f1", "NO", "EXPUNGEISSUED")
        untagged, tagged = a.command("f2", "UID FETCH 1:* RFC822.SIZE")
        self.assertStatus(tagged, "f2", "OK")


class FetchImaplib(FetchCase):

    def test_imaplib_flow(self):
        """Python's imaplib: FETCH and UID FETCH of whole messages in a
        read-only mailbox give the delivered bytes."""
        m = self.server.imap()
        try:
            typ, _ = m.login("carol", self.users["carol"])
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX", readonly=True)
            self.assertEqual((typ, data), ("OK", [b"3"]))
            typ, data = m.fetch("1:*", "(RFC822.SIZE BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            bodies = [part[1] for part in data if isinstance(part, tuple)]
            self.assertEqual(sorted(bodies), sorted(MESSAGES))
            for part in data:
                if isinstance(part, tuple):
                    size = int(re.search(rb"RFC822\.SIZE (\d+)", part[0]).group(1))
                    self.assertEqual(size, len(part[1]))
            typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])")
            self.assertEqual(typ, "OK")
            heads = [part[0] for part in data if isinstance(part, tuple)]
            self.assertEqual(len(heads), 3)
            self.assertTrue(all(re.search(rb"\bUID \d+", h) for h in heads), heads)
            subjects = sorted(part[1] for part in data if isinstance(part, tuple))
            self.assertEqual(subjects, sorted(crlf(f"Subject: {s}\n\n")
                                              for s in ("simple", "multipart", "oddcte")))
        finally:
            m.logout()
