"""Smoke test of bench/corpus.py and bench/compare.py's private Dovecot.

The corpus generator must be deterministic (same seed, same bytes and file
names), keep every message within 1 KB-10 MiB, and write mail Python's
email package parses without defects. compare.py's Dovecot config
(write_dovecot_config through compare.Dovecot) must start, serve the
generated Maildir, and accept a user created the roost way
(`roost user add`, ARGON2ID): the proof that both servers of the
benchmark verify the same password hashes. Skipped only when dovecot is
not installed.
"""

import email
import email.policy
import hashlib
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "bench"))
sys.path.insert(0, os.path.join(HERE, ".."))
import compare  # noqa: E402
import corpus  # noqa: E402
import harness  # noqa: E402


def digest_tree(top):
    """{relative path: sha256} of every file under top."""
    out = {}
    for path, _, files in os.walk(top):
        for name in files:
            full = os.path.join(path, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, top)] = hashlib.sha256(f.read()).hexdigest()
    return out


class Corpus(unittest.TestCase):

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="roost-corpus-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_same_seed_same_bytes(self):
        a, b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        self.assertEqual(corpus.write_maildir(a, seed=11, count=60),
                         corpus.write_maildir(b, seed=11, count=60))
        da, db = digest_tree(a), digest_tree(b)
        self.assertEqual(len(da), 60)
        self.assertEqual(da, db)
        other = [d for _, d, _ in corpus.generate(seed=12, count=5)]
        self.assertNotEqual(other, [d for _, d, _ in corpus.generate(seed=11, count=5)])

    def test_sizes_and_mime(self):
        kinds = set()
        sizes = []
        for profile in ("inbox", "list"):
            for _, data, when in corpus.generate(seed=3, count=150, profile=profile):
                sizes.append(len(data))
                self.assertGreaterEqual(len(data), corpus.MIN_SIZE)
                self.assertLessEqual(len(data), corpus.MAX_SIZE)
                self.assertNotIn(b"\n", data.replace(b"\r\n", b""), "bare LF")
                msg = email.message_from_bytes(data, policy=email.policy.default)
                for part in msg.walk():
                    self.assertEqual(part.defects, [], msg["Message-ID"])
                    kinds.add(part.get_content_type())
                    if part.get("Content-Transfer-Encoding") == "base64":
                        part.get_payload(decode=True)
                self.assertTrue(msg["Subject"] and msg["Message-ID"] and msg["Date"])
        self.assertTrue({"text/plain", "multipart/alternative", "multipart/mixed",
                         "text/html"} <= kinds, kinds)
        self.assertTrue(any(k.startswith(("application/", "image/")) for k in kinds), kinds)
        self.assertGreater(max(sizes), 100 * 1024)   # some attachments
        self.assertLess(sorted(sizes)[len(sizes) // 2], 20 * 1024)   # most mail is small

    def test_threads_and_total_size(self):
        msgs = [email.message_from_bytes(d) for _, d, _ in corpus.generate(seed=4, count=80)]
        ids = {m["Message-ID"] for m in msgs}
        replies = [m for m in msgs if m["In-Reply-To"]]
        self.assertTrue(replies)
        for m in replies:
            self.assertIn(m["In-Reply-To"], ids)
            self.assertTrue(m["Subject"].startswith("Re: ") or "=?UTF-8?" in m["Subject"])
        n, total = corpus.write_maildir(os.path.join(self.dir, "t"), seed=4,
                                        total_size=200 * 1024)
        self.assertGreaterEqual(total, 200 * 1024)
        self.assertEqual(len(os.listdir(os.path.join(self.dir, "t", "new"))), n)


@unittest.skipIf(compare.DOVECOT is None, "dovecot is not installed")
class PrivateDovecot(unittest.TestCase):

    def test_roost_user_logs_in_to_dovecot(self):
        tmp = tempfile.mkdtemp(prefix="roost-cmp-smoke-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o755)
        cert, key = harness.cached_cert()
        roost = compare.Roost(harness.roost_bin(), os.path.join(tmp, "roost"), cert, key)
        user, password = compare.make_users(1, 5)[0]
        roost.add_users([(user, password)])
        with open(os.path.join(roost.dir, "passwd")) as f:
            self.assertIn(f"{user}:{{ARGON2ID}}$argon2id$", f.read())
        dv = compare.Dovecot(os.path.join(tmp, "dovecot"), cert, key,
                             os.path.join(roost.dir, "passwd"))
        src = os.path.join(tmp, "corpus")
        n, _ = corpus.write_maildir(src, seed=6, count=12)
        compare.link_maildir(src, dv.maildir(user))
        dv.prepare_user(user)
        dv.start()
        self.addCleanup(dv.stop)
        m = dv.imap(user, password, timeout=30)
        try:
            typ, data = m.select("INBOX")
            self.assertEqual((typ, data), ("OK", [str(n).encode()]))
            typ, data = m.fetch("1", "(BODY.PEEK[])")
            self.assertEqual(typ, "OK")
            first = sorted(os.listdir(os.path.join(src, "new")))[0]
            with open(os.path.join(src, "new", first), "rb") as f:
                self.assertEqual(data[0][1], f.read())
        finally:
            m.logout()
        with self.assertRaises(Exception):
            dv.imap(user, password + "x", timeout=30)
        pids = dv.pids()
        self.assertGreater(len(pids), 1)
        self.assertGreater(sum(compare.pss_kib(p) for p in pids), 0)
        self.assertGreater(compare.cpu_seconds(dv), 0)


if __name__ == "__main__":
    unittest.main()
