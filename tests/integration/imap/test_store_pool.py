"""Store writes on the worker pool (DESIGN.md: blocking storage work must not
stall other sessions' I/O).

APPEND, COPY, MOVE, STORE, EXPUNGE, UID EXPUNGE and CLOSE's expunge run their
store call on the store pool and answer on the loop thread. These tests run
the server with one loop thread (`threads = 1`) and a slow disk: a small
LD_PRELOAD library makes every fsync()/fdatasync() of the server sleep first
(built with the system C compiler; the tests skip when there is none), so a
store write takes a known, long time. They check that

  - another user's NOOPs stay fast while a session APPENDs back to back
    (before the pool, each NOOP waited for the APPEND's fsyncs);
  - pipelined write commands keep their order and their exact answers;
  - a client that disconnects while its APPEND runs leaves the server
    healthy, the message stored whole or not at all;
  - SIGTERM during a burst of APPENDs exits cleanly, and every APPEND that
    was acknowledged is there after a restart.
"""

import atexit
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import unittest

from harness import RoostServer, ServerTestCase, USERS, quote
from imap.test_select import MailboxMixin, message

FSYNC_DELAY_MS = 50

SLOW_FSYNC_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>

static void slow_disk(void)
{
	struct timespec ts = {DELAY_MS / 1000, (DELAY_MS % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

int fsync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	slow_disk();
	return real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	slow_disk();
	return real(fd);
}
"""

_shim_cache = {}


def slow_fsync_lib(delay_ms):
    """Path of a shared library whose fsync/fdatasync sleep delay_ms first,
    or None when no C compiler is available."""
    if delay_ms in _shim_cache:
        return _shim_cache[delay_ms]
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    path = None
    if cc:
        d = tempfile.mkdtemp(prefix="roost-slowfsync-")
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        src = os.path.join(d, "slow_fsync.c")
        with open(src, "w") as f:
            f.write(SLOW_FSYNC_C)
        out = os.path.join(d, "slow_fsync.so")
        r = subprocess.run([cc, "-shared", "-fPIC", "-O2", f"-DDELAY_MS={delay_ms}", "-o", out,
                            src, "-ldl"], capture_output=True)
        path = out if r.returncode == 0 else None
    _shim_cache[delay_ms] = path
    return path


def start_with_preload(server, lib):
    """Starts the server with lib preloaded (only the server process)."""
    old = os.environ.get("LD_PRELOAD")
    os.environ["LD_PRELOAD"] = lib if not old else f"{lib}:{old}"
    try:
        server.start()
    finally:
        if old is None:
            os.environ.pop("LD_PRELOAD", None)
        else:
            os.environ["LD_PRELOAD"] = old


def append_command(tag, mailbox, data, flags=None):
    head = f"{tag} APPEND {quote(mailbox)}" + (f" ({flags})" if flags else "")
    return head.encode() + f" {{{len(data)}+}}\r\n".encode() + data + b"\r\n"


APPENDUID_RE = re.compile(r"^(\S+) OK \[APPENDUID (\d+) (\d+)\]")


class StorePool(MailboxMixin, ServerTestCase):
    """threads = 1 and a disk whose every fsync takes FSYNC_DELAY_MS."""

    settings = {"threads": 1, "store_workers": 4}

    @classmethod
    def setUpClass(cls):
        cls.shim = slow_fsync_lib(FSYNC_DELAY_MS)
        if cls.shim is None:
            raise unittest.SkipTest("no C compiler for the slow-fsync library")
        old = os.environ.get("LD_PRELOAD")
        os.environ["LD_PRELOAD"] = cls.shim if not old else f"{cls.shim}:{old}"
        try:
            super().setUpClass()
        finally:
            if old is None:
                os.environ.pop("LD_PRELOAD", None)
            else:
                os.environ["LD_PRELOAD"] = old

    def test_noop_latency_during_appends(self):
        """Another user's NOOPs are answered promptly while alice APPENDs
        (each APPEND waits for several slow fsyncs on the pool)."""
        a = self.session("alice")
        name = self.new_mailbox(a)
        b = self.session("bob")
        self.select(b, "INBOX")
        append_times, noop_times = [], []
        stop = threading.Event()
        errors = []

        def appender():
            try:
                i = 0
                while not stop.is_set():
                    t0 = time.monotonic()
                    _, tagged = self.append(a, name, message(i), tag=f"A{i}")
                    append_times.append(time.monotonic() - t0)
                    if " OK " not in tagged:
                        errors.append(tagged)
                    i += 1
            except Exception as e:  # reported by the main thread
                errors.append(repr(e))

        t = threading.Thread(target=appender, daemon=True)
        t.start()
        time.sleep(0.1)
        deadline = time.monotonic() + 2.0
        n = 0
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            _, tagged = b.command(f"N{n}", "NOOP")
            noop_times.append(time.monotonic() - t0)
            self.assertStatus(tagged, f"N{n}", "OK")
            n += 1
            time.sleep(0.01)
        stop.set()
        t.join(30)
        self.assertFalse(errors, errors)
        self.assertGreaterEqual(len(append_times), 3)
        append_med = statistics.median(append_times)
        noop_med = statistics.median(noop_times)
        noop_max = max(noop_times)
        print(f"\n    [store pool] {len(append_times)} APPENDs, median {append_med * 1000:.0f} ms "
              f"(fsync +{FSYNC_DELAY_MS} ms); {len(noop_times)} NOOPs of another user: median "
              f"{noop_med * 1000:.1f} ms, max {noop_max * 1000:.1f} ms", flush=True)
        # The disk is slow: an APPEND needs at least two fsyncs.
        self.assertGreater(append_med, 2 * FSYNC_DELAY_MS / 1000)
        # Had the APPENDs run on the loop, a NOOP would wait for about half
        # an APPEND on average and a whole one at worst.
        self.assertLess(noop_med, min(0.03, append_med / 4))
        self.assertLess(noop_max, append_med)

    def test_fetch_seen_and_select_on_pool(self):
        """FETCH BODY[] (not PEEK) commits \\Seen, and SELECT claims
        \\Recent, on the pool: another user's NOOPs are answered while they
        wait for the slow disk, and every FETCH response carries the new
        FLAGS; a client that hangs up during the commit leaves the server
        healthy."""
        a = self.session("alice")
        name, uids = self.mailbox_with(a, 4)
        b = self.session("bob")
        self.select(b, "INBOX")
        self.select(a, name)
        for rnd in range(3):
            a.send(b"F1 FETCH 1:* (BODY[])\r\nF2 FETCH 1:* (FLAGS)\r\n" +
                   f"S1 SELECT {quote(name)}\r\n".encode() if rnd == 0 else
                   b"F1 STORE 1:* -FLAGS.SILENT (\\Seen)\r\nF2 FETCH 1:* (BODY[TEXT])\r\n"
                   b"S1 NOOP\r\n")
            t0 = time.monotonic()
            noops = []
            _, tagged = b.command(f"N{rnd}", "NOOP")
            noops.append(time.monotonic() - t0)
            self.assertStatus(tagged, f"N{rnd}", "OK")
            got, lines = {}, []
            while len(got) < 3:
                line = a.read_response()
                tag = line.split(" ", 1)[0]
                if tag == "*":
                    lines.append(line)
                else:
                    got[tag] = list(lines)
                    lines = []
                    self.assertRegex(line, rf"^{tag} OK ", line)
            elapsed = time.monotonic() - t0
            fetched = [x for x in got["F2" if rnd else "F1"] if " FETCH " in x]
            self.assertEqual(len(fetched), 4, fetched)
            for x in fetched:
                self.assertIn("\\Seen", x)
            # The NOOP did not wait for the \Seen commit (two slow fsyncs
            # at least) nor for the SELECT behind it.
            self.assertLess(max(noops), elapsed / 2, (noops, elapsed))
        # Hang up while the commit runs; the server keeps serving.
        d = self.session("alice")
        self.select(d, name)
        d.send(b"X STORE 1:* -FLAGS.SILENT (\\Seen)\r\nY FETCH 1:* (BODY[])\r\n")
        time.sleep(0.07)
        d.close()
        self.assertNoop(b)
        e = self.session("alice")
        self.select(e, name)
        self.assertNoop(e)

    def test_pipelined_writes_keep_order(self):
        """APPEND, STORE, UID STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE, CLOSE
        sent in one write: answered in order, each with its own untagged
        responses before its tagged reply."""
        c = self.session("carol")
        name = self.new_mailbox(c)
        dest = self.new_mailbox(c, "dest")
        self.select(c, name)
        msgs = [message(i) for i in range(1, 4)]
        batch = (append_command("A1", name, msgs[0]) +
                 append_command("A2", name, msgs[1], "\\Seen") +
                 append_command("A3", name, msgs[2]) +
                 b"S1 STORE 1 +FLAGS (\\Deleted)\r\n"
                 b"U1 UID STORE 1:* +FLAGS (\\Flagged)\r\n" +
                 f"C1 COPY 2:3 {quote(dest)}\r\n".encode() +
                 f"M1 MOVE 3 {quote(dest)}\r\n".encode() +
                 b"E1 EXPUNGE\r\nX1 UID EXPUNGE 1:*\r\nN1 NOOP\r\nCL CLOSE\r\n")
        c.send(batch)
        tags = ["A1", "A2", "A3", "S1", "U1", "C1", "M1", "E1", "X1", "N1", "CL"]
        got = {}
        lines = []
        while len(got) < len(tags):
            line = c.read_response()
            lines.append(line)
            tag = line.split(" ", 1)[0]
            if tag != "*":
                got[tag] = (lines[:-1], line)
                lines = []
        self.assertEqual(list(got), tags, "tagged replies out of order")
        for tag, (_, tagged) in got.items():
            self.assertRegex(tagged, rf"^{tag} OK ", tagged)
        uids = []
        for i, tag in enumerate(("A1", "A2", "A3")):
            untagged, tagged = got[tag]
            self.assertIn(f"* {i + 1} EXISTS", untagged)
            uids.append(int(APPENDUID_RE.match(tagged).group(3)))
        self.assertEqual(uids, [uids[0], uids[0] + 1, uids[0] + 2])
        untagged, _ = got["S1"]
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], r"^\* 1 FETCH \(FLAGS \([^)]*\\Deleted")
        untagged, _ = got["U1"]
        fetches = [u for u in untagged if " FETCH " in u]
        self.assertEqual([int(u.split()[1]) for u in fetches], [1, 2, 3], untagged)
        for u, uid in zip(fetches, uids):
            self.assertIn(f"UID {uid} ", u)
            self.assertIn("\\Flagged", u)
        _, tagged = got["C1"]
        m = re.search(r"\[COPYUID \d+ (\S+) (\d+):(\d+)\]", tagged)
        self.assertIsNotNone(m, tagged)
        self.assertEqual(m.group(1), f"{uids[1]}:{uids[2]}")
        untagged, _ = got["M1"]
        self.assertEqual(len(untagged), 2, untagged)
        self.assertRegex(untagged[0], rf"^\* OK \[COPYUID \d+ {uids[2]} {int(m.group(3)) + 1}\]")
        self.assertEqual(untagged[1], "* 3 EXPUNGE")
        self.assertEqual(got["E1"][0], ["* 1 EXPUNGE"])
        self.assertEqual(got["X1"][0], [])
        # What is left: the \Seen message here, three copies in dest.
        self.assertEqual(self.exists_of(self.select(c, name, tag="S2")), 1)
        untagged, tagged = c.command("F", "UID FETCH 1:* (FLAGS)")
        self.assertIn(f"UID {uids[1]} ", " ".join(untagged))
        self.assertEqual(self.exists_of(self.select(c, dest, tag="S3")), 3)

    def test_close_expunges_on_pool(self):
        """CLOSE removes \\Deleted messages silently and leaves the mailbox."""
        c = self.session("carol")
        name, uids = self.mailbox_with(c, 3)
        self.select(c, name)
        _, tagged = c.command("S", "STORE 1,3 +FLAGS.SILENT (\\Deleted)")
        self.assertStatus(tagged, "S", "OK")
        untagged, tagged = c.command("CL", "CLOSE")
        self.assertStatus(tagged, "CL", "OK")
        self.assertFalse([u for u in untagged if "EXPUNGE" in u], untagged)
        _, tagged = c.command("F", "FETCH 1 FLAGS")
        self.assertStatus(tagged, "F", "BAD")
        self.assertEqual(self.exists_of(self.select(c, name)), 1)

    def fetch_bodies(self, c, mailbox):
        """{uid: bytes} of every message in mailbox (EXAMINEd)."""
        self.select(c, mailbox, examine=True, tag="EX")
        untagged, tagged = c.command("F", "UID FETCH 1:* (BODY.PEEK[])")
        self.assertStatus(tagged, "F", "OK")
        out = {}
        for line in untagged:
            lit = re.search(r"BODY\[\] \{(\d+)\}\r\n", line)
            if not lit:
                continue
            uid = int(re.search(r"UID (\d+)", line).group(1))
            start = lit.end()
            out[uid] = line[start:start + int(lit.group(1))].encode("utf-8", "surrogateescape")
        return out

    def test_disconnect_during_append(self):
        """Clients that hang up while their APPEND runs (at different
        moments of it): the server stays healthy and each message is stored
        whole or not at all, once at most."""
        c = self.session("bob")
        name = self.new_mailbox(c)
        sent = []
        for i, wait in enumerate((0.0, 0.005, 0.02, 0.06, 0.12, 0.25)):
            d = self.session("bob")
            data = message(100 + i, body="x" * (1000 * (i + 1)))
            sent.append(data)
            d.send(append_command("AP", name, data))
            time.sleep(wait)
            d.close()
        # Every job ends within a few fsyncs; then the store is quiet.
        deadline = time.monotonic() + 10
        stored = {}
        while time.monotonic() < deadline:
            time.sleep(0.3)
            again = self.fetch_bodies(c, name)
            if again == stored and len(stored) == len(sent):
                break
            stored = again
        self.assertNoop(c)
        self.assertLessEqual(len(stored), len(sent))
        bodies = list(stored.values())
        for body in bodies:
            self.assertIn(body, sent, "a stored message differs from every one sent")
        self.assertEqual(len(bodies), len(set(bodies)), "a message is stored twice")
        # Sessions whose job outlived the connection were freed (ASan
        # builds check the freeing); the server keeps serving new ones.
        e = self.session("bob")
        self.append_ok(e, name)
        self.assertNoop(e)


class SigtermDuringAppends(unittest.TestCase):
    """SIGTERM while sessions APPEND (jobs queued and running on the pool)."""

    CLIENTS = 8
    PER_CLIENT = 10

    def test_sigterm_burst(self):
        shim = slow_fsync_lib(20)
        if shim is None:
            self.skipTest("no C compiler for the slow-fsync library")
        server = RoostServer(settings={"threads": 1, "store_workers": 2}, users=USERS)
        self.addCleanup(server.cleanup)
        start_with_preload(server, shim)
        acked, lock = [], threading.Lock()

        def client(k):
            try:
                c = server.raw(timeout=30)
                c.greeting()
                c.command("L", f"LOGIN alice {quote(USERS['alice'])}")
                batch = b""
                for n in range(self.PER_CLIENT):
                    data = message(k * 1000 + n, body="burst")
                    batch += append_command(f"A{n}", "INBOX", data)
                c.send(batch)
                for n in range(self.PER_CLIENT):
                    _, tagged = c.read_tagged(f"A{n}", timeout=30)
                    m = APPENDUID_RE.match(tagged)
                    if m:
                        with lock:
                            acked.append((int(m.group(3)), message_id(batch, n)))
                c.close()
            except (OSError, EOFError, TimeoutError, AssertionError):
                pass  # the server said BYE and closed: expected

        threads = [threading.Thread(target=client, args=(k,), daemon=True)
                   for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < self.CLIENTS and time.monotonic() < deadline:
            time.sleep(0.005)
        self.assertGreater(len(acked), 0, "no APPEND completed")
        server.signal(signal.SIGTERM)
        rc = server.wait_exit()
        for t in threads:
            t.join(30)
        self.assertIsNotNone(rc, "roost serve ignored SIGTERM:\n" + server.log_tail())
        server.check_clean_exit()
        self.assertIn("event=shutdown", server.log())
        # Every acknowledged APPEND survived the shutdown.
        server.proc = None
        server.start()
        c = server.raw(timeout=30)
        c.greeting()
        c.command("L", f"LOGIN alice {quote(USERS['alice'])}")
        untagged, tagged = c.command("S", "EXAMINE INBOX")
        self.assertIn(" OK", tagged)
        untagged, tagged = c.command("F", "UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        self.assertIn(" OK", tagged)
        by_uid = {}
        for line in untagged:
            m = re.search(r"UID (\d+)", line)
            mid = re.search(r"Message-ID: (<[^>]+>)", line, re.I)
            if m and mid:
                by_uid[int(m.group(1))] = mid.group(1)
        for uid, mid in acked:
            self.assertEqual(by_uid.get(uid), mid, f"acknowledged UID {uid} is missing")
        c.close()
        server.stop()
        print(f"\n    [store pool] SIGTERM after {len(acked)} of "
              f"{self.CLIENTS * self.PER_CLIENT} APPENDs acknowledged; "
              f"{len(by_uid)} stored", flush=True)


def message_id(batch, n):
    """The Message-ID of the n-th message of a batch of APPENDs."""
    ids = re.findall(rb"Message-ID: (<[^>]+>)", batch)
    return ids[n].decode()


if __name__ == "__main__":
    unittest.main()
