"""Password schemes: users made by `roost user add` with each scheme, and
hashes written by other tools (Dovecot-compatible passwd-file)."""

import subprocess

from harness import ServerTestCase, quote, status_re

SCHEMES = {
    "ARGON2ID": ("argon", "argon-Pw-1", "{ARGON2ID}$argon2id$"),
    "SHA512-CRYPT": ("sha", "sha-Pw-2", "{SHA512-CRYPT}$6$"),
    "BLF-CRYPT": ("blf", "blf-Pw-3", "{BLF-CRYPT}$2"),
}


def openssl_sha512_crypt(password, salt="roostsalt"):
    return subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
                          input=password, capture_output=True, text=True,
                          check=True).stdout.strip()


class Schemes(ServerTestCase):
    users = {}

    @classmethod
    def prepare(cls, srv):
        for scheme, (name, pw, _) in SCHEMES.items():
            srv.add_user(name, pw, scheme=scheme)
        # written by hand, as in an existing Dovecot passwd-file
        srv.add_passwd_line("plainuser:{PLAIN}plain-Pw-4")
        srv.add_passwd_line("ext:{SHA512-CRYPT}" + openssl_sha512_crypt("ext-Pw-5")
                            + ":1000:1000::/home/ext::")
        srv.add_passwd_line("bare:" + openssl_sha512_crypt("bare-Pw-6"))
        srv.add_passwd_line("# a comment line")
        srv.add_passwd_line("")

    def test_cli_writes_scheme_prefix(self):
        """`roost user add -o password_scheme=S` stores "{S}..." hashes."""
        for scheme, (name, _, prefix) in SCHEMES.items():
            entry = self.server.passwd_entry(name)
            self.assertIsNotNone(entry, name)
            self.assertTrue(entry.split(":", 1)[1].startswith(prefix), entry)

    def login_result(self, user, pw):
        c = self.connect()
        _, tagged = c.command("a", f"LOGIN {quote(user)} {quote(pw)}")
        return tagged

    def test_login_each_scheme(self):
        """LOGIN succeeds for ARGON2ID, SHA512-CRYPT and BLF-CRYPT users."""
        for scheme, (name, pw, _) in SCHEMES.items():
            with self.subTest(scheme=scheme):
                self.assertRegex(self.login_result(name, pw), status_re("a", "OK"))

    def test_wrong_password_each_scheme(self):
        """A wrong password fails with NO [AUTHENTICATIONFAILED] for every
        scheme."""
        for scheme, (name, pw, _) in SCHEMES.items():
            with self.subTest(scheme=scheme):
                self.assertRegex(self.login_result(name, pw + "x"),
                                 status_re("a", "NO", "AUTHENTICATIONFAILED"))

    def test_foreign_hashes(self):
        """{PLAIN}, an openssl-made {SHA512-CRYPT} with extra fields, and a
        bare crypt hash (treated as {CRYPT}) all verify."""
        for user, pw in (("plainuser", "plain-Pw-4"), ("ext", "ext-Pw-5"), ("bare", "bare-Pw-6")):
            with self.subTest(user=user):
                self.assertRegex(self.login_result(user, pw), status_re("a", "OK"))
                self.assertRegex(self.login_result(user, pw + "!"),
                                 status_re("a", "NO", "AUTHENTICATIONFAILED"))

    def test_imaps_argon2(self):
        """imaplib.IMAP4_SSL login as the ARGON2ID user."""
        m = self.server.imaps()
        try:
            self.assertEqual(m.login("argon", "argon-Pw-1")[0], "OK")
        finally:
            m.logout()
