"""ID (RFC 2971) and ENABLE (RFC 5161, RFC 9051 §6.3.1)."""

import re

from harness import ServerTestCase, status_re

ID_RESPONSE = re.compile(r'^\* ID (\(.*\)|NIL)$', re.I)


class Id(ServerTestCase):

    def check_id(self, c, tag, args):
        untagged, tagged = c.command(tag, "ID " + args)
        self.assertRegex(tagged, status_re(tag, "OK"))
        ids = [u for u in untagged if u.upper().startswith("* ID ")]
        self.assertEqual(len(ids), 1, untagged)
        self.assertRegex(ids[0], ID_RESPONSE)
        self.assertRegex(ids[0], r'(?i)\("name" "[^"]+"')
        return ids[0]

    def test_id_nil(self):
        """`ID NIL` => one `* ID ("name" "..." ...)` and tagged OK."""
        self.check_id(self.connect(), "a", "NIL")

    def test_id_params(self):
        """`ID ("name" "test" "version" "1")` => `* ID (...)` with "name";
        the pairs of the response are strings or NIL, even in number."""
        line = self.check_id(self.connect(), "a", '("name" "test" "version" "1")')
        inner = line[len("* ID ("):-1]
        items = re.findall(r'"(?:[^"\\]|\\.)*"|NIL', inner)
        self.assertEqual(len(items) % 2, 0, line)
        self.assertEqual(re.sub(r'"(?:[^"\\]|\\.)*"|NIL|\s', "", inner), "", line)

    def test_id_after_login(self):
        """ID works in the authenticated state too."""
        c = self.connect()
        self.login(c)
        self.check_id(c, "b", '("name" "test")')

    def test_id_nil_values(self):
        """Values may be NIL: `ID ("name" NIL)` => OK."""
        self.check_id(self.connect(), "a", '("name" NIL)')

    def test_id_malformed(self):
        """Malformed ID => tagged BAD and no `* ID`: no argument, an atom,
        an odd number of strings, a nested list, two arguments."""
        c = self.connect()
        for i, args in enumerate(("", " foo", ' ("name")', ' ("name" "a" "version")',
                                  ' (("name" "a"))', ' NIL NIL')):
            tag = f"m{i}"
            untagged, tagged = c.command(tag, "ID" + args)
            self.assertRegex(tagged, status_re(tag, "BAD"), args)
            self.assertFalse([u for u in untagged if u.upper().startswith("* ID")], args)
        self.assertNoop(c)


class Enable(ServerTestCase):

    def test_enable_imap4rev2(self):
        """After login, `ENABLE IMAP4rev2` => `* ENABLED IMAP4rev2` then
        tagged OK."""
        c = self.connect()
        self.login(c)
        untagged, tagged = c.command("a", "ENABLE IMAP4rev2")
        self.assertRegex(tagged, status_re("a", "OK"))
        enabled = [u for u in untagged if u.upper().startswith("* ENABLED")]
        self.assertEqual(len(enabled), 1, untagged)
        self.assertIn("IMAP4REV2", enabled[0].upper().split()[2:])

    def test_enable_unknown_ignored(self):
        """`ENABLE X-UNKNOWN-EXT` => OK; any `* ENABLED` does not list it."""
        c = self.connect()
        self.login(c)
        untagged, tagged = c.command("a", "ENABLE X-UNKNOWN-EXT")
        self.assertRegex(tagged, status_re("a", "OK"))
        for u in untagged:
            self.assertRegex(u, r"(?i)^\* ENABLED")
            self.assertNotIn("X-UNKNOWN-EXT", u.upper())

    def test_enable_mixed(self):
        """`ENABLE X-UNKNOWN IMAP4rev2` => ENABLED lists IMAP4rev2 only."""
        c = self.connect()
        self.login(c)
        untagged, tagged = c.command("a", "ENABLE X-UNKNOWN imap4rev2")
        self.assertRegex(tagged, status_re("a", "OK"))
        enabled = [u for u in untagged if u.upper().startswith("* ENABLED")]
        self.assertEqual(len(enabled), 1, untagged)
        self.assertEqual([w.upper() for w in enabled[0].split()[2:]], ["IMAP4REV2"])

    def test_enable_without_argument(self):
        """`ENABLE` with no capability => BAD."""
        c = self.connect()
        self.login(c)
        _, tagged = c.command("a", "ENABLE")
        self.assertRegex(tagged, status_re("a", "BAD"))
        self.assertNoop(c)
