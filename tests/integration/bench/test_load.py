"""Smoke test of bench/load (roost-load, the IMAP load generator of issue 6).

Runs build/roost-load (found next to ROOST_BIN) against a real roost for
every workload with 10-20 sessions for 2 s and checks its JSON report
against what the server says afterwards: operations happened, no errors,
every idle session heard every delivery within 2 s, fetch-bulk counted
exactly the mailbox's size for every FETCH, the OK APPENDs are in the
mailbox, a sync run leaves the mailbox as it found it.

The server's traffic governance (per-user command rate, CPU share,
per-address connect rate and per-user session caps) is switched off: a few
users carry all the sessions here, and what is under test is the load
generator, not the limits (tests/integration/limits/ covers those). Mail is
fsynced as by default.
"""

import json
import os
import re
import subprocess
import unittest

from harness import HOST, USERS, ServerTestCase, roost_bin

LOAD_BIN = os.path.join(os.path.dirname(roost_bin()), "roost-load")
RUN_TIMEOUT = 60

# One user per workload whose mailbox the test checks, so that runs do not
# disturb each other's counts.
LOAD_USERS = {
    "fetcher": "fetcher-Pass-1",
    "appender": "appender-Pass-2",
    "syncer": "syncer-Pass-3",
    "searcher": 'se arch"er\\4',
}


def message(i, size):
    head = (f"From: Bob Example <bob@example.com>\r\nTo: alice@example.com\r\n"
            f"Subject: load test {i}\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
            f"Message-ID: <load-{i}@example.com>\r\n\r\n").encode()
    line = b"the meeting report is attached, please review it before next week\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


@unittest.skipUnless(os.access(LOAD_BIN, os.X_OK),
                     f"roost-load not built next to the roost binary ({LOAD_BIN}); "
                     "build the roost-load target")
class LoadSmokeTest(ServerTestCase):
    users = dict(USERS, **LOAD_USERS)
    settings = {
        "command_rate": 0,
        "user_cpu_percent": 0,
        "connect_rate_per_ip": 0,
        "max_preauth_connections_per_ip": 0,
        "max_user_connections": 0,
        "max_userip_connections": 0,
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Sizes chosen so FETCH literals span many reads (300 KB) and short
        # ones share a read.
        sizes = [600, 2000, 9000, 40000, 300000, 1200]
        for user in ("fetcher", "syncer", "searcher", "alice", "bob"):
            c = cls.server.imap()
            c.login(user, cls.users[user])
            for i, size in enumerate(sizes):
                typ, _ = c.append("INBOX", None, None, message(i, size))
                assert typ == "OK"
            c.logout()

    # -- helpers
    def users_file(self, names):
        path = os.path.join(self.server.dir, "load-users-" + "-".join(sorted(names)) + ".txt")
        with open(path, "w") as f:
            for n in names:
                f.write(f"{n} {self.users[n]}\n")
        return path

    def run_load(self, workload, users, clients=10, duration=2, tls=None, extra=(), warmup=0.5):
        port = self.server.imaps_port if tls == "implicit" else self.server.imap_port
        cmd = [LOAD_BIN, "--host", HOST, "--port", str(port), "--users", self.users_file(users),
               "--workload", workload, "--clients", str(clients), "--duration", str(duration),
               "--warmup", str(warmup), "--timeout", "5", "--server-pid", str(self.server.proc.pid),
               "--json"] + list(extra)
        if tls == "starttls":
            cmd.append("--starttls")
        elif tls == "implicit":
            cmd.append("--tls")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        self.assertEqual(r.returncode, 0, f"roost-load exited {r.returncode}: {r.stderr}")
        lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
        self.assertEqual(len(lines), 1, f"stdout: {r.stdout!r}")
        rep = json.loads(lines[0])
        for key in ("workload", "clients", "duration_s", "ops", "ops_per_s", "bytes_in",
                    "bytes_out", "message_bytes", "message_bytes_per_s", "latency_us", "errors",
                    "sessions_established", "sessions_refused", "server"):
            self.assertIn(key, rep)
        self.assertEqual(rep["workload"], workload)
        self.assertEqual(rep["errors"], {}, f"errors; stderr: {r.stderr}")
        self.assertEqual(rep["sessions_refused"], 0)
        self.assertEqual(rep["unfinished"], 0)
        self.assertGreater(rep["ops"], 0)
        self.assertAlmostEqual(rep["ops_per_s"], rep["ops"] / duration, delta=0.2)
        self.assertGreater(rep["bytes_in"], 0)
        if workload != "idle-hold":  # idle sessions only listen in the window
            self.assertGreater(rep["bytes_out"], 0)
        srv = rep["server"]
        self.assertGreater(srv["rss_kib_initial"], 0)
        self.assertGreater(srv["rss_kib_start"], 0)
        self.assertGreaterEqual(srv["rss_kib_peak"], srv["rss_kib_end"])
        # CPU time is read in clock ticks (10 ms): a window in which idle
        # sessions only hear a few Maildir deliveries may cost less than one.
        if workload == "idle-hold":
            self.assertGreaterEqual(srv["cpu_s"], 0)
        else:
            self.assertGreater(srv["cpu_s"], 0)
        for op, h in rep["latency_us"].items():
            self.assertGreater(h["count"], 0, op)
            self.assertTrue(h["p50"] <= h["p99"] <= h["p999"] <= h["max"], (op, h))
        self.server.assert_alive()
        return rep

    def mailbox(self, user):
        """(message count, sum of RFC822.SIZE) of the user's INBOX."""
        c = self.server.imap()
        try:
            c.login(user, self.users[user])
            typ, data = c.select("INBOX", readonly=True)
            n = int(data[0])
            total = 0
            if n:
                typ, data = c.fetch("1:*", "(RFC822.SIZE)")
                for item in data:
                    m = re.search(rb"RFC822\.SIZE (\d+)", item)
                    total += int(m.group(1))
            return n, total
        finally:
            c.logout()

    # -- workloads
    def test_login_storm(self):
        rep = self.run_load("login-storm", ["alice", "bob", "carol"], clients=20)
        lat = rep["latency_us"]
        self.assertEqual(lat["cycle"]["count"], rep["ops"])
        # a cycle whose LOGIN finished in the warmup may end in the window,
        # and one whose LOGIN finished in the window may be cut by its end
        self.assertLessEqual(abs(lat["login"]["count"] - rep["ops"]), 20)
        self.assertGreaterEqual(rep["sessions_established"], rep["ops"])

    def test_login_storm_starttls(self):
        rep = self.run_load("login-storm", ["alice", "carol"], clients=10, tls="starttls")
        self.assertEqual(rep["latency_us"]["cycle"]["count"], rep["ops"])
        # cycles straddle the window's edges (see test_login_storm)
        self.assertLessEqual(abs(rep["latency_us"]["starttls"]["count"] - rep["ops"]), 10)

    def check_idle_hold(self, tls, extra=()):
        clients = 12
        # a warmup long enough for every session to be in IDLE before the
        # first delivery, also on a sanitizer build
        rep = self.run_load("idle-hold", ["alice", "bob", "carol"], clients=clients, tls=tls,
                            extra=["--deliver-every", "0.5"] + list(extra), warmup=1.5)
        self.assertEqual(rep["idle_sessions_peak"], clients)
        self.assertEqual(rep["sessions_established"], clients)
        d = rep["delivery_us"]
        # 4 rounds in 2 s, each heard by every idle session.
        self.assertGreaterEqual(d["rounds"], 3)
        self.assertEqual(d["expected"], clients * d["rounds"])
        self.assertEqual(d["count"], d["expected"])
        self.assertEqual(d["within_2s"], d["count"])
        self.assertEqual(rep["ops"], d["count"])
        self.assertLessEqual(d["max"], 2000000)

    def test_idle_hold(self):
        self.check_idle_hold(None)

    def test_idle_hold_tls(self):
        self.check_idle_hold("implicit")

    def test_idle_hold_maildir(self):
        # deliveries dropped into the users' Maildirs (mail_root/<user>/)
        # by the generator itself, as an external MDA would
        self.check_idle_hold(None, ["--maildir", os.path.join(self.server.dir, "mail", "%u")])

    def check_fetch_bulk(self, tls):
        n, size = self.mailbox("fetcher")
        self.assertEqual(n, 6)
        rep = self.run_load("fetch-bulk", ["fetcher"], clients=10, tls=tls)
        fetches = rep["latency_us"]["fetch_bulk"]["count"]
        self.assertEqual(fetches, rep["ops"])
        self.assertEqual(rep["message_bytes"], size * fetches)

    def test_fetch_bulk(self):
        self.check_fetch_bulk(None)

    def test_fetch_bulk_tls(self):
        self.check_fetch_bulk("implicit")

    def test_append(self):
        before, _ = self.mailbox("appender")
        rep = self.run_load("append", ["appender"], clients=10)
        self.assertEqual(rep["latency_us"]["append"]["count"], rep["ops"])
        self.assertGreaterEqual(rep["appends_ok"], rep["ops"])
        after, _ = self.mailbox("appender")
        self.assertEqual(after - before, rep["appends_ok"])

    def test_sync(self):
        before = self.mailbox("syncer")
        rep = self.run_load("sync", ["syncer"], clients=10, extra=["--append-every", "2"])
        lat = rep["latency_us"]
        for op in ("select", "fetch_flags", "fetch_body", "store", "append", "expunge"):
            self.assertIn(op, lat)
        self.assertEqual(rep["ops"], sum(h["count"] for op, h in lat.items()
                                         if op not in ("connect", "login")))
        self.assertGreater(rep["message_bytes"], 0)
        # every APPEND was expunged again: the mailbox is as before
        self.assertEqual(self.mailbox("syncer"), before)

    def test_mixed(self):
        """isolation.py's everyday client: every command of its round is
        timed, "commands_us" counts them all, and nothing grows."""
        before = self.mailbox("syncer")
        rep = self.run_load("mixed", ["syncer"], clients=5,
                            extra=["--think-ms", "5", "--fetch-bodies", "1"])
        lat = rep["latency_us"]
        ops = ("select", "fetch_flags", "fetch_body", "noop", "store", "search_unseen")
        for op in ops:
            self.assertIn(op, lat)
            self.assertGreater(lat[op]["count"], 0)
        self.assertEqual(rep["commands_us"]["count"], sum(lat[op]["count"] for op in ops))
        self.assertEqual(rep["errors"], {})
        self.assertEqual(self.mailbox("syncer")[0], before[0])

    def test_search(self):
        rep = self.run_load("search", ["searcher"], clients=10)
        lat = rep["latency_us"]
        for op in ("search_text", "search_from", "search_since"):
            self.assertIn(op, lat)
        self.assertEqual(rep["ops"], lat["search_text"]["count"] + lat["search_from"]["count"]
                         + lat["search_since"]["count"])

    def test_bad_usage(self):
        r = subprocess.run([LOAD_BIN, "--workload", "nonsense", "--users", "/dev/null"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown workload", r.stderr)

