"""`roost check-config`: effective settings, -o overrides, error messages."""

import os
import re
import shutil
import tempfile
import unittest

from harness import RoostServer, run_cli

KV = re.compile(r"^([a-z_][a-z0-9_]*) = ?(.*)$")


def settings_of(stdout):
    out = {}
    for line in stdout.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        m = KV.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


class CheckConfig(unittest.TestCase):

    def setUp(self):
        self.server = RoostServer()     # not started: only its files
        self.addCleanup(self.server.cleanup)
        self.conf = self.server.conf
        self.tmp = tempfile.mkdtemp(prefix="roost-it-conf-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def check(self, *extra, conf=None):
        return run_cli(["check-config", "-c", conf or self.conf] + list(extra))

    def write(self, text, name="roost.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_prints_settings(self):
        """Exit 0; `key = value` lines for imap_listen, imaps_listen,
        tls_cert, tls_key, passwd_file, mail_root, state_dir, log_level,
        threads; values as configured."""
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        s = settings_of(r.stdout)
        for key in ("imap_listen", "imaps_listen", "tls_cert", "tls_key", "passwd_file",
                    "mail_root", "state_dir", "log_level", "threads", "plaintext_auth",
                    "max_line_length", "max_literal_size", "max_literal_size_preauth",
                    "preauth_timeout", "idle_timeout", "password_scheme", "auth_workers"):
            self.assertIn(key, s, r.stdout)
        self.assertEqual(s["imap_listen"], f"127.0.0.1:{self.server.imap_port}")
        self.assertEqual(s["log_level"], "info")
        self.assertEqual(s["password_scheme"].upper(), "SHA512-CRYPT")

    def test_relative_paths_resolved(self):
        """Relative paths are resolved against the config file's directory
        (not the current directory)."""
        r = self.check()
        self.assertEqual(r.returncode, 0, r.stderr)
        s = settings_of(r.stdout)
        d = os.path.realpath(self.server.dir)
        for key, rel in (("tls_cert", "tls/cert.pem"), ("tls_key", "tls/key.pem"),
                         ("passwd_file", "passwd"), ("mail_root", "mail"), ("state_dir", "state")):
            self.assertEqual(os.path.realpath(os.path.normpath(s[key])), os.path.join(d, rel), key)

    def test_override(self):
        """`-o log_level=debug` shows as `log_level = debug`; the last of
        two -o for one key wins."""
        r = self.check("-o", "log_level=debug")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(settings_of(r.stdout)["log_level"], "debug")
        r = self.check("-o", "threads=3", "-o", "threads=5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(settings_of(r.stdout)["threads"], "5")

    def test_override_unknown_key(self):
        """`-o no_such_key=1` fails (exit non-zero) naming the key."""
        r = self.check("-o", "no_such_key=1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no_such_key", r.stderr)

    def test_defaults(self):
        """A config with only comments yields the documented defaults."""
        path = self.write("# nothing\n; still nothing\n\n")
        r = self.check(conf=path)
        self.assertEqual(r.returncode, 0, r.stderr)
        s = settings_of(r.stdout)
        self.assertEqual(s["imap_listen"], "127.0.0.1:1143")
        self.assertEqual(s["imaps_listen"], "127.0.0.1:1993")
        self.assertEqual(s["plaintext_auth"], "loopback")
        self.assertEqual(s["log_level"], "info")
        self.assertEqual(s["password_scheme"].upper(), "ARGON2ID")

    def test_unknown_key_reports_file_and_line(self):
        """An unknown key on line 3 => exit non-zero, stderr has
        "CONF:3:" (the path as given) and the key."""
        path = self.write("# comment\nlog_level = info\nbogus_key = 1\n")
        r = self.check(conf=path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{path}:3:", r.stderr)
        self.assertIn("bogus_key", r.stderr)

    def test_bad_values_report_line(self):
        """Bad values => exit non-zero with "CONF:LINE:": a non-number
        for threads, an unknown log level, an unknown plaintext_auth, a
        size with a bad suffix, a duplicate key."""
        cases = [
            ("log_level = info\nthreads = many\n", 2),
            ("log_level = loud\n", 1),
            ("\n\nplaintext_auth = sometimes\n", 3),
            ("max_line_length = 12q\n", 1),
            ("threads = 1\nthreads = 2\n", 2),
        ]
        for text, line in cases:
            with self.subTest(text=text):
                path = self.write(text)
                r = self.check(conf=path)
                self.assertNotEqual(r.returncode, 0, r.stdout)
                self.assertIn(f"{path}:{line}:", r.stderr)

    def test_sizes_and_durations(self):
        """Sizes accept k/m/g, durations s/m/h/d."""
        path = self.write("max_line_length = 8k\nmax_literal_size = 2m\n"
                          "preauth_timeout = 2m\nidle_timeout = 1h\n")
        r = self.check(conf=path)
        self.assertEqual(r.returncode, 0, r.stderr)
        s = settings_of(r.stdout)
        self.assertIn(s["max_line_length"].lower(), ("8192", "8k"))
        self.assertIn(s["max_literal_size"].lower(), ("2097152", "2m", "2048k"))
        self.assertIn(s["preauth_timeout"].lower(), ("120", "120s", "2m"))
        self.assertIn(s["idle_timeout"].lower(), ("3600", "3600s", "60m", "1h"))

    def test_missing_file(self):
        """A config path that does not exist => exit non-zero, message on
        stderr."""
        r = self.check(conf=os.path.join(self.tmp, "absent.conf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip())

    def test_serve_refuses_bad_config(self):
        """`roost serve` with a bad config exits non-zero at once with the
        file:line message."""
        path = self.write("bogus_key = 1\n")
        r = run_cli(["serve", "-c", path], timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"{path}:1:", r.stderr)
