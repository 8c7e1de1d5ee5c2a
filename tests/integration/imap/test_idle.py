"""IDLE (RFC 9051 §6.3.13, RFC 2177): "+ idling", pending updates at once,
pushes of other sessions' changes and of files delivered into the user's
Maildir new/ within 1 s, keepalives, DONE, and autologout inside IDLE."""

import os
import re
import socket
import time

from harness import ServerTestCase
from imap.test_select import MailboxMixin, fetch_flags, message


class Idle(MailboxMixin, ServerTestCase):

    settings = {"idle_keepalive": "1s"}

    def start_idle(self, c, tag="i"):
        c.send_line(f"{tag} IDLE")
        line = c.read_response()
        self.assertEqual(line, "+ idling")

    def wait_for(self, c, pred, timeout):
        """Reads lines until pred(line) (skipping keepalives); returns the
        line and the seconds it took."""
        start = time.monotonic()
        while True:
            left = timeout - (time.monotonic() - start)
            if left <= 0:
                self.fail("nothing matching arrived in time")
            line = c.read_response(timeout=left)
            if pred(line):
                return line, time.monotonic() - start

    def done(self, c, tag="i"):
        c.send_line("DONE")
        untagged, tagged = c.read_tagged(tag)
        self.assertStatus(tagged, tag, "OK")
        return untagged

    def test_push_append_within_1s(self):
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, name)
        self.start_idle(c)
        d = self.session()
        t0 = time.monotonic()
        self.append_ok(d, name)
        line, _ = self.wait_for(c, lambda l: l == "* 1 EXISTS", 2)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.done(c)

    def test_push_flags_and_expunge(self):
        c = self.session()
        name, uids = self.mailbox_with(c, 2)
        self.select(c, name)
        self.start_idle(c)
        d = self.session()
        self.select(d, name)
        d.command("s", "STORE 1 +FLAGS (\\Deleted)")
        line, _ = self.wait_for(c, lambda l: "FETCH" in l, 2)
        seq, uid, flags = fetch_flags(line)
        self.assertEqual((seq, uid), (1, uids[0]))
        self.assertIn("\\Deleted", flags)
        d.command("x", "EXPUNGE")
        self.wait_for(c, lambda l: l == "* 1 EXPUNGE", 2)
        self.done(c)
        untagged, _ = c.command("n", "NOOP")
        self.assertEqual(untagged, [])

    def test_delivery_into_new(self):
        """A file an MDA drops into <mail_root>/<user>/new/ reaches IDLE
        within 1 s."""
        c = self.session("carol")
        self.select(c, "INBOX")
        untagged, _ = c.command("n", "NOOP")
        self.start_idle(c)
        root = os.path.join(self.server.dir, "mail", "carol")
        base = f"{int(time.time())}.M1P{os.getpid()}.{socket.gethostname()}"
        tmp = os.path.join(root, "tmp", base)
        with open(tmp, "wb") as f:
            f.write(message(99))
        t0 = time.monotonic()
        os.rename(tmp, os.path.join(root, "new", base))
        self.wait_for(c, lambda l: re.match(r"^\* \d+ EXISTS$", l) is not None, 3)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.done(c)

    def test_delivery_into_subfolder_new_gets_fresh_uid(self):
        """An MDA (procmail, maildrop, a script) writing into a folder's
        Maildir++ new/ with bare LF line ends: the IDLE session on that
        folder hears of it within 1 s, and the message has the next UID
        and the bytes it was written with, as CRLF."""
        c = self.session("carol")
        _, t = c.command("c", "CREATE Lists")
        self.assertStatus(t, "c", "OK")
        untagged, _ = c.command("s", "SELECT Lists")
        uidnext = int(re.search(r"UIDNEXT (\d+)", " ".join(untagged)).group(1))
        self.start_idle(c)
        root = os.path.join(self.server.dir, "mail", "carol", ".Lists")
        base = f"{int(time.time())}.M2P{os.getpid()}.{socket.gethostname()}"
        body = b"From: list@example.org\nSubject: digest\n\nline one\nline two\n"
        with open(os.path.join(root, "tmp", base), "wb") as f:
            f.write(body)
        t0 = time.monotonic()
        os.rename(os.path.join(root, "tmp", base), os.path.join(root, "new", base))
        self.wait_for(c, lambda l: l == "* 1 EXISTS", 3)
        self.assertLess(time.monotonic() - t0, 1.0)
        self.done(c)
        untagged, t = c.command("f", "UID FETCH * (UID BODY.PEEK[])")
        self.assertStatus(t, "f", "OK")
        data = "\r\n".join(untagged)
        self.assertIn(f"UID {uidnext} ", data)
        self.assertIn(body.decode().replace("\n", "\r\n"), data)

    def test_pending_updates_sent_at_start(self):
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, name)
        d = self.session()
        self.append_ok(d, name)
        c.send_line("i IDLE")
        self.assertEqual(c.read_response(), "+ idling")
        self.assertEqual(c.read_response(timeout=1), "* 1 EXISTS")
        self.done(c)

    def test_keepalive(self):
        """With idle_keepalive = 1s an untagged OK arrives about every second."""
        c = self.session()
        self.select(c, "INBOX")
        self.start_idle(c)
        t0 = time.monotonic()
        for _ in range(2):
            line = c.read_response(timeout=3)
            self.assertRegex(line, r"^\* OK ")
        self.assertLess(time.monotonic() - t0, 3.5)
        self.done(c)

    def test_done_case_insensitive(self):
        c = self.session()
        self.select(c, "INBOX")
        self.start_idle(c)
        c.send_line("dOnE")
        _, tagged = c.read_tagged("i")
        self.assertStatus(tagged, "i", "OK")
        self.assertNoop(c)

    def test_other_line_is_bad(self):
        c = self.session()
        self.select(c, "INBOX")
        self.start_idle(c)
        c.send_line("x NOOP")
        _, tagged = c.read_tagged("i")
        self.assertStatus(tagged, "i", "BAD")
        self.assertNoop(c)

    def test_idle_authenticated_state(self):
        """IDLE without a selected mailbox: keepalives, then DONE."""
        c = self.session()
        self.start_idle(c)
        self.assertRegex(c.read_response(timeout=3), r"^\* OK ")
        self.done(c)

    def test_idle_arguments(self):
        c = self.session()
        _, tagged = c.command("i", "IDLE now")
        self.assertStatus(tagged, "i", "BAD")
        d = self.connect()
        _, tagged = d.command("i", "IDLE")
        self.assertStatus(tagged, "i", "BAD")

    def test_no_pushes_after_done(self):
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, name)
        self.start_idle(c)
        self.done(c)
        d = self.session()
        self.append_ok(d, name)
        self.assertEqual(c.quiet(0.7), b"")
        untagged, _ = c.command("n", "NOOP")
        self.assertIn("* 1 EXISTS", untagged)

    def test_disconnect_while_idle(self):
        """A client that vanishes in IDLE, then a change: the server lives."""
        c = self.session()
        name = self.new_mailbox(c)
        self.select(c, name)
        self.start_idle(c)
        c.close()
        d = self.session()
        for _ in range(3):
            self.append_ok(d, name)
        time.sleep(0.3)
        self.assertNoop(d)

    def test_pipelined_after_done(self):
        c = self.session()
        self.select(c, "INBOX")
        self.start_idle(c)
        c.send(b"DONE\r\nn NOOP\r\n")
        _, tagged = c.read_tagged("i")
        self.assertStatus(tagged, "i", "OK")
        _, tagged = c.read_tagged("n")
        self.assertStatus(tagged, "n", "OK")

    def test_imaplib(self):
        m = self.server.imap()
        try:
            m.login("bob", self.users["bob"])
            m.select("INBOX")
            tag = m._new_tag().decode()
            m.send(f"{tag} IDLE\r\n".encode())
            self.assertTrue(m.readline().startswith(b"+"))
            m.send(b"DONE\r\n")
            self.assertTrue(m.readline().startswith(f"{tag} OK".encode()))
            m.logout()
        finally:
            try:
                m.shutdown()
            except OSError:
                pass


class IdleAutologout(MailboxMixin, ServerTestCase):
    """Keepalives are server traffic: a client silent in IDLE for
    idle_timeout is logged out (RFC 9051 §6.3.13 allows it)."""

    settings = {"idle_keepalive": "1s", "idle_timeout": "3s"}

    def test_autologout_in_idle(self):
        c = self.session()
        self.select(c, "INBOX")
        c.send_line("i IDLE")
        self.assertEqual(c.read_response(), "+ idling")
        t0 = time.monotonic()
        lines = []
        try:
            while True:
                lines.append(c.read_response(timeout=6))
        except (EOFError, ConnectionResetError):
            pass
        elapsed = time.monotonic() - t0
        self.assertTrue(any(l.startswith("* OK ") for l in lines), lines)
        self.assertTrue(lines and lines[-1].startswith("* BYE "), lines)
        self.assertGreater(elapsed, 2.5)
        self.assertLess(elapsed, 5)
