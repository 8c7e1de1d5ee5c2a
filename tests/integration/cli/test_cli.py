"""The roost command line: user add/passwd/del, version, usage errors."""

import os
import stat
import unittest

from harness import RoostServer, quote, run_cli, status_re

PW1 = "first-Pass-1"
PW2 = "second-Pass-2"


class UserCommands(unittest.TestCase):

    def setUp(self):
        self.server = RoostServer()
        self.addCleanup(self.server.cleanup)
        self.conf = self.server.conf

    def user(self, *args, password=None):
        argv = ["user"] + list(args) + ["-c", self.conf]
        if password is not None:
            argv.insert(3, "--password-stdin")
        return run_cli(argv, None if password is None else password + "\n")

    def login(self, user, pw):
        """Starts the server (it reads the passwd-file at start), tries one
        LOGIN, stops it; returns the tagged line."""
        srv = self.server
        srv.proc = None
        srv.start()
        try:
            c = srv.raw()
            try:
                c.greeting()
                return c.command("a", f"LOGIN {quote(user)} {quote(pw)}")[1]
            finally:
                c.close()
        finally:
            srv.stop()

    def test_round_trip(self):
        """add => can log in; passwd => new password works, old does not;
        del => cannot log in; del again => exit 1."""
        r = self.user("add", "dave", password=PW1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(self.login("dave", PW1), status_re("a", "OK"))
        r = self.user("passwd", "dave", password=PW2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(self.login("dave", PW2), status_re("a", "OK"))
        self.assertRegex(self.login("dave", PW1), status_re("a", "NO", "AUTHENTICATIONFAILED"))
        r = self.user("del", "dave")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(self.server.passwd_entry("dave"))
        self.assertRegex(self.login("dave", PW2), status_re("a", "NO", "AUTHENTICATIONFAILED"))
        r = self.user("del", "dave")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.strip())

    def test_add_existing_fails(self):
        """`user add` of an existing user => exit 1, entry unchanged."""
        self.assertEqual(self.user("add", "erin", password=PW1).returncode, 0)
        before = self.server.passwd_entry("erin")
        r = self.user("add", "erin", password=PW2)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.server.passwd_entry("erin"), before)

    def test_passwd_missing_user_fails(self):
        """`user passwd` of a missing user => exit 1, user not created."""
        r = self.user("passwd", "nobody", password=PW1)
        self.assertEqual(r.returncode, 1)
        self.assertIsNone(self.server.passwd_entry("nobody"))

    def test_invalid_names(self):
        """Names with ':', spaces or control characters, or empty, are
        refused (exit non-zero) and nothing is written."""
        for name in ("a:b", "a b", "tab\there", ""):
            with self.subTest(name=name):
                r = self.user("add", name, password=PW1)
                self.assertNotEqual(r.returncode, 0)
        with open(self.server.passwd) as f:
            self.assertEqual(f.read().strip(), "")

    def test_new_passwd_file_mode(self):
        """A passwd-file created by `user add` is mode 0600 and holds
        `name:{SCHEME}hash`; other users' lines are kept on rewrite."""
        os.unlink(self.server.passwd)
        self.assertEqual(self.user("add", "fay", password=PW1).returncode, 0)
        mode = stat.S_IMODE(os.stat(self.server.passwd).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertRegex(self.server.passwd_entry("fay"), r"^fay:\{SHA512-CRYPT\}\$6\$")
        self.server.add_passwd_line("gus:{PLAIN}x:1000:1000::/home/gus::extra")
        self.assertEqual(self.user("add", "hal", password=PW1).returncode, 0)
        self.assertEqual(self.user("passwd", "fay", password=PW2).returncode, 0)
        self.assertEqual(self.server.passwd_entry("gus"), "gus:{PLAIN}x:1000:1000::/home/gus::extra")
        self.assertIsNotNone(self.server.passwd_entry("hal"))

    def test_password_not_echoed(self):
        """The password never appears on stdout or stderr."""
        r = self.user("add", "ivy", password=PW1)
        self.assertNotIn(PW1, r.stdout + r.stderr)


class Usage(unittest.TestCase):

    def test_version(self):
        """`roost version` => exit 0, prints a version number."""
        r = run_cli(["version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\d+\.\d+\.\d+")

    def test_usage_errors_exit_2(self):
        """Unknown subcommand, `user` without action, `user add` without a
        name, an unknown option => exit 2 with a message on stderr."""
        for argv in (["frobnicate"], ["user"], ["user", "add"], ["check-config", "--bogus"],
                     ["user", "explode", "x"]):
            with self.subTest(argv=argv):
                r = run_cli(argv)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.strip())

    def test_no_arguments(self):
        """`roost` alone => exit 2 with usage."""
        r = run_cli([])
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage", (r.stdout + r.stderr).lower())
