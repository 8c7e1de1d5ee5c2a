"""The audit log (issue 4 item 6): JSON lines for logins, failed logins,
DELETE, RENAME, EXPUNGE and MOVE, with counts; never a password; the file
is reopened on SIGHUP so logrotate works."""

import json
import os
import signal
import time

from harness import USERS, ServerTestCase, quote, status_re


class AuditLog(ServerTestCase):
    settings = {"mail_fsync": "no", "audit_log": "logs/audit.jsonl"}
    users = dict(USERS)

    @classmethod
    def prepare(cls, server):
        os.makedirs(os.path.join(server.dir, "logs"))

    def path(self):
        return os.path.join(self.server.dir, "logs", "audit.jsonl")

    def events(self, path=None):
        with open(path or self.path(), "rb") as f:
            raw = f.read()
        self.assertNotIn(USERS["alice"].encode(), raw)
        self.assertNotIn(b"wrong-password", raw)
        return [json.loads(line) for line in raw.decode("utf-8").splitlines()]

    def ok(self, c, tag, text):
        _, tagged = c.command(tag, text)
        self.assertRegex(tagged, status_re(tag, "OK"))

    def append(self, c, tag, box, n):
        for i in range(n):
            msg = f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode()
            c.send(f"{tag}{i} APPEND {box} {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
            self.assertRegex(c.read_tagged(f"{tag}{i}")[1], status_re(f"{tag}{i}", "OK"))

    def test_events(self):
        c = self.connect()
        _, tagged = c.command("L0", 'LOGIN "bad\\"user" "wrong-password"')
        self.assertRegex(tagged, status_re("L0", "NO"))
        self.login(c, "alice")
        self.ok(c, "C1", "CREATE Src")
        self.ok(c, "C2", "CREATE Old")
        self.ok(c, "R1", "RENAME Old New")
        self.ok(c, "D1", "DELETE New")
        self.append(c, "A", "Src", 5)
        self.ok(c, "S1", "SELECT Src")
        self.ok(c, "S2", "STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        self.ok(c, "E1", "EXPUNGE")
        self.ok(c, "M1", "MOVE 1:2 INBOX")
        self.ok(c, "S3", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        self.ok(c, "X1", "CLOSE")
        ev = self.events()
        kinds = [e["event"] for e in ev]
        self.assertEqual(kinds, ["login_failed", "login", "rename", "delete", "expunge", "move",
                                 "expunge"], ev)
        for e in ev:
            self.assertRegex(e["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual(e["ip"], "127.0.0.1")
            self.assertRegex(e["sid"], r"^[0-9a-f]{16}$")
        self.assertEqual(ev[0]["user"], 'bad"user')
        self.assertEqual(ev[1]["user"], "alice")
        self.assertEqual((ev[2]["mailbox"], ev[2]["to"]), ("Old", "New"))
        self.assertEqual(ev[3]["mailbox"], "New")
        self.assertEqual((ev[4]["mailbox"], ev[4]["count"]), ("Src", 2))
        self.assertEqual((ev[5]["mailbox"], ev[5]["to"], ev[5]["count"]), ("Src", "INBOX", 2))
        self.assertEqual((ev[6]["mailbox"], ev[6]["count"]), ("Src", 1))
        self.assertEqual(len({e["sid"] for e in ev}), 1)

    def test_reopen_on_sighup(self):
        rotated = self.path() + ".1"
        os.rename(self.path(), rotated)
        self.server.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not os.path.exists(self.path()):
            self.assertLess(time.monotonic(), deadline, self.server.log_tail())
            time.sleep(0.05)
        c = self.connect()
        self.login(c, "bob")
        ev = self.events()
        self.assertEqual([(e["event"], e["user"]) for e in ev], [("login", "bob")])
        self.assertEqual(os.stat(self.path()).st_mode & 0o777, 0o600)
