"""A real client: fetchmail retrieves mail from roost over IMAP.

Each test APPENDs 50 generated messages (mailgen.py) to a user's INBOX with
imaplib, then runs fetchmail (`--protocol IMAP`, plaintext LOGIN on loopback,
STARTTLS disabled with `sslproto ''`, `--fetchall`) bounded by a timeout:

  - `--keep` delivering through `--mda` (a small script that stores each
    message it reads on stdin in a file): all 50 arrive, roost still holds
    all 50, now \\Seen; a second run without --fetchall finds nothing new.
  - `--nokeep --expunge 0` writing `--bsmtp FILE`: all 50 arrive; fetchmail
    marks each \\Deleted (the test reads roost's answers in fetchmail's
    `-v -v` protocol trace, always on for this run) and expunges once at the
    end, so the mailbox ends empty.
  - `--nokeep` with fetchmail's default expunging (EXPUNGE after every
    message, so sequence numbers shift under it): all 50 arrive once and
    the mailbox ends empty.
  - `--idle --nokeep --mda`: 5 messages fetched, then fetchmail waits in
    IDLE; 10 more APPENDed by imaplib reach it through the EXISTS roost
    sends during IDLE.

What fetchmail sends: LOGIN, SELECT, EXPUNGE, FETCH n:m RFC822.SIZE, then
per message FETCH n RFC822.HEADER, FETCH n BODY.PEEK[TEXT] and STORE n
+FLAGS (\\Seen) or (\\Seen \\Deleted), EXPUNGE, LOGOUT.

Every delivered message must equal what was APPENDed byte for byte, except
for exactly one header fetchmail itself prepends, in this precise shape
(RFC 5321 §4.4 trace field; continuation lines start with a tab):

    Received: from 127.0.0.1 [127.0.0.1]
    \\tby HOST with IMAP (fetchmail-6.x.y)
    \\tfor <USER@localhost> (single-drop); DATE

and for line ends: the MDA receives LF line ends (fetchmail strips CR
before piping to an MDA), the BSMTP file CRLF with SMTP dot-stuffing
(RFC 5321 §4.5.2), which the test undoes.

ROOST_CLIENT_DEBUG=1 adds `-v -v` to every run; the log is <tmp>/fetchmail-TEST/fetchmail.log
(ROOST_KEEP=1 keeps it).
"""

import imaplib
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import unittest

import mailgen
from clients.localmaildir import message_id
from harness import HOST, USERS, ServerTestCase

FETCHMAIL = shutil.which("fetchmail")
COUNT = 50
TIMEOUT = 180

# fetchmail's own trace header (see the module docstring).
RECEIVED = re.compile(
    rb"\AReceived: from 127\.0\.0\.1 \[127\.0\.0\.1\]\r?\n"
    rb"\tby [^\r\n]+ with IMAP \(fetchmail-[0-9][^)\r\n]*\)\r?\n"
    rb"\tfor <(?P<user>[^@>]+)@[^>]+> \(single-drop\); [^\r\n]+\r?\n")

# The MDA: one message on stdin, stored as one file (written to tmp/ and
# renamed so that a half-written file is never seen as delivered).
DELIVER = """import os, sys, time
out = sys.argv[1]
data = sys.stdin.buffer.read()
name = "%d.%d" % (time.time_ns(), os.getpid())
tmp = os.path.join(out, "tmp", name)
with open(tmp, "wb") as f:
    f.write(data)
os.rename(tmp, os.path.join(out, "new", name))
"""


def strip_received(test, data, user):
    """data without fetchmail's Received header, which must be there once,
    first, in the documented shape."""
    m = RECEIVED.match(data)
    test.assertIsNotNone(m, data[:400])
    test.assertEqual(m.group("user").decode(), user)
    return data[m.end():]


def read_bsmtp(path):
    """The messages of a BSMTP file: each between `DATA` and the lone `.`
    line, dot-stuffing undone (RFC 5321 §4.5.2)."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\r\n")
    out, cur = [], None
    for line in lines:
        if cur is None:
            if line == b"DATA":
                cur = []
        elif line == b".":
            out.append(b"".join(x + b"\r\n" for x in cur))
            cur = None
        else:
            cur.append(line[1:] if line.startswith(b".") else line)
    return out


@unittest.skipUnless(FETCHMAIL, "fetchmail (Debian package fetchmail) is not installed")
class FetchmailImap(ServerTestCase):
    users = dict(USERS, dora="dora-Secret-4", eric="eric-Secret-5", frank="frank-Secret-6",
                 gina="gina-Secret-7")

    def setUp(self):
        self.root = os.path.join(self.server.dir, "fetchmail-" + self._testMethodName)
        os.makedirs(self.root, mode=0o700)

    def imap(self, user):
        m = imaplib.IMAP4(HOST, self.server.imap_port)
        m.login(user, self.users[user])
        return m

    def append_messages(self, user, seed, count=COUNT, first=0):
        """APPENDs count generated messages (mailgen's first ones skipped, so
        that Message-IDs differ between batches); {Message-ID: bytes}."""
        msgs = mailgen.make_messages(first + count, seed=seed)[first:]
        m = self.imap(user)
        for data in msgs:
            typ, resp = m.append("INBOX", None, None, data)
            self.assertEqual(typ, "OK", resp)
        m.logout()
        return {message_id(d): d for d in msgs}

    def write_rc(self, user):
        """A fetchmailrc (fetchmail insists on mode 0600) with what every run
        shares; the runs add --keep/--nokeep, --mda/--bsmtp on the command
        line. `sslproto ''` turns off opportunistic STARTTLS (roost offers
        it; the test certificate is self-signed)."""
        rc = os.path.join(self.root, "fetchmailrc")
        fd = os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as f:
            f.write(f"""set no syslog
poll {HOST} with protocol IMAP port {self.server.imap_port} auth password timeout 60
    user "{user}" there with password "{self.users[user]}" is "{user}" here
    sslproto ''
""")
        return rc

    def fetchmail(self, rc, args, expect_rc=0, verbose=1):
        """One foreground run (no daemon, its own FETCHMAILHOME for the pid
        and id files). fetchmail exits 0 when it delivered mail, 1 when
        there was none (fetchmail(1) EXIT CODES)."""
        env = dict(os.environ, FETCHMAILHOME=self.root, HOME=self.root)
        if os.environ.get("ROOST_CLIENT_DEBUG"):
            verbose = 2
        verbose = ["-v"] * verbose
        cmd = [FETCHMAIL, "-f", rc, "--nodetach", "--nosyslog", "--protocol", "IMAP",
               "--pidfile", os.path.join(self.root, "fetchmail.pid")] + verbose + args
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
        with open(os.path.join(self.root, "fetchmail.log"), "a") as f:
            f.write(f"$ {' '.join(cmd)}\n{r.stdout}{r.stderr}\nexit {r.returncode}\n")
        self.assertEqual(r.returncode, expect_rc,
                         f"fetchmail {' '.join(args)}:\n{(r.stdout + r.stderr)[-6000:]}\n"
                         + self.server.log_tail())
        return r.stdout + r.stderr

    def inbox_flags(self, user):
        """{Message-ID: set of flags} of the user's INBOX."""
        m = self.imap(user)
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK")
        out = {}
        if int(data[0]):
            typ, data = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            self.assertEqual(typ, "OK")
            for meta, hdr in (d for d in data if isinstance(d, tuple)):
                flags = re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split()
                out[message_id(hdr)] = set(flags)
        m.logout()
        return out

    def test_keep_with_mda(self):
        """--keep --fetchall --mda: 50 messages byte-identical; roost keeps
        them, \\Seen; a run without --fetchall then finds nothing."""
        expected = self.append_messages("dora", seed=11)
        out = os.path.join(self.root, "out")
        for sub in ("tmp", "new"):
            os.makedirs(os.path.join(out, sub))
        script = os.path.join(self.root, "deliver.py")
        with open(script, "w") as f:
            f.write(DELIVER)
        rc = self.write_rc("dora")
        mda = f"{sys.executable} {script} {out}"
        self.fetchmail(rc, ["--keep", "--fetchall", "--mda", mda])

        got = {}
        for name in os.listdir(os.path.join(out, "new")):
            with open(os.path.join(out, "new", name), "rb") as f:
                data = strip_received(self, f.read(), "dora")
            got[message_id(data)] = data
        self.assertEqual(set(got), set(expected))
        for mid, data in expected.items():
            self.assertEqual(got[mid], data.replace(b"\r\n", b"\n"), mid)

        flags = self.inbox_flags("dora")
        self.assertEqual(set(flags), set(expected))
        for mid, f in flags.items():
            self.assertIn(r"\Seen", f, mid)
            self.assertNotIn(r"\Deleted", f, mid)
        # Everything is \Seen now: a plain run has no new mail (exit 1).
        self.fetchmail(rc, ["--keep", "--mda", mda], expect_rc=1)
        self.assertEqual(len(os.listdir(os.path.join(out, "new"))), COUNT)

    def check_deletion_trace(self, trace):
        """fetchmail's `-v -v` protocol trace of a --nokeep --expunge 0 run:
        for each message n, `STORE n +FLAGS (\\Seen \\Deleted)` answered by
        roost with the untagged `* n FETCH (FLAGS (...\\Deleted...))` that
        RFC 9051 §6.4.6 requires (no .SILENT), then one EXPUNGE answered with
        COUNT `* 1 EXPUNGE` lines (each expunge renumbers the rest, RFC 9051
        §7.5.1)."""
        lines = [ln.split("IMAP< ", 1)[1] if "IMAP< " in ln else ln.split("IMAP> ", 1)[1]
                 for ln in trace.splitlines() if "IMAP< " in ln or "IMAP> " in ln]
        for n in range(1, COUNT + 1):
            i = next((k for k, ln in enumerate(lines)
                      if re.fullmatch(r"A\d+ STORE %d \+FLAGS \(\\Seen \\Deleted\)" % n, ln)),
                     None)
            self.assertIsNotNone(i, f"no STORE for message {n}")
            reply = lines[i + 1]
            m = re.fullmatch(r"\* %d FETCH \(FLAGS \(([^)]*)\)\)" % n, reply)
            self.assertIsNotNone(m, f"STORE {n} answered {reply!r}")
            # \Recent too: fetchmail's is the first session to see them.
            self.assertEqual(set(m.group(1).split()) - {r"\Recent"}, {r"\Seen", r"\Deleted"})
        expunges = [k for k, ln in enumerate(lines) if re.fullmatch(r"A\d+ EXPUNGE", ln)]
        last = expunges[-1]
        self.assertEqual(lines[last + 1:last + 1 + COUNT], ["* 1 EXPUNGE"] * COUNT)
        self.assertRegex(lines[last + 1 + COUNT], r"^A\d+ OK ")

    def check_bsmtp(self, path, user, expected):
        got = {}
        for data in read_bsmtp(path):
            data = strip_received(self, data, user)
            got[message_id(data)] = data
        self.assertEqual(set(got), set(expected))
        for mid, data in expected.items():
            self.assertEqual(got[mid], data, mid)

    def test_nokeep_with_bsmtp(self):
        """--nokeep --fetchall --expunge 0 --bsmtp: 50 messages
        byte-identical; each flagged \\Deleted, then one EXPUNGE empties the
        INBOX."""
        expected = self.append_messages("eric", seed=12)
        rc = self.write_rc("eric")
        bsmtp = os.path.join(self.root, "mail.bsmtp")
        trace = self.fetchmail(rc, ["--nokeep", "--fetchall", "--expunge", "0", "--bsmtp",
                                    bsmtp], verbose=2)
        self.check_bsmtp(bsmtp, "eric", expected)
        self.check_deletion_trace(trace)
        self.assertEqual(self.inbox_flags("eric"), {})
        # Nothing left: the next run has no mail (exit 1).
        self.fetchmail(rc, ["--nokeep", "--fetchall", "--bsmtp", bsmtp], expect_rc=1)

    def test_nokeep_expunge_each(self):
        """--nokeep with fetchmail's default IMAP expunging (an EXPUNGE
        after every deletion, so sequence numbers shift under it): all 50
        arrive once, byte-identical, and the INBOX ends empty."""
        expected = self.append_messages("frank", seed=13)
        rc = self.write_rc("frank")
        bsmtp = os.path.join(self.root, "mail.bsmtp")
        trace = self.fetchmail(rc, ["--nokeep", "--bsmtp", bsmtp], verbose=2)
        self.check_bsmtp(bsmtp, "frank", expected)
        self.assertGreaterEqual(len(re.findall(r"IMAP> A\d+ EXPUNGE", trace)), COUNT)
        self.assertEqual(self.inbox_flags("frank"), {})

    def test_idle_picks_up_new_mail(self):
        """--idle --nokeep --mda: fetchmail empties the INBOX, then waits in
        IDLE (RFC 2177); messages APPENDed meanwhile reach it through the
        untagged EXISTS roost sends during IDLE, and it fetches them at once."""
        user = "gina"
        out = os.path.join(self.root, "out")
        for sub in ("tmp", "new"):
            os.makedirs(os.path.join(out, sub))
        script = os.path.join(self.root, "deliver.py")
        with open(script, "w") as f:
            f.write(DELIVER)
        first = self.append_messages(user, seed=14, count=5)
        rc = self.write_rc(user)
        env = dict(os.environ, FETCHMAILHOME=self.root, HOME=self.root)
        log_path = os.path.join(self.root, "fetchmail.log")
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [FETCHMAIL, "-f", rc, "--nodetach", "--nosyslog", "--protocol", "IMAP",
                 "--pidfile", os.path.join(self.root, "fetchmail.pid"), "-v", "-v", "--idle",
                 "--nokeep", "--mda", f"{sys.executable} {script} {out}"],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            self.wait_for_files(out, 5, proc, log_path)
            second = self.append_messages(user, seed=15, count=10, first=5)
            self.wait_for_files(out, 15, proc, log_path)
            # The MDA runs before fetchmail flags the message \\Deleted and
            # expunges it: wait until it is back in IDLE with nothing left.
            self.wait_for(lambda: self.log_tail_is_idle(log_path), proc, log_path,
                          "IDLE again")
        finally:
            proc.terminate()
            proc.wait(30)
        got = {}
        for name in os.listdir(os.path.join(out, "new")):
            with open(os.path.join(out, "new", name), "rb") as f:
                data = strip_received(self, f.read(), user)
            got[message_id(data)] = data
        expected = dict(first, **second)
        self.assertEqual(set(got), set(expected))
        for mid, data in expected.items():
            self.assertEqual(got[mid], data.replace(b"\r\n", b"\n"), mid)
        with open(log_path) as f:
            self.assertRegex(f.read(), r"IMAP> A\d+ IDLE")
        self.assertEqual(self.inbox_flags(user), {})

    @staticmethod
    def log_tail_is_idle(log_path):
        """fetchmail's last protocol lines are `IMAP> Ann IDLE` and the
        continuation `IMAP< + ...`: it waits for the server."""
        with open(log_path, errors="replace") as f:
            lines = [ln for ln in f.read().splitlines() if "IMAP> " in ln or "IMAP< " in ln]
        return (len(lines) >= 2 and re.search(r"IMAP> A\d+ IDLE$", lines[-2]) is not None
                and "IMAP< + " in lines[-1])

    def wait_for(self, cond, proc, log_path, what, timeout=60):
        deadline = time.monotonic() + timeout
        while not cond():
            if proc.poll() is not None or time.monotonic() > deadline:
                with open(log_path, errors="replace") as f:
                    log = f.read()
                self.fail(f"waiting for {what} (fetchmail exit {proc.poll()}):\n"
                          f"{log[-6000:]}\n" + self.server.log_tail())
            time.sleep(0.1)

    def wait_for_files(self, out, n, proc, log_path):
        self.wait_for(lambda: len(os.listdir(os.path.join(out, "new"))) >= n, proc, log_path,
                      f"{n} messages")


if __name__ == "__main__":
    unittest.main()
