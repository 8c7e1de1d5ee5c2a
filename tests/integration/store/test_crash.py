"""Crash safety: SIGKILL during concurrent APPENDs loses nothing acknowledged.

Issue 3: kill roost with SIGKILL at random moments during 500 concurrent
APPENDs; after a restart every APPEND that was answered OK must be present
byte for byte under the UID its APPENDUID named, and no UID may repeat.

Each round starts the server, runs CLIENTS connections that APPEND unique
messages (mixed sizes, some with flags) as fast as they can, and kills the
server at a random moment. After all rounds the server is started once more
and every acknowledged message is checked with UID FETCH, UIDVALIDITY must
not have changed, and no message may be present twice (an APPEND that was
not yet acknowledged may or may not be there, but at most once).
"""

import random
import re
import signal
import threading
import time
import unittest

from harness import RoostServer, USERS, quote

ROUNDS = 3
CLIENTS = 100            # connections APPENDing at the same time
PER_CLIENT = 5           # 500 APPENDs per round, 1,500 in all
APPENDUID = re.compile(r"^\S+ OK \[APPENDUID (\d+) (\d+)\]", re.I)


def message(seed, n):
    rng = random.Random(seed * 100003 + n)
    size = rng.choice([300, 2000, 20000, 200000])
    body = bytes(rng.choice(b"abcdefghij klmnopqrstuvwxyz0123456789") for _ in range(size))
    body = re.sub(rb"(.{70})", rb"\1\r\n", body)
    return (f"From: crash@example.org\r\nSubject: crash {seed} {n}\r\n"
            f"X-Crash-Id: {seed}-{n}\r\n\r\n").encode() + body + b"\r\n"


class Appender(threading.Thread):
    """One connection APPENDing its messages; records those answered OK."""

    def __init__(self, server, seed, acked, lock):
        super().__init__(daemon=True)
        self.server, self.seed, self.acked, self.lock = server, seed, acked, lock

    def run(self):
        try:
            c = self.server.raw(timeout=30)
            c.greeting()
            c.command("L", f"LOGIN alice {quote(USERS['alice'])}")
            for n in range(PER_CLIENT):
                data = message(self.seed, n)
                flags = "(\\Seen)" if n % 2 else "()"
                c.send(f"A{n} APPEND INBOX {flags} {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
                _, tagged = c.read_tagged(f"A{n}", timeout=30)
                m = APPENDUID.match(tagged)
                if m:
                    with self.lock:
                        self.acked.append((int(m.group(1)), int(m.group(2)), data))
        except (OSError, EOFError, TimeoutError):
            pass  # the server was killed under us: expected


class CrashDuringAppend(unittest.TestCase):

    def setUp(self):
        self.server = RoostServer(users=USERS)
        self.addCleanup(self.server.cleanup)

    def run_round(self, rnd, acked, lock):
        self.server.start()
        threads = [Appender(self.server, rnd * 1000 + i, acked, lock) for i in range(CLIENTS)]
        before = len(acked)
        for t in threads:
            t.start()
        # Kill while APPENDs are in flight: after a random share of this
        # round's APPENDs has been acknowledged (10% to 80%).
        target = before + int(CLIENTS * PER_CLIENT * random.Random(rnd).uniform(0.1, 0.8))
        deadline = time.monotonic() + 60
        while len(acked) < target and time.monotonic() < deadline:
            time.sleep(0.002)
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        self.server.proc = None
        for t in threads:
            t.join(60)

    def fetch_all(self, c):
        """{uid: bytes} of every message in INBOX."""
        untagged, tagged = c.command("F", "UID FETCH 1:* (BODY.PEEK[])", timeout=120)
        self.assertIn(" OK", tagged)
        out = {}
        for line in untagged:
            m = re.match(r"^\* \d+ FETCH \((.*)", line, re.S)
            if not m:
                continue
            uid = int(re.search(r"UID (\d+)", m.group(1)).group(1))
            lit = re.search(r"BODY\[\] \{(\d+)\}\r\n", line)
            start = lit.end()
            out[uid] = line[start:start + int(lit.group(1))].encode("utf-8", "surrogateescape")
        return out

    def test_sigkill_during_appends(self):
        acked, lock = [], threading.Lock()
        for rnd in range(ROUNDS):
            self.run_round(rnd, acked, lock)
        self.assertGreater(len(acked), 0, "no APPEND completed before the kills")
        self.server.start()
        c = self.server.raw(timeout=60)
        c.greeting()
        c.command("L", f"LOGIN alice {quote(USERS['alice'])}")
        untagged, tagged = c.command("S", "SELECT INBOX")
        self.assertIn(" OK", tagged)
        validity = int(re.search(r"UIDVALIDITY (\d+)", " ".join(untagged)).group(1))
        stored = self.fetch_all(c)
        uids_acked = [uid for _, uid, _ in acked]
        self.assertEqual(len(uids_acked), len(set(uids_acked)), "a UID was acknowledged twice")
        for v, uid, data in acked:
            self.assertEqual(v, validity, "UIDVALIDITY changed across crashes")
            self.assertIn(uid, stored, f"acknowledged UID {uid} is missing")
            self.assertEqual(stored[uid], data, f"UID {uid} differs from what was appended")
        ids = [re.search(rb"X-Crash-Id: (\S+)", d).group(1) for d in stored.values()]
        self.assertEqual(len(ids), len(set(ids)), "a message is stored twice")
        c.close()
        self.server.stop()
        self.assertLess(len(acked), ROUNDS * CLIENTS * PER_CLIENT, "no kill hit an APPEND")
        print(f"\n    crash test: {len(acked)} of {ROUNDS * CLIENTS * PER_CLIENT} APPENDs "
              f"acknowledged before {ROUNDS} kills, {len(stored)} messages stored", flush=True)
