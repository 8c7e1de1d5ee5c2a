"""LMTP delivery (RFC 2033): every reply path of the session, delivery
through the store checked over IMAP (bytes, folders, IDLE), the unix socket
and TCP listeners, pipelining (RFC 2920), SIZE (RFC 1870), recipient limits,
overlong and malformed lines, a client vanishing in DATA, and the idle
timeout."""

import os
import re
import smtplib
import socket
import time

from harness import HOST, TIMEOUT, USERS, ServerTestCase, free_ports, quote

MAX_SIZE = 8192


class LmtpConn:
    """A byte-exact LMTP client over TCP or the unix socket."""

    def __init__(self, addr, timeout=TIMEOUT):
        if isinstance(addr, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(addr)
        else:
            self.sock = socket.create_connection(addr, timeout=timeout)
        self.timeout = timeout
        self.pending = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def readline(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line; have {self.pending[:200]!r}")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError(f"closed; have {self.pending[:200]!r}")
            self.pending += data
        i = self.pending.index(b"\n") + 1
        line, self.pending = self.pending[:i], self.pending[i:]
        assert line.endswith(b"\r\n"), line
        return line[:-2].decode()

    def reply(self, timeout=None):
        """One (possibly multi-line) reply: (code, [texts])."""
        lines = []
        while True:
            line = self.readline(timeout)
            assert re.match(r"^\d{3}[ -]", line), line
            lines.append(line[4:])
            if line[3] == " ":
                return int(line[:3]), lines

    def expect(self, code, enhanced=None):
        c, lines = self.reply()
        if c != code or (enhanced and not lines[-1].startswith(enhanced + " ")):
            raise AssertionError(f"wanted {code} {enhanced or ''}, got {c} {lines}")
        return lines

    def read_eof(self, timeout=None):
        self.sock.settimeout(timeout or self.timeout)
        data = self.pending
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def close(self):
        self.sock.close()


class LmtpTestCase(ServerTestCase):
    """A server with LMTP on a TCP port and the default unix socket."""

    extra_settings = {}

    @classmethod
    def setUpClass(cls):
        cls.lmtp_port = free_ports(1)[0]
        cls.settings = dict({"lmtp_listen": f"{HOST}:{cls.lmtp_port}",
                             "lmtp_max_message_size": str(MAX_SIZE),
                             "lmtp_max_recipients": "3"}, **cls.extra_settings)
        super().setUpClass()

    def lmtp(self, unix=False, greet=True):
        addr = (os.path.join(self.server.dir, "state", "lmtp.sock") if unix
                else (HOST, self.lmtp_port))
        c = LmtpConn(addr)
        self.addCleanup(c.close)
        if greet:
            c.expect(220)
        return c

    def lhlo(self, c):
        return c.send("LHLO test.example\r\n") or c.expect(250)

    def imap_login(self, user):
        m = self.server.imap()
        self.addCleanup(m.logout)
        typ, _ = m.login(quote(user) if " " in user else user, USERS.get(user, "pw-dave"))
        self.assertEqual(typ, "OK")
        return m

    def messages(self, user, mailbox="INBOX"):
        """Every message of a mailbox as bytes, in UID order."""
        m = self.imap_login(user)
        typ, data = m.select(mailbox, readonly=True)
        self.assertEqual(typ, "OK", data)
        if int(data[0]) == 0:
            return []
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        return [d[1] for d in data if isinstance(d, tuple)]

    def body_of(self, raw):
        """The message after the Return-Path: and Received: lines."""
        self.assertTrue(raw.startswith(b"Return-Path: <"), raw[:80])
        i = raw.index(b"\r\nReceived: ")
        j = raw.index(b"\r\n\tfor <", i)
        k = raw.index(b"\r\n", j + 2)
        return raw[k + 2:]

    def deliver(self, c, rcpts, data, sender="s@x.org"):
        """A whole transaction; returns the per-recipient replies after DATA."""
        c.send(f"MAIL FROM:<{sender}>\r\n")
        c.expect(250, "2.1.0")
        ok = 0
        for r in rcpts:
            c.send(f"RCPT TO:<{r}>\r\n")
            code, _ = c.reply()
            ok += code == 250
        c.send("DATA\r\n")
        c.expect(354)
        c.send(data)
        return [c.reply() for _ in range(ok)]


class Session(LmtpTestCase):

    def test_greeting_and_lhlo_caps(self):
        c = self.lmtp(greet=False)
        code, lines = c.reply()
        self.assertEqual(code, 220)
        self.assertIn("LMTP", lines[0])
        c.send("LHLO client.example\r\n")
        lines = c.expect(250)
        self.assertEqual(lines[1:4], ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME"])
        self.assertEqual(lines[4], f"SIZE {MAX_SIZE}")

    def test_helo_ehlo_refused(self):
        c = self.lmtp()
        for verb in ("HELO", "EHLO", "helo"):
            c.send(f"{verb} client.example\r\n")
            c.expect(500, "5.5.1")
        self.lhlo(c)

    def test_bad_sequences(self):
        c = self.lmtp()
        c.send("MAIL FROM:<a@b.org>\r\n")
        c.expect(503, "5.5.1")
        self.lhlo(c)
        c.send("RCPT TO:<alice@x.org>\r\n")
        c.expect(503, "5.5.1")
        c.send("DATA\r\n")
        c.expect(503, "5.5.1")
        c.send("MAIL FROM:<a@b.org>\r\n")
        c.expect(250, "2.1.0")
        c.send("MAIL FROM:<a@b.org>\r\n")
        c.expect(503, "5.5.1")
        # DATA without a valid recipient (RFC 2033 §4.2)
        c.send("DATA\r\n")
        c.expect(503, "5.5.1")
        c.send("RCPT TO:<nobody@x.org>\r\n")
        c.expect(550, "5.1.1")
        c.send("DATA\r\n")
        c.expect(503, "5.5.1")

    def test_unknown_user(self):
        c = self.lmtp()
        self.lhlo(c)
        c.send("MAIL FROM:<>\r\n")
        c.expect(250)
        for rcpt in ("nobody@x.org", "\"a b\"@x.org", "alice@", "postmaster"):
            c.send(f"RCPT TO:<{rcpt}>\r\n")
            code, lines = c.reply()
            self.assertIn(code, (550, 501), (rcpt, lines))
        c.send("RCPT TO:<nobody@x.org>\r\n")
        lines = c.expect(550, "5.1.1")
        self.assertIn("<nobody@x.org>", lines[0])

    def test_malformed_commands(self):
        c = self.lmtp()
        self.lhlo(c)
        for line, code, enh in (("MAIL FROM:a@b.org", 501, "5.5.4"),
                                ("MAIL FROM <a@b.org>", 501, "5.5.4"),
                                ("MAIL FROM:<a@b.org> FOO=1", 555, "5.5.4"),
                                ("MAIL FROM:<a@b.org> SIZE=abc", 501, "5.5.4"),
                                ("MAIL FROM:<a@b.org> BODY=BINARYMIME", 501, "5.5.4"),
                                ("LHLO", 501, "5.5.4"),
                                ("FROB", 500, "5.5.1"),
                                ("RSET now", 501, "5.5.4"),
                                ("VRFY", 501, "5.5.4")):
            c.send(line + "\r\n")
            c.expect(code, enh)
        c.send(b"NO\x00OP\r\n")
        c.expect(500, "5.5.2")
        c.send("VRFY alice\r\n")
        c.expect(252, "2.5.2")
        c.send("NOOP\r\n")
        c.expect(250, "2.0.0")
        c.send("MAIL FROM:<a@b.org>\r\n")
        c.expect(250)
        c.send("RCPT TO:<alice@x.org> NOTIFY=NEVER\r\n")
        c.expect(555, "5.5.4")
        c.send("DATA now\r\n")
        c.expect(501, "5.5.4")

    def test_overlong_line(self):
        c = self.lmtp()
        self.lhlo(c)
        c.send("NOOP " + "x" * 100000 + "\r\n")
        c.expect(500, "5.5.2")
        c.send("NOOP\r\n")
        c.expect(250)

    def test_rset(self):
        c = self.lmtp()
        self.lhlo(c)
        c.send("MAIL FROM:<a@b.org>\r\nRCPT TO:<alice@x.org>\r\nRSET\r\n")
        c.expect(250)
        c.expect(250)
        c.expect(250, "2.0.0")
        c.send("RCPT TO:<alice@x.org>\r\n")
        c.expect(503, "5.5.1")
        c.send("MAIL FROM:<a@b.org>\r\n")
        c.expect(250)

    def test_quit(self):
        c = self.lmtp()
        c.send("QUIT\r\n")
        c.expect(221, "2.0.0")
        self.assertEqual(c.read_eof(), b"")


class Delivery(LmtpTestCase):

    @classmethod
    def prepare(cls, server):
        server.add_user("dave@example.org", "pw-dave")

    def test_multi_recipient_one_reply_each(self):
        c = self.lmtp()
        self.lhlo(c)
        before = {u: len(self.messages(u)) for u in ("alice", "bob")}
        replies = self.deliver(c, ["alice@x.org", "nobody@x.org", "bob@x.org"],
                               "Subject: multi\r\n\r\nhello\r\n.\r\n")
        self.assertEqual([r[0] for r in replies], [250, 250])
        self.assertIn("<alice@x.org>", replies[0][1][0])
        self.assertIn("<bob@x.org>", replies[1][1][0])
        self.assertTrue(replies[0][1][0].startswith("2.0.0 "))
        c.send("NOOP\r\n")
        c.expect(250)   # nothing else was queued
        for u in ("alice", "bob"):
            msgs = self.messages(u)
            self.assertEqual(len(msgs), before[u] + 1)
            self.assertEqual(self.body_of(msgs[-1]), b"Subject: multi\r\n\r\nhello\r\n")
            self.assertIn(f"for <{u}@x.org>".encode(), msgs[-1])

    def test_dot_stuffing_and_exact_bytes(self):
        c = self.lmtp()
        self.lhlo(c)
        data = (b"Subject: dots\r\n\r\n..leading dot\r\n...two\r\n.\t tab\r\nmid.dle\r\n"
                b"\xc3\xa9 8bit\r\n..\r\n.\r\n")
        self.deliver(c, ["carol@x.org"], data)
        raw = self.messages("carol")[-1]
        self.assertEqual(self.body_of(raw), b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n"
                         b"\t tab\r\nmid.dle\r\n\xc3\xa9 8bit\r\n.\r\n")
        self.assertTrue(raw.startswith(b"Return-Path: <s@x.org>\r\nReceived: from test.example"))
        self.assertRegex(raw.decode("utf-8", "replace"),
                         r"\tfor <carol@x\.org>; \w{3}, \d{2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")

    def test_null_sender_and_smtplib(self):
        lm = smtplib.LMTP(HOST, self.lmtp_port, timeout=TIMEOUT)
        self.addCleanup(lm.close)
        refused = lm.sendmail("", ["alice@x.org", "nobody@x.org"],
                              b"Subject: via smtplib\r\n\r\nbody\r\n")
        self.assertEqual(list(refused), ["nobody@x.org"])
        lm.quit()
        raw = self.messages("alice")[-1]
        self.assertTrue(raw.startswith(b"Return-Path: <>\r\n"))

    def test_pipelined_transaction(self):
        c = self.lmtp()
        n = len(self.messages("bob"))
        c.send("LHLO p.example\r\nMAIL FROM:<p@x.org>\r\nRCPT TO:<bob@x.org>\r\n"
               "RCPT TO:<nobody@x.org>\r\nRCPT TO:<alice@x.org>\r\nDATA\r\n")
        c.expect(250)
        c.expect(250, "2.1.0")
        c.expect(250, "2.1.5")
        c.expect(550, "5.1.1")
        c.expect(250, "2.1.5")
        c.expect(354)
        # the message, the next transaction and QUIT in one write
        c.send("Subject: p1\r\n\r\none\r\n.\r\nMAIL FROM:<p@x.org>\r\nRCPT TO:<bob@x.org>\r\n"
               "DATA\r\n")
        c.expect(250, "2.0.0")
        c.expect(250, "2.0.0")
        c.expect(250)
        c.expect(250)
        c.expect(354)
        c.send("Subject: p2\r\n\r\ntwo\r\n.\r\nQUIT\r\n")
        c.expect(250, "2.0.0")
        c.expect(221)
        msgs = self.messages("bob")
        self.assertEqual(len(msgs), n + 2)
        self.assertTrue(self.body_of(msgs[-1]).startswith(b"Subject: p2"))

    def test_size_limits(self):
        c = self.lmtp()
        self.lhlo(c)
        c.send(f"MAIL FROM:<a@b.org> SIZE={MAX_SIZE + 1}\r\n")
        c.expect(552, "5.3.4")
        c.send(f"MAIL FROM:<a@b.org> SIZE={MAX_SIZE // 2} BODY=8BITMIME\r\n")
        c.expect(250)
        c.send("RCPT TO:<alice@x.org>\r\nRCPT TO:<bob@x.org>\r\nDATA\r\n")
        c.expect(250)
        c.expect(250)
        c.expect(354)
        n = len(self.messages("alice"))
        big = b"Subject: big\r\n\r\n" + (b"y" * 99 + b"\r\n") * (MAX_SIZE // 50) + b".\r\n"
        c.send(big)
        c.expect(552, "5.3.4")
        c.expect(552, "5.3.4")
        c.send("NOOP\r\n")
        c.expect(250)   # still in step
        self.assertEqual(len(self.messages("alice")), n)

    def test_too_many_recipients(self):
        c = self.lmtp()
        self.lhlo(c)
        c.send("MAIL FROM:<a@b.org>\r\n")
        c.expect(250)
        for r in ("alice@x.org", "bob@x.org", "carol@x.org"):
            c.send(f"RCPT TO:<{r}>\r\n")
            c.expect(250)
        c.send("RCPT TO:<alice+x@x.org>\r\n")
        c.expect(452, "4.5.3")
        c.send("DATA\r\n")
        c.expect(354)
        c.send("Subject: three\r\n\r\n.\r\n")
        for _ in range(3):
            c.expect(250)

    def test_disconnect_in_data_delivers_nothing(self):
        n = len(self.messages("carol"))
        c = self.lmtp()
        self.lhlo(c)
        c.send("MAIL FROM:<a@b.org>\r\nRCPT TO:<carol@x.org>\r\nDATA\r\n")
        c.expect(250)
        c.expect(250)
        c.expect(354)
        c.send("Subject: cut\r\n\r\nhalf a message\r\n")
        c.close()
        time.sleep(0.3)
        self.assertEqual(len(self.messages("carol")), n)
        self.server.assert_alive()

    def test_detail_folder_and_fallback(self):
        m = self.imap_login("bob")
        m.create("lists")
        n_inbox = len(self.messages("bob"))
        c = self.lmtp()
        self.lhlo(c)
        self.deliver(c, ["bob+lists@x.org"], "Subject: to lists\r\n\r\n.\r\n")
        self.deliver(c, ["bob+nosuch@x.org"], "Subject: to inbox\r\n\r\n.\r\n")
        lists = self.messages("bob", "lists")
        self.assertEqual(len(lists), 1)
        self.assertIn(b"Subject: to lists", lists[0])
        inbox = self.messages("bob")
        self.assertEqual(len(inbox), n_inbox + 1)
        self.assertIn(b"Subject: to inbox", inbox[-1])
        self.assertIn(b"for <bob+nosuch@x.org>", inbox[-1])

    def test_user_names_with_domain(self):
        c = self.lmtp()
        self.lhlo(c)
        replies = self.deliver(c, ["dave@example.org", "dave+x@example.org"],
                               "Subject: dave\r\n\r\n.\r\n")
        self.assertEqual([r[0] for r in replies], [250, 250])
        self.assertEqual(len(self.messages("dave@example.org")), 2)
        c.send("MAIL FROM:<a@b.org>\r\nRCPT TO:<dave@other.org>\r\n")
        c.expect(250)
        c.expect(550, "5.1.1")

    def test_unix_socket(self):
        n = len(self.messages("alice"))
        path = os.path.join(self.server.dir, "state", "lmtp.sock")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o660)
        c = self.lmtp(unix=True)
        self.lhlo(c)
        replies = self.deliver(c, ["alice@x.org"], "Subject: unix\r\n\r\n.\r\n")
        self.assertEqual(replies[0][0], 250)
        raw = self.messages("alice")[-1]
        self.assertEqual(len(self.messages("alice")), n + 1)
        self.assertIn(b"(local)", raw)

    def test_idle_hears_delivery(self):
        c = self.connect()
        self.login(c, "carol")
        _, tagged = c.command("s", "SELECT INBOX")
        self.assertStatus(tagged, "s", "OK")
        c.send_line("i IDLE")
        self.assertEqual(c.read_response(), "+ idling")
        lm = self.lmtp()
        self.lhlo(lm)
        self.deliver(lm, ["carol@x.org"], "Subject: push\r\n\r\n.\r\n")
        line = c.read_response(timeout=5)
        self.assertRegex(line, r"^\* \d+ EXISTS$")
        c.send_line("DONE")
        _, tagged = c.read_tagged("i")
        self.assertStatus(tagged, "i", "OK")

    def test_metrics_log_lines(self):
        c = self.lmtp()
        self.lhlo(c)
        self.deliver(c, ["alice@x.org"], "Subject: secret-subject\r\n\r\nsecret-body\r\n.\r\n",
                     sender="log@x.org")
        time.sleep(0.1)
        log = self.server.log()
        lines = [l for l in log.splitlines() if "event=lmtp_delivery" in l and "log@x.org" in l]
        self.assertEqual(len(lines), 1, log[-2000:])
        self.assertRegex(lines[0], r'to="alice@x\.org" user=alice mailbox="INBOX" uid=\d+ '
                                   r'size=\d+ result=ok')
        self.assertNotIn("secret", log)


class Timeout(LmtpTestCase):

    extra_settings = {"lmtp_timeout": "1s"}

    def test_idle_timeout_421(self):
        c = self.lmtp()
        self.lhlo(c)
        start = time.monotonic()
        code, lines = c.reply(timeout=5)
        self.assertEqual(code, 421)
        self.assertTrue(lines[0].startswith("4.4.2 "), lines)
        self.assertIn("timeout", lines[0].lower())
        self.assertLess(time.monotonic() - start, 4)
        self.assertEqual(c.read_eof(), b"")


class Disabled(ServerTestCase):

    settings = {"lmtp_socket": ""}

    def test_no_socket_when_disabled(self):
        self.assertFalse(os.path.exists(os.path.join(self.server.dir, "state", "lmtp.sock")))


class Quota(LmtpTestCase):
    """store quota (mail_quota) as LMTP replies: 552 5.2.2 when the message
    alone can never fit, 452 4.2.2 when the mailbox is full; at RCPT when
    MAIL declared a SIZE, else after DATA."""

    extra_settings = {"mail_quota": "4k"}

    def msg(self, n):
        return "Subject: q\r\n\r\n" + ("z" * 98 + "\r\n") * (n // 100) + ".\r\n"

    def test_declared_size_over_quota_at_rcpt(self):
        c = self.lmtp()
        self.lhlo(c)
        c.send("MAIL FROM:<a@b.org> SIZE=5000\r\nRCPT TO:<alice@x.org>\r\n")
        c.expect(250)
        c.expect(552, "5.2.2")

    def test_message_alone_too_big_after_data(self):
        c = self.lmtp()
        self.lhlo(c)
        replies = self.deliver(c, ["bob@x.org"], self.msg(5000))
        self.assertEqual(replies[0][0], 552)
        self.assertTrue(replies[0][1][0].startswith("5.2.2 "), replies)

    def test_mailbox_full(self):
        c = self.lmtp()
        self.lhlo(c)
        replies = self.deliver(c, ["carol@x.org"], self.msg(3000))
        self.assertEqual(replies[0][0], 250)
        replies = self.deliver(c, ["carol@x.org"], self.msg(3000))
        self.assertEqual(replies[0][0], 452)
        self.assertTrue(replies[0][1][0].startswith("4.2.2 "), replies)
        c.send("MAIL FROM:<a@b.org> SIZE=2000\r\nRCPT TO:<carol@x.org>\r\n")
        c.expect(250)
        c.expect(452, "4.2.2")
        self.assertEqual(len(self.messages("carol")), 1)
