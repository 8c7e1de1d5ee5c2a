"""`roost who` and `roost kick` over the control socket (issue 4 item 7)."""

import os
import pwd
import re
import socket
import stat

from harness import USERS, ServerTestCase, run_cli, status_re


class Admin(ServerTestCase):
    settings = {"mail_fsync": "no"}
    users = dict(USERS)

    def sock_path(self):
        return os.path.join(self.server.dir, "state", "control.sock")

    def who(self):
        r = run_cli(["who", "-c", self.server.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("USER"), r.stdout)
        return [line.split() for line in lines[1:]]

    def test_socket_mode(self):
        st = os.stat(self.sock_path())
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertEqual(st.st_uid, os.geteuid())

    def test_who_lists_sessions(self):
        a = self.connect()
        self.login(a, "alice")
        _, tagged = a.command("S1", "SELECT INBOX")
        self.assertRegex(tagged, status_re("S1", "OK"))
        b = self.connect()
        self.login(b, "bob")
        rows = {r[0]: r for r in self.who() if r[0] in ("alice", "bob")}
        self.assertEqual(set(rows), {"alice", "bob"})
        # USER IP STATE MAILBOX SINCE BYTES_IN BYTES_OUT SID ("authenticated" is one word)
        alice, bob = rows["alice"], rows["bob"]
        self.assertEqual(alice[1:4], ["127.0.0.1", "selected", "INBOX"])
        self.assertEqual(bob[1:4], ["127.0.0.1", "authenticated", "-"])
        for r in (alice, bob):
            self.assertRegex(r[4], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertGreater(int(r[5]), 20)
            self.assertGreater(int(r[6]), 20)
            self.assertRegex(r[7], r"^[0-9a-f]{16}$")
            self.assertIn(f"sid={r[7]}", self.server.log())

    def test_kick_one_user(self):
        cs = [self.connect() for _ in range(2)]
        for c in cs:
            self.login(c, "carol")
        d = self.connect()
        self.login(d, "dave" if "dave" in self.users else "bob")
        r = run_cli(["kick", "carol", "-c", self.server.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("kicked 2 session(s)", r.stdout)
        for c in cs:
            line = c.read_response(timeout=5)
            self.assertRegex(line, r"^\* BYE \[UNAVAILABLE\] Disconnected by administrator")
            self.assertEqual(c.read_until_eof(timeout=5), b"")
        self.assertNoop(d)
        r = run_cli(["kick", "carol", "10.9.9.9", "-c", self.server.conf])
        self.assertIn("kicked 0 session(s)", r.stdout)
        r = run_cli(["kick", "nobody-here", "-c", self.server.conf])
        self.assertIn("kicked 0 session(s)", r.stdout)

    def test_kick_by_ip(self):
        c = self.connect()
        self.login(c, "alice")
        r = run_cli(["kick", "alice", "127.0.0.2", "-c", self.server.conf])
        self.assertIn("kicked 0 session(s)", r.stdout)
        self.assertNoop(c)
        r = run_cli(["kick", "alice", "127.0.0.1", "-c", self.server.conf])
        self.assertIn("kicked", r.stdout)
        self.assertRegex(c.read_response(timeout=5), r"^\* BYE \[UNAVAILABLE\]")

    def test_bad_request(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock_path())
        s.sendall(b"HELLO\n")
        self.assertEqual(s.recv(100), b"ERR unknown request\n")
        s.close()

    def test_other_uid_refused(self):
        """A different (non-root) uid is refused by SO_PEERCRED, even when
        the socket's file mode would let it connect."""
        if os.geteuid() != 0:
            self.skipTest("needs root to switch to another uid")
        nobody = pwd.getpwnam("nobody").pw_uid
        path = self.sock_path()
        os.chmod(path, 0o666)  # only the credential check is left
        os.chmod(os.path.dirname(path), 0o755)
        os.chmod(self.server.dir, 0o755)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setuid(nobody)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                # The refusal comes at once, before any request is read.
                os.write(w, s.recv(100) or b"EOF")
            except BaseException as e:  # noqa: BLE001 - report anything
                os.write(w, repr(e).encode())
            os._exit(0)
        os.close(w)
        out = os.read(r, 200)
        os.waitpid(pid, 0)
        os.chmod(path, 0o600)
        self.assertEqual(out, b"ERR permission denied\n")
        self.assertRegex(self.server.log(), rf"event=control_refused uid={nobody}\b")
