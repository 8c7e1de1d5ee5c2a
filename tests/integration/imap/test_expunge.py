"""EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9; RFC 4315 §2.1)."""

from harness import ServerTestCase
from imap.test_select import MailboxMixin


class Expunge(MailboxMixin, ServerTestCase):

    def box(self, c, n, deleted):
        name, uids = self.mailbox_with(c, n)
        self.select(c, name)
        if deleted:
            seqs = ",".join(str(s) for s in deleted)
            _, tagged = c.command("d", f"STORE {seqs} +FLAGS.SILENT (\\Deleted)")
            self.assertStatus(tagged, "d", "OK")
        return name, uids

    def test_expunge_renumbers(self):
        """Messages 2, 3 and 5 of 6: `* 2 EXPUNGE`, `* 2 EXPUNGE`, `* 3 EXPUNGE`
        (each number counted after the previous removal, RFC 9051 §7.5.1)."""
        c = self.session()
        name, uids = self.box(c, 6, [2, 3, 5])
        untagged, tagged = c.command("x", "EXPUNGE")
        self.assertStatus(tagged, "x", "OK")
        self.assertEqual(untagged, ["* 2 EXPUNGE", "* 2 EXPUNGE", "* 3 EXPUNGE"])
        # sequence numbers now: 1->uids[0], 2->uids[3], 3->uids[5]
        untagged, _ = c.command("f", "STORE 2:3 +FLAGS (\\Seen)")
        got = sorted(u for u in untagged if "FETCH" in u)
        self.assertEqual(len(got), 2)
        _, tagged = c.command("g", "STORE 4 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "g", "BAD")
        untagged = self.select(c, name)
        self.assertIn("* 3 EXISTS", untagged)

    def test_nothing_to_expunge(self):
        c = self.session()
        self.box(c, 2, [])
        untagged, tagged = c.command("x", "EXPUNGE")
        self.assertStatus(tagged, "x", "OK")
        self.assertEqual(untagged, [])

    def test_uid_expunge(self):
        """UID EXPUNGE removes only \\Deleted messages in its set."""
        c = self.session()
        name, uids = self.box(c, 4, [1, 2, 4])
        untagged, tagged = c.command("x", f"UID EXPUNGE {uids[1]}:{uids[2]}")
        self.assertStatus(tagged, "x", "OK")
        self.assertEqual(untagged, ["* 2 EXPUNGE"])
        untagged, tagged = c.command("y", f"UID EXPUNGE {uids[-1] + 10}")
        self.assertStatus(tagged, "y", "OK")
        self.assertEqual(untagged, [])
        untagged, tagged = c.command("z", "EXPUNGE")
        self.assertEqual(untagged, ["* 1 EXPUNGE", "* 2 EXPUNGE"])

    def test_syntax(self):
        c = self.session()
        self.box(c, 1, [])
        for text in ("EXPUNGE 1", "UID EXPUNGE", "UID EXPUNGE 1 2", "UID EXPUNGE x"):
            _, tagged = c.command("a", text)
            self.assertStatus(tagged, "a", "BAD")

    def test_read_only(self):
        c = self.session()
        name, _ = self.box(c, 2, [1])
        self.select(c, name, examine=True)
        untagged, tagged = c.command("x", "EXPUNGE")
        self.assertStatus(tagged, "x", "NO")
        self.assertEqual(untagged, [])
        _, tagged = c.command("y", "UID EXPUNGE 1:*")
        self.assertStatus(tagged, "y", "NO")

    def test_not_selected(self):
        c = self.session()
        _, tagged = c.command("x", "EXPUNGE")
        self.assertStatus(tagged, "x", "BAD")

    def test_expunge_all(self):
        c = self.session()
        name, _ = self.box(c, 5, [1, 2, 3, 4, 5])
        untagged, tagged = c.command("x", "EXPUNGE")
        self.assertEqual(untagged, ["* 1 EXPUNGE"] * 5)
        _, tagged = c.command("y", "STORE 1 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "y", "BAD")

    def test_imaplib(self):
        m = self.server.imap()
        try:
            m.login("bob", self.users["bob"])
            m.create("ex-box")
            for _ in range(3):
                m.append("ex-box", "(\\Deleted)", None, b"Subject: x\r\n\r\nbody\r\n")
            m.select("ex-box")
            typ, data = m.expunge()
            self.assertEqual(typ, "OK")
            self.assertEqual(data, [b"1", b"1", b"1"])
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass
