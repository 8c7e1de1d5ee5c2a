"""STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9): FLAGS, +FLAGS, -FLAGS,
.SILENT, keywords, flag syntax, sequence-number errors, read-only."""

from harness import ServerTestCase
from imap.test_select import MailboxMixin, fetch_flags


class Store(MailboxMixin, ServerTestCase):

    def box(self, c, n=3, **kw):
        name, uids = self.mailbox_with(c, n, **kw)
        self.select(c, name)
        return name, uids

    def store(self, c, text, tag="st"):
        untagged, tagged = c.command(tag, text)
        fetches = [fetch_flags(u) for u in untagged if fetch_flags(u)]
        return untagged, tagged, fetches

    def test_replace_add_remove(self):
        c = self.session()
        self.box(c)
        _, tagged, f = self.store(c, "STORE 1 FLAGS (\\Seen \\Flagged)")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(len(f), 1)
        self.assertEqual(f[0][0], 1)
        self.assertTrue({"\\Seen", "\\Flagged"} <= f[0][2])
        _, tagged, f = self.store(c, "STORE 1 +FLAGS (\\Answered)")
        self.assertTrue({"\\Seen", "\\Flagged", "\\Answered"} <= f[0][2])
        _, tagged, f = self.store(c, "STORE 1 -FLAGS (\\Seen \\Flagged)")
        self.assertIn("\\Answered", f[0][2])
        self.assertNotIn("\\Seen", f[0][2])
        self.assertNotIn("\\Flagged", f[0][2])
        _, tagged, f = self.store(c, "STORE 1 FLAGS ()")
        self.assertEqual(f[0][2] - {"\\Recent"}, set())

    def test_exactly_one_fetch_per_message(self):
        """The session's own change is reported once, not again by the sync
        before the tagged OK."""
        c = self.session()
        self.box(c, 3)
        untagged, tagged, f = self.store(c, "STORE 1:3 +FLAGS (\\Draft)")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(sorted(x[0] for x in f), [1, 2, 3], untagged)
        untagged, _ = c.command("n", "NOOP")
        self.assertEqual(untagged, [])

    def test_silent(self):
        c = self.session()
        self.box(c)
        untagged, tagged, f = self.store(c, "STORE 1:2 +FLAGS.SILENT (\\Seen)")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(f, [])
        self.assertIn("\\Seen", self.flags_now(c, 1))
        self.assertIn("\\Seen", self.flags_now(c, 2))
        self.assertNotIn("\\Seen", self.flags_now(c, 3))
        untagged, tagged, f = self.store(c, "STORE 1 -flags.silent \\Seen")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(f, [])
        self.assertNotIn("\\Seen", self.flags_now(c, 1))

    def test_bare_flags_and_case(self):
        """Flags without parentheses; system flags are case-insensitive."""
        c = self.session()
        self.box(c)
        _, tagged, f = self.store(c, "STORE 2 +FLAGS \\SEEN \\flagged")
        self.assertStatus(tagged, "st", "OK")
        self.assertTrue({"\\Seen", "\\Flagged"} <= f[0][2])

    def test_keywords(self):
        """Keywords are stored, announced in a new FLAGS response, removed."""
        c = self.session()
        self.box(c)
        untagged, tagged, f = self.store(c, "STORE 1 +FLAGS ($Important Work)")
        self.assertStatus(tagged, "st", "OK")
        self.assertTrue({"$Important", "Work"} <= f[0][2])
        flags = [u for u in untagged if u.startswith("* FLAGS ")]
        self.assertTrue(flags and "$Important" in flags[-1], untagged)
        _, _, f = self.store(c, "STORE 1 -FLAGS (Work)")
        self.assertIn("$Important", f[0][2])
        self.assertNotIn("Work", f[0][2])

    def test_uid_store(self):
        """UID STORE: FETCH responses carry the UID; unknown UIDs are skipped
        with OK."""
        c = self.session()
        _, uids = self.box(c)
        _, tagged, f = self.store(c, f"UID STORE {uids[1]} +FLAGS (\\Seen)")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(len(f), 1)
        self.assertEqual(f[0][0], 2)
        self.assertEqual(f[0][1], uids[1])
        untagged, tagged, f = self.store(c, f"UID STORE {uids[-1] + 100} +FLAGS (\\Seen)")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(f, [])
        _, tagged, f = self.store(c, f"UID STORE {uids[0]}:* +FLAGS (\\Answered)")
        self.assertEqual(sorted(x[1] for x in f), uids)

    def test_star_and_ranges(self):
        c = self.session()
        self.box(c, 4)
        _, tagged, f = self.store(c, "STORE 3:* +FLAGS (\\Flagged)")
        self.assertEqual(sorted(x[0] for x in f), [3, 4])
        _, tagged, f = self.store(c, "STORE 2,1 +FLAGS (\\Flagged)")
        self.assertEqual(sorted(x[0] for x in f), [1, 2])

    def test_bad_sequence_numbers(self):
        """A sequence number beyond EXISTS or a malformed set is BAD."""
        c = self.session()
        self.box(c, 2)
        for text in ("STORE 3 +FLAGS (\\Seen)", "STORE 1:5 +FLAGS (\\Seen)",
                     "STORE 0 +FLAGS (\\Seen)", "STORE a +FLAGS (\\Seen)",
                     "STORE 1, +FLAGS (\\Seen)"):
            _, tagged, f = self.store(c, text)
            self.assertStatus(tagged, "st", "BAD")
            self.assertEqual(f, [])

    def test_bad_flags_and_items(self):
        c = self.session()
        self.box(c, 1)
        for text in ("STORE 1 +FLAGS (\\Recent)", "STORE 1 +FLAGS (\\Unknown)",
                     'STORE 1 +FLAGS ("quoted")', "STORE 1 +FLAGS (a%b)",
                     "STORE 1 +FLAGS (a]b)", "STORE 1 FLAGZ (\\Seen)",
                     "STORE 1 +FLAGS.LOUD (\\Seen)", "STORE 1 +FLAGS", "STORE 1",
                     "STORE 1 +FLAGS ((\\Seen))", "UID STORE"):
            _, tagged, f = self.store(c, text)
            self.assertStatus(tagged, "st", "BAD")
        self.assertNoop(c)

    def test_empty_mailbox(self):
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, name)
        _, tagged, _ = self.store(c, "STORE 1 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "st", "BAD")
        _, tagged, _ = self.store(c, "STORE * +FLAGS (\\Seen)")
        self.assertStatus(tagged, "st", "BAD")
        _, tagged, f = self.store(c, "UID STORE 1:* +FLAGS (\\Seen)")
        self.assertStatus(tagged, "st", "OK")
        self.assertEqual(f, [])

    def test_read_only(self):
        c = self.session()
        name, _ = self.mailbox_with(c, 1)
        self.select(c, name, examine=True)
        _, tagged, f = self.store(c, "STORE 1 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "st", "NO")
        self.assertEqual(f, [])

    def test_recent_in_rev1_flags(self):
        """rev1: a message this session claimed shows \\Recent; rev2 never."""
        c = self.session()
        self.box(c, 1)
        self.assertIn("\\Recent", self.flags_now(c, 1))
        d = self.session(rev2=True)
        name, _ = self.mailbox_with(d, 1)
        self.select(d, name)
        self.assertNotIn("\\Recent", self.flags_now(d, 1))

    def test_imaplib(self):
        m = self.server.imap()
        try:
            m.login("bob", self.users["bob"])
            m.create("storebox")
            m.append("storebox", None, None, b"Subject: x\r\n\r\nbody\r\n")
            m.select("storebox")
            typ, data = m.store("1", "+FLAGS", "(\\Seen)")
            self.assertEqual(typ, "OK")
            self.assertIn(b"\\Seen", data[0])
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass
