"""Many simultaneous connections on one server (event-driven core)."""

import errno
import selectors
import socket
import time

from harness import HOST, ServerTestCase, quote

DEADLINE = 60.0


class Conn:
    def __init__(self, i, port):
        self.i = i
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        rc = self.sock.connect_ex((HOST, port))
        if rc not in (0, errno.EINPROGRESS):
            raise OSError(rc, f"connect #{i}: {errno.errorcode.get(rc, rc)}")
        self.buf = b""
        self.lines = []

    def read_lines(self):
        """Reads what is there; returns False on EOF."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.buf += data
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            self.lines.append(line)
        return True


def phase(conns, done, deadline, what):
    """Runs the selector until done(conn) holds for every conn; returns the
    list of problems."""
    sel = selectors.DefaultSelector()
    waiting = set()
    problems = []
    for c in conns:
        if not done(c):
            sel.register(c.sock, selectors.EVENT_READ, c)
            waiting.add(c)
    while waiting:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            problems.append(f"{what}: {len(waiting)} connections timed out, e.g. #"
                            f"{next(iter(waiting)).i} lines={next(iter(waiting)).lines!r}")
            break
        for key, _ in sel.select(min(remaining, 1.0)):
            c = key.data
            try:
                ok = c.read_lines()
            except OSError as e:
                ok = False
                c.lines.append(f"error: {e}".encode())
            if not ok:
                problems.append(f"{what}: #{c.i} closed: {c.lines!r}")
            if not ok or done(c):
                sel.unregister(c.sock)
                waiting.discard(c)
    sel.close()
    return problems


class Concurrency(ServerTestCase):
    users = {f"u{i}": f"pw-{i}-secret" for i in range(10)}
    # Thousands of connections from one address: the per-address limits
    # (limits/ tests cover them) are off here.
    settings = {"max_preauth_connections_per_ip": "0", "connect_rate_per_ip": "0"}

    def run_many(self, n, command_for):
        """Opens n connections, reads every greeting, then sends each its
        command (tag t<i>) and checks every tagged OK, then closes all."""
        deadline = time.monotonic() + DEADLINE
        conns = []
        try:
            for i in range(n):
                conns.append(Conn(i, self.server.imap_port))
            problems = phase(conns, lambda c: len(c.lines) >= 1, deadline, "greeting")
            self.assertEqual(problems, [])
            for c in conns:
                self.assertTrue(c.lines[0].startswith(b"* OK "), c.lines[0])
                self.assertEqual(len(c.lines), 1, c.lines)
            for c in conns:
                # small writes on a fresh socket never block
                c.sock.sendall(f"t{c.i} {command_for(c.i)}\r\n".encode())
            tagged = lambda c: any(l.startswith(b"t%d " % c.i) for l in c.lines)  # noqa: E731
            problems = phase(conns, tagged, deadline, "reply")
            self.assertEqual(problems, [])
            bad = [c.lines for c in conns if not c.lines[-1].startswith(b"t%d OK " % c.i)]
            self.assertEqual(bad, [], f"{len(bad)} connections without OK")
        finally:
            for c in conns:
                c.sock.close()
        # still serving
        d = self.connect()
        self.assertNoop(d)

    def test_2000_connections_noop(self):
        """2000 simultaneous plaintext connections: every one gets the
        greeting, then `t<i> OK` to NOOP; within 60 s."""
        self.run_many(2000, lambda i: "NOOP")

    def test_200_concurrent_logins(self):
        """200 simultaneous connections each LOGIN (10 users, SHA512-CRYPT)
        => 200 tagged OKs within 60 s."""
        self.run_many(200, lambda i: f"LOGIN u{i % 10} {quote(f'pw-{i % 10}-secret')}")
