"""Authentication abuse (issue 4 item 3): the per-address penalty grows
with consecutive failures and resets on success; unknown users and wrong
passwords get the same answer after the same time."""

import time

from harness import ServerTestCase, quote, status_re


class AuthPenalty(ServerTestCase):
    settings = {"auth_fail_delay_ms": "200", "auth_fail_delay_max_ms": "400",
                "connect_rate_per_ip": "0"}

    def timed_login(self, c, tag, user, password):
        start = time.monotonic()
        _, tagged = c.command(tag, f"LOGIN {quote(user)} {quote(password)}")
        return tagged, time.monotonic() - start

    def test_penalty_grows_caps_and_resets(self):
        c = self.connect()
        # baseline: hashing time of one check
        t0, base = self.timed_login(c, "a0", "alice", "wrong")
        self.assertRegex(t0, status_re("a0", "NO", "AUTHENTICATIONFAILED"))
        t1, d1 = self.timed_login(c, "a1", "nosuchuser", "wrong")   # 200 ms
        t2, d2 = self.timed_login(c, "a2", "alice", "wrong")        # 400 ms
        t3, d3 = self.timed_login(c, "a3", "nosuchuser", "wrong")   # capped 400 ms
        self.assertEqual(t1[2:], t2[2:])  # identical answers
        self.assertEqual(t2[2:], t3[2:])
        self.assertGreater(d1, base + 0.15)
        self.assertGreater(d2, base + 0.35)
        self.assertGreater(d3, base + 0.35)
        self.assertLess(d3, base + 0.8)
        # another connection from the same address pays the penalty too
        o = self.connect()
        _, d4 = self.timed_login(o, "b1", "alice", self.users["alice"])
        self.assertGreater(d4, 0.35)
        # success reset it
        c2 = self.connect()
        t5, d5 = self.timed_login(c2, "c1", "alice", "wrong")
        self.assertRegex(t5, status_re("c1", "NO", "AUTHENTICATIONFAILED"))
        self.assertLess(d5, base + 0.15)
        self.assertIn("kind=auth_penalty", self.server.log())

    def test_unknown_user_and_wrong_password_timing_match(self):
        c = self.connect()
        self.login(c)  # reset the penalty
        times = {"alice": [], "nosuchuser": []}
        answers = set()
        for i in range(3):
            for user in times:
                # alternate, and reset in between so each pays no penalty
                d = self.connect()
                tagged, dt = self.timed_login(d, "x", user, "wrong")
                answers.add(tagged)
                times[user].append(dt)
                self.login(d, tag="r")
        self.assertEqual(len(answers), 1, answers)
        a = sorted(times["alice"])[1]
        u = sorted(times["nosuchuser"])[1]
        self.assertLess(abs(a - u), max(0.05, 0.5 * max(a, u)), times)
