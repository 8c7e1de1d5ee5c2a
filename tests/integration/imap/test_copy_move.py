"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8; RFC 6851;
COPYUID from RFC 4315)."""

import imaplib
import re

from harness import ServerTestCase
from imap.test_select import MailboxMixin

COPYUID_RE = re.compile(r"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]")


def expand(uidset):
    out = []
    for part in uidset.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


class CopyMove(MailboxMixin, ServerTestCase):

    def setup_boxes(self, c, n=3, flags=None):
        src, uids = self.mailbox_with(c, n, flags)
        dst = self.new_mailbox(c)
        self.select(c, src)
        return src, dst, uids

    def test_copy(self):
        """COPY: tagged OK [COPYUID v src dst]; messages and flags arrive."""
        c = self.session()
        src, dst, uids = self.setup_boxes(c, 3, flags="\\Flagged $Tag")
        untagged, tagged = c.command("c", f"COPY 1:2 {dst}")
        self.assertStatus(tagged, "c", "OK", "COPYUID")
        m = COPYUID_RE.search(tagged)
        self.assertEqual(expand(m.group(2)), uids[:2])
        dst_uids = expand(m.group(3))
        self.assertEqual(len(dst_uids), 2)
        self.assertFalse([u for u in untagged if "EXPUNGE" in u])
        untagged = self.select(c, dst)
        self.assertIn("* 2 EXISTS", untagged)
        self.assertTrue(re.search(r"\[UIDVALIDITY " + m.group(1) + r"\]", "\n".join(untagged)))
        flags = self.flags_now(c, dst_uids[0], uid=True)
        self.assertTrue({"\\Flagged", "$Tag"} <= flags, flags)
        # the source is untouched
        untagged = self.select(c, src)
        self.assertIn("* 3 EXISTS", untagged)

    def test_uid_copy(self):
        c = self.session()
        src, dst, uids = self.setup_boxes(c, 3)
        _, tagged = c.command("c", f"UID COPY {uids[2]},{uids[0]} {dst}")
        self.assertStatus(tagged, "c", "OK", "COPYUID")
        m = COPYUID_RE.search(tagged)
        self.assertEqual(expand(m.group(2)), [uids[0], uids[2]])
        # a UID set naming nothing: OK, nothing copied
        _, tagged = c.command("d", f"UID COPY {uids[-1] + 50}:{uids[-1] + 60} {dst}")
        self.assertStatus(tagged, "d", "OK")
        self.assertNotIn("COPYUID", tagged)

    def test_copy_to_selected_mailbox(self):
        """COPY into the selected mailbox: the new EXISTS precedes the OK."""
        c = self.session()
        src, _, _ = self.setup_boxes(c, 2)
        untagged, tagged = c.command("c", f"COPY 1:2 {src}")
        self.assertStatus(tagged, "c", "OK", "COPYUID")
        self.assertIn("* 4 EXISTS", untagged)

    def test_copy_errors(self):
        c = self.session()
        src, dst, uids = self.setup_boxes(c, 2)
        _, tagged = c.command("a", "COPY 1 nosuchbox")
        self.assertStatus(tagged, "a", "NO", "TRYCREATE")
        _, tagged = c.command("b", f"COPY 3 {dst}")
        self.assertStatus(tagged, "b", "BAD")
        _, tagged = c.command("c", f"COPY 1")
        self.assertStatus(tagged, "c", "BAD")
        _, tagged = c.command("d", 'COPY 1 "a/../b"')
        self.assertStatus(tagged, "d", "NO", "CANNOT")
        _, tagged = c.command("e", f"COPY x {dst}")
        self.assertStatus(tagged, "e", "BAD")
        untagged = self.select(c, dst)
        self.assertIn("* 0 EXISTS", untagged)

    def test_copy_from_read_only(self):
        """COPY works from an EXAMINEd mailbox; MOVE does not."""
        c = self.session()
        src, dst, _ = self.setup_boxes(c, 2)
        self.select(c, src, examine=True)
        _, tagged = c.command("c", f"COPY 1 {dst}")
        self.assertStatus(tagged, "c", "OK", "COPYUID")
        untagged, tagged = c.command("m", f"MOVE 1 {dst}")
        self.assertStatus(tagged, "m", "NO")
        self.assertFalse([u for u in untagged if "EXPUNGE" in u])

    def test_move(self):
        """MOVE: `* OK [COPYUID ...]`, then EXPUNGEs, then the tagged OK."""
        c = self.session()
        src, dst, uids = self.setup_boxes(c, 4)
        untagged, tagged = c.command("m", f"MOVE 2:3 {dst}")
        self.assertStatus(tagged, "m", "OK")
        self.assertRegex(untagged[0], r"^\* OK \[COPYUID \d+ ")
        m = COPYUID_RE.search(untagged[0])
        self.assertEqual(expand(m.group(2)), uids[1:3])
        self.assertEqual(untagged[1:], ["* 2 EXPUNGE", "* 2 EXPUNGE"])
        # what is left is renumbered: seq 2 is now the fourth message
        _, tagged = c.command("f", "STORE 2 +FLAGS (\\Seen)")
        self.assertStatus(tagged, "f", "OK")
        untagged = self.select(c, dst)
        self.assertIn("* 2 EXISTS", untagged)
        untagged = self.select(c, src)
        self.assertIn("* 2 EXISTS", untagged)

    def test_uid_move(self):
        c = self.session()
        src, dst, uids = self.setup_boxes(c, 3)
        untagged, tagged = c.command("m", f"UID MOVE {uids[2]} {dst}")
        self.assertStatus(tagged, "m", "OK")
        self.assertIn("* 3 EXPUNGE", untagged)
        _, tagged = c.command("n", f"UID MOVE {uids[2]} {dst}")
        self.assertStatus(tagged, "n", "OK")

    def test_move_errors(self):
        """MOVE to a missing mailbox: NO [TRYCREATE] and nothing expunged."""
        c = self.session()
        src, dst, _ = self.setup_boxes(c, 2)
        untagged, tagged = c.command("m", "MOVE 1 nosuchbox")
        self.assertStatus(tagged, "m", "NO", "TRYCREATE")
        self.assertFalse([u for u in untagged if "EXPUNGE" in u])
        _, tagged = c.command("n", f"MOVE 5 {dst}")
        self.assertStatus(tagged, "n", "BAD")
        untagged, _ = c.command("o", "NOOP")
        self.assertEqual(untagged, [])

    def test_imaplib(self):
        m = self.server.imap()
        try:
            m.login("bob", self.users["bob"])
            m.create("cm-src")
            m.create("cm-dst")
            m.append("cm-src", None, None, b"Subject: x\r\n\r\nbody\r\n")
            m.select("cm-src")
            typ, _ = m.copy("1", "cm-dst")
            self.assertEqual(typ, "OK")
            imaplib.Commands.setdefault("MOVE", ("SELECTED",))
            typ, data = m._simple_command("MOVE", "1", "cm-dst")
            self.assertEqual(typ, "OK")
            typ, data = m.select("cm-dst")
            self.assertEqual(data, [b"2"])
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass
