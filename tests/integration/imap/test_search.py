"""SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4), ESEARCH (RFC 9051
§7.3.4, RFC 4731) and SAVE / "$" (RFC 5182).

Five messages are appended to alice's INBOX once per class with chosen
flags, keywords and internal dates; every test selects INBOX on its own
connection and checks the exact set of matches."""

import base64
import os
import re
import time

from harness import ServerTestCase, status_re

CRLF = b"\r\n"


def msg(*lines, body=b""):
    """A message from header lines (str) and a body (bytes), CRLF ends."""
    head = CRLF.join(line.encode() for line in lines)
    return head + CRLF + CRLF + body


SUBJ_UTF8 = "Überweisung erhalten"
PINEAPPLE = b"The secret pineapple phrase.\r\n" + b"filler text line\r\n" * 120

MESSAGES = [
    # 1: plain, seen
    (r"(\Seen)", "10-Mar-2024 12:00:00 +0000", msg(
        "Date: Sun, 10 Mar 2024 12:00:00 +0000",
        "From: Alice Example <alice@example.com>",
        "To: bob@example.com",
        "Cc: carol@example.org",
        "Subject: Hello world",
        "Message-ID: <m1@example.com>",
        body=b"This is the first message body.\r\n")),
    # 2: RFC 2047 UTF-8 subject, quoted-printable body; internal date is
    # 10 Mar 23:00 UTC but 11 Mar in its own zone; sent 9 Mar in its zone
    (r"(\Seen \Answered)", "11-Mar-2024 01:00:00 +0200", msg(
        "Date: Sat, 9 Mar 2024 23:30:00 -0500",
        "From: Bob <bob@example.com>",
        "To: Alice <alice@example.com>",
        "Subject: =?UTF-8?B?" + base64.b64encode(SUBJ_UTF8.encode()).decode() + "?=",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        body=b"caf=C3=A9 cr=C3=A8me br=\r\nul=C3=A9e\r\n")),
    # 3: multipart with a base64 part, no Date:, large, keyword
    (r"(\Flagged project-x)", "12-Mar-2024 09:00:00 +0000", msg(
        "From: carol@example.org",
        "To: alice@example.com",
        "Bcc: dave@example.net",
        "Subject: Quarterly report",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"',
        body=b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attachment.\r\n"
             b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n"
             + base64.encodebytes(PINEAPPLE).replace(b"\n", b"\r\n")
             + b"--b1--\r\n")),
    # 4: ISO-8859-1 encoded word, custom header, old dates
    (r"(\Deleted \Draft $Forwarded)", "01-Jan-2023 10:00:00 +0000", msg(
        "Date: Sun, 1 Jan 2023 10:00:00 +0000",
        'From: "Dave" <dave@example.net>',
        "To: carol@example.org",
        "Subject: =?ISO-8859-1?Q?caf=E9_menu?=",
        "X-Custom: marker-42",
        body=b"Lorem ipsum dolor.\r\n")),
    # 5: tiny, no From
    ("()", "15-Mar-2024 18:00:00 +0000", msg(
        "Date: Fri, 15 Mar 2024 18:00:00 +0000",
        "Subject: tiny",
        body=b"x\r\n")),
]

ESEARCH_RE = re.compile(r'^\* ESEARCH \(TAG "([^"]*)"\)( UID)?((?: [A-Z]+ [0-9,:]+)*)$')


def seqset(nums):
    """Compressed sequence-set text of ascending numbers."""
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}:{nums[j]}")
        i = j + 1
    return ",".join(out)


def expand(s):
    """Numbers of a sequence-set text."""
    nums = []
    for part in s.split(","):
        if ":" in part:
            a, b = map(int, part.split(":"))
            nums.extend(range(min(a, b), max(a, b) + 1))
        else:
            nums.append(int(part))
    return nums


def append(test, c, mailbox, flags, date, data, tag="A1"):
    """APPEND with a non-synchronizing literal; asserts OK."""
    head = f"{tag} APPEND {mailbox} {flags} \"{date}\" {{{len(data)}+}}\r\n".encode()
    c.send(head + data + CRLF)
    _, tagged = c.read_tagged(tag)
    test.assertRegex(tagged, status_re(tag, "OK"), data[:80])


class SearchBase(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            t = cls("run_test_noop")
            c = t.connect()
            try:
                t.login(c)
                for i, (flags, date, data) in enumerate(MESSAGES):
                    append(t, c, "INBOX", flags, date, data, tag=f"A{i}")
                c.command("Z", "LOGOUT")
            finally:
                c.close()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails
            cls.server.stop(check=False)
            cls.server.cleanup()
            raise

    def run_test_noop(self):
        pass

    def selected(self, mailbox="INBOX", rev2=False):
        c = self.connect()
        self.login(c)
        if rev2:
            _, tagged = c.command("E1", "ENABLE IMAP4rev2")
            self.assertStatus(tagged, "E1", "OK")
        _, tagged = c.command("S1", f"SELECT {mailbox}")
        self.assertStatus(tagged, "S1", "OK")
        return c

    def search(self, c, args, tag="T1", uid=False):
        """Runs (UID) SEARCH in rev1 form; returns the numbers of the one
        `* SEARCH` line (asserting OK and that no ESEARCH came)."""
        cmd = (b"UID SEARCH " if uid else b"SEARCH ") + (args if isinstance(args, bytes)
                                                         else args.encode())
        untagged, tagged = c.command(tag, cmd)
        self.assertStatus(tagged, tag, "OK")
        lines = [u for u in untagged if re.match(r"^\* SEARCH( |$)", u)]
        self.assertEqual(len(lines), 1, (args, untagged))
        self.assertFalse([u for u in untagged if u.startswith("* ESEARCH")], untagged)
        return [int(x) for x in lines[0].split()[2:]]

    def esearch(self, c, args, tag="T1", uid=False):
        """Runs a command that must answer with one ESEARCH; returns
        (uid_flag, {item: value}) with ALL expanded to a list."""
        cmd = ("UID SEARCH " if uid else "SEARCH ") + args
        untagged, tagged = c.command(tag, cmd)
        self.assertStatus(tagged, tag, "OK")
        self.assertFalse([u for u in untagged if re.match(r"^\* SEARCH( |$)", u)], untagged)
        lines = [u for u in untagged if u.startswith("* ESEARCH")]
        self.assertEqual(len(lines), 1, untagged)
        m = ESEARCH_RE.match(lines[0])
        self.assertTrue(m, lines[0])
        self.assertEqual(m.group(1), tag)
        items = {}
        toks = m.group(3).split()
        for k in range(0, len(toks), 2):
            name, value = toks[k], toks[k + 1]
            self.assertNotIn(name, items, lines[0])
            items[name] = expand(value) if name == "ALL" else int(value)
        return bool(m.group(2)), items

    def uids(self, c):
        return self.search(c, "ALL", tag="U0", uid=True)


class SearchKeys(SearchBase):

    def check(self, c, cases):
        for args, want in cases:
            with self.subTest(args=args):
                self.assertEqual(self.search(c, args), want, args)

    def test_flags(self):
        """System flag keys and their UN- forms."""
        self.check(self.selected(), [
            ("ALL", [1, 2, 3, 4, 5]),
            ("SEEN", [1, 2]), ("UNSEEN", [3, 4, 5]),
            ("ANSWERED", [2]), ("UNANSWERED", [1, 3, 4, 5]),
            ("FLAGGED", [3]), ("UNFLAGGED", [1, 2, 4, 5]),
            ("DELETED", [4]), ("UNDELETED", [1, 2, 3, 5]),
            ("DRAFT", [4]), ("UNDRAFT", [1, 2, 3, 5]),
            ("seen answered", [2]),
        ])

    def test_keywords(self):
        """KEYWORD / UNKEYWORD."""
        self.check(self.selected(), [
            ("KEYWORD project-x", [3]), ("KEYWORD PROJECT-X", [3]),
            ("KEYWORD $Forwarded", [4]), ("KEYWORD nothere", []),
            ("UNKEYWORD project-x", [1, 2, 4, 5]),
        ])

    def test_sizes(self):
        """LARGER / SMALLER against RFC822.SIZE (the CRLF bytes appended)."""
        sizes = [len(m[2]) for m in MESSAGES]
        c = self.selected()
        for n in (0, 50, sizes[4], sizes[0], sizes[2] - 1, sizes[2], 10 ** 12):
            with self.subTest(n=n):
                self.assertEqual(self.search(c, f"LARGER {n}"),
                                 [i + 1 for i, s in enumerate(sizes) if s > n])
                self.assertEqual(self.search(c, f"SMALLER {n}"),
                                 [i + 1 for i, s in enumerate(sizes) if s < n])

    def test_internal_dates(self):
        """BEFORE / ON / SINCE use the internal date's own-zone date."""
        self.check(self.selected(), [
            ("BEFORE 10-Mar-2024", [4]), ("ON 10-Mar-2024", [1]),
            ("ON 11-Mar-2024", [2]), ("ON 11-mar-2024", [2]),
            ("SINCE 11-Mar-2024", [2, 3, 5]), ("SINCE 12-Mar-2024", [3, 5]),
            ('SINCE "1-Jan-2023"', [1, 2, 3, 4, 5]), ("BEFORE 1-Jan-2023", []),
            ("ON 01-Jan-2023", [4]), ("SINCE 16-Mar-2024", []),
        ])

    def test_sent_dates(self):
        """SENTBEFORE / SENTON / SENTSINCE use the Date: header's own date;
        a message without Date: matches none of them."""
        self.check(self.selected(), [
            ("SENTON 9-Mar-2024", [2]), ("SENTON 10-Mar-2024", [1]),
            ("SENTBEFORE 10-Mar-2024", [2, 4]), ("SENTSINCE 10-Mar-2024", [1, 5]),
            ("SENTSINCE 1-Jan-2000", [1, 2, 4, 5]), ("NOT SENTSINCE 1-Jan-2000", [3]),
            ("SENTON 1-Jan-2023 ON 1-Jan-2023", [4]),
        ])

    def test_header_keys(self):
        """FROM, TO, CC, BCC, SUBJECT, HEADER: case-insensitive substrings."""
        self.check(self.selected(), [
            ("FROM alice", [1]), ('FROM "ALICE EXAMPLE"', [1]), ("FROM example.net", [4]),
            ("TO alice", [2, 3]), ("CC carol", [1]), ("BCC dave", [3]), ("BCC carol", []),
            ("SUBJECT hello", [1]), ("SUBJECT REPORT", [3]), ("SUBJECT nothing", []),
            ("HEADER X-Custom marker-42", [4]), ("HEADER x-custom MARKER", [4]),
            ('HEADER X-Custom ""', [4]), ('HEADER Message-ID "<m1@"', [1]),
            ('HEADER Subject ""', [1, 2, 3, 4, 5]), ('HEADER X-None ""', []),
            ('FROM ""', [1, 2, 3, 4]),
        ])

    def test_encoded_words(self):
        """Header keys match the decoded text of RFC 2047 encoded words,
        with UTF-8 needles (literal and quoted)."""
        c = self.selected()
        for needle, want in (("Überweisung", [2]), ("erhalten", [2]), ("café", [4]),
                             ("café menu", [4]), ("w5xi", [])):
            b = needle.encode()
            with self.subTest(needle=needle):
                args = b"CHARSET UTF-8 SUBJECT {%d+}\r\n" % len(b) + b
                self.assertEqual(self.search(c, args), want)
                self.assertEqual(self.search(c, b"SUBJECT {%d+}\r\n" % len(b) + b), want)
        self.assertEqual(self.search(c, 'CHARSET UTF-8 SUBJECT "Überweisung"'.encode()), [2])

    def test_body_text(self):
        """BODY searches decoded text parts (base64, quoted-printable with a
        soft line break); TEXT also the header."""
        c = self.selected()
        self.check(c, [
            ("BODY pineapple", [3]), ("BODY PINEAPPLE", [3]), ('BODY "See attachment"', [3]),
            ('BODY "first message"', [1]), ("BODY lorem", [4]), ("BODY hello", []),
            ("BODY Quarterly", []), ("TEXT hello", [1]), ("TEXT Quarterly", [3]),
            ("TEXT pineapple", [3]), ("TEXT marker-42", [4]), ("BODY C3", []),
        ])
        for needle, want in (("crème brulée", [2]), ("café", [2])):
            b = needle.encode()
            with self.subTest(needle=needle):
                self.assertEqual(self.search(c, b"CHARSET UTF-8 BODY {%d+}\r\n" % len(b) + b),
                                 want)

    def test_sequence_sets(self):
        """Sequence-set keys; numbers beyond EXISTS match nothing (no error)."""
        self.check(self.selected(), [
            ("2:4", [2, 3, 4]), ("*", [5]), ("4:*", [4, 5]), ("3,1", [1, 3]),
            ("*:4", [4, 5]), ("100", []), ("4:100", [4, 5]), ("1:* UNSEEN", [3, 4, 5]),
        ])

    def test_uid_sets(self):
        """UID key, UID SEARCH answers, "*" as the largest UID."""
        c = self.selected()
        u = self.uids(c)
        self.assertEqual(len(u), 5)
        self.assertEqual(u, sorted(u))
        self.assertEqual(self.search(c, f"UID {u[1]}:{u[3]}"), [2, 3, 4])
        self.assertEqual(self.search(c, f"UID {u[4]}"), [5])
        self.assertEqual(self.search(c, "UID *"), [5])
        self.assertEqual(self.search(c, f"UID {u[4] + 100}:*"), [5])
        self.assertEqual(self.search(c, f"UID {u[4] + 1}:{u[4] + 100}"), [])
        self.assertEqual(self.search(c, f"UID {u[0]},{u[2]}", uid=True), [u[0], u[2]])
        self.assertEqual(self.search(c, "1:2", uid=True), u[:2])
        self.assertEqual(self.search(c, "SEEN", uid=True), u[:2])
        self.assertEqual(self.search(c, "UID 4000000000", uid=True), [])

    def test_combinations(self):
        """OR, NOT, parenthesized lists, nesting, mixed cheap and text keys."""
        self.check(self.selected(), [
            ("OR SEEN FLAGGED", [1, 2, 3]), ("NOT SEEN", [3, 4, 5]),
            ("OR (SEEN ANSWERED) DELETED", [2, 4]), ("NOT OR SEEN DELETED", [3, 5]),
            ("NOT NOT SEEN", [1, 2]), ("(SEEN) (ANSWERED)", [2]), ("((((ALL))))", [1, 2, 3, 4, 5]),
            ("FROM alice OR BODY pineapple SUBJECT tiny", []),
            ("OR FROM alice OR BODY pineapple SUBJECT tiny", [1, 3, 5]),
            ("UNSEEN NOT (LARGER 2000)", [4, 5]), ("SEEN SINCE 11-Mar-2024", [2]),
            ("NOT (BODY pineapple) NOT DELETED", [1, 2, 5]),
            ("OR OR DRAFT FLAGGED ANSWERED", [2, 3, 4]),
            ("NOT (OR TEXT hello (SUBJECT tiny))", [2, 3, 4]),
        ])

    def test_charset(self):
        """CHARSET UTF-8 and US-ASCII (any case) work; others => NO
        [BADCHARSET (UTF-8 US-ASCII)]."""
        c = self.selected()
        for cs in ("UTF-8", "utf-8", '"UTF-8"', "US-ASCII", "us-ascii"):
            self.assertEqual(self.search(c, f"CHARSET {cs} SEEN"), [1, 2], cs)
        for i, cs in enumerate(("ISO-8859-1", "KOI8-R", '"UTF-16"')):
            tag = f"B{i}"
            untagged, tagged = c.command(tag, f"SEARCH CHARSET {cs} SEEN")
            self.assertStatus(tagged, tag, "NO", "BADCHARSET")
            m = re.search(r"\[BADCHARSET \(([^)]*)\)\]", tagged)
            self.assertTrue(m, tagged)
            self.assertEqual({x.upper() for x in m.group(1).split()}, {"UTF-8", "US-ASCII"})
            self.assertFalse([u for u in untagged if "SEARCH" in u], untagged)
        self.assertNoop(c)

    def test_errors(self):
        """Syntax errors, unknown keys, bad dates and sizes => BAD; the
        session goes on."""
        c = self.selected()
        bad = ["", " FOO", " SEEN FOO", " FROM", " HEADER Subject", " BEFORE 32-Jan-2024",
               " BEFORE Jan-2024", ' ON "1 Mar 2024"', " SINCE 1-Foo-2024", " LARGER x",
               " LARGER -5", " SMALLER", " NOT", " OR SEEN", " ()", " UID 0", " UID x", " 0",
               " 1:", " RETURN (FOO) ALL", " RETURN ALL", " RETURN (ALL)", " CHARSET",
               " ALL CHARSET UTF-8", ' "SEEN"', " KEYWORD", " SENTON 29-Feb-2023"]
        for i, args in enumerate(bad):
            tag = f"X{i}"
            untagged, tagged = c.command(tag, "SEARCH" + args)
            self.assertStatus(tagged, tag, "BAD")
            self.assertFalse([u for u in untagged if "SEARCH" in u], (args, untagged))
        _, tagged = c.command("Y1", "UID SEARCH FOO")
        self.assertStatus(tagged, "Y1", "BAD")
        self.assertEqual(self.search(c, "SEEN"), [1, 2])

    def test_deep_nesting(self):
        """Hundreds of nested NOTs => BAD, not a crash; moderate nesting works."""
        c = self.selected()
        _, tagged = c.command("D1", "SEARCH " + "NOT " * 2000 + "SEEN")
        self.assertStatus(tagged, "D1", "BAD")
        _, tagged = c.command("D2", "SEARCH " + "(" * 30 + "SEEN" + ")" * 30)
        self.assertStatus(tagged, "D2", "OK")
        self.assertEqual(self.search(c, "NOT " * 21 + "SEEN"), [3, 4, 5])
        self.assertEqual(self.search(c, "ALL " * 3000 + "SEEN"), [1, 2])

    def test_not_selected(self):
        """SEARCH before SELECT => BAD."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("N1", "SEARCH ALL")
        self.assertStatus(tagged, "N1", "BAD")
        _, tagged = c.command("N2", "UID SEARCH ALL")
        self.assertStatus(tagged, "N2", "BAD")

    def test_examine(self):
        """SEARCH works in a read-only mailbox too."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("S1", "EXAMINE INBOX")
        self.assertStatus(tagged, "S1", "OK")
        self.assertEqual(self.search(c, "UNSEEN"), [3, 4, 5])

    def test_empty_result_rev1(self):
        """No match => a bare `* SEARCH`."""
        c = self.selected()
        untagged, tagged = c.command("T1", "SEARCH KEYWORD nothere")
        self.assertStatus(tagged, "T1", "OK")
        self.assertIn("* SEARCH", untagged)


class SearchEsearch(SearchBase):

    def test_return_options(self):
        """RETURN (MIN MAX COUNT ALL) and each alone; RETURN () means ALL."""
        c = self.selected()
        uid, items = self.esearch(c, "RETURN (MIN MAX COUNT ALL) UNSEEN")
        self.assertFalse(uid)
        self.assertEqual(items, {"MIN": 3, "MAX": 5, "COUNT": 3, "ALL": [3, 4, 5]})
        self.assertEqual(self.esearch(c, "RETURN (MIN) UNSEEN")[1], {"MIN": 3})
        self.assertEqual(self.esearch(c, "RETURN (MAX) UNSEEN")[1], {"MAX": 5})
        self.assertEqual(self.esearch(c, "RETURN (COUNT) UNSEEN")[1], {"COUNT": 3})
        self.assertEqual(self.esearch(c, "RETURN (ALL) 1,3:4")[1], {"ALL": [1, 3, 4]})
        self.assertEqual(self.esearch(c, "RETURN () SEEN")[1], {"ALL": [1, 2]})
        self.assertEqual(self.esearch(c, "return (min max) CHARSET UTF-8 ALL")[1],
                         {"MIN": 1, "MAX": 5})

    def test_all_is_compressed(self):
        """ALL is a sequence set with ranges: `ALL 1,3:5`."""
        c = self.selected()
        untagged, tagged = c.command("T7", "SEARCH RETURN (ALL) NOT 2")
        self.assertStatus(tagged, "T7", "OK")
        self.assertIn('* ESEARCH (TAG "T7") ALL 1,3:5', untagged)

    def test_empty_result(self):
        """No match: MIN/MAX/ALL left out, COUNT 0 kept."""
        c = self.selected()
        untagged, tagged = c.command("T2", "SEARCH RETURN (MIN MAX ALL) KEYWORD nothere")
        self.assertStatus(tagged, "T2", "OK")
        self.assertIn('* ESEARCH (TAG "T2")', untagged)
        self.assertEqual(self.esearch(c, "RETURN (COUNT ALL) KEYWORD nothere")[1], {"COUNT": 0})

    def test_uid_esearch(self):
        """UID SEARCH RETURN => `UID` marker and UIDs."""
        c = self.selected()
        u = self.uids(c)
        uid, items = self.esearch(c, "RETURN (MIN MAX COUNT ALL) SEEN", uid=True)
        self.assertTrue(uid)
        self.assertEqual(items, {"MIN": u[0], "MAX": u[1], "COUNT": 2, "ALL": u[:2]})
        untagged, _ = c.command("T3", "UID SEARCH RETURN (ALL) NOT 2")
        self.assertIn(f'* ESEARCH (TAG "T3") UID ALL {seqset([u[0]] + u[2:])}', untagged)

    def test_rev2_answers(self):
        """After ENABLE IMAP4rev2, SEARCH without RETURN answers ESEARCH ALL."""
        c = self.selected(rev2=True)
        u = self.uids_rev2(c)
        untagged, tagged = c.command("R1", "SEARCH SEEN")
        self.assertStatus(tagged, "R1", "OK")
        self.assertEqual(untagged, ['* ESEARCH (TAG "R1") ALL 1:2'])
        untagged, tagged = c.command("R2", "SEARCH KEYWORD nothere")
        self.assertEqual(untagged, ['* ESEARCH (TAG "R2")'])
        untagged, tagged = c.command("R3", "UID SEARCH KEYWORD nothere")
        self.assertEqual(untagged, ['* ESEARCH (TAG "R3") UID'])
        untagged, tagged = c.command("R4", "UID SEARCH UNSEEN")
        self.assertEqual(untagged, [f'* ESEARCH (TAG "R4") UID ALL {seqset(u[2:])}'])
        self.assertEqual(self.esearch(c, "RETURN (COUNT) ALL", tag="R5")[1], {"COUNT": 5})
        untagged, tagged = c.command("R6", 'SEARCH CHARSET UTF-8 SUBJECT "Überweisung"'.encode())
        self.assertEqual(untagged, ['* ESEARCH (TAG "R6") ALL 2'])

    def uids_rev2(self, c):
        untagged, tagged = c.command("U9", "UID SEARCH ALL")
        self.assertStatus(tagged, "U9", "OK")
        m = ESEARCH_RE.match(untagged[0])
        return expand(m.group(3).split()[1])

    def test_rev1_without_return(self):
        """A rev1 session without RETURN gets `* SEARCH`, never ESEARCH."""
        c = self.selected()
        untagged, _ = c.command("R1", "SEARCH SEEN")
        self.assertEqual(untagged, ["* SEARCH 1 2"])


class SearchSave(SearchBase):

    def test_save_alone(self):
        """RETURN (SAVE) alone sends no SEARCH/ESEARCH; "$" then names the
        saved messages in SEARCH, UID SEARCH and NOT $."""
        c = self.selected()
        u = self.uids(c)
        untagged, tagged = c.command("V1", "SEARCH RETURN (SAVE) FLAGGED")
        self.assertStatus(tagged, "V1", "OK")
        self.assertFalse([x for x in untagged if "SEARCH" in x], untagged)
        self.assertEqual(self.search(c, "$"), [3])
        self.assertEqual(self.search(c, "NOT $"), [1, 2, 4, 5])
        self.assertEqual(self.search(c, "UID $", uid=True), [u[2]])
        self.assertEqual(self.search(c, "OR $ SEEN"), [1, 2, 3])

    def test_save_initially_empty(self):
        """Before any SAVE, "$" is empty."""
        c = self.selected()
        self.assertEqual(self.search(c, "$"), [])

    def test_save_with_all(self):
        """RETURN (SAVE ALL) answers and saves everything; UID SEARCH saves
        too (as messages, used by sequence-number SEARCH)."""
        c = self.selected()
        self.assertEqual(self.esearch(c, "RETURN (SAVE ALL) UNSEEN")[1], {"ALL": [3, 4, 5]})
        self.assertEqual(self.search(c, "$"), [3, 4, 5])
        self.assertEqual(self.esearch(c, "RETURN (SAVE COUNT) SEEN", uid=True)[1], {"COUNT": 2})
        self.assertEqual(self.search(c, "$"), [1, 2])

    def test_save_min_max(self):
        """With MIN and/or MAX but no ALL/COUNT, "$" holds just those
        (RFC 5182 §2.1)."""
        c = self.selected()
        self.assertEqual(self.esearch(c, "RETURN (SAVE MIN) UNSEEN")[1], {"MIN": 3})
        self.assertEqual(self.search(c, "$"), [3])
        self.assertEqual(self.esearch(c, "RETURN (SAVE MIN MAX) UNSEEN")[1], {"MIN": 3, "MAX": 5})
        self.assertEqual(self.search(c, "$"), [3, 5])
        self.assertEqual(self.esearch(c, "RETURN (SAVE MAX COUNT) UNSEEN")[1],
                         {"MAX": 5, "COUNT": 3})
        self.assertEqual(self.search(c, "$"), [3, 4, 5])

    def test_failed_save_empties(self):
        """A SEARCH with SAVE that fails (BAD, BADCHARSET) empties "$"."""
        c = self.selected()
        c.command("V1", "SEARCH RETURN (SAVE) SEEN")
        self.assertEqual(self.search(c, "$"), [1, 2])
        _, tagged = c.command("V2", "SEARCH RETURN (SAVE) FOO")
        self.assertStatus(tagged, "V2", "BAD")
        self.assertEqual(self.search(c, "$"), [])
        c.command("V3", "SEARCH RETURN (SAVE) SEEN")
        _, tagged = c.command("V4", "SEARCH RETURN (SAVE) CHARSET KOI8-R SEEN")
        self.assertStatus(tagged, "V4", "NO", "BADCHARSET")
        self.assertEqual(self.search(c, "$"), [])

    def test_save_uses_old_value(self):
        """A SAVE search that uses "$" sees the previous result."""
        c = self.selected()
        c.command("V1", "SEARCH RETURN (SAVE) SEEN")
        c.command("V2", "SEARCH RETURN (SAVE) OR $ FLAGGED")
        self.assertEqual(self.search(c, "$"), [1, 2, 3])

    def test_fetch_saved(self):
        """FETCH $ uses the saved result (RFC 5182)."""
        c = self.selected()
        u = self.uids(c)
        c.command("V1", "SEARCH RETURN (SAVE) FLAGGED")
        untagged, tagged = c.command("F1", "FETCH $ (UID)")
        self.assertStatus(tagged, "F1", "OK")
        fetches = [x for x in untagged if re.match(r"^\* \d+ FETCH", x)]
        self.assertEqual(len(fetches), 1, untagged)
        self.assertRegex(fetches[0], rf"^\* 3 FETCH \(.*UID {u[2]}\b")


class SearchRecent(SearchBase):

    def test_recent_new_old(self):
        """RECENT, NEW and OLD (IMAP4rev1): the first session to select
        after delivery has the messages as \\Recent, later ones not."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("C1", "CREATE Fresh")
        self.assertStatus(tagged, "C1", "OK")
        append(self, c, "Fresh", r"(\Seen)", "10-Mar-2024 12:00:00 +0000", MESSAGES[0][2])
        append(self, c, "Fresh", "()", "10-Mar-2024 12:00:00 +0000", MESSAGES[4][2], tag="A2")
        a = self.selected("Fresh")
        self.assertEqual(self.search(a, "RECENT"), [1, 2])
        self.assertEqual(self.search(a, "NEW"), [2])
        self.assertEqual(self.search(a, "OLD"), [])
        b = self.selected("Fresh")
        self.assertEqual(self.search(b, "RECENT"), [])
        self.assertEqual(self.search(b, "OLD"), [1, 2])
        self.assertEqual(self.search(b, "NEW"), [])


class SearchNoExpunge(SearchBase):

    def test_no_expunge_during_search(self):
        """Another session expunges a message: SEARCH sends no EXPUNGE and
        numbers stay those the client knows (RFC 9051 §7.5.1)."""
        a = self.connect()
        self.login(a)
        a.command("C1", "CREATE Exp")
        for i in range(3):
            append(self, a, "Exp", "()", "10-Mar-2024 12:00:00 +0000", MESSAGES[i][2],
                   tag=f"A{i}")
        a = self.selected("Exp")
        b = self.selected("Exp")
        _, tagged = b.command("B1", r"STORE 2 +FLAGS.SILENT (\Deleted)")
        self.assertStatus(tagged, "B1", "OK")
        _, tagged = b.command("B2", "EXPUNGE")
        self.assertStatus(tagged, "B2", "OK")
        time.sleep(0.2)
        untagged, tagged = a.command("T1", "SEARCH 1:3")
        self.assertStatus(tagged, "T1", "OK")
        self.assertFalse([x for x in untagged if x.endswith(" EXPUNGE")], untagged)
        found = [x for x in untagged if x.startswith("* SEARCH")]
        self.assertEqual(len(found), 1)
        self.assertEqual([int(n) for n in found[0].split()[2:]], [1, 3])
        untagged, tagged = a.command("T2", "NOOP")
        self.assertIn("* 2 EXPUNGE", untagged)
        self.assertEqual(self.search(a, "ALL"), [1, 2])


class SearchLarge(ServerTestCase):
    """A mailbox of many messages dropped into Maildir new/: searches run in
    slices and the answers stay exact."""

    N = 9000  # answers longer than one output chunk (4096 numbers)
    settings = {"mail_fsync": "no"}

    @classmethod
    def prepare(cls, server):
        new = os.path.join(server.dir, "mail", "alice", "new")
        os.makedirs(new, exist_ok=True)
        for i in range(1, cls.N + 1):
            word = "fizz" if i % 3 == 0 else "plain"
            data = (f"From: sender{i}@example.com\r\nSubject: message {i}\r\n\r\n"
                    f"body {word} needle-{i}-end\r\n").encode()
            with open(os.path.join(new, f"1700000000.M{i}P1.host"), "wb") as f:
                f.write(data)

    def selected(self):
        c = self.connect()
        self.login(c)
        untagged, tagged = c.command("S1", "SELECT INBOX", timeout=60)
        self.assertStatus(tagged, "S1", "OK")
        self.assertIn(f"* {self.N} EXISTS", untagged)
        return c

    def test_large_counts(self):
        """ALL, a body match over every message, and a match of one."""
        c = self.selected()
        untagged, tagged = c.command("T1", "SEARCH ALL", timeout=60)
        self.assertStatus(tagged, "T1", "OK")
        line = [x for x in untagged if x.startswith("* SEARCH")][0]
        self.assertEqual([int(n) for n in line.split()[2:]], list(range(1, self.N + 1)))
        untagged, tagged = c.command("T2", "SEARCH RETURN (COUNT ALL) BODY fizz", timeout=60)
        self.assertStatus(tagged, "T2", "OK")
        want = [i for i in range(1, self.N + 1) if i % 3 == 0]
        self.assertIn(f'* ESEARCH (TAG "T2") COUNT {len(want)} ALL {seqset(want)}', untagged)
        untagged, tagged = c.command("T3", "SEARCH BODY needle-2345-end", timeout=60)
        self.assertIn("* SEARCH 2345", untagged)
        untagged, tagged = c.command("T4", "SEARCH OR FROM sender17@ SUBJECT \"message 2999\"",
                                     timeout=60)
        self.assertIn("* SEARCH 17 2999", untagged)

    def test_large_set_output(self):
        """ESEARCH ALL and UID SEARCH answers of thousands of ranges are
        exact and compressed across output chunks."""
        c = self.selected()
        want = [i for i in range(1, self.N + 1) if i % 3 != 0]
        untagged, tagged = c.command("T1", "SEARCH RETURN (ALL MIN MAX) BODY plain", timeout=60)
        self.assertStatus(tagged, "T1", "OK")
        self.assertEqual(untagged, [f'* ESEARCH (TAG "T1") MIN 1 MAX {want[-1]} '
                                    f'ALL {seqset(want)}'])
        untagged, tagged = c.command("T2", "UID SEARCH ALL", timeout=60)
        line = [x for x in untagged if x.startswith("* SEARCH")][0]
        uids = [int(n) for n in line.split()[2:]]
        self.assertEqual(len(uids), self.N)
        self.assertEqual(uids, sorted(set(uids)))
        untagged, tagged = c.command("T3", "UID SEARCH RETURN (ALL) NOT BODY plain", timeout=60)
        self.assertEqual(untagged, [f'* ESEARCH (TAG "T3") UID ALL '
                                    f'{seqset([uids[i - 1] for i in range(3, self.N + 1, 3)])}'])

    def test_disconnect_during_search(self):
        """A client that leaves during a long search: the server frees the
        search and goes on serving."""
        for _ in range(3):
            c = self.selected()
            c.send(b"Q1 SEARCH TEXT fizz\r\nQ2 SEARCH BODY needle-1-end\r\n")
            c.close()
        other = self.selected()
        untagged, tagged = other.command("T1", "SEARCH BODY needle-42-end", timeout=60)
        self.assertIn("* SEARCH 42", untagged)

    def test_pipelined(self):
        """Commands pipelined behind a long SEARCH are answered after it, in
        order; another session is served meanwhile."""
        c = self.selected()
        other = self.selected()
        c.send(b"P1 SEARCH TEXT fizz\r\nP2 NOOP\r\nP3 SEARCH RETURN (COUNT) BODY plain\r\n")
        self.assertNoop(other)
        u1, t1 = c.read_tagged("P1", timeout=60)
        self.assertStatus(t1, "P1", "OK")
        u2, t2 = c.read_tagged("P2", timeout=60)
        self.assertStatus(t2, "P2", "OK")
        u3, t3 = c.read_tagged("P3", timeout=60)
        self.assertIn(f'* ESEARCH (TAG "P3") COUNT {self.N - self.N // 3}', u3)
