"""`roost import-maildir` against a real Dovecot mailbox (issue 5 item 4).

A private Dovecot (Debian's dovecot-imapd, set up by bench/compare.py as
for the benchmark: own base_dir, state_dir and log in a temporary
directory, loopback only; logins in plaintext) gets folders (nested,
a UTF-8 name, special-use names that roost creates itself), subscriptions and
~60 messages over IMAP with flags and keywords; some are expunged (UID gaps)
and flags change afterwards. One more file is dropped into a folder's new/
while Dovecot is stopped, so Dovecot's uidlist does not know it. The Maildir
is imported into a fresh roost user; then Dovecot (started again on the same
Maildir) and roost are compared folder by folder: UIDVALIDITY, UIDNEXT, and
UID FETCH 1:* (FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[]) message by message,
and the subscriptions. Skipped only when the dovecot binary is missing.
"""

import base64
import imaplib
import os
import re
import shutil
import sys
import tempfile
import unittest

from harness import TIMEOUT, RoostServer, cached_cert, keep_dirs, run_cli
from mailgen import make_messages

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "bench"))
import compare  # noqa: E402  (bench/compare.py: the benchmark's private Dovecot)

USER, DV_PASS, RO_PASS = "dave", "dv-Secret-1", "ro-Secret-1"


def mutf7(name):
    """UTF-8 -> modified UTF-7 (RFC 3501 §5.1.3)."""
    out, run = [], []

    def flush():
        if run:
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode()
            out.append("&" + b.rstrip("=").replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def quoted(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Dovecot(compare.Dovecot):
    """A private Dovecot in a temporary directory: bench/compare.py's (its
    config writer, start and stop), with one user whose Maildir is
    `user_maildir`."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="roost-dovecot-")
        users = os.path.join(self.tmp, "users")
        with open(users, "w") as f:
            f.write(f"{USER}:{{PLAIN}}{DV_PASS}\n")
        os.chmod(self.tmp, 0o755)  # Dovecot's unprivileged processes look inside
        # Dovecot's default fsync mode: the benchmark's "always" buys nothing here.
        super().__init__(os.path.join(self.tmp, "dovecot"), *cached_cert(), users,
                         fsync="optimized")
        self.user_maildir = super().maildir(USER)

    def login(self):
        return self.imap(USER, DV_PASS, timeout=TIMEOUT)

    def cleanup(self):
        self.stop()
        if keep_dirs():
            print(f"[kept {self.tmp}]")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# Folders made in Dovecot (UTF-8 names; the wire form is modified UTF-7).
FOLDERS = ["a", "a/b", "Über", "Sent", "Trash", "Lists", "Lists/roost dev"]
SUBSCRIBED = ["INBOX", "a/b", "Über", "Sent", "Lists/roost dev"]
KEYWORDS = ["$Forwarded", "$Label1", "project-x", "Junk", "$MDNSent"]
SYSTEM = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"]
EXTRA_NAME = "1700000000.M1P1.extern"  # dropped into new/ while Dovecot is down
EXTRA_BODY = b"From: ext@example.org\nSubject: external\n\nline one\nline two\n"


def ok(res):
    typ, data = res
    if typ != "OK":
        raise AssertionError(f"{typ} {data}")
    return data


def populate(m):
    """Folders, subscriptions and messages in Dovecot, with gaps and later
    flag changes. Returns the folders that hold messages."""
    for f in FOLDERS:
        ok(m.create(quoted(mutf7(f))))
    for f in SUBSCRIBED:
        ok(m.subscribe(quoted(mutf7(f))))
    boxes = ["INBOX", "a", "a/b", "Über", "Sent", "Lists/roost dev"]
    msgs = make_messages(60, seed=11)
    for i, raw in enumerate(msgs):
        box = boxes[i % len(boxes)]
        flags = [SYSTEM[j] for j in range(4) if (i >> j) & 1 and (i + j) % 3 == 0]
        flags += [KEYWORDS[i % len(KEYWORDS)]] if i % 4 == 0 else []
        when = imaplib.Time2Internaldate(1_700_000_000 + i * 86_413)
        ok(m.append(quoted(mutf7(box)), "(" + " ".join(flags) + ")", when, raw))
    for box in boxes:
        ok(m.select(quoted(mutf7(box))))
        # Gaps: expunge the 2nd and 5th message; then change flags.
        ok(m.store("2,5", "+FLAGS.SILENT", "(\\Deleted)"))
        ok(m.expunge())
        ok(m.store("1", "+FLAGS.SILENT", "(\\Answered $Label1 project-x)"))
        ok(m.store("3", "-FLAGS.SILENT", "(\\Seen)"))
        ok(m.store("3", "+FLAGS.SILENT", "(\\Deleted \\Flagged)"))
        ok(m.unselect())  # CLOSE would expunge the \Deleted one
    return boxes


FETCH_RE = re.compile(rb"^\d+ \(UID (\d+) (.*)\)$")


def meta(m):
    """{uid: (flags set without \\Recent, size, internaldate)} of the selected mailbox."""
    out = {}
    for item in ok(m.uid("FETCH", "1:*", "(FLAGS RFC822.SIZE INTERNALDATE)")):
        if item is None:
            continue
        line = item if isinstance(item, bytes) else item[0]
        mt = FETCH_RE.match(line)
        if not mt:
            continue
        rest = mt.group(2).decode()
        flags = set(re.search(r"FLAGS \(([^)]*)\)", rest).group(1).split()) - {"\\Recent"}
        size = int(re.search(r"RFC822.SIZE (\d+)", rest).group(1))
        date = re.search(r'INTERNALDATE "([^"]*)"', rest).group(1)
        out[int(mt.group(1))] = (flags, size, date)
    return out


def bodies(m):
    out = {}
    for item in ok(m.uid("FETCH", "1:*", "(BODY.PEEK[])")):
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            out[uid] = item[1]
    return out


def select_info(m, box):
    typ, data = m.select(quoted(mutf7(box)), readonly=True)
    assert typ == "OK", (box, data)
    uv = int(m.response("UIDVALIDITY")[1][0])
    un = int(m.response("UIDNEXT")[1][0])
    return uv, un


def names(m, cmd):
    """{(name, attributes)} from LIST or LSUB "" "*" (names as on the wire)."""
    out = set()
    for line in ok(getattr(m, cmd)('""', "*")):
        if line is None:
            continue
        if isinstance(line, tuple):
            line = line[0] + line[1]
        mt = re.match(rb'^\(([^)]*)\) (?:"."|NIL) (.*)$', line)
        name = mt.group(2).decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out.add((name, mt.group(1).decode()))
    return out


@unittest.skipIf(compare.DOVECOT is None, "dovecot is not installed")
class ImportMaildir(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dovecot = Dovecot()
        cls.server = None
        try:
            cls.build()
        except BaseException:
            cls.dovecot.cleanup()
            if cls.server is not None:
                cls.server.cleanup()
            raise

    @classmethod
    def build(cls):
        dv = cls.dovecot
        dv.start()
        m = dv.login()
        cls.boxes = populate(m)
        m.logout()
        dv.stop()
        # A delivery Dovecot has not seen: no uidlist entry, LF line ends.
        extra = os.path.join(dv.user_maildir, ".a", "new", EXTRA_NAME)
        with open(extra, "wb") as f:
            f.write(EXTRA_BODY)
        os.utime(extra, (1_700_000_123, 1_700_000_123))
        cls.server = RoostServer(settings={"mail_fsync": "no"}, users={USER: RO_PASS})
        cls.first = run_cli(["import-maildir", "--user", USER, "-c", cls.server.conf,
                             dv.user_maildir])
        cls.again = run_cli(["import-maildir", "--user", USER, "-c", cls.server.conf,
                             dv.user_maildir])
        cls.server.start()
        dv.start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()
            cls.dovecot.cleanup()
        super().tearDownClass()

    def roost(self):
        m = self.server.imap()
        m.login(USER, RO_PASS)
        self.addCleanup(m.logout)
        return m

    def dovecot_imap(self):
        m = self.dovecot.login()
        self.addCleanup(m.logout)
        return m

    def test_import_output(self):
        self.assertEqual(self.first.returncode, 0, self.first.stderr)
        out = self.first.stdout
        for box in ["INBOX", "a", "a/b", "Über", "Sent", "Lists/roost dev", "Trash", "Lists"]:
            self.assertRegex(out, rf"(?m)^{re.escape(box)}\s+messages=\d+ uidvalidity=\d+",
                             out)
        self.assertIn("subscriptions: 5", out)

    def test_second_import_refused(self):
        self.assertEqual(self.again.returncode, 1, self.again.stdout)
        self.assertIn("must be empty", self.again.stderr)

    def test_mailboxes_match(self):
        d, r = self.dovecot_imap(), self.roost()
        compared = 0
        for box in ["INBOX"] + FOLDERS:
            with self.subTest(box=box):
                duv, dun = select_info(d, box)
                dmeta, dbody = meta(d), bodies(d)
                ruv, run = select_info(r, box)
                rmeta, rbody = meta(r), bodies(r)
                self.assertEqual(ruv, duv)
                self.assertGreaterEqual(run, dun)
                self.assertEqual(run, dun)
                self.assertEqual(sorted(rmeta), sorted(dmeta))
                for uid in dmeta:
                    self.assertEqual(rmeta[uid], dmeta[uid], f"{box} UID {uid}")
                    self.assertEqual(rbody[uid], dbody[uid], f"{box} UID {uid} body")
                    compared += 1
        # 60 appended, 2 expunged in each of 6 folders, plus the new/ file.
        self.assertEqual(compared, 60 - 12 + 1)

    def test_gaps_and_fresh_uid(self):
        r = self.roost()
        select_info(r, "a")
        uids = sorted(meta(r))
        self.assertNotIn(2, uids)
        self.assertNotIn(5, uids)
        # The file Dovecot's uidlist did not list got the next UID, and
        # Dovecot, seeing it on its restart, gave it the same one.
        extra = max(uids)
        self.assertEqual(bodies(r)[extra], EXTRA_BODY.replace(b"\n", b"\r\n"))

    def test_subscriptions_match(self):
        d, r = self.dovecot_imap(), self.roost()
        dsub = {n for n, _ in names(d, "lsub")}
        rsub = {n for n, _ in names(r, "lsub")}
        self.assertEqual(rsub, dsub)
        self.assertEqual(dsub, {mutf7(f) for f in SUBSCRIBED})
        dlist = {n for n, _ in names(d, "list")}
        rlist = {n for n, _ in names(r, "list")}
        # roost's own special-use folders may exist besides Dovecot's.
        self.assertLessEqual(dlist, rlist)
        self.assertLessEqual(rlist - dlist, {"Drafts", "Junk", "Archive"})

    def test_refuses_unknown_user(self):
        r = run_cli(["import-maildir", "--user", "nobody-here", "-c", self.server.conf,
                     self.dovecot.user_maildir])
        self.assertEqual(r.returncode, 1)
        self.assertIn("no user 'nobody-here'", r.stderr)

    def test_refuses_while_server_runs(self):
        r = run_cli(["import-maildir", "--user", USER, "-c", self.server.conf,
                     self.dovecot.user_maildir])
        self.assertEqual(r.returncode, 1)
        self.assertIn("server is running", r.stderr)

    def test_usage(self):
        r = run_cli(["import-maildir", "-c", self.server.conf, self.dovecot.user_maildir])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--user", r.stderr)
        r = run_cli(["import-maildir", "--user", USER, "-c", self.server.conf])
        self.assertEqual(r.returncode, 2)


class ImportFsLayout(unittest.TestCase):
    """A hand-made LAYOUT=fs tree (folders as plain directories), a folder
    without dovecot-uidlist, CRLF files, keywords: no Dovecot needed."""

    def put(self, rel, name, data, mtime=1_600_000_000):
        d = os.path.join(self.maildir, rel)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (mtime, mtime))

    def write(self, rel, data):
        with open(os.path.join(self.maildir, rel), "w") as f:
            f.write(data)

    def setUp(self):
        self.server = RoostServer(settings={"mail_fsync": "no"}, users={USER: RO_PASS})
        self.addCleanup(self.server.cleanup)
        self.maildir = os.path.join(self.server.dir, "old", "Maildir")
        self.put("", "cur/100.M1P1.h,S=30:2,S", b"Subject: one\n\nbody\n")
        self.write("dovecot-uidlist", "3 V555 N20 G00\n7 :100.M1P1.h,S=30\n")
        self.put("work", "cur/200.M1P1.h:2,FRa", b"Subject: two\r\n\r\ncrlf\r\n")
        self.put("work", "new/201.M1P1.h", b"Subject: three\n\nnew\n")
        self.write("work/dovecot-uidlist", "3 V777 N3\n2 :200.M1P1.h\n")
        self.write("work/dovecot-keywords", "0 todo\n")
        self.put("work/deep", "cur/300.M1P1.h:2,", b"Subject: four\n\nx\n")
        self.write("subscriptions", "V\t2\n\nwork\tdeep\nINBOX\n")

    def test_fs_layout(self):
        r = run_cli(["import-maildir", "--user", USER, "-c", self.server.conf, self.maildir])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^work/deep\s+messages=1 ")
        self.server.start()
        m = self.server.imap()
        m.login(USER, RO_PASS)
        self.addCleanup(m.logout)
        self.assertEqual(select_info(m, "INBOX"), (555, 20))
        self.assertEqual(list(meta(m).items()),
                         [(7, ({"\\Seen"}, 22, "13-Sep-2020 12:26:40 +0000"))])
        self.assertEqual(select_info(m, "work"), (777, 4))
        got = meta(m)
        self.assertEqual(sorted(got), [2, 3])
        self.assertEqual(got[2][0], {"\\Flagged", "\\Answered", "todo"})
        self.assertEqual(bodies(m)[2], b"Subject: two\r\n\r\ncrlf\r\n")
        self.assertEqual(bodies(m)[3], b"Subject: three\r\n\r\nnew\r\n")
        uv, un = select_info(m, "work/deep")
        self.assertGreater(uv, 0)
        self.assertEqual((sorted(meta(m)), un), ([1], 2))
        self.assertEqual({n for n, _ in names(m, "lsub")}, {"INBOX", "work/deep"})

    def test_batches(self):
        """More messages than one index transaction holds (500)."""
        lines = ["3 V999 N2001"]
        for i in range(1100):
            name = f"{1_600_000_000 + i}.M{i}P1.h"
            self.put("big", f"cur/{name}:2,S", f"Subject: m{i}\n\n{i}\n".encode())
            if i < 1000:
                lines.append(f"{2 * i + 1} :{name}")
        self.write("big/dovecot-uidlist", "\n".join(lines) + "\n")
        r = run_cli(["import-maildir", "--user", USER, "-c", self.server.conf, self.maildir])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.server.start()
        m = self.server.imap()
        m.login(USER, RO_PASS)
        self.addCleanup(m.logout)
        self.assertEqual(select_info(m, "big"), (999, 2101))
        uids = sorted(meta(m))
        self.assertEqual(uids, [2 * i + 1 for i in range(1000)] + list(range(2001, 2101)))
        got = bodies(m)
        self.assertEqual(got[1999], b"Subject: m999\r\n\r\n999\r\n")
        self.assertEqual(got[2001], b"Subject: m1000\r\n\r\n1000\r\n")


if __name__ == "__main__":
    unittest.main()
