"""APPEND (RFC 9051 §6.3.12): flags, date-time, literals and literal8,
APPENDUID (RFC 4315), [TRYCREATE], MULTIAPPEND (RFC 3502), and the EXISTS a
session gets when it appends to its selected mailbox."""

import re

from harness import ServerTestCase
from imap.test_select import MailboxMixin, message


class Append(MailboxMixin, ServerTestCase):

    def test_appenduid_ascending(self):
        c = self.session()
        name = self.new_mailbox(c)
        u1 = self.append_ok(c, name)
        u2 = self.append_ok(c, name)
        self.assertGreater(u2, u1)
        untagged = self.select(c, name)
        self.assertIn("* 2 EXISTS", untagged)
        validity = [u for u in untagged if "[UIDVALIDITY" in u][0]
        _, tagged = self.append(c, name)
        self.assertIn(re.search(r"UIDVALIDITY (\d+)", validity).group(1), tagged)

    def test_flags_and_date(self):
        """Flags and an internal date are kept (flags seen through STORE)."""
        c = self.session()
        name = self.new_mailbox(c)
        uid = self.append_ok(c, name, flags="\\Seen \\Draft $Label",
                             date="05-Mar-2024 13:14:15 +0100")
        self.append_ok(c, name, date=" 5-Mar-2024 01:02:03 -0830")
        self.select(c, name)
        flags = self.flags_now(c, uid, uid=True)
        self.assertTrue({"\\Seen", "\\Draft", "$Label"} <= flags, flags)

    def test_internaldate_fetch(self):
        """FETCH INTERNALDATE returns the date given to APPEND."""
        c = self.session()
        name = self.new_mailbox(c)
        self.append_ok(c, name, date="05-Mar-2024 13:14:15 +0100")
        self.select(c, name)
        untagged, tagged = c.command("f", "FETCH 1 INTERNALDATE")
        self.assertStatus(tagged, "f", "OK")
        self.assertTrue(any('"05-Mar-2024 13:14:15 +0100"' in u for u in untagged), untagged)

    def test_bad_dates(self):
        c = self.session()
        name = self.new_mailbox(c)
        for date in ("5-Mar-2024 13:14:15 +0100", "05-Mar-2024 13:14:15", "32-Jan-2024 00:00:00 +0000",
                     "29-Feb-2023 00:00:00 +0000", "05-Foo-2024 13:14:15 +0100",
                     "05-Mar-2024 24:00:00 +0000", "05-Mar-2024 13:60:00 +0000",
                     "05-Mar-2024 13:14:15 +0160", "05-Mar-24 13:14:15 +0100",
                     "05-Mar-2024 13:14:15 0100", "05-Mar-2024T13:14:15 +0100", ""):
            _, tagged = self.append(c, name, date=date)
            self.assertStatus(tagged, "AP", "BAD")
        self.append_ok(c, name, date="29-Feb-2024 23:59:59 -1200")
        self.select(c, name)

    def test_bad_flags(self):
        c = self.session()
        name = self.new_mailbox(c)
        for flags in ("\\Recent", "\\Bogus", "a(b", "\"q\""):
            _, tagged = self.append(c, name, flags=flags)
            self.assertStatus(tagged, "AP", "BAD")
        untagged = self.select(c, name)
        self.assertIn("* 0 EXISTS", untagged)

    def test_trycreate_and_cannot(self):
        c = self.session()
        _, tagged = self.append(c, "nosuchbox")
        self.assertStatus(tagged, "AP", "NO", "TRYCREATE")
        _, tagged = self.append(c, "a/../b")
        self.assertStatus(tagged, "AP", "NO", "CANNOT")

    def test_empty_message(self):
        c = self.session()
        name = self.new_mailbox(c)
        _, tagged = self.append(c, name, data=b"")
        self.assertStatus(tagged, "AP", "NO")

    def test_syntax(self):
        c = self.session()
        name = self.new_mailbox(c)
        for text in ("APPEND", f"APPEND {name}", f"APPEND {name} (\\Seen)",
                     f'APPEND {name} "not a literal"', f"APPEND {name} atom"):
            _, tagged = c.command("a", text)
            self.assertStatus(tagged, "a", "BAD")
        self.assertNoop(c)

    def test_synchronizing_literal(self):
        """APPEND with {n}: the server answers "+" before the data."""
        c = self.session()
        name = self.new_mailbox(c)
        data = message(7)
        c.send(f"a APPEND {name} {{{len(data)}}}\r\n".encode())
        self.assertTrue(c.read_response().startswith("+"))
        c.send(data + b"\r\n")
        _, tagged = c.read_tagged("a")
        self.assertStatus(tagged, "a", "OK", "APPENDUID")

    def test_literal8(self):
        """BINARY literal8 ~{n} with a NUL byte is accepted."""
        c = self.session()
        name = self.new_mailbox(c)
        data = b"Subject: bin\r\n\r\nbinary \x00 data\r\n"
        c.send(f"a APPEND {name} ~{{{len(data)}+}}\r\n".encode() + data + b"\r\n")
        _, tagged = c.read_tagged("a")
        self.assertStatus(tagged, "a", "OK", "APPENDUID")

    def test_multiappend(self):
        """Two messages in one APPEND: one APPENDUID with both UIDs."""
        c = self.session()
        name = self.new_mailbox(c)
        d1, d2 = message(1), message(2)
        c.send(f"a APPEND {name} (\\Seen) {{{len(d1)}+}}\r\n".encode() + d1 +
               f" {{{len(d2)}+}}\r\n".encode() + d2 + b"\r\n")
        _, tagged = c.read_tagged("a")
        self.assertStatus(tagged, "a", "OK", "APPENDUID")
        self.assertRegex(tagged, r"\[APPENDUID \d+ \d+[,:]\d+\]")
        untagged = self.select(c, name)
        self.assertIn("* 2 EXISTS", untagged)

    def test_append_to_selected(self):
        """Appending to the selected mailbox: EXISTS before the tagged OK."""
        c = self.session()
        name, _ = self.mailbox_with(c, 1)
        self.select(c, name)
        untagged, tagged = self.append(c, name)
        self.assertStatus(tagged, "AP", "OK", "APPENDUID")
        self.assertIn("* 2 EXISTS", untagged)
        # appending elsewhere tells nothing about other mailboxes
        other = self.new_mailbox(c)
        untagged, _ = self.append(c, other)
        self.assertFalse([u for u in untagged if u.endswith("EXISTS")])

    def test_utf8_in_message(self):
        c = self.session()
        name = self.new_mailbox(c)
        self.append_ok(c, name, data="Subject: héllo\r\n\r\nçà\r\n".encode())

    def test_imaplib(self):
        m = self.server.imap()
        try:
            m.login("bob", self.users["bob"])
            m.create("ap-box")
            typ, data = m.append("ap-box", "(\\Flagged)", '"01-Jan-2020 00:00:00 +0000"',
                                 b"Subject: x\r\n\r\nbody\r\n")
            self.assertEqual(typ, "OK")
            self.assertIn(b"APPENDUID", data[0])
            typ, data = m.append("ap-nosuch", None, None, b"Subject: x\r\n\r\nbody\r\n")
            self.assertEqual(typ, "NO")
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass
