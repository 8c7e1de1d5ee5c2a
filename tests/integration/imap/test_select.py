"""SELECT, EXAMINE, CLOSE, UNSELECT, CHECK and NOOP (RFC 9051 §6.3.2, §6.3.3,
§6.4.1, §6.4.2, §6.1.2; RFC 3501 §6.3.1 for the IMAP4rev1 data).

Also home of MailboxMixin, the helpers the other selected-state test modules
(test_store_flags, test_copy_move, test_append, test_expunge, test_idle,
test_multisession) share: each test works in a mailbox of its own so tests
in one class never see each other's messages."""

import itertools
import re
import time

from harness import ServerTestCase, quote, status_re

_counter = itertools.count(1)

FETCH_FLAGS_RE = re.compile(r"^\* (\d+) FETCH \((.*)\)$")


def message(i=1, body="hello"):
    """A small RFC 5322 message (bytes, CRLF)."""
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: test {i}\r\n"
            f"Message-ID: <m{i}.{time.monotonic_ns()}@example.com>\r\n\r\n{body} {i}\r\n").encode()


def fetch_flags(line):
    """(seq, uid or None, set of flags) of `* n FETCH (... FLAGS (...) ...)`."""
    m = FETCH_FLAGS_RE.match(line)
    if not m:
        return None
    items = m.group(2)
    uid = re.search(r"\bUID (\d+)", items)
    flags = re.search(r"FLAGS \(([^)]*)\)", items)
    return (int(m.group(1)), int(uid.group(1)) if uid else None,
            set(flags.group(1).split()) if flags else None)


class MailboxMixin:
    """Helpers for tests on a ServerTestCase (RawClient based)."""

    def session(self, user="alice", rev2=False):
        c = self.connect()
        self.login(c, user)
        if rev2:
            _, tagged = c.command("E", "ENABLE IMAP4rev2")
            self.assertStatus(tagged, "E", "OK")
        return c

    def new_mailbox(self, c, prefix="box"):
        """CREATEs a mailbox with a fresh name; returns the name."""
        name = f"{prefix}{next(_counter)}x{time.monotonic_ns() % 100000}"
        _, tagged = c.command("CR", f"CREATE {name}")
        self.assertStatus(tagged, "CR", "OK")
        return name

    def append(self, c, mailbox, data=None, flags=None, date=None, tag="AP"):
        """APPEND with a non-synchronizing literal; returns (untagged, tagged)."""
        if data is None:
            data = message()
        parts = [f"{tag} APPEND {quote(mailbox)}"]
        if flags is not None:
            parts.append(f"({flags})")
        if date is not None:
            parts.append(quote(date))
        head = " ".join(parts) + f" {{{len(data)}+}}\r\n"
        c.send(head.encode() + data + b"\r\n")
        return c.read_tagged(tag)

    def append_ok(self, c, mailbox, data=None, flags=None, date=None):
        """APPEND that must succeed; returns the new UID (from APPENDUID)."""
        untagged, tagged = self.append(c, mailbox, data, flags, date)
        self.assertStatus(tagged, "AP", "OK", "APPENDUID")
        m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
        return int(m.group(2))

    def select(self, c, mailbox, examine=False, tag="S"):
        untagged, tagged = c.command(tag, f"{'EXAMINE' if examine else 'SELECT'} {quote(mailbox)}")
        self.assertStatus(tagged, tag, "OK")
        return untagged

    def exists_of(self, untagged):
        found = [int(m.group(1)) for m in (re.match(r"^\* (\d+) EXISTS$", u) for u in untagged)
                 if m]
        return found[-1] if found else None

    def flags_now(self, c, seq, uid=False):
        """The message's flags, read through `STORE n +FLAGS ()` (changes
        nothing, reports the flags)."""
        untagged, tagged = c.command("FL", f"{'UID ' if uid else ''}STORE {seq} +FLAGS ()")
        self.assertStatus(tagged, "FL", "OK")
        got = [fetch_flags(u) for u in untagged if fetch_flags(u)]
        self.assertTrue(got, f"no FETCH in {untagged!r}")
        return got[-1][2]

    def mailbox_with(self, c, n, flags=None):
        """A new mailbox holding n messages; returns (name, [uids])."""
        name = self.new_mailbox(c)
        uids = [self.append_ok(c, name, message(i), flags) for i in range(1, n + 1)]
        return name, uids


class Select(MailboxMixin, ServerTestCase):

    def test_select_empty_inbox_rev1(self):
        """SELECT INBOX (rev1): FLAGS, 0 EXISTS, 0 RECENT, PERMANENTFLAGS with
        \\*, UIDVALIDITY, UIDNEXT, then OK [READ-WRITE]; no LIST."""
        c = self.session("carol")
        untagged, tagged = c.command("s", "SELECT INBOX")
        self.assertStatus(tagged, "s", "OK", "READ-WRITE")
        self.assertIn("* 0 EXISTS", untagged)
        self.assertIn("* 0 RECENT", untagged)
        flags = [u for u in untagged if u.startswith("* FLAGS ")]
        self.assertEqual(len(flags), 1)
        for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"):
            self.assertIn(f, flags[0])
        perm = [u for u in untagged if "[PERMANENTFLAGS " in u]
        self.assertEqual(len(perm), 1)
        self.assertIn("\\*", perm[0])
        self.assertTrue(any(re.match(r"^\* OK \[UIDVALIDITY \d+\]", u) for u in untagged))
        self.assertTrue(any(re.match(r"^\* OK \[UIDNEXT \d+\]", u) for u in untagged))
        self.assertFalse(any(u.startswith("* LIST") for u in untagged))
        self.assertFalse(any("[UNSEEN" in u for u in untagged))

    def test_select_rev2(self):
        """After ENABLE IMAP4rev2: LIST () "/" name, no RECENT, no UNSEEN."""
        c = self.session(rev2=True)
        name = self.new_mailbox(c)
        self.append_ok(c, name)
        untagged, tagged = c.command("s", f"SELECT {name}")
        self.assertStatus(tagged, "s", "OK", "READ-WRITE")
        self.assertIn(f'* LIST () "/" {name}', [u.replace(f'"{name}"', name) for u in untagged])
        self.assertIn("* 1 EXISTS", untagged)
        self.assertFalse(any(u.endswith(" RECENT") for u in untagged))
        self.assertFalse(any("[UNSEEN" in u for u in untagged))

    def test_examine(self):
        """EXAMINE: OK [READ-ONLY], PERMANENTFLAGS () and no \\Recent claimed."""
        c = self.session()
        name, _ = self.mailbox_with(c, 2)
        untagged, tagged = c.command("e", f"EXAMINE {name}")
        self.assertStatus(tagged, "e", "OK", "READ-ONLY")
        self.assertIn("* OK [PERMANENTFLAGS ()] No permanent flags permitted", untagged)
        self.assertIn("* 2 EXISTS", untagged)
        # EXAMINE claimed nothing: a SELECT still finds them recent, and
        # claims them, so the next SELECT does not.
        untagged = self.select(c, name)
        self.assertIn("* 2 RECENT", untagged)
        untagged = self.select(c, name)
        self.assertIn("* 0 RECENT", untagged)

    def test_unseen_and_uidnext(self):
        """rev1: OK [UNSEEN n] is the first message without \\Seen; UIDNEXT
        is above every UID."""
        c = self.session()
        name = self.new_mailbox(c)
        self.append_ok(c, name, flags="\\Seen")
        uid2 = self.append_ok(c, name)
        untagged = self.select(c, name)
        self.assertIn("* OK [UNSEEN 2] First unseen", untagged)
        nxt = [int(m.group(1)) for m in
               (re.match(r"^\* OK \[UIDNEXT (\d+)\]", u) for u in untagged) if m]
        self.assertEqual(len(nxt), 1)
        self.assertGreater(nxt[0], uid2)

    def test_keywords_in_flags(self):
        """A keyword in use appears in FLAGS and PERMANENTFLAGS."""
        c = self.session()
        name = self.new_mailbox(c)
        self.append_ok(c, name, flags="$Label1")
        untagged = self.select(c, name)
        flags = [u for u in untagged if u.startswith("* FLAGS ")][0]
        perm = [u for u in untagged if "[PERMANENTFLAGS" in u][0]
        self.assertIn("$Label1", flags)
        self.assertIn("$Label1", perm)

    def test_inbox_case_insensitive(self):
        c = self.session()
        self.select(c, "inbox")
        self.select(c, "InBoX", examine=True)

    def test_nonexistent(self):
        """SELECT of a missing mailbox: NO [NONEXISTENT], still authenticated."""
        c = self.session()
        _, tagged = c.command("s", "SELECT nosuchbox")
        self.assertStatus(tagged, "s", "NO", "NONEXISTENT")
        _, tagged = c.command("c", "CLOSE")
        self.assertStatus(tagged, "c", "BAD")
        self.assertNoop(c)

    def test_reselect_closes_first(self):
        """SELECT while selected: `* OK [CLOSED]` comes before the new data."""
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, "INBOX")
        untagged, tagged = c.command("s", f"SELECT {name}")
        self.assertStatus(tagged, "s", "OK")
        self.assertTrue(untagged[0].startswith("* OK [CLOSED]"), untagged)

    def test_failed_select_deselects(self):
        """A failing SELECT while selected leaves no mailbox selected."""
        c = self.session()
        self.select(c, "INBOX")
        untagged, tagged = c.command("s", "SELECT nosuchbox2")
        self.assertStatus(tagged, "s", "NO", "NONEXISTENT")
        self.assertTrue(any(u.startswith("* OK [CLOSED]") for u in untagged))
        _, tagged = c.command("x", "EXPUNGE")
        self.assertStatus(tagged, "x", "BAD")

    def test_syntax_and_refused_names(self):
        """No argument / two arguments: BAD; a name that can never exist:
        NO [CANNOT]; the session goes on."""
        c = self.session()
        _, tagged = c.command("a", "SELECT")
        self.assertStatus(tagged, "a", "BAD")
        _, tagged = c.command("b", "SELECT INBOX extra")
        self.assertStatus(tagged, "b", "BAD")
        _, tagged = c.command("c", 'SELECT "a/../b"')
        self.assertStatus(tagged, "c", "NO", "CANNOT")
        _, tagged = c.command("d", "EXAMINE (INBOX)")
        self.assertStatus(tagged, "d", "BAD")
        self.assertNoop(c)

    def test_select_before_login(self):
        c = self.connect()
        _, tagged = c.command("a", "SELECT INBOX")
        self.assertStatus(tagged, "a", "BAD")

    def test_imaplib(self):
        """imaplib's select/close flow."""
        m = self.server.imap()
        try:
            m.login("bob", self.users["bob"])
            typ, data = m.select("INBOX")
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX", readonly=True)
            self.assertEqual(typ, "OK")
            self.assertEqual(m.close()[0], "OK")
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass


class CloseUnselect(MailboxMixin, ServerTestCase):

    def _deleted_box(self, c):
        name, _ = self.mailbox_with(c, 3)
        self.select(c, name)
        _, tagged = c.command("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
        self.assertStatus(tagged, "d", "OK")
        return name

    def test_close_expunges_silently(self):
        """CLOSE removes \\Deleted messages without EXPUNGE responses."""
        c = self.session()
        name = self._deleted_box(c)
        untagged, tagged = c.command("c", "CLOSE")
        self.assertStatus(tagged, "c", "OK")
        self.assertFalse([u for u in untagged if "EXPUNGE" in u], untagged)
        untagged = self.select(c, name)
        self.assertIn("* 2 EXISTS", untagged)

    def test_unselect_keeps_messages(self):
        c = self.session()
        name = self._deleted_box(c)
        untagged, tagged = c.command("u", "UNSELECT")
        self.assertStatus(tagged, "u", "OK")
        self.assertEqual(untagged, [])
        untagged = self.select(c, name)
        self.assertIn("* 3 EXISTS", untagged)

    def test_close_read_only_does_not_expunge(self):
        c = self.session()
        name = self._deleted_box(c)
        self.select(c, name, examine=True)
        _, tagged = c.command("c", "CLOSE")
        self.assertStatus(tagged, "c", "OK")
        untagged = self.select(c, name)
        self.assertIn("* 3 EXISTS", untagged)

    def test_back_to_authenticated(self):
        """After CLOSE / UNSELECT, selected-state commands are BAD."""
        c = self.session()
        for cmd in ("CLOSE", "UNSELECT"):
            self.select(c, "INBOX")
            _, tagged = c.command("c", cmd)
            self.assertStatus(tagged, "c", "OK")
            _, tagged = c.command("f", "STORE 1 +FLAGS (\\Seen)")
            self.assertStatus(tagged, "f", "BAD")
            _, tagged = c.command("g", cmd)
            self.assertStatus(tagged, "g", "BAD")

    def test_arguments_refused(self):
        c = self.session()
        self.select(c, "INBOX")
        for cmd in ("CLOSE x", "UNSELECT x", "CHECK x", "NOOP x"):
            _, tagged = c.command("a", cmd)
            self.assertStatus(tagged, "a", "BAD")

    def test_check(self):
        """CHECK: OK when selected (rev1 command kept), BAD when not."""
        c = self.session()
        _, tagged = c.command("a", "CHECK")
        self.assertStatus(tagged, "a", "BAD")
        self.select(c, "INBOX")
        _, tagged = c.command("b", "CHECK")
        self.assertStatus(tagged, "b", "OK")

    def test_noop_reports_new_messages(self):
        """NOOP in the selected state reports another session's APPEND."""
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, name)
        d = self.session()
        self.append_ok(d, name)
        untagged, tagged = c.command("n", "NOOP")
        self.assertStatus(tagged, "n", "OK")
        self.assertIn("* 1 EXISTS", untagged)
        self.assertIn("* 1 RECENT", untagged)
        untagged, tagged = c.command("n", "NOOP")
        self.assertEqual(untagged, [])
