"""Quota (RFC 9208 QUOTA, RFC 9051 [OVERQUOTA]): mail_quota,
mail_quota_messages and the passwd-file's userdb_quota_rule.

APPEND and COPY over the limit get NO [OVERQUOTA] and change nothing; MOVE
is never refused (usage stays the same); EXPUNGE frees; GETQUOTAROOT and
GETQUOTA report usage in KiB (STORAGE) and messages (MESSAGE), listing
only the resources that have a limit; usage survives a restart.
"""

import re

from harness import status_re
from imap.mboxtest import MailboxTestCase

QUOTA_RE = re.compile(r'^\* QUOTA "" \(([^)]*)\)$')

# alice..: mail_quota 8k; "big" 2M by the userdb rule; "free" unlimited by
# the rule; "counted" 3 messages by the rule (storage stays 8k).
RULES = {
    "big": "userdb_quota_rule=*:storage=2M",
    "free": "userdb_quota_rule=*:storage=0",
    "counted": "quota_rule=*:messages=3",
    "bytesonly": "userdb_quota_rule=*:storage=none",
}


def message(n, size):
    """A message of exactly `size` bytes (CRLF line ends)."""
    head = f"Subject: m{n}\r\n\r\n"
    body = size - len(head) - 2
    return head + ("x" * body) + "\r\n"


class Quota(MailboxTestCase):
    settings = {"mail_quota": "8k"}
    users = dict(MailboxTestCase.users, big="big-Secret-1", free="free-Secret-1",
                 counted="counted-Secret-1", bytesonly="bytes-Secret-1")

    @classmethod
    def prepare(cls, server):
        with open(server.passwd) as f:
            lines = f.read().splitlines()
        out = []
        for line in lines:
            name = line.split(":", 1)[0]
            if name in RULES:
                line += "::::::" + RULES[name]
            out.append(line)
        with open(server.passwd, "w") as f:
            f.write("\n".join(out) + "\n")

    # -- helpers
    def append(self, c, mailbox, msg, expect="OK", code=None):
        tag, untagged, tagged = self.run_cmd(
            c, f"APPEND {mailbox} {{{len(msg)}+}}\r\n{msg}")
        self.assertRegex(tagged, status_re(tag, expect, code), untagged)
        return tagged

    def quotaroot(self, c, mailbox="INBOX"):
        """GETQUOTAROOT: (roots, {resource: (usage, limit)} or None)."""
        untagged = self.ok(c, f"GETQUOTAROOT {mailbox}")
        roots = [u for u in untagged if u.upper().startswith("* QUOTAROOT ")]
        self.assertEqual(len(roots), 1, untagged)
        quotas = [u for u in untagged if u.upper().startswith("* QUOTA ")]
        self.assertLessEqual(len(quotas), 1, untagged)
        res = None
        if quotas:
            m = QUOTA_RE.match(quotas[0])
            self.assertTrue(m, quotas[0])
            toks = m.group(1).split()
            self.assertEqual(len(toks) % 3, 0, quotas[0])
            res = {toks[i].upper(): (int(toks[i + 1]), int(toks[i + 2]))
                   for i in range(0, len(toks), 3)}
        return roots[0], res

    def fresh_mailbox(self, c):
        name = self.unique("q")
        self.create(c, name)
        return name

    # -- tests
    def test_capability(self):
        c = self.session("bob")
        caps = self.caps(c, "C2")
        for cap in ("QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"):
            self.assertIn(cap, caps)

    def test_append_over_quota(self):
        """8 KiB: 3 KiB + 3 KiB fit, another 3 KiB does not; NO [OVERQUOTA]
        stores nothing; a message larger than the quota is refused too."""
        c = self.session("fresh1")
        self.append(c, "INBOX", message(1, 3072))
        self.append(c, "INBOX", message(2, 3072))
        self.append(c, "INBOX", message(3, 3072), "NO", "OVERQUOTA")
        self.append(c, "INBOX", message(4, 9000), "NO", "OVERQUOTA")
        root, res = self.quotaroot(c)
        self.assertEqual(root, '* QUOTAROOT "INBOX" ""')
        self.assertEqual(res, {"STORAGE": (6, 8)})
        untagged = self.ok(c, "STATUS INBOX (MESSAGES SIZE)")
        self.assertIn('* STATUS "INBOX" (MESSAGES 2 SIZE 6144)', untagged)
        # What still fits is taken.
        self.append(c, "INBOX", message(5, 2048))
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (8, 8)})

    def test_copy_move_expunge(self):
        """COPY over quota: NO [OVERQUOTA], nothing copied; MOVE is allowed
        and keeps usage; EXPUNGE frees, and then COPY works."""
        c = self.session("fresh2")
        box = self.fresh_mailbox(c)
        self.append(c, "INBOX", message(1, 3000))
        self.append(c, "INBOX", message(2, 3000))
        self.ok(c, "SELECT INBOX")
        tag, untagged, tagged = self.run_cmd(c, f"COPY 1:2 {box}")
        self.assertRegex(tagged, status_re(tag, "NO", "OVERQUOTA"))
        untagged = self.ok(c, f"STATUS {box} (MESSAGES)")
        self.assertIn(f'* STATUS "{box}" (MESSAGES 0)', untagged)
        before = self.quotaroot(c)[1]
        self.ok(c, f"MOVE 1 {box}")
        self.assertEqual(self.quotaroot(c, box)[1], before)
        self.ok(c, "STORE 1 +FLAGS.SILENT (\\Deleted)")
        untagged = self.ok(c, "STATUS INBOX (DELETED DELETED-STORAGE)")
        self.assertIn('* STATUS "INBOX" (DELETED 1 DELETED-STORAGE 2)', untagged)
        self.ok(c, "EXPUNGE")
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (2, 8)})
        self.ok(c, f"SELECT {box}")
        self.ok(c, "COPY 1 INBOX")
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (5, 8)})

    def test_figures_follow_append_expunge(self):
        c = self.session("fresh3")
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (0, 8)})
        self.append(c, "INBOX", message(1, 1024))
        self.append(c, "INBOX", message(2, 2048))
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (3, 8)})
        untagged = self.ok(c, 'GETQUOTA ""')
        self.assertEqual([u for u in untagged if u.startswith("* QUOTA")],
                         ['* QUOTA "" (STORAGE 3 8)'])
        self.ok(c, "SELECT INBOX")
        self.ok(c, "STORE 2 +FLAGS.SILENT (\\Deleted)")
        self.ok(c, "CLOSE")
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (1, 8)})
        # A deleted mailbox frees its messages.
        box = self.fresh_mailbox(c)
        self.append(c, box, message(3, 4096))
        self.assertEqual(self.quotaroot(c, box)[1], {"STORAGE": (5, 8)})
        self.ok(c, f"DELETE {box}")
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (1, 8)})

    def test_per_user_override(self):
        c = self.session("big")
        self.append(c, "INBOX", message(1, 100 * 1024))
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (100, 2048)})

    def test_unlimited_user(self):
        """No limit: GETQUOTAROOT lists no root, GETQUOTA "" is NO."""
        for user in ("free", "bytesonly"):
            c = self.session(user)
            self.append(c, "INBOX", message(1, 20 * 1024))
            root, res = self.quotaroot(c)
            self.assertEqual(root, '* QUOTAROOT "INBOX"')
            self.assertIsNone(res)
            tag, _, tagged = self.run_cmd(c, 'GETQUOTA ""')
            self.assertRegex(tagged, status_re(tag, "NO", "NONEXISTENT"))

    def test_message_limit(self):
        c = self.session("counted")
        for i in range(3):
            self.append(c, "INBOX", message(i, 200))
        self.append(c, "INBOX", message(9, 200), "NO", "OVERQUOTA")
        self.assertEqual(self.quotaroot(c)[1], {"STORAGE": (0, 8), "MESSAGE": (3, 3)})

    def test_errors(self):
        c = self.session("bob")
        tag, _, tagged = self.run_cmd(c, "GETQUOTAROOT nosuchbox")
        self.assertRegex(tagged, status_re(tag, "NO", "NONEXISTENT"))
        tag, _, tagged = self.run_cmd(c, 'GETQUOTA "other"')
        self.assertRegex(tagged, status_re(tag, "NO", "NONEXISTENT"))
        tag, _, tagged = self.run_cmd(c, 'SETQUOTA "" (STORAGE 100)')
        self.assertRegex(tagged, status_re(tag, "NO", "NOPERM"))
        tag, _, tagged = self.run_cmd(c, "GETQUOTAROOT")
        self.assertRegex(tagged, status_re(tag, "BAD"))

    def test_survives_restart(self):
        """Usage is in the index: after a restart the figures are the same
        and the limit still holds."""
        c = self.session("fresh4")
        self.append(c, "INBOX", message(1, 5000))
        before = self.quotaroot(c)[1]
        c.close()
        self.server.restart()
        c = self.session("fresh4")
        self.assertEqual(self.quotaroot(c)[1], before)
        self.append(c, "INBOX", message(2, 4000), "NO", "OVERQUOTA")
        self.append(c, "INBOX", message(3, 3000))
