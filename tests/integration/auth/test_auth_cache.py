"""The verified-password cache (auth_cache_ttl, auth_cache_size): the same
user logging in again is answered without the slow hash; a wrong password
never is; a password change takes effect at once although the old one
was cached; with the cache off every check hashes. Observed through
roost_auth_cache_lookups_total, not through timing."""

import http.client
import re
import signal
import time

from harness import HOST, ServerTestCase, free_ports, quote, run_cli, status_re


def cache_counts(port):
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    counts = {}
    for m in re.finditer(r'^roost_auth_cache_lookups_total\{result="(\w+)"\} (\d+)$', body,
                         re.M):
        counts[m.group(1)] = int(m.group(2))
    return counts.get("hit", 0), counts.get("miss", 0)


class AuthCacheBase(ServerTestCase):
    port = free_ports(1)[0]

    def try_login(self, user, pw, tag="L"):
        c = self.connect()
        try:
            return c.command(tag, f"LOGIN {quote(user)} {quote(pw)}")[1]
        finally:
            c.close()


class AuthCache(AuthCacheBase):
    settings = {"metrics_listen": f"{HOST}:{AuthCacheBase.port}", "password_scheme": "ARGON2ID",
                "auth_fail_delay_ms": "0"}

    def test_second_login_hits_wrong_password_misses(self):
        pw = self.users["alice"]
        hit0, miss0 = cache_counts(self.port)
        self.assertRegex(self.try_login("alice", pw), status_re("L", "OK"))
        self.assertRegex(self.try_login("alice", pw), status_re("L", "OK"))
        hit1, miss1 = cache_counts(self.port)
        self.assertEqual((hit1 - hit0, miss1 - miss0), (1, 1))
        # a wrong password after a cached right one: hashed, refused
        self.assertRegex(self.try_login("alice", pw + "x"),
                         status_re("L", "NO", "AUTHENTICATIONFAILED"))
        hit2, miss2 = cache_counts(self.port)
        self.assertEqual((hit2 - hit1, miss2 - miss1), (0, 1))

    def test_password_change_invalidates(self):
        old = self.users["bob"]
        self.assertRegex(self.try_login("bob", old), status_re("L", "OK"))
        self.assertRegex(self.try_login("bob", old), status_re("L", "OK"))  # cached now
        r = run_cli(["user", "passwd", "bob", "--password-stdin", "-c", self.server.conf],
                    "changed-Pass-9\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.server.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while True:  # the reload is asynchronous: wait until it took
            t = self.try_login("bob", "changed-Pass-9")
            if " OK " in t or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertRegex(t, status_re("L", "OK"))
        self.assertRegex(self.try_login("bob", old), status_re("L", "NO", "AUTHENTICATIONFAILED"))


class AuthCacheOff(AuthCacheBase):
    port = free_ports(1)[0]
    settings = {"metrics_listen": f"{HOST}:{port}", "auth_cache_ttl": "0"}

    def test_every_check_hashes(self):
        pw = self.users["alice"]
        for _ in range(3):
            self.assertRegex(self.try_login("alice", pw), status_re("L", "OK"))
        hit, miss = cache_counts(self.port)
        self.assertEqual(hit, 0)
        self.assertGreaterEqual(miss, 3)
