"""Several sessions on one mailbox (RFC 9051 §7, §7.5.1): session B learns
of A's APPEND (EXISTS), STORE (FETCH FLAGS) and EXPUNGE at the moments the
RFC allows: never an EXPUNGE while answering FETCH, STORE or SEARCH by
sequence number; the UID forms and NOOP deliver it."""

import re

from harness import ServerTestCase
from imap.test_select import MailboxMixin, fetch_flags


class MultiSession(MailboxMixin, ServerTestCase):

    def pair(self, n=3, b_examine=False, **kw):
        a = self.session()
        name, uids = self.mailbox_with(a, n, **kw)
        self.select(a, name)
        b = self.session()
        self.select(b, name, examine=b_examine)
        return a, b, name, uids

    def test_exists(self):
        a, b, name, _ = self.pair(1)
        untagged, tagged = self.append(a, name)
        self.assertIn("* 2 EXISTS", untagged)
        untagged, tagged = b.command("n", "NOOP")
        self.assertIn("* 2 EXISTS", untagged)
        self.assertIn("* 1 RECENT", untagged)
        untagged, _ = b.command("n", "NOOP")
        self.assertEqual(untagged, [])

    def test_flags(self):
        """A's STORE reaches B as `* n FETCH (UID u FLAGS (...))`, once."""
        a, b, _, uids = self.pair(2)
        _, tagged = a.command("s", "STORE 2 +FLAGS (\\Flagged)")
        self.assertStatus(tagged, "s", "OK")
        untagged, _ = b.command("n", "NOOP")
        got = [fetch_flags(u) for u in untagged if fetch_flags(u)]
        self.assertEqual(len(got), 1, untagged)
        self.assertEqual(got[0][0], 2)
        self.assertEqual(got[0][1], uids[1])
        self.assertIn("\\Flagged", got[0][2])
        untagged, _ = b.command("n", "NOOP")
        self.assertEqual(untagged, [])

    def test_silent_store_reaches_others(self):
        a, b, _, _ = self.pair(1)
        untagged, _ = a.command("s", "STORE 1 +FLAGS.SILENT (\\Seen)")
        self.assertEqual(untagged, [])
        untagged, _ = b.command("n", "NOOP")
        got = [fetch_flags(u) for u in untagged if fetch_flags(u)]
        self.assertEqual(len(got), 1)
        self.assertIn("\\Seen", got[0][2])

    def test_new_keyword_announced(self):
        a, b, _, _ = self.pair(1)
        a.command("s", "STORE 1 +FLAGS (NewKeyword)")
        untagged, _ = b.command("n", "NOOP")
        flags = [u for u in untagged if u.startswith("* FLAGS ")]
        self.assertTrue(flags and "NewKeyword" in flags[0], untagged)
        fetch = [i for i, u in enumerate(untagged) if "FETCH" in u]
        self.assertLess(untagged.index(flags[0]), fetch[0])

    def expunge_in_a(self, a, seqs):
        _, tagged = a.command("d", f"STORE {seqs} +FLAGS.SILENT (\\Deleted)")
        self.assertStatus(tagged, "d", "OK")
        untagged, tagged = a.command("x", "EXPUNGE")
        self.assertStatus(tagged, "x", "OK")
        return untagged

    def test_no_expunge_during_sequence_commands(self):
        """After A expunges message 2, B's STORE, FETCH and SEARCH by
        sequence number get no EXPUNGE; B's NOOP then gets `* 2 EXPUNGE`."""
        a, b, _, uids = self.pair(3)
        self.assertEqual(self.expunge_in_a(a, "2"), ["* 2 EXPUNGE"])
        untagged, tagged = b.command("s", "STORE 3 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "s", "OK")
        self.assertFalse([u for u in untagged if "EXPUNGE" in u], untagged)
        got = [fetch_flags(u) for u in untagged if fetch_flags(u)]
        self.assertEqual([g[0] for g in got], [3], "message 3 keeps its number")
        for cmd in ("FETCH 1:3 FLAGS", "SEARCH ALL"):
            untagged, tagged = b.command("f", cmd)
            self.assertFalse([u for u in untagged if "EXPUNGE" in u], (cmd, untagged))
        untagged, tagged = b.command("n", "NOOP")
        self.assertEqual([u for u in untagged if "EXPUNGE" in u], ["* 2 EXPUNGE"])
        untagged, tagged = b.command("s", "STORE 3 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "s", "BAD")

    def test_store_on_expunged_message(self):
        """STORE by sequence number naming a message another session
        expunged: the rest is updated, NO [EXPUNGEISSUED], no EXPUNGE."""
        a, b, _, _ = self.pair(3)
        self.expunge_in_a(a, "2")
        untagged, tagged = b.command("s", "STORE 1:3 +FLAGS (\\Answered)")
        self.assertStatus(tagged, "s", "NO", "EXPUNGEISSUED")
        self.assertFalse([u for u in untagged if "EXPUNGE " in u or u.endswith("EXPUNGE")])
        got = sorted(g[0] for g in (fetch_flags(u) for u in untagged) if g)
        self.assertEqual(got, [1, 3])

    def test_uid_command_gets_expunge(self):
        """UID STORE may carry the EXPUNGE (RFC 9051 §7.5.1)."""
        a, b, _, uids = self.pair(3)
        self.expunge_in_a(a, "1")
        untagged, tagged = b.command("s", f"UID STORE {uids[2]} +FLAGS (\\Seen)")
        self.assertStatus(tagged, "s", "OK")
        self.assertIn("* 1 EXPUNGE", untagged)
        got = [fetch_flags(u) for u in untagged if fetch_flags(u)]
        self.assertEqual(got[0][1], uids[2])

    def test_uid_fetch_and_search_get_expunge(self):
        """UID FETCH and UID SEARCH may carry a held-back EXPUNGE."""
        for cmd in ("UID FETCH 1:* FLAGS", "UID SEARCH ALL"):
            a, b, _, _ = self.pair(2)
            self.expunge_in_a(a, "1")
            untagged, tagged = b.command("f", cmd)
            self.assertStatus(tagged, "f", "OK")
            self.assertIn("* 1 EXPUNGE", untagged, cmd)

    def test_several_expunges_in_order(self):
        a, b, _, _ = self.pair(5)
        self.assertEqual(self.expunge_in_a(a, "2,4"), ["* 2 EXPUNGE", "* 3 EXPUNGE"])
        untagged, _ = b.command("n", "NOOP")
        self.assertEqual(untagged, ["* 2 EXPUNGE", "* 3 EXPUNGE"])

    def test_expunge_then_append(self):
        """Expunges and new messages in one update: EXISTS counts after the
        EXPUNGEs."""
        a, b, name, _ = self.pair(2)
        self.expunge_in_a(a, "1")
        self.append(a, name)
        untagged, _ = b.command("n", "NOOP")
        self.assertIn("* 1 EXPUNGE", untagged)
        self.assertIn("* 2 EXISTS", untagged)
        self.assertLess(untagged.index("* 1 EXPUNGE"), untagged.index("* 2 EXISTS"))

    def test_examine_session_follows(self):
        a, b, name, _ = self.pair(1, b_examine=True)
        self.append(a, name)
        a.command("s", "STORE 1 +FLAGS (\\Seen)")
        untagged, _ = b.command("n", "NOOP")
        self.assertIn("* 2 EXISTS", untagged)
        self.assertTrue(any(fetch_flags(u) for u in untagged))
        self.assertFalse([u for u in untagged if u.endswith("RECENT") and not
                          u.startswith("* 0")], "EXAMINE claims no \\Recent")

    def test_rev2_no_recent(self):
        a = self.session()
        name = self.new_mailbox(a)
        self.select(a, name)
        b = self.session(rev2=True)
        self.select(b, name)
        self.append(a, name)
        untagged, _ = b.command("n", "NOOP")
        self.assertEqual(untagged, ["* 1 EXISTS"])

    def test_close_with_pending_expunges(self):
        a, b, _, _ = self.pair(2)
        self.expunge_in_a(a, "1")
        b.command("s", "STORE 2 +FLAGS (\\Seen)")
        _, tagged = b.command("c", "CLOSE")
        self.assertStatus(tagged, "c", "OK")
        self.assertNoop(b)

    def test_mailbox_deleted_under_session(self):
        """The selected mailbox deleted by another session: the next command
        ends the session with BYE (documented in view.c)."""
        a, b, name, _ = self.pair(1)
        _, tagged = a.command("u", "UNSELECT")
        _, tagged = a.command("d", f"DELETE {name}")
        self.assertStatus(tagged, "d", "OK")
        b.send_line("n NOOP")
        lines = []
        try:
            while True:
                lines.append(b.read_response())
        except (EOFError, TimeoutError, ConnectionResetError):
            pass
        self.assertTrue(any(re.match(r"^\* BYE ", l) for l in lines), lines)
