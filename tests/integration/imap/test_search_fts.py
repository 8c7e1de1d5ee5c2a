"""SEARCH BODY / TEXT / FROM / TO / CC / BCC / SUBJECT through the full-text
index (roost-fts.sqlite) answer
exactly what the scanner answers (RFC 9051 §6.4.4 substring semantics).

Two servers hold the same messages: one with the index (the default,
fts = yes) and one with fts = no, which always scans. Every query is asked
of both and must give the same UIDs; for a few the expected set is also
written out here, so that a fault shared by both paths fails too. The
comparison is repeated after EXPUNGE and after new APPENDs (catch-up)."""

import base64
import os
import re
import time

from harness import RoostServer, ServerTestCase, USERS, status_re

CRLF = b"\r\n"


def msg(*lines, body=b""):
    head = CRLF.join(line.encode() if isinstance(line, str) else line for line in lines)
    return head + CRLF + CRLF + body


def b64lines(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def enc_word(text, charset="UTF-8"):
    return f"=?{charset}?B?" + base64.b64encode(text.encode(charset)).decode() + "?="


MESSAGES = [
    # 1: plain ASCII, mixed case
    msg("From: Alice <alice@example.com>", "To: bob@example.com",
        "Subject: Weekly Schedule", body=b"The SCHEDULE for next week is attached.\r\n"),
    # 2: quoted-printable UTF-8 body, RFC 2047 subject
    msg("From: Bob <bob@example.com>", "To: alice@example.com",
        "Subject: " + enc_word("Überweisung erhalten"), "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        body=b"caf=C3=A9 cr=C3=A8me br=\r\nul=C3=A9e\r\n"),
    # 3: multipart: an ISO-8859-1 QP part and a base64 UTF-8 part (Greek)
    msg("From: carol@example.org", "To: alice@example.com", "Subject: multi",
        "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b1"',
        body=b"--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
             b"Gr=FC=DFe aus M=FCnchen\r\n"
             b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n"
             + b64lines("ΚΑΛΗΜΕΡΑ κόσμε, pineapple\r\n".encode())
             + b"--b1\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n"
             + b64lines(b"binaryneedle in an attachment\r\n")
             + b"--b1--\r\n"),
    # 4: Cyrillic, ISO-8859-1 encoded-word subject, a custom header
    msg("From: \"Dave\" <dave@example.net>", "To: carol@example.org",
        "Subject: =?ISO-8859-1?Q?caf=E9_menu?=", "X-Custom: marker-42",
        "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        body="ПРИВЕТ мир, schedule later\r\n".encode()),
    # 5: needle spanning two header fields must not match ("bob@example.com\r\nSubject")
    msg("From: eve@example.com", "To: bob@example.com", "Subject: zz top",
        body=b'nothing here, say "hi" there\r\n'),
    # 6: invalid UTF-8 and control bytes in the body
    msg("From: frank@example.com", "Subject: bytes", "Content-Type: text/plain",
        "Content-Transfer-Encoding: base64",
        body=b64lines(b"abc\xff\xfedef \x01ghi\x00jkl sched\xc3ule\r\n")),
    # 7: message/rfc822 inside
    msg("From: gina@example.com", "Subject: fwd", "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="o"',
        body=b"--o\r\nContent-Type: text/plain\r\n\r\nsee inner\r\n"
             b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
             b"From: inner@example.com\r\nSubject: Inner Subject Line\r\n\r\n"
             b"inner body schedule\r\n--o--\r\n"),
]

LATER = [
    msg("From: hank@example.com", "Subject: late schedule", body=b"arrived later pineapple\r\n"),
    msg("From: ivy@example.com", "Subject: later", body="Κόσμε again\r\n".encode()),
]

# (query, expected UIDs before any change or None when only compared)
QUERIES = [
    ('TEXT "schedule"', [1, 4, 7]),
    ('BODY "schedule"', [1, 4, 7]),
    ('TEXT "SCHEDULE"', [1, 4, 7]),
    ('BODY "weekly"', []),
    ('TEXT "weekly"', [1]),
    ('TEXT "überweisung"', [2]),
    ('BODY "crème brulée"', None),
    ('BODY "crème"', [2]),
    ('BODY "grüße"', [3]),
    ('BODY "münchen"', [3]),
    ('BODY "καλημερα"', [3]),
    ('BODY "κόσμε"', [3]),
    ('BODY "привет"', [4]),
    ('TEXT "ПРИВЕТ МИР"', [4]),
    ('BODY "binaryneedle"', []),
    ('TEXT "café menu"', [4]),
    ('TEXT "marker-42"', [4]),
    ('TEXT "x-custom: marker"', [4]),
    ('TEXT "subject: zz"', [5]),
    ('TEXT "example.com subject"', []),
    ('BODY "ab"', None),
    ('BODY "de"', None),
    ('TEXT "zz"', [5]),
    ('BODY "def"', [6]),
    ('BODY "ghi"', [6]),
    ('BODY "jkl"', [6]),
    ('BODY "abcdef"', []),
    ('BODY "sched"', None),
    ('TEXT "inner subject"', [7]),
    ('BODY "inner body"', [7]),
    ('TEXT "from: inner@"', [7]),
    ('TEXT "pineapple"', [3]),
    ('OR BODY "schedule" SUBJECT "multi"', [1, 3, 4, 7]),
    ('NOT BODY "schedule"', [2, 3, 5, 6]),
    ('BODY "schedule" UID 2:5', [4]),
    ('BODY "schedule" FROM "alice"', [1]),
    ('SEEN BODY "schedule"', []),
    ('BODY "say \\"hi\\""', [5]),
    ('BODY "\\"hi\\" t"', [5]),
    ('TEXT "nothing-at-all-matches"', []),
    # Header keys: one top-level field each, answered from the index's
    # field columns (needles of three characters or more).
    ('FROM "alice"', [1]),
    ('FROM "example.com"', [1, 2, 5, 6, 7]),
    ('TO "alice"', [2, 3]),
    ('TO "bob@example.com"', [1, 5]),
    ('CC "alice"', []),
    ('BCC "alice"', []),
    ('SUBJECT "überweisung"', [2]),
    ('SUBJECT "CAFÉ MENU"', [4]),
    ('SUBJECT "inner subject"', []),
    ('FROM "inner@"', []),
    ('HEADER SUBJECT "schedule"', [1]),
    ('HEADER X-Custom "marker-42"', [4]),
    ('FROM "al"', [1]),
    ('SUBJECT "zz top" FROM "eve"', [5]),
    ('OR FROM "dave" TO "dave"', [4]),
    ('NOT FROM "example.com"', [3, 4]),
]


def search_uids(test, c, query, tag="S1"):
    untagged, tagged = c.command(tag, f"UID SEARCH CHARSET UTF-8 {query}")
    test.assertRegex(tagged, status_re(tag, "OK"), query)
    lines = [u for u in untagged if u.startswith("* SEARCH")]
    test.assertEqual(len(lines), 1, f"{query}: {untagged!r}")
    return sorted(int(x) for x in lines[0].split()[2:])


class SearchFts(ServerTestCase):
    """The indexed server is the class's server; the scanning one is
    started beside it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scan = RoostServer(settings={"fts": "no"}, users=USERS)
        try:
            cls.scan.start()
            for srv in (cls.server, cls.scan):
                cls.append_all(srv, MESSAGES)
        except BaseException:
            cls.scan.cleanup()
            cls.server.stop(check=False)
            cls.server.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.scan.stop()
        finally:
            cls.scan.cleanup()
            super().tearDownClass()

    @classmethod
    def append_all(cls, srv, messages):
        c = srv.raw()
        try:
            c.greeting()
            c.command("L", f'LOGIN alice "{USERS["alice"]}"')
            for i, data in enumerate(messages):
                c.send(f"A{i} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + CRLF)
                _, tagged = c.read_tagged(f"A{i}")
                assert re.match(rf"A{i} OK", tagged), tagged
            c.command("Z", "LOGOUT")
        finally:
            c.close()

    def selected(self, srv):
        c = srv.raw()
        self.addCleanup(c.close)
        c.greeting()
        _, tagged = c.command("L", f'LOGIN alice "{USERS["alice"]}"')
        self.assertRegex(tagged, status_re("L", "OK"))
        _, tagged = c.command("S", "SELECT INBOX")
        self.assertRegex(tagged, status_re("S", "OK"))
        return c

    def compare(self, expect=True):
        fts, scan = self.selected(self.server), self.selected(self.scan)
        for i, (query, expected) in enumerate(QUERIES):
            with self.subTest(query=query):
                got = search_uids(self, fts, query, tag=f"F{i}")
                self.assertEqual(got, search_uids(self, scan, query, tag=f"G{i}"))
                if expect and expected is not None:
                    self.assertEqual(got, expected)
        # The same through sequence numbers and ESEARCH.
        for c in (fts, scan):
            untagged, tagged = c.command("E", 'SEARCH RETURN (COUNT ALL) TEXT "schedule"')
            self.assertRegex(tagged, status_re("E", "OK"))
            c.esearch = [u for u in untagged if u.startswith("* ESEARCH")]
        self.assertEqual(fts.esearch, scan.esearch)

    def fts_file(self):
        return os.path.join(self.server.dir, "mail", "alice", "roost-fts.sqlite")

    def test_1_same_answers(self):
        self.compare()
        self.assertTrue(os.path.exists(self.fts_file()), "no index was built")
        self.assertFalse(os.path.exists(
            os.path.join(self.scan.dir, "mail", "alice", "roost-fts.sqlite")))

    def test_2_after_expunge_and_append(self):
        for srv in (self.server, self.scan):
            c = self.selected(srv)
            _, tagged = c.command("X1", r"UID STORE 1,4 +FLAGS.SILENT (\Deleted)")
            self.assertRegex(tagged, status_re("X1", "OK"))
            _, tagged = c.command("X2", "EXPUNGE")
            self.assertRegex(tagged, status_re("X2", "OK"))
        self.compare(expect=False)
        fts = self.selected(self.server)
        self.assertEqual(search_uids(self, fts, 'TEXT "schedule"'), [7])
        for srv in (self.server, self.scan):
            self.append_all(srv, LATER)
        self.compare(expect=False)
        fts = self.selected(self.server)
        self.assertEqual(search_uids(self, fts, 'TEXT "schedule"'), [7, 8])
        self.assertEqual(search_uids(self, fts, 'BODY "pineapple"'), [3, 8])
        self.assertEqual(search_uids(self, fts, 'BODY "κόσμε"'), [3, 9])

    def test_3_other_session_appends_while_selected(self):
        """A message that arrives after SELECT is not in the view; one
        that arrives between two searches is found by the second (scanned,
        as it is not indexed yet)."""
        fts = self.selected(self.server)
        before = search_uids(self, fts, 'BODY "arrived later"')
        self.append_all(self.server, [msg("From: x@example.com", "Subject: s",
                                          body=b"arrived later too\r\n")])
        c2 = self.selected(self.server)
        after = search_uids(self, c2, 'BODY "arrived later"')
        self.assertEqual(after, before + [max(after)])


class SearchFtsBackground(ServerTestCase):
    """A SEARCH never indexes: the first one scans the mailbox (the answer
    is exact) and hands the indexing to background jobs, here one batch
    each (a 1 ms budget), so a later SEARCH finds the whole mailbox
    indexed and scans nothing."""

    settings = {"fts_index_budget_ms": 1, "log_level": "debug", "mail_fsync": "no"}
    COUNT = 1200

    def test_background_indexing(self):
        root = os.path.join(self.server.dir, "mail", "alice")
        new = os.path.join(root, "new")
        os.makedirs(os.path.join(root, "cur"), exist_ok=True)
        os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
        os.makedirs(new, exist_ok=True)
        for i in range(1, self.COUNT + 1):
            word = "pineapple" if i % 7 == 0 else "turnip"
            with open(os.path.join(new, f"1700000000.M{i}P1.test"), "wb") as f:
                f.write(msg("From: x@example.com", f"Subject: n{i}",
                            body=f"a {word} for message {i}\r\n".encode()))
        c = self.server.raw()
        self.addCleanup(c.close)
        c.greeting()
        c.command("L", f'LOGIN alice "{USERS["alice"]}"')
        c.command("S", "SELECT INBOX")
        want = [i for i in range(1, self.COUNT + 1) if i % 7 == 0]
        self.assertEqual(search_uids(self, c, 'BODY "pineapple"', tag="F1"), want)
        first = [l for l in self.server.log().splitlines() if "event=search_fts " in l]
        self.assertTrue(first and " deferred=0 " not in first[-1], first[-1:])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any("event=search_fts_background" in l and " deferred=0" in l
                   for l in self.server.log().splitlines()):
                break
            time.sleep(0.2)
        else:
            self.fail("background indexing did not finish")
        self.assertEqual(search_uids(self, c, 'BODY "pineapple"', tag="F2"), want)
        last = [l for l in self.server.log().splitlines() if "event=search_fts " in l][-1]
        self.assertIn(" indexed=0 ", last)
        self.assertIn(" missing=0 ", last)
