"""A real client: isync/mbsync pushes a Maildir into roost and pulls it back.

The local Maildir holds 240 generated messages (mailgen.py: plain, UTF-8,
alternative, attachments, forwarded messages) in INBOX and two folders,
with assorted Maildir flags. `mbsync push` creates the folders on roost and
APPENDs everything; `mbsync pull` copies roost into an empty Maildir. The
pulled Maildir must equal the original byte for byte, message by message
(matched by Message-ID), with the same flags; roost itself must hold each
message with CRLF line ends, exactly.
"""

import imaplib
import os
import re
import shutil
import subprocess
import unittest

from clients.localmaildir import build_local, message_id, read_maildir
from harness import HOST, ServerTestCase

FOLDERS = {"INBOX": 120, "Work": 80, "Work/Projects": 40}
MBSYNC = shutil.which("mbsync")


def without_tuid(data, eol=b"\n"):
    """The message without the X-TUID header line mbsync adds to every
    message it uploads (its way to find the message again if a sync is
    interrupted). mbsync keeps that line when it later downloads the
    message, whatever the server; everything else must be identical."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*" + eol, b"", data, count=1)


@unittest.skipUnless(MBSYNC, "mbsync (Debian package isync) is not installed")
class MbsyncRoundTrip(ServerTestCase):

    def write_config(self, local, back):
        user, password = "alice", self.users["alice"]
        rc = os.path.join(self.server.dir, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""IMAPAccount roost
Host {HOST}
Port {self.server.imap_port}
User {user}
Pass {password}
SSLType None
AuthMechs LOGIN
Timeout 60

IMAPStore roost
Account roost

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

MaildirStore back
Path {back}/
Inbox {back}/INBOX
SubFolders Verbatim

Channel push
Far :roost:
Near :local:
Patterns INBOX Work Work/Projects
Create Far
Sync Push
SyncState *

Channel pull
Far :roost:
Near :back:
Patterns *
Create Near
Sync Pull
SyncState *
""")
        return rc

    def mbsync(self, rc, channel):
        r = subprocess.run([MBSYNC, "-c", rc, channel], capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(r.returncode, 0, f"mbsync {channel}:\n{r.stdout}\n{r.stderr}\n"
                         + self.server.log_tail())


    def check_server_copy(self, expected):
        """roost holds every message with CRLF line ends, byte for byte."""
        m = imaplib.IMAP4(HOST, self.server.imap_port)
        m.login("alice", self.users["alice"])
        for folder, msgs in expected.items():
            typ, data = m.select(f'"{folder}"', readonly=True)
            self.assertEqual(typ, "OK", (folder, data))
            self.assertEqual(int(data[0]), len(msgs), folder)
            typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            bodies = [d[1] for d in data if isinstance(d, tuple)]
            self.assertEqual(len(bodies), len(msgs), folder)
            for body in bodies:
                orig, _ = msgs[message_id(body)]
                self.assertEqual(without_tuid(body, b"\r\n"), orig.replace(b"\n", b"\r\n"),
                                 folder)
        m.logout()

    def test_push_then_pull_is_identical(self):
        """240 messages in 3 folders: push, pull, compare bytes and flags."""
        root = os.path.join(self.server.dir, "mbsync")
        local, back = os.path.join(root, "local"), os.path.join(root, "back")
        expected = build_local(local, FOLDERS, 3)
        os.makedirs(back)
        rc = self.write_config(local, back)
        self.mbsync(rc, "push")
        self.check_server_copy(expected)
        self.mbsync(rc, "pull")
        for folder, msgs in expected.items():
            pulled = read_maildir(os.path.join(back, folder))
            self.assertEqual(set(pulled), set(msgs), folder)
            for mid, (data, flags) in msgs.items():
                got_data, got_flags = pulled[mid]
                self.assertEqual(without_tuid(got_data), data, f"{folder} {mid}")
                self.assertEqual(got_flags, flags, f"{folder} {mid}")
        # A second pull finds nothing new and changes nothing.
        self.mbsync(rc, "pull")
        self.assertEqual(len(read_maildir(os.path.join(back, "INBOX"))), FOLDERS["INBOX"])
        self.server.assert_alive()
