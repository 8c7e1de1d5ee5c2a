"""mboxtest: helpers for the mailbox-command tests (test_mailboxes.py,
test_list.py, test_status.py).

MailboxTestCase is a ServerTestCase with extra users (fresh ones for tests
that need a mailbox tree nobody else touched), a logged-in RawClient
factory with optional ENABLE, command helpers that assert the tagged
status, a parser for LIST/LSUB/STATUS responses, and an independent
modified UTF-7 encoder (RFC 3501 §5.1.3) to check the server's.
"""

import base64
import itertools
import re

from harness import USERS, ServerTestCase, quote, status_re

# Users nobody but one test class logs in as.
FRESH_USERS = {f"fresh{i}": f"fresh-Secret-{i}" for i in range(1, 9)}

SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
               "Junk": "\\Junk", "Archive": "\\Archive"}


def mutf7(text):
    """Modified UTF-7 of a str (independent of the server's encoder)."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode()
            out.append("&" + b.rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in text:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def parse_string(s, i):
    """Parses an IMAP astring/nstring at s[i:]: returns (value, next index).
    Quoted strings are unescaped, literals {n}\\r\\n... read (the RawClient
    joins a literal into the line), NIL is None, atoms are returned as they
    are."""
    if s.startswith('"', i):
        j, val = i + 1, []
        while s[j] != '"':
            if s[j] == "\\":
                j += 1
            val.append(s[j])
            j += 1
        return "".join(val), j + 1
    m = re.compile(r"~?\{(\d+)\+?\}\r\n").match(s, i)
    if m:
        start = m.end()
        # lengths are in bytes; the line was decoded as UTF-8
        data = s[start:].encode("utf-8", "surrogateescape")[:int(m.group(1))]
        text = data.decode("utf-8", "surrogateescape")
        return text, start + len(text)
    m = re.compile(r"[^\s()]+").match(s, i)
    if m.group(0).upper() == "NIL":
        return None, m.end()
    return m.group(0), m.end()


LIST_RE = re.compile(r"^\* (LIST|LSUB) \(([^)]*)\) (NIL|\"(?:[^\"\\]|\\.)*\") ", re.I)


class ListEntry:
    """One LIST/LSUB response: kind, attrs (set, as sent), delim, name,
    ext (the text after the name, "" when none)."""

    def __init__(self, line):
        m = LIST_RE.match(line)
        if not m:
            raise AssertionError(f"not a LIST/LSUB response: {line!r}")
        self.line = line
        self.kind = m.group(1).upper()
        self.attrs = set(m.group(2).split())
        self.delim, _ = parse_string(m.group(3), 0)
        self.name, end = parse_string(line, m.end())
        self.ext = line[end:].strip()

    def lattrs(self):
        return {a.lower() for a in self.attrs}

    def __repr__(self):
        return f"<{self.line}>"


STATUS_RE = re.compile(r"^\* STATUS ", re.I)


def parse_status(line):
    """`* STATUS name (K V ...)` -> (name, {K: int}, [K in order])."""
    name, end = parse_string(line, len("* STATUS "))
    inner = line[end:].strip()
    assert inner.startswith("(") and inner.endswith(")"), line
    toks = inner[1:-1].split()
    assert len(toks) % 2 == 0, line
    keys = [k.upper() for k in toks[0::2]]
    return name, {k: int(v) for k, v in zip(keys, toks[1::2])}, keys


class MailboxTestCase(ServerTestCase):
    users = dict(USERS, **FRESH_USERS)
    _counter = itertools.count(1)

    # -- sessions
    def session(self, user="alice", enable=None):
        """A logged-in RawClient; enable: e.g. "IMAP4rev2" or "UTF8=ACCEPT"."""
        c = self.connect()
        self.login(c, user)
        if enable:
            untagged, tagged = c.command("E1", "ENABLE " + enable)
            self.assertStatus(tagged, "E1", "OK")
        c.tags = itertools.count(1)
        return c

    def unique(self, stem="t"):
        """A top-level name no other test uses."""
        return f"{stem}{next(self._counter)}x{id(self) % 10000}"

    # -- commands
    def run_cmd(self, c, text):
        tag = f"T{next(c.tags)}"
        if isinstance(text, str):
            text = text.encode("utf-8")
        untagged, tagged = c.command(tag, text)
        return tag, untagged, tagged

    def ok(self, c, text):
        """Runs a command, asserts the tagged OK, returns the untagged lines."""
        tag, untagged, tagged = self.run_cmd(c, text)
        self.assertRegex(tagged, status_re(tag, "OK"), f"{text!r}: {untagged!r}")
        return untagged

    def no(self, c, text, code=None):
        tag, untagged, tagged = self.run_cmd(c, text)
        self.assertRegex(tagged, status_re(tag, "NO", code), f"{text!r}: {untagged!r}")
        return tagged

    def bad(self, c, text):
        tag, untagged, tagged = self.run_cmd(c, text)
        self.assertRegex(tagged, status_re(tag, "BAD"), f"{text!r}: {untagged!r}")
        return untagged

    def create(self, c, *names):
        for n in names:
            self.ok(c, f"CREATE {quote(n)}")

    # -- LIST
    def entries(self, untagged, kind="LIST"):
        return [ListEntry(u) for u in untagged if u.upper().startswith(f"* {kind} ")]

    def list(self, c, args, kind="LIST"):
        """Runs `LIST args` (or LSUB); returns {name: ListEntry}, checking
        that no name comes twice and that the delimiter is "/"."""
        untagged = self.ok(c, f"{kind} {args}")
        result = {}
        for e in self.entries(untagged, kind):
            self.assertNotIn(e.name, result, f"{e.name} returned twice: {untagged!r}")
            self.assertEqual(e.delim, "/", e.line)
            result[e.name] = e
        return result

    def names(self, c, args, kind="LIST"):
        return set(self.list(c, args, kind))

    def assertAttrs(self, entry, present=(), absent=()):
        attrs = entry.lattrs()
        for a in present:
            self.assertIn(a.lower(), attrs, entry.line)
        for a in absent:
            self.assertNotIn(a.lower(), attrs, entry.line)
