"""A real client: offlineimap (offlineimap3) syncs a Maildir up to roost and back down.

The local Maildir holds 150 generated messages (mailgen.py) in INBOX, Lists
and the nested Lists/roost, with assorted Maildir flags. Account "up" syncs
it to an empty roost account (offlineimap creates the folders and APPENDs
with flags); account "down" syncs roost into an empty Maildir. Bodies must
match byte for byte, message by message (matched by Message-ID), flags
exactly. Then the server side changes (flags set and cleared, one message
deleted and expunged, through imaplib) and both accounts sync again: every
local copy follows. Last, account "small" (maxsize) syncs down only the
messages below 20000 bytes, which offlineimap finds with SEARCH SMALLER.

Headers the client adds: none. roost announces UIDPLUS, so offlineimap reads
the new UID from APPENDUID and does not insert its X-OfflineIMAP header (it
only does that for servers without UIDPLUS, to find the message again with
SEARCH HEADER); the test fails if that header ever shows up. offlineimap
parses and re-serialises each message with Python's email package
(refold_source='none'), which in practice keeps the bytes; only line ends
change (LF in Maildir, CRLF on the wire).

Maildir flag letters map to IMAP flags as D=\\Draft F=\\Flagged R=\\Answered
S=\\Seen T=\\Deleted; offlineimap does not EXPUNGE after uploading a T
message, so it comes back down with T. Each message file's mtime becomes
the APPEND date-time (sent in the client's zone, here TZ=IST-5:30, so
"+0530"); roost's INTERNALDATE must be that instant.
"""

import imaplib
import os
import re
import shutil
import subprocess
import unittest
import zlib
from datetime import datetime

from clients.localmaildir import build_local, message_id, read_maildir
from harness import HOST, ServerTestCase

FOLDERS = {"INBOX": 100, "Lists": 20, "Lists/roost": 30}
OFFLINEIMAP = shutil.which("offlineimap")
TIMEOUT = 300
MAXSIZE = 20000     # account "small" syncs only messages below this size


def mtime_of(data):
    """The modification time given to a message file: offlineimap APPENDs
    with it as the date-time argument, so it becomes roost's INTERNALDATE.
    Distinct per message, with seconds, spread over a year."""
    return 1717200000 + (zlib.crc32(data) % (366 * 86400))


IMAP_FLAGS = {"D": r"\Draft", "F": r"\Flagged", "R": r"\Answered", "S": r"\Seen",
              "T": r"\Deleted"}


@unittest.skipUnless(OFFLINEIMAP, "offlineimap (Debian package offlineimap3) is not installed")
class OfflineimapRoundTrip(ServerTestCase):

    def write_config(self, root, up, down, small):
        user, password = "alice", self.users["alice"]
        rc = os.path.join(root, "offlineimaprc")
        remote = f"""type = IMAP
remotehost = {HOST}
remoteport = {self.server.imap_port}
remoteuser = {user}
remotepass = {password}
ssl = no
starttls = no
auth_mechanisms = LOGIN
maxconnections = 3
holdconnectionopen = no
"""
        with open(rc, "w") as f:
            f.write(f"""[general]
accounts = up, down, small
metadata = {root}/metadata
maxsyncaccounts = 1

[Account up]
localrepository = up-local
remoterepository = up-remote

[Account down]
localrepository = down-local
remoterepository = down-remote

[Account small]
localrepository = small-local
remoterepository = small-remote
maxsize = {MAXSIZE}

[Repository up-local]
type = Maildir
localfolders = {up}
sep = /

[Repository down-local]
type = Maildir
localfolders = {down}
sep = /

[Repository small-local]
type = Maildir
localfolders = {small}
sep = /

[Repository up-remote]
{remote}
[Repository down-remote]
{remote}
[Repository small-remote]
{remote}""")
        return rc

    def offlineimap(self, rc, account):
        """One non-interactive run (-o: once, -u basic: plain log; folders
        sync in parallel threads over up to 3 connections, offlineimap's
        default threading). The log goes to the temp dir
        (ROOST_KEEP=1 keeps it). There is no protocol trace: offlineimap
        8.0.0 with `-d imap` renders every message it moves with
        as_string(), which raises UnicodeEncodeError on 8bit UTF-8 bodies
        (a client bug on its debug path only), so the sync itself fails."""
        log = os.path.join(os.path.dirname(rc), f"offlineimap-{account}.log")
        # A zone with a half-hour offset: APPEND dates read "... +0530".
        env = dict(os.environ, TZ="IST-5:30")
        r = subprocess.run([OFFLINEIMAP, "-c", rc, "-a", account, "-o", "-u", "basic",
                            "-l", log],
                           capture_output=True, text=True, timeout=TIMEOUT, env=env)
        out = r.stdout + r.stderr
        # offlineimap exits 0 even when a folder failed; its log says ERROR.
        failed = r.returncode != 0 or re.search(r"(?m)^ERROR|Traceback", out)
        self.assertFalse(failed, f"offlineimap {account} (rc {r.returncode}):\n{out[-6000:]}\n"
                         + self.server.log_tail())


    def imap(self):
        m = imaplib.IMAP4(HOST, self.server.imap_port)
        m.login("alice", self.users["alice"])
        return m

    def check_server(self, expected):
        """roost holds each message with CRLF line ends, byte for byte, with
        the flags the Maildir name gave it and the file's mtime as
        INTERNALDATE (offlineimap sends it in its local zone, TZ below)."""
        m = self.imap()
        for folder, msgs in expected.items():
            typ, data = m.select(f'"{folder}"', readonly=True)
            self.assertEqual(typ, "OK", (folder, data))
            self.assertEqual(int(data[0]), len(msgs), folder)
            typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            got = [d for d in data if isinstance(d, tuple)]
            self.assertEqual(len(got), len(msgs), folder)
            for meta, body in got:
                orig, flags = msgs[message_id(body)]
                self.assertNotIn(b"X-OfflineIMAP", body)
                self.assertEqual(body, orig.replace(b"\n", b"\r\n"), folder)
                have = set(re.search(rb"FLAGS \(([^)]*)\)", meta).group(1).decode().split())
                self.assertEqual(have - {r"\Recent"}, {IMAP_FLAGS[c] for c in flags},
                                 (folder, message_id(body)))
                date = re.search(rb'INTERNALDATE "([^"]+)"', meta).group(1).decode()
                when = datetime.strptime(date.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp()
                self.assertEqual(when, mtime_of(orig), (folder, message_id(body), date))
        m.logout()

    def check_maildir(self, root, expected):
        for folder, msgs in expected.items():
            got = read_maildir(os.path.join(root, folder))
            self.assertEqual(set(got), set(msgs), f"{root} {folder}")
            for mid, (data, flags) in msgs.items():
                got_data, got_flags = got[mid]
                self.assertEqual(got_data, data, f"{root} {folder} {mid}")
                self.assertEqual(got_flags, flags, f"{root} {folder} {mid}")

    def change_on_server(self, expected):
        """Through imaplib: in each folder flag the first message, unflag
        \\Seen on every message that has it among the first ten, and delete
        (\\Deleted + UID EXPUNGE) the last one. Returns the new expectation."""
        m = self.imap()
        new = {}
        for folder, msgs in expected.items():
            typ, _ = m.select(f'"{folder}"')
            self.assertEqual(typ, "OK")
            typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            by_uid = {}
            for meta, hdr in (d for d in data if isinstance(d, tuple)):
                uid = int(re.search(rb"UID (\d+)", meta).group(1))
                by_uid[uid] = message_id(hdr)
            uids = sorted(by_uid)
            first, last = uids[0], uids[-1]
            new[folder] = dict(msgs)
            data, flags = new[folder][by_uid[first]]
            self.assertEqual(m.uid("STORE", str(first), "+FLAGS", r"(\Flagged)")[0], "OK")
            new[folder][by_uid[first]] = (data, "".join(sorted(set(flags) | {"F"})))
            for uid in uids[1:10]:
                data, flags = new[folder][by_uid[uid]]
                if "S" in flags:
                    self.assertEqual(m.uid("STORE", str(uid), "-FLAGS", r"(\Seen)")[0], "OK")
                    new[folder][by_uid[uid]] = (data, flags.replace("S", ""))
            self.assertEqual(m.uid("STORE", str(last), "+FLAGS", r"(\Deleted)")[0], "OK")
            # UID EXPUNGE (RFC 4315 §2.1): the T messages keep their \Deleted.
            self.assertEqual(m.uid("EXPUNGE", str(last))[0], "OK")
            del new[folder][by_uid[last]]
            m.unselect()
        m.logout()
        return new

    def test_sync_up_down_and_follow_server_changes(self):
        """150 messages in 3 folders: up, down, compare; change on the
        server; both Maildirs follow."""
        root = os.path.join(self.server.dir, "offlineimap")
        up, down, small = (os.path.join(root, d) for d in ("up", "down", "small"))
        expected = build_local(up, FOLDERS, 5, mtime_of)
        os.makedirs(down)
        os.makedirs(small)
        rc = self.write_config(root, up, down, small)

        self.offlineimap(rc, "up")
        self.check_server(expected)
        self.check_maildir(up, expected)   # the upload leaves the source alone

        self.offlineimap(rc, "down")
        self.check_maildir(down, expected)

        # A second run of each finds nothing to do and changes nothing.
        self.offlineimap(rc, "down")
        self.offlineimap(rc, "up")
        self.check_maildir(down, expected)
        self.check_server(expected)

        changed = self.change_on_server(expected)
        self.offlineimap(rc, "down")
        self.check_maildir(down, changed)
        self.offlineimap(rc, "up")
        self.check_maildir(up, changed)
        self.check_server(changed)

        # maxsize: offlineimap asks `SEARCH (SMALLER 20000)` and FETCHes the
        # sequence set of the answer; sizes count CRLF line ends (RFC822.SIZE).
        self.offlineimap(rc, "small")
        self.check_maildir(small, {
            folder: {mid: v for mid, v in msgs.items()
                     if len(v[0].replace(b"\n", b"\r\n")) < MAXSIZE}
            for folder, msgs in changed.items()})
        self.server.assert_alive()


if __name__ == "__main__":
    unittest.main()
