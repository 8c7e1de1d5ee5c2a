"""STATUS (RFC 9051 §6.3.11; RFC 8438 SIZE; RFC 3501 RECENT for IMAP4rev1)."""

from harness import quote
from imap.mboxtest import STATUS_RE, MailboxTestCase, mutf7, parse_status

ALL_REV1 = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT"]


class Status(MailboxTestCase):

    def status(self, c, name, items):
        """STATUS; asserts exactly one `* STATUS` for the name; returns
        (values, keys in order)."""
        untagged = self.ok(c, f"STATUS {name} ({' '.join(items)})")
        lines = [u for u in untagged if STATUS_RE.match(u)]
        self.assertEqual(len(lines), 1, untagged)
        got_name, values, keys = parse_status(lines[0])
        return got_name, values, keys

    def append(self, c, mailbox, msg, flags=""):
        self.ok(c, f"APPEND {quote(mailbox)} ({flags}) {{{len(msg)}+}}\r\n{msg}")

    def test_empty_mailbox(self):
        c = self.session()
        top = self.unique()
        self.create(c, top)
        name, v, keys = self.status(c, top, ALL_REV1)
        self.assertEqual(name, top)
        self.assertEqual(keys, ALL_REV1)
        self.assertEqual((v["MESSAGES"], v["UNSEEN"], v["DELETED"], v["SIZE"], v["RECENT"]),
                         (0, 0, 0, 0, 0))
        self.assertGreaterEqual(v["UIDNEXT"], 1)
        self.assertGreater(v["UIDVALIDITY"], 0)

    def test_counts(self):
        """MESSAGES, UNSEEN, DELETED, SIZE and UIDNEXT follow APPENDs."""
        c = self.session()
        top = self.unique()
        self.create(c, top)
        _, before, _ = self.status(c, top, ["UIDNEXT", "UIDVALIDITY"])
        msgs = [("Subject: 1\r\n\r\none\r\n", "\\Seen"),
                ("Subject: 2\r\n\r\ntwo two\r\n", "\\Deleted"),
                ("Subject: 3\r\n\r\nthree\r\n", "")]
        for msg, flags in msgs:
            self.append(c, top, msg, flags)
        _, v, _ = self.status(c, top, ALL_REV1)
        self.assertEqual(v["MESSAGES"], 3)
        self.assertEqual(v["UNSEEN"], 2)
        self.assertEqual(v["DELETED"], 1)
        self.assertEqual(v["SIZE"], sum(len(m) for m, _ in msgs))
        self.assertEqual(v["UIDNEXT"], before["UIDNEXT"] + 3)
        self.assertEqual(v["UIDVALIDITY"], before["UIDVALIDITY"])
        self.assertEqual(v["RECENT"], 3)

    def test_item_order_and_duplicates(self):
        """Items come back in the order asked, each once."""
        c = self.session()
        _, _, keys = self.status(c, "INBOX", ["size", "MESSAGES", "UidNext", "MESSAGES"])
        self.assertEqual(keys, ["SIZE", "MESSAGES", "UIDNEXT"])

    def test_inbox_case(self):
        c = self.session()
        name, _, _ = self.status(c, "inbox", ["MESSAGES"])
        self.assertEqual(name, "INBOX")

    def test_rev2(self):
        """After ENABLE IMAP4rev2, RECENT is not a STATUS item (RFC 9051
        §6.3.11 grammar) => BAD; the others work; UTF8=ACCEPT alone keeps
        RECENT."""
        c = self.session(enable="IMAP4rev2")
        self.bad(c, "STATUS INBOX (MESSAGES RECENT)")
        _, _, keys = self.status(c, "INBOX", ALL_REV1[:-1])
        self.assertEqual(keys, ALL_REV1[:-1])
        c = self.session(enable="UTF8=ACCEPT")
        _, _, keys = self.status(c, "INBOX", ["RECENT"])
        self.assertEqual(keys, ["RECENT"])

    def test_selected_mailbox(self):
        """STATUS of the selected mailbox is allowed."""
        c = self.session()
        top = self.unique()
        self.create(c, top)
        self.append(c, top, "Subject: s\r\n\r\nx\r\n")
        self.ok(c, f"SELECT {top}")
        _, v, _ = self.status(c, top, ["MESSAGES"])
        self.assertEqual(v["MESSAGES"], 1)

    def test_names(self):
        """mUTF-7 for rev1, UTF-8 for rev2, in the request and the reply."""
        top = self.unique()
        name = f"{top}/Entw\u00fcrfe"
        rev1 = self.session()
        self.create(rev1, mutf7(name))
        got, _, _ = self.status(rev1, quote(mutf7(name)), ["MESSAGES"])
        self.assertEqual(got, mutf7(name))
        rev2 = self.session(enable="IMAP4rev2")
        got, _, _ = self.status(rev2, quote(name), ["MESSAGES"])
        self.assertEqual(got, name)

    def test_errors(self):
        """Missing mailbox => NO [NONEXISTENT]; refused name => NO [CANNOT];
        \\Noselect => NO; malformed => BAD."""
        c = self.session()
        self.no(c, f"STATUS {self.unique()} (MESSAGES)", "NONEXISTENT")
        self.no(c, 'STATUS "a/../b" (MESSAGES)', "CANNOT")
        top = self.unique()
        self.create(c, f"{top}/kid")
        self.ok(c, f"DELETE {top}")
        self.no(c, f"STATUS {top} (MESSAGES)")
        for args in ("", "INBOX", "INBOX ()", "INBOX MESSAGES", "INBOX (FOO)",
                     "INBOX (MESSAGES FOO)", "INBOX (HIGHESTMODSEQ)", "INBOX (MESSAGES) x",
                     "(INBOX) (MESSAGES)", "INBOX ((MESSAGES))"):
            self.bad(c, "STATUS " + args)
