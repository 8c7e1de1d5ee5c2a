"""Mailbox commands: CREATE, DELETE, RENAME (RFC 9051 §6.3.4-6.3.6),
SUBSCRIBE/UNSUBSCRIBE (§6.3.7-8), NAMESPACE (RFC 2342), mailbox names in
modified UTF-7 and UTF-8 (RFC 3501 §5.1.3, RFC 6855), refused names, and
the special-use mailboxes of a new user (RFC 6154)."""

import os

from harness import quote, status_re
from imap.mboxtest import SPECIAL_USE, STATUS_RE, MailboxTestCase, mutf7, parse_status

ENTWUERFE = "Entw\u00fcrfe"


class Namespace(MailboxTestCase):

    def test_namespace(self):
        """NAMESPACE => `* NAMESPACE (("" "/")) NIL NIL`, in both states."""
        c = self.session()
        untagged = self.ok(c, "NAMESPACE")
        self.assertEqual(untagged, ['* NAMESPACE (("" "/")) NIL NIL'])
        self.ok(c, "SELECT INBOX")
        self.assertIn('* NAMESPACE (("" "/")) NIL NIL', self.ok(c, "NAMESPACE"))

    def test_namespace_errors(self):
        """NAMESPACE with an argument => BAD; before login => BAD."""
        c = self.session()
        self.bad(c, "NAMESPACE x")
        c2 = self.connect()
        _, tagged = c2.command("a", "NAMESPACE")
        self.assertRegex(tagged, status_re("a", "BAD"))


class Create(MailboxTestCase):

    def test_create_and_exists(self):
        """CREATE makes a mailbox LIST shows; again => NO [ALREADYEXISTS]."""
        c = self.session()
        top = self.unique()
        self.ok(c, f"CREATE {top}")
        self.assertEqual(self.names(c, f'"" {top}'), {top})
        self.no(c, f"CREATE {top}", "ALREADYEXISTS")

    def test_create_inbox(self):
        """CREATE INBOX in any case, or with a trailing "/" => NO [ALREADYEXISTS]."""
        c = self.session()
        for name in ("INBOX", "inbox", "InBoX", '"inbox/"'):
            self.no(c, f"CREATE {name}", "ALREADYEXISTS")

    def test_create_parents(self):
        """CREATE a/b/c creates the missing parents (RFC 9051 §6.3.4)."""
        c = self.session()
        top = self.unique()
        self.ok(c, f'CREATE "{top}/a/b/c"')
        got = self.list(c, f'"" "{top}*"')
        self.assertEqual(set(got), {top, f"{top}/a", f"{top}/a/b", f"{top}/a/b/c"})
        for parent in (top, f"{top}/a", f"{top}/a/b"):
            self.assertAttrs(got[parent], ["\\HasChildren"], ["\\HasNoChildren"])
        self.assertAttrs(got[f"{top}/a/b/c"], ["\\HasNoChildren"], ["\\HasChildren"])
        # A child under an existing parent.
        self.ok(c, f'CREATE "{top}/a/x"')
        self.assertIn(f"{top}/a/x", self.names(c, f'"" "{top}/a/%"'))

    def test_create_trailing_delimiter(self):
        """CREATE "x/" creates "x" (RFC 9051 §6.3.4: the trailing
        delimiter only announces children)."""
        c = self.session()
        top = self.unique()
        self.ok(c, f'CREATE "{top}/"')
        self.assertEqual(self.names(c, f'"" "{top}*"'), {top})
        self.no(c, f'CREATE "{top}/"', "ALREADYEXISTS")

    def test_create_inbox_child(self):
        """CREATE inbox/child creates INBOX/child (INBOX folded)."""
        c = self.session()
        child = self.unique("kid")
        self.ok(c, f'CREATE "inbox/{child}"')
        got = self.list(c, '"" "INBOX/*"')
        self.assertIn(f"INBOX/{child}", got)
        self.assertAttrs(self.list(c, '"" INBOX')["INBOX"], ["\\HasChildren"])

    def test_create_literal_and_atom(self):
        """Names as atom, quoted string and literal."""
        c = self.session()
        top = self.unique()
        self.ok(c, f"CREATE {top}")
        self.ok(c, f'CREATE "{top}/with space"')
        name = f"{top}/lit"
        c.send(f"L1 CREATE {{{len(name)}}}\r\n")
        self.assertTrue(c.readline().startswith(b"+"))
        c.send(name + "\r\n")
        _, tagged = c.read_tagged("L1")
        self.assertRegex(tagged, status_re("L1", "OK"))
        self.ok(c, f"CREATE {{{len(top) + 3}+}}\r\n{top}/lp")
        self.assertEqual(self.names(c, f'"" "{top}/*"'),
                         {f"{top}/with space", f"{top}/lit", f"{top}/lp"})

    def test_create_quoted_specials(self):
        """A name with a quote and a backslash comes back escaped."""
        c = self.session()
        top = self.unique()
        name = f'{top}/a"b\\c'
        self.ok(c, f"CREATE {quote(name)}")
        self.assertIn(name, self.names(c, f'"" "{top}/*"'))

    def test_create_syntax(self):
        """CREATE without a name, with a list, with junk => BAD."""
        c = self.session()
        for args in ("", " (a)", " a b c", " a (FOO)", " a (USE)", " a (USE \\Sent)"):
            self.bad(c, "CREATE" + args)

    def test_create_special_use(self):
        """CREATE name (USE (\\Archive)) (RFC 6154 §3) sets the attribute;
        an unsupported attribute => NO and nothing is created."""
        c = self.session("fresh2")
        top = self.unique()
        self.ok(c, f'CREATE "{top}/Old" (USE (\\Archive))')
        got = self.list(c, f'"" "{top}/*"')
        self.assertAttrs(got[f"{top}/Old"], ["\\Archive"])
        self.no(c, f'CREATE "{top}/F" (USE (\\Flagged))', "USEATTR")
        self.no(c, f'CREATE "{top}/X" (USE (\\Bogus))', "USEATTR")
        self.assertEqual(set(got), {f"{top}/Old"})
        self.assertEqual(self.names(c, f'"" "{top}/*"'), {f"{top}/Old"})


class RefusedNames(MailboxTestCase):
    """Names that could escape the user's directory or confuse the store
    are refused with NO [CANNOT] by every command, and nothing reaches the
    file system."""

    REFUSED = ["..", ".", "a/../b", "../x", "x/..", "a/./b", "/x", "/", "a//b",
               "x*", "x%y", "a" * 600, "/".join(["d"] * 40)]

    def send_name(self, c, cmd, name_bytes, extra=b""):
        """cmd with the name as a literal (control characters included)."""
        tag = f"T{next(c.tags)}"
        c.send(f"{tag} {cmd} {{{len(name_bytes)}+}}\r\n".encode() + name_bytes + extra + b"\r\n")
        return c.read_tagged(tag)

    def mail_tree(self):
        """Every directory under the server's temporary directory (a
        mailbox that reached the file system would add one)."""
        found = []
        for root, dirs, _files in os.walk(self.server.dir):
            for n in dirs:
                found.append(os.path.relpath(os.path.join(root, n), self.server.dir))
        return found

    def test_refused_create(self):
        """CREATE of each refused name => NO [CANNOT]; LIST "*" and the
        server's directory show nothing of them."""
        c = self.session("fresh3")
        before = self.mail_tree()
        for name in self.REFUSED:
            self.no(c, f"CREATE {quote(name)}", "CANNOT")
        for raw in (b"a\x01b", b"a\x7fb", b"x\tb", b"a\r\nb", b"a\x00b", b"\xc2\x85x"):
            _, tagged = self.send_name(c, "CREATE", raw)
            self.assertRegex(tagged, r"^T\d+ (NO \[CANNOT\]|BAD) ", raw)
        after = self.mail_tree()
        self.assertEqual(sorted(set(after) - set(before)), [],
                         "refused CREATEs changed the file system")
        for path in after:
            self.assertNotIn("..", path.split(os.sep))
        names = self.names(c, '"" "*"')
        self.assertEqual(names, {"INBOX"} | set(SPECIAL_USE))
        # Outside the server's directory nothing appeared either.
        parent = os.path.dirname(self.server.dir)
        self.assertFalse(os.path.exists(os.path.join(parent, "x")))

    def test_refused_other_commands(self):
        """DELETE, RENAME (either side), SUBSCRIBE, UNSUBSCRIBE, STATUS and
        SELECT of refused names => NO [CANNOT]."""
        c = self.session()
        top = self.unique()
        self.create(c, top)
        for name in ("..", "a/../b", "/x", "a//b"):
            q = quote(name)
            self.no(c, f"DELETE {q}", "CANNOT")
            self.no(c, f"RENAME {q} {top}x", "CANNOT")
            self.no(c, f"RENAME {top} {q}", "CANNOT")
            self.no(c, f"SUBSCRIBE {q}", "CANNOT")
            self.no(c, f"UNSUBSCRIBE {q}", "CANNOT")
            self.no(c, f"STATUS {q} (MESSAGES)", "CANNOT")
        _, tagged = self.send_name(c, "SUBSCRIBE", b"a\x01b")
        self.assertRegex(tagged, r"^T\d+ NO \[CANNOT\] ")
        self.assertIn(top, self.names(c, f'"" {top}'))
        self.assertNotIn("a\x01b", self.names(c, '"" "*"', "LSUB"))

    def test_refused_texts(self):
        """The NO text says why."""
        c = self.session()
        self.assertIn("..", self.no(c, 'CREATE "a/../b"', "CANNOT"))
        self.assertRegex(self.no(c, f'CREATE "{"a" * 600}"', "CANNOT"), "(?i)long")
        _, tagged = self.send_name(c, "CREATE", b"a\x01b")
        self.assertRegex(tagged, "(?i)control")

    def test_refused_mutf7(self):
        """rev1: names that are not valid modified UTF-7 => NO [CANNOT]:
        raw 8-bit, a bad shift, printable ASCII encoded, adjacent shifts."""
        c = self.session()
        for name in (ENTWUERFE, "&Jjo!", "&AGE-", "&AOQ-&AOQ-", "a&", "&AOR-"):
            self.no(c, "CREATE " + quote(name), "CANNOT")

    def test_refused_utf8(self):
        """UTF-8 sessions: invalid UTF-8 => NO [CANNOT]."""
        c = self.session(enable="UTF8=ACCEPT")
        for raw in (b"a\xffb", b"\xed\xa0\x80", b"\xc0\xaf"):
            tag = f"T{next(c.tags)}"
            _, tagged = c.command(tag, b'CREATE "' + raw + b'"')
            self.assertRegex(tagged, status_re(tag, "NO", "CANNOT"))

    def test_mutf7_control_smuggled(self):
        """A control character encoded in mUTF-7 is refused too."""
        c = self.session()
        self.no(c, 'CREATE "a&AAE-b"', "CANNOT")
        self.no(c, 'CREATE "&AIU-"', "CANNOT")


class Delete(MailboxTestCase):

    def test_delete(self):
        """DELETE removes a mailbox; again => NO [NONEXISTENT]."""
        c = self.session()
        top = self.unique()
        self.create(c, top)
        self.ok(c, f"DELETE {top}")
        self.assertEqual(self.names(c, f'"" {top}'), set())
        self.no(c, f"DELETE {top}", "NONEXISTENT")

    def test_delete_nonexistent(self):
        c = self.session()
        self.no(c, f"DELETE {self.unique()}", "NONEXISTENT")

    def test_delete_inbox(self):
        """DELETE INBOX in any case => NO; INBOX stays."""
        c = self.session()
        for name in ("INBOX", "inbox", "Inbox"):
            self.no(c, f"DELETE {name}")
        self.assertEqual(self.names(c, '"" INBOX'), {"INBOX"})

    def test_delete_parent(self):
        """DELETE of a parent keeps its children: it becomes \\Noselect
        (RFC 9051 §6.3.5), and then DELETE of it => NO [HASCHILDREN] while
        the children exist; it goes away with them."""
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/kid")
        self.ok(c, f"DELETE {top}")
        got = self.list(c, f'"" "{top}*"')
        self.assertEqual(set(got), {top, f"{top}/kid"})
        self.assertAttrs(got[top], ["\\Noselect", "\\HasChildren"])
        self.no(c, f"SELECT {top}")
        self.no(c, f"DELETE {top}", "HASCHILDREN")
        self.ok(c, f"DELETE {top}/kid")
        got = self.list(c, f'"" "{top}*"')
        self.assertNotIn(f"{top}/kid", got)
        if top in got:  # a \Noselect parent without children may stay; it can be deleted
            self.ok(c, f"DELETE {top}")
        self.assertEqual(self.names(c, f'"" "{top}*"'), set())

    def test_delete_child_keeps_parent(self):
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/a", f"{top}/b")
        self.ok(c, f"DELETE {top}/a")
        got = self.list(c, f'"" "{top}*"')
        self.assertEqual(set(got), {top, f"{top}/b"})
        self.assertAttrs(got[top], ["\\HasChildren"], ["\\Noselect"])

    def test_delete_selected(self):
        """DELETE of the selected mailbox is allowed."""
        c = self.session()
        top = self.unique()
        self.create(c, top)
        self.ok(c, f"SELECT {top}")
        self.ok(c, f"DELETE {top}")
        self.assertEqual(self.names(c, f'"" {top}'), set())

    def test_delete_syntax(self):
        c = self.session()
        self.bad(c, "DELETE")
        self.bad(c, "DELETE a b")
        self.bad(c, "DELETE (a)")


class Rename(MailboxTestCase):

    def test_rename(self):
        c = self.session()
        a, b = self.unique(), self.unique()
        self.create(c, a)
        self.ok(c, f"RENAME {a} {b}")
        self.assertEqual(self.names(c, f'"" {a}'), set())
        self.assertEqual(self.names(c, f'"" {b}'), {b})

    def test_rename_errors(self):
        """To an existing name => NO [ALREADYEXISTS]; from a missing one =>
        NO [NONEXISTENT]; to INBOX => NO [ALREADYEXISTS]."""
        c = self.session()
        a, b = self.unique(), self.unique()
        self.create(c, a, b)
        self.no(c, f"RENAME {a} {b}", "ALREADYEXISTS")
        self.no(c, f"RENAME {self.unique()} {self.unique()}", "NONEXISTENT")
        self.no(c, f"RENAME {a} inbox", "ALREADYEXISTS")
        self.no(c, f'RENAME {a} "{a}/inside"')  # into its own child
        self.assertEqual(self.names(c, f'"" "{a}*"'), {a})

    def test_rename_hierarchy(self):
        """Children follow their parent (RFC 9051 §6.3.6)."""
        c = self.session()
        a, b = self.unique(), self.unique()
        self.create(c, f"{a}/x/y", f"{a}/z")
        self.ok(c, f"RENAME {a} {b}")
        self.assertEqual(self.names(c, f'"" "{a}*"'), set())
        self.assertEqual(self.names(c, f'"" "{b}*"'), {b, f"{b}/x", f"{b}/x/y", f"{b}/z"})

    def test_rename_creates_parents(self):
        """RENAME to a/b/c creates the missing a and a/b."""
        c = self.session()
        a, b = self.unique(), self.unique()
        self.create(c, a)
        self.ok(c, f'RENAME {a} "{b}/p/q"')
        got = self.list(c, f'"" "{b}*"')
        self.assertEqual(set(got), {b, f"{b}/p", f"{b}/p/q"})
        self.assertAttrs(got[b], ["\\HasChildren"])

    def test_rename_inbox(self):
        """RENAME INBOX moves its messages to the new mailbox; INBOX stays,
        empty (RFC 9051 §6.3.6)."""
        c = self.session("fresh4")
        msg = "Subject: hi\r\n\r\nhello\r\n"
        self.ok(c, f"APPEND INBOX {{{len(msg)}+}}\r\n{msg}")
        self.create(c, "INBOX/kid")
        target = self.unique("old")
        self.ok(c, f"RENAME inbox {target}")
        self.assertEqual(self.names(c, f'"" "{target}*"'), {target})
        # INBOX stays, and so do its children (RFC 9051 §6.3.6)
        self.assertEqual(self.names(c, '"" "INBOX*"'), {"INBOX", "INBOX/kid"})
        for name, count in ((target, 1), ("INBOX", 0)):
            untagged = self.ok(c, f"STATUS {name} (MESSAGES)")
            statuses = [parse_status(u) for u in untagged if STATUS_RE.match(u)]
            self.assertEqual([(n, v) for n, v, _ in statuses], [(name, {"MESSAGES": count})])

    def test_rename_utf8(self):
        """mUTF-7 on both sides for rev1."""
        c = self.session()
        top = self.unique()
        self.create(c, top)
        new = f"{top}-{ENTWUERFE}"
        self.ok(c, f'RENAME {top} "{mutf7(new)}"')
        self.assertIn(mutf7(new), self.names(c, f'"" "{top}*"'))

    def test_rename_syntax(self):
        c = self.session()
        self.bad(c, "RENAME")
        self.bad(c, "RENAME a")
        self.bad(c, "RENAME a b c")
        self.bad(c, "RENAME (a) b")


class Subscribe(MailboxTestCase):

    def test_subscribe_unsubscribe(self):
        c = self.session()
        top = self.unique()
        self.create(c, top)
        self.ok(c, f"SUBSCRIBE {top}")
        self.assertEqual(self.names(c, f'"" {top}', "LSUB"), {top})
        got = self.list(c, f'"" {top} RETURN (SUBSCRIBED)')
        self.assertAttrs(got[top], ["\\Subscribed"])
        self.ok(c, f"UNSUBSCRIBE {top}")
        self.assertEqual(self.names(c, f'"" {top}', "LSUB"), set())
        got = self.list(c, f'"" {top} RETURN (SUBSCRIBED)')
        self.assertAttrs(got[top], [], ["\\Subscribed"])

    def test_subscribe_nonexistent(self):
        """A name without a mailbox may be subscribed (RFC 9051 §6.3.7);
        LSUB gives it \\Noselect, LIST (SUBSCRIBED) \\NonExistent."""
        c = self.session()
        top = self.unique()
        self.ok(c, f"SUBSCRIBE {top}")
        lsub = self.list(c, f'"" {top}', "LSUB")
        self.assertAttrs(lsub[top], ["\\Noselect"])
        got = self.list(c, f'(SUBSCRIBED) "" {top}')
        self.assertAttrs(got[top], ["\\Subscribed", "\\NonExistent"])
        self.assertEqual(self.names(c, f'"" {top}'), set())

    def test_subscription_survives_delete(self):
        c = self.session()
        top = self.unique()
        self.create(c, top)
        self.ok(c, f"SUBSCRIBE {top}")
        self.ok(c, f"DELETE {top}")
        self.assertEqual(self.names(c, f'"" {top}', "LSUB"), {top})

    def test_subscribe_inbox_case(self):
        c = self.session()
        self.ok(c, "SUBSCRIBE inbox")
        self.assertIn("INBOX", self.names(c, '"" "*"', "LSUB"))

    def test_subscribe_syntax(self):
        c = self.session()
        for cmd in ("SUBSCRIBE", "SUBSCRIBE a b", "UNSUBSCRIBE", "UNSUBSCRIBE (a)"):
            self.bad(c, cmd)


class Names(MailboxTestCase):
    """Modified UTF-7 for IMAP4rev1, UTF-8 after ENABLE IMAP4rev2 or
    UTF8=ACCEPT (RFC 9051 §5.1, RFC 6855 §3)."""

    def test_mutf7_round_trip(self):
        """"Entwürfe" is "Entw&APw-rfe" for rev1, raw UTF-8 for rev2 and
        UTF8=ACCEPT sessions, whoever created it."""
        top = self.unique()
        rev1 = self.session()
        self.ok(rev1, f'CREATE "{top}/Entw&APw-rfe"')
        self.assertIn(f"{top}/Entw&APw-rfe", self.names(rev1, f'"" "{top}/*"'))
        for enable in ("IMAP4rev2", "UTF8=ACCEPT"):
            c = self.session(enable=enable)
            self.assertIn(f"{top}/{ENTWUERFE}", self.names(c, f'"" "{top}/*"'))
            self.no(c, f'CREATE "{top}/{ENTWUERFE}"', "ALREADYEXISTS")

    def test_utf8_created_seen_as_mutf7(self):
        top = self.unique()
        names = ["\u041f\u0440\u0438\u0432\u0435\u0442", "\u53f0\u5317/\u65e5\u672c\u8a9e",
                 "emoji \U0001f600", "a&b", "\u00e4\u00e4 & \u00fc"]
        c = self.session(enable="IMAP4rev2")
        for n in names:
            self.ok(c, f'CREATE "{top}/{n}"')
        rev1 = self.session()
        got = self.names(rev1, f'"" "{top}/*"')
        for n in names:
            self.assertIn(mutf7(f"{top}/{n}"), got)
        # and rev1 can address them by their mUTF-7 names
        for n in names:
            self.ok(rev1, f'STATUS "{mutf7(top + "/" + n)}" (MESSAGES)')

    def test_ampersand(self):
        """"&" is "&-" in mUTF-7; under UTF-8 "&APw-" is just text."""
        top = self.unique()
        rev1 = self.session()
        self.ok(rev1, f'CREATE "{top}/a&-b"')
        rev2 = self.session(enable="IMAP4rev2")
        self.assertIn(f"{top}/a&b", self.names(rev2, f'"" "{top}/*"'))
        self.ok(rev2, f'CREATE "{top}/x&APw-y"')
        self.assertIn(f"{top}/x&-APw-y", self.names(rev1, f'"" "{top}/*"'))
        self.assertNotIn(f"{top}/x\u00fcy", self.names(rev2, f'"" "{top}/*"'))

    def test_raw_utf8_rev1_refused(self):
        c = self.session()
        self.no(c, f'CREATE "{self.unique()}{ENTWUERFE}"', "CANNOT")


class SpecialUse(MailboxTestCase):
    """A new user has Sent, Drafts, Trash, Junk and Archive with their
    RFC 6154 attributes."""

    def test_new_user_mailboxes(self):
        c = self.session("fresh1")
        got = self.list(c, '"" "*"')
        self.assertEqual(set(got), {"INBOX"} | set(SPECIAL_USE))
        for name, attr in SPECIAL_USE.items():
            self.assertAttrs(got[name], [attr, "\\HasNoChildren"])
            others = set(SPECIAL_USE.values()) - {attr}
            self.assertAttrs(got[name], [], others)
        self.assertAttrs(got["INBOX"], ["\\HasNoChildren"], SPECIAL_USE.values())

    def test_special_use_options(self):
        """LIST (SPECIAL-USE) returns only them; RETURN (SPECIAL-USE) keeps
        the attributes."""
        c = self.session("fresh1")
        got = self.list(c, '(SPECIAL-USE) "" "*"')
        self.assertEqual(set(got), set(SPECIAL_USE))
        got = self.list(c, '"" "*" RETURN (SPECIAL-USE)')
        for name, attr in SPECIAL_USE.items():
            self.assertAttrs(got[name], [attr])
        got = self.list(c, '(SPECIAL-USE) "" "%" RETURN (SPECIAL-USE CHILDREN)')
        self.assertEqual(set(got), set(SPECIAL_USE))

    def test_special_use_rev2(self):
        c = self.session("fresh1", enable="IMAP4rev2")
        got = self.list(c, '"" "*"')
        for name, attr in SPECIAL_USE.items():
            self.assertAttrs(got[name], [attr])
        for name in SPECIAL_USE:
            self.ok(c, f"STATUS {name} (MESSAGES)")
