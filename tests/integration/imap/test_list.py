"""LIST (RFC 9051 §6.3.9) with RFC 5258 LIST-EXTENDED selection and return
options, RFC 5819 LIST-STATUS and RFC 6154 SPECIAL-USE; LSUB (RFC 3501
§6.3.9)."""

import time

from imap.mboxtest import STATUS_RE, MailboxTestCase, mutf7, parse_status

ENTWUERFE = "Entw\u00fcrfe"


class ListBasic(MailboxTestCase):

    def tree(self, c):
        """top, top/a, top/a/b, top/c -> top."""
        top = self.unique()
        self.create(c, f"{top}/a/b", f"{top}/c")
        return top

    def test_delimiter_and_root(self):
        """LIST "" "" => `* LIST (\\Noselect) "/" ""`, whatever the
        reference."""
        for enable in (None, "IMAP4rev2"):
            c = self.session(enable=enable)
            for ref in ('""', '"foo/bar"', "INBOX"):
                untagged = self.ok(c, f'LIST {ref} ""')
                self.assertEqual(untagged, ['* LIST (\\Noselect) "/" ""'])

    def test_star_and_percent(self):
        c = self.session()
        top = self.tree(c)
        self.assertEqual(self.names(c, f'"" "{top}/*"'), {f"{top}/a", f"{top}/a/b", f"{top}/c"})
        self.assertEqual(self.names(c, f'"" "{top}/%"'), {f"{top}/a", f"{top}/c"})
        self.assertEqual(self.names(c, f'"" "{top}/%/%"'), {f"{top}/a/b"})
        self.assertEqual(self.names(c, f'"" "{top}*"'), {top, f"{top}/a", f"{top}/a/b", f"{top}/c"})
        self.assertEqual(self.names(c, f'"" "{top}%"'), {top})
        self.assertEqual(self.names(c, f'"" "{top}/a*b"'), {f"{top}/a/b"})
        self.assertEqual(self.names(c, f'"" "{top}/a%b"'), set())
        top_level = self.names(c, '"" "%"')
        self.assertIn(top, top_level)
        self.assertIn("INBOX", top_level)
        self.assertFalse([n for n in top_level if "/" in n], top_level)
        self.assertTrue(self.names(c, '"" "*"') >= {top, f"{top}/a/b", "INBOX"})

    def test_reference(self):
        """The reference is prepended to the pattern (RFC 9051 §6.3.9)."""
        c = self.session()
        top = self.tree(c)
        self.assertEqual(self.names(c, f'"{top}/" "%"'), {f"{top}/a", f"{top}/c"})
        self.assertEqual(self.names(c, f'"{top}/" "*"'), {f"{top}/a", f"{top}/a/b", f"{top}/c"})
        self.assertEqual(self.names(c, f'"{top}" "/a/%"'), {f"{top}/a/b"})
        # "<top>%": "%" may match nothing, but not a "/"
        self.assertEqual(self.names(c, f'{top} "%"'), {top})

    def test_children_attributes(self):
        c = self.session()
        top = self.tree(c)
        got = self.list(c, f'"" "{top}*"')
        self.assertAttrs(got[top], ["\\HasChildren"], ["\\HasNoChildren", "\\Noselect"])
        self.assertAttrs(got[f"{top}/a"], ["\\HasChildren"], ["\\HasNoChildren"])
        self.assertAttrs(got[f"{top}/a/b"], ["\\HasNoChildren"], ["\\HasChildren"])
        self.assertAttrs(got[f"{top}/c"], ["\\HasNoChildren"], ["\\HasChildren"])
        # RETURN (CHILDREN) gives the same
        self.assertEqual({n: e.lattrs() for n, e in got.items()},
                         {n: e.lattrs() for n, e in
                          self.list(c, f'"" "{top}*" RETURN (CHILDREN)').items()})

    def test_inbox_case_insensitive(self):
        """INBOX is matched in any case; the reply spells it INBOX."""
        c = self.session()
        for pat in ("inbox", "InBoX", "INBOX", "in%", "I*", "%"):
            got = self.list(c, f'"" "{pat}"')
            self.assertIn("INBOX", got, pat)
        child = self.unique("kid")
        self.create(c, f"INBOX/{child}")
        self.assertIn(f"INBOX/{child}", self.names(c, '"" "inbox/%"'))
        self.assertIn(f"INBOX/{child}", self.names(c, '"inbox/" "%"'))
        self.assertEqual(self.names(c, f'"" "INBOX/{child.upper()}"'), set())

    def test_multiple_patterns(self):
        """LIST "" ("a" "b") (RFC 5258): the union, each name once."""
        c = self.session()
        top = self.tree(c)
        got = self.names(c, f'"" ("{top}/a" "{top}/c" "{top}/*" "nonesuch")')
        self.assertEqual(got, {f"{top}/a", f"{top}/a/b", f"{top}/c"})

    def test_literal_pattern(self):
        c = self.session()
        top = self.tree(c)
        pat = f"{top}/%"
        self.assertEqual(self.names(c, f'"" {{{len(pat)}+}}\r\n{pat}'), {f"{top}/a", f"{top}/c"})

    def test_mutf7_pattern(self):
        """Patterns are modified UTF-7 for rev1, UTF-8 once enabled."""
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/{mutf7(ENTWUERFE)}", f"{top}/Entwurf")
        self.assertEqual(self.names(c, f'"" "{top}/Entw&APw-*"'), {f"{top}/Entw&APw-rfe"})
        self.assertEqual(self.names(c, f'"" "{top}/%rfe"'), {f"{top}/Entw&APw-rfe"})
        rev2 = self.session(enable="IMAP4rev2")
        self.assertEqual(self.names(rev2, f'"" "{top}/Entw\u00fc*"'), {f"{top}/{ENTWUERFE}"})
        self.assertEqual(self.names(rev2, f'"" "{top}/%rfe"'), {f"{top}/{ENTWUERFE}"})

    def test_noselect_parent(self):
        """A deleted parent with children is listed \\Noselect."""
        c = self.session()
        top = self.tree(c)
        self.ok(c, f"DELETE {top}/a")
        got = self.list(c, f'"" "{top}/*"')
        self.assertAttrs(got[f"{top}/a"], ["\\Noselect", "\\HasChildren"])

    def test_in_selected_state(self):
        c = self.session()
        top = self.tree(c)
        self.ok(c, "SELECT INBOX")
        self.assertEqual(self.names(c, f'"" "{top}/%"'), {f"{top}/a", f"{top}/c"})

    def test_hostile_pattern(self):
        """A pattern built to make a backtracking matcher explode is
        answered quickly."""
        c = self.session()
        self.create(c, "h" * 200)
        pat = "%*" * 2000 + "q"
        start = time.monotonic()
        self.assertEqual(self.names(c, f'"" "{pat}"'), set())
        self.assertLess(time.monotonic() - start, 5.0)

    def test_syntax(self):
        """Malformed LIST => BAD."""
        c = self.session()
        for args in ("", '""', '"" "x" "y"', '"" "x" RETURN', '"" "x" RETURN CHILDREN',
                     '"" "x" FOO (CHILDREN)', '"" ()', '(FOO) "" "x"', '"" "x" RETURN (FOO)',
                     '(RECURSIVEMATCH) "" "x"', '(REMOTE RECURSIVEMATCH) "" "x"',
                     '"" "x" RETURN (STATUS)', '"" "x" RETURN (STATUS ())',
                     '"" "x" RETURN (STATUS (FOO))', '"" "x" RETURN (STATUS (HIGHESTMODSEQ))',
                     '(("x")) "" "x"', '"" (("x"))', "() () \"\" \"x\""):
            self.bad(c, "LIST " + args)


class ListExtended(MailboxTestCase):

    def setup_subscriptions(self, c):
        """top/{a,a/x,b,b/y,c}; subscribed: top/a, top/b/y, top/gone/z
        (which does not exist)."""
        top = self.unique()
        self.create(c, f"{top}/a/x", f"{top}/b/y", f"{top}/c")
        for n in (f"{top}/a", f"{top}/b/y", f"{top}/gone/z"):
            self.ok(c, f'SUBSCRIBE "{n}"')
        return top

    def test_selection_subscribed(self):
        """(SUBSCRIBED): exactly the subscribed names, \\Subscribed, and
        \\NonExistent for those without a mailbox (RFC 5258 §3)."""
        for enable in (None, "IMAP4rev2"):
            c = self.session(enable=enable)
            top = self.setup_subscriptions(c)
            got = self.list(c, f'(SUBSCRIBED) "" "{top}/*"')
            self.assertEqual(set(got), {f"{top}/a", f"{top}/b/y", f"{top}/gone/z"})
            for e in got.values():
                self.assertAttrs(e, ["\\Subscribed"])
            self.assertAttrs(got[f"{top}/gone/z"], ["\\NonExistent"])
            self.assertAttrs(got[f"{top}/a"], ["\\HasChildren"], ["\\NonExistent"])
            self.assertEqual(self.names(c, f'(SUBSCRIBED) "" "{top}/%"'), {f"{top}/a"})

    def test_return_subscribed(self):
        c = self.session()
        top = self.setup_subscriptions(c)
        got = self.list(c, f'"" "{top}/*" RETURN (SUBSCRIBED)')
        self.assertEqual(set(got), {f"{top}/a", f"{top}/a/x", f"{top}/b", f"{top}/b/y",
                                    f"{top}/c"})
        subscribed = {n for n, e in got.items() if "\\subscribed" in e.lattrs()}
        self.assertEqual(subscribed, {f"{top}/a", f"{top}/b/y"})
        # no \Subscribed unless asked
        for e in self.list(c, f'"" "{top}/*"').values():
            self.assertAttrs(e, [], ["\\Subscribed"])

    def test_recursivematch(self):
        """(SUBSCRIBED RECURSIVEMATCH) "" "top/%": the parents of subscribed
        names come back with CHILDINFO (RFC 5258 §3.5), even when they do
        not exist."""
        c = self.session()
        top = self.setup_subscriptions(c)
        got = self.list(c, f'(SUBSCRIBED RECURSIVEMATCH) "" "{top}/%"')
        self.assertEqual(set(got), {f"{top}/a", f"{top}/b", f"{top}/gone"})
        self.assertEqual(got[f"{top}/a"].ext, "")
        self.assertAttrs(got[f"{top}/a"], ["\\Subscribed"])
        self.assertEqual(got[f"{top}/b"].ext, '("CHILDINFO" ("SUBSCRIBED"))')
        self.assertAttrs(got[f"{top}/b"], [], ["\\Subscribed", "\\NonExistent"])
        self.assertEqual(got[f"{top}/gone"].ext, '("CHILDINFO" ("SUBSCRIBED"))')
        self.assertAttrs(got[f"{top}/gone"], ["\\NonExistent"], ["\\Subscribed"])
        # Without RECURSIVEMATCH the parents are not returned.
        self.assertEqual(self.names(c, f'(SUBSCRIBED) "" "{top}/%"'), {f"{top}/a"})

    def test_remote_ignored(self):
        c = self.session()
        top = self.setup_subscriptions(c)
        self.assertEqual(self.names(c, f'(REMOTE) "" "{top}/*"'), self.names(c, f'"" "{top}/*"'))
        self.assertEqual(self.names(c, f'(REMOTE SUBSCRIBED) "" "{top}/*"'),
                         self.names(c, f'(SUBSCRIBED) "" "{top}/*"'))

    def test_empty_selection(self):
        c = self.session()
        top = self.setup_subscriptions(c)
        self.assertEqual(self.names(c, f'() "" "{top}/%"'), {f"{top}/a", f"{top}/b", f"{top}/c"})
        self.assertEqual(self.names(c, f'"" "{top}/%" RETURN ()'),
                         {f"{top}/a", f"{top}/b", f"{top}/c"})

    def test_list_status(self):
        """RETURN (STATUS (...)) (RFC 5819): a STATUS right after the LIST
        of each selectable mailbox, none for \\Noselect ones."""
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/a/x", f"{top}/b")
        self.ok(c, f"DELETE {top}/a")  # \Noselect with a child
        msg = "Subject: x\r\n\r\nbody\r\n"
        self.ok(c, f'APPEND "{top}/b" {{{len(msg)}+}}\r\n{msg}')
        untagged = self.ok(c, f'LIST "" "{top}/*" RETURN (STATUS (MESSAGES UIDNEXT SIZE))')
        pairs, last = {}, None
        for u in untagged:
            if STATUS_RE.match(u):
                name, values, keys = parse_status(u)
                self.assertEqual(name, last, f"STATUS not right after its LIST: {untagged!r}")
                self.assertEqual(keys, ["MESSAGES", "UIDNEXT", "SIZE"])
                pairs[name] = values
                last = None
            else:
                last = self.entries([u])[0].name
        self.assertEqual(set(pairs), {f"{top}/a/x", f"{top}/b"})
        self.assertEqual(pairs[f"{top}/b"]["MESSAGES"], 1)
        self.assertEqual(pairs[f"{top}/b"]["SIZE"], len(msg))
        self.assertEqual(pairs[f"{top}/a/x"]["MESSAGES"], 0)

    def test_list_status_utf8(self):
        """LIST-STATUS names use the session's encoding."""
        top = self.unique()
        rev1 = self.session()
        self.create(rev1, f"{top}/{mutf7(ENTWUERFE)}")
        untagged = self.ok(rev1, f'LIST "" "{top}/*" RETURN (STATUS (MESSAGES))')
        self.assertEqual([parse_status(u)[0] for u in untagged if STATUS_RE.match(u)],
                         [f"{top}/{mutf7(ENTWUERFE)}"])
        rev2 = self.session(enable="IMAP4rev2")
        untagged = self.ok(rev2, f'LIST "" "{top}/*" RETURN (STATUS (MESSAGES DELETED))')
        self.assertEqual([parse_status(u)[0] for u in untagged if STATUS_RE.match(u)],
                         [f"{top}/{ENTWUERFE}"])

    def test_nonexistent_level_percent(self):
        """A hierarchy level that is not a mailbox but has mailboxes below
        is returned for a trailing "%" (RFC 9051 §6.3.9) as \\NonExistent
        (rev2) or \\Noselect (rev1)."""
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/p/q")
        self.ok(c, f"DELETE {top}/p")  # \Noselect, kept by the store
        got = self.list(c, f'"" "{top}/%"')
        self.assertIn(f"{top}/p", got)
        self.assertAttrs(got[f"{top}/p"], ["\\HasChildren"])
        self.assertTrue({"\\noselect", "\\nonexistent"} & got[f"{top}/p"].lattrs())


class Lsub(MailboxTestCase):

    def test_lsub(self):
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/a", f"{top}/b")
        self.ok(c, f"SUBSCRIBE {top}/a")
        got = self.list(c, f'"" "{top}/*"', "LSUB")
        self.assertEqual(set(got), {f"{top}/a"})
        self.assertAttrs(got[f"{top}/a"], [], ["\\Noselect"])
        self.assertEqual(self.names(c, f'"{top}/" "%"', "LSUB"), {f"{top}/a"})

    def test_lsub_percent_parent(self):
        """RFC 3501 §6.3.9: a subscribed name's unsubscribed parent matched
        by a trailing "%" is returned \\Noselect."""
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/p/q")
        self.ok(c, f"SUBSCRIBE {top}/p/q")
        self.ok(c, f'SUBSCRIBE "{top}/v/w/z"')  # no such mailboxes at all
        got = self.list(c, f'"" "{top}/%"', "LSUB")
        self.assertEqual(set(got), {f"{top}/p", f"{top}/v"})
        for e in got.values():
            self.assertAttrs(e, ["\\Noselect"])
        got = self.list(c, f'"" "{top}/*"', "LSUB")
        self.assertEqual(set(got), {f"{top}/p/q", f"{top}/v/w/z"})
        self.assertAttrs(got[f"{top}/p/q"], [], ["\\Noselect"])
        self.assertAttrs(got[f"{top}/v/w/z"], ["\\Noselect"])

    def test_lsub_mutf7(self):
        c = self.session()
        top = self.unique()
        self.create(c, f"{top}/{mutf7(ENTWUERFE)}")
        self.ok(c, f'SUBSCRIBE "{top}/{mutf7(ENTWUERFE)}"')
        self.assertEqual(self.names(c, f'"" "{top}/*"', "LSUB"), {f"{top}/{mutf7(ENTWUERFE)}"})

    def test_lsub_syntax(self):
        c = self.session()
        for args in ("", '""', '"" ("a" "b")', '(SUBSCRIBED) "" "*"', '"" "*" RETURN ()'):
            self.bad(c, "LSUB " + args)
