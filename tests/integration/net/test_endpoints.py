"""Connection ends and address families: half-closed clients still get
their answers, IPv6 listeners serve like IPv4 ones."""

import socket
import unittest

from harness import ServerTestCase, USERS, quote


def ipv6_loopback_available():
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def free_v6_port():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def send_and_drain(family, addr, payload, timeout=10):
    """Connects, sends payload, shuts the write side, returns every byte the
    server sent until it closed."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


class HalfClose(ServerTestCase):

    def test_pipelined_commands_answered_before_close(self):
        """Commands followed by a half-close (as `printf ... | nc -N` sends
        them) are all answered, including the asynchronous LOGIN, and then
        the server closes."""
        payload = (f"a LOGIN alice {quote(USERS['alice'])}\r\nb CAPABILITY\r\n"
                   "c LOGOUT\r\n").encode()
        data = send_and_drain(socket.AF_INET, ("127.0.0.1", self.server.imap_port), payload)
        lines = data.decode().split("\r\n")
        self.assertTrue(lines[0].startswith("* OK"), lines)
        self.assertTrue(any(line.startswith("a OK") for line in lines), lines)
        self.assertTrue(any(line.startswith("b OK") for line in lines), lines)
        self.assertTrue(any(line.startswith("* BYE") for line in lines), lines)
        self.assertTrue(any(line.startswith("c OK") for line in lines), lines)

    def test_half_close_without_logout(self):
        """Without LOGOUT the server answers what it got, then closes (no
        hang, no BYE needed)."""
        data = send_and_drain(socket.AF_INET, ("127.0.0.1", self.server.imap_port),
                              b"a NOOP\r\nb NOO")
        self.assertIn(b"a OK", data)
        self.assertNotIn(b"b ", data)

    def test_half_close_during_authenticate(self):
        """A client that half-closes while the server waits for its SASL
        response is closed, not kept forever."""
        data = send_and_drain(socket.AF_INET, ("127.0.0.1", self.server.imap_port),
                              b"a AUTHENTICATE PLAIN\r\n")
        self.assertIn(b"\r\n+ ", data)


@unittest.skipUnless(ipv6_loopback_available(), "no IPv6 loopback here")
class IPv6Listener(ServerTestCase):

    @classmethod
    def prepare(cls, server):
        cls.v6_port = free_v6_port()
        server.settings["imap_listen"] = (f"127.0.0.1:{server.imap_port},"
                                          f"[::1]:{cls.v6_port}")
        server.write_config()

    def test_login_over_ipv6(self):
        """The [::1] listener greets, logs in and logs out like the IPv4 one;
        the log names the IPv6 peer."""
        payload = f"a LOGIN alice {quote(USERS['alice'])}\r\nb LOGOUT\r\n".encode()
        data = send_and_drain(socket.AF_INET6, ("::1", self.v6_port), payload)
        self.assertTrue(data.startswith(b"* OK [CAPABILITY "), data)
        self.assertIn(b"a OK", data)
        self.assertIn(b"b OK", data)
        self.assertIn("ip=::1", self.server.log())
