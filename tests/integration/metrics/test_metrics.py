"""Metrics: the Prometheus endpoint (metrics_listen) serves a well-formed
text exposition (format 0.0.4), and its figures move with traffic."""

import http.client
import re
import socket
import time
import unittest

from harness import HOST, ServerTestCase, free_ports, status_re

METRICS_PORT = free_ports(1)[0]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(r"^(" + _NAME + r")(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def _parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", text):
        raise AssertionError(f"bad sample value {text!r}")
    return float(text)


def _parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if not m:
            raise AssertionError(f"bad label set {text!r} at {pos}")
        if m.group(1) in labels:
            raise AssertionError(f"duplicate label in {text!r}")
        value = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), m.group(2))
        labels[m.group(1)] = value
        pos = m.end()
    return labels


def parse_exposition(body):
    """A strict parser of text format 0.0.4. Returns {(name, labels): value}
    with labels a sorted tuple of pairs; raises AssertionError on any rule
    broken: HELP and TYPE once per family and before its samples, every
    sample in a typed family (histograms only as _bucket/_sum/_count),
    escaping, no duplicate series, and histograms with cumulative,
    non-decreasing buckets ending in le="+Inf" equal to _count, and a _sum."""
    if not body.endswith("\n"):
        raise AssertionError("exposition must end with a line feed")
    types, helps, samples = {}, set(), {}
    current = None
    for line in body[:-1].split("\n"):
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in helps:
                raise AssertionError(f"second HELP for {name}")
            helps.add(name)
            current = name
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in _TYPES or parts[2] in types:
                raise AssertionError(f"bad TYPE line {line!r}")
            if parts[2] != current:
                raise AssertionError(f"TYPE {parts[2]} not after its HELP")
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#") or line == "":
            raise AssertionError(f"unexpected line {line!r}")
        m = _SAMPLE.match(line)
        if not m:
            raise AssertionError(f"bad sample line {line!r}")
        name, labels = m.group(1), _parse_labels(m.group(2) or "")
        family = current if current in types else None
        if family is None:
            raise AssertionError(f"sample {name} before any TYPE")
        if types[family] == "histogram":
            ok = name in (family + "_bucket", family + "_sum", family + "_count")
            if name.endswith("_bucket") and "le" not in labels:
                raise AssertionError(f"bucket without le: {line!r}")
        else:
            ok = name == family
        if not ok:
            raise AssertionError(f"sample {name} outside its family {family}")
        key = (name, tuple(sorted(labels.items())))
        if key in samples:
            raise AssertionError(f"duplicate series {line!r}")
        samples[key] = _parse_value(m.group(3))
    for family, kind in types.items():
        if kind == "histogram":
            _check_histogram(family, samples)
    return samples


def _check_histogram(family, samples):
    series = {}
    for (name, labels), value in samples.items():
        if name == family + "_bucket":
            rest = tuple(p for p in labels if p[0] != "le")
            le = dict(labels)["le"]
            series.setdefault(rest, []).append((_parse_value(le), le, value))
    if not series:
        raise AssertionError(f"histogram {family} has no buckets")
    for rest, buckets in series.items():
        buckets.sort()
        if buckets[-1][1] != "+Inf":
            raise AssertionError(f"{family}{rest}: no le=\"+Inf\" bucket")
        counts = [b[2] for b in buckets]
        if counts != sorted(counts):
            raise AssertionError(f"{family}{rest}: buckets not cumulative: {counts}")
        count = samples.get((family + "_count", rest))
        if count != counts[-1]:
            raise AssertionError(f"{family}{rest}: _count {count} != +Inf {counts[-1]}")
        if (family + "_sum", rest) not in samples:
            raise AssertionError(f"{family}{rest}: no _sum")


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class MetricsEndpoint(ServerTestCase):
    settings = {"metrics_listen": f"{HOST}:{METRICS_PORT}", "preauth_timeout": 2,
                "metrics_timeout": 2}

    def http(self, method="GET", path="/metrics"):
        conn = http.client.HTTPConnection(HOST, METRICS_PORT, timeout=10)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def scrape(self):
        status, headers, body = self.http()
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return parse_exposition(body.decode("utf-8"))

    def wait_for(self, predicate, timeout=5.0):
        """Scrapes until predicate(samples) holds; returns the samples."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.scrape()
            if predicate(samples) or time.monotonic() > deadline:
                return samples
            time.sleep(0.05)

    def cmd_count(self, samples, command):
        return value(samples, "roost_command_duration_seconds_count", command=command)

    # -- the format and the HTTP side

    def test_format_and_families(self):
        """The exposition parses strictly and has every family."""
        samples = self.scrape()
        names = {name for name, _ in samples}
        for family in ("roost_build_info", "roost_process_start_time_seconds",
                       "roost_process_open_fds", "roost_process_resident_memory_bytes",
                       "roost_sessions", "roost_connections_accepted_total",
                       "roost_connections_refused_total", "roost_logins_total",
                       "roost_command_duration_seconds_bucket", "roost_received_bytes_total",
                       "roost_sent_bytes_total", "roost_throttles_total", "roost_timeouts_total",
                       "roost_tls_handshakes_total", "roost_tls_handshake_duration_seconds_count",
                       "roost_store_operation_duration_seconds_sum"):
            self.assertIn(family, names)
        self.assertGreater(value(samples, "roost_process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(samples, "roost_process_open_fds"), 3)
        self.assertLessEqual(value(samples, "roost_process_start_time_seconds"), time.time())
        # Commands are labelled from the command table (+ "other").
        for command in ("LOGIN", "SELECT", "FETCH", "APPEND", "UID", "other"):
            self.assertIn(("roost_command_duration_seconds_count", (("command", command),)),
                          samples)

    def test_http_answers(self):
        status, headers, _ = self.http(path="/")
        self.assertEqual(status, 404)
        self.assertEqual(self.http(path="/metrics/x")[0], 404)
        status, headers, _ = self.http(method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers["Allow"], "GET, HEAD")
        status, headers, body = self.http(method="HEAD")
        self.assertEqual((status, body), (200, b""))
        status, headers, body = self.http(path="/metrics?x=1")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Connection"], "close")
        self.assertEqual(int(headers["Content-Length"]), len(body))

    def raw_http(self, data, timeout=10):
        s = socket.create_connection((HOST, METRICS_PORT), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        finally:
            s.close()

    def test_bad_and_oversized_requests(self):
        self.assertTrue(self.raw_http(b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 "))
        big = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
        s = socket.create_connection((HOST, METRICS_PORT), timeout=10)
        try:
            try:
                s.sendall(big)
            except OSError:
                pass  # the server may close before reading it all
            self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 431 "))
        finally:
            s.close()

    def test_request_timeout(self):
        """A client that never finishes its request is closed after
        metrics_timeout (2 s), and scrapes still work meanwhile."""
        s = socket.create_connection((HOST, METRICS_PORT), timeout=10)
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\n")
            start = time.monotonic()
            self.scrape()
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.monotonic() - start, 6)
        finally:
            s.close()

    # -- figures move with traffic

    def test_logins_counted(self):
        before = self.scrape()
        c = self.connect()
        self.login(c)
        bad = self.connect()
        _, tagged = bad.command("L2", 'LOGIN "alice" "wrong-password"')
        self.assertRegex(tagged, status_re("L2", "NO"))
        after = self.scrape()
        for result, delta in (("ok", 1), ("fail", 1), ("limit", 0)):
            self.assertEqual(value(after, "roost_logins_total", mechanism="LOGIN", result=result)
                             - value(before, "roost_logins_total", mechanism="LOGIN",
                                     result=result), delta, result)
        self.assertEqual(self.cmd_count(after, "LOGIN") - self.cmd_count(before, "LOGIN"), 2)
        self.assertEqual(value(after, "roost_connections_accepted_total", listener="imap")
                         - value(before, "roost_connections_accepted_total", listener="imap"), 2)

    def test_commands_store_and_bytes(self):
        c = self.connect()
        self.login(c)
        before = self.scrape()
        sent = received = 0

        def command(tag, text):
            nonlocal sent, received
            untagged, tagged = c.command(tag, text)
            sent += len(tag) + 1 + len(text) + 2
            received += sum(len(u) + 2 for u in untagged) + len(tagged) + 2
            return tagged

        self.assertRegex(command("S1", "SELECT INBOX"), status_re("S1", "OK"))
        msg = b"From: a@example.org\r\nSubject: metrics\r\n\r\nbody\r\n"
        c.send(b"A1 APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        sent += len(b"A1 APPEND INBOX {%d+}\r\n" % len(msg)) + len(msg) + 2
        untagged, tagged = c.read_tagged("A1")
        self.assertRegex(tagged, status_re("A1", "OK"))
        self.assertRegex(command("F1", "FETCH 1:* (FLAGS BODY[])"), status_re("F1", "OK"))
        self.assertRegex(command("F2", "FETCH 1 (UID)"), status_re("F2", "OK"))
        self.assertRegex(command("X1", "XYZZY"), status_re("X1", "BAD"))
        after = self.scrape()

        def delta(command_name):
            return self.cmd_count(after, command_name) - self.cmd_count(before, command_name)

        self.assertEqual(delta("SELECT"), 1)
        self.assertEqual(delta("APPEND"), 1)
        self.assertEqual(delta("FETCH"), 2)
        self.assertEqual(delta("other"), 1)
        self.assertEqual(delta("NOOP"), 0)
        # Latency sums grow with the counts (nothing takes 0 ns).
        key = "roost_command_duration_seconds_sum"
        self.assertGreater(value(after, key, command="FETCH"), value(before, key, command="FETCH"))

        def store_delta(op):
            k = "roost_store_operation_duration_seconds_count"
            return value(after, k, op=op) - value(before, k, op=op)

        self.assertEqual(store_delta("mailbox_open"), 1)
        self.assertEqual(store_delta("append_commit"), 1)
        self.assertGreaterEqual(store_delta("fetch"), 1)
        self.assertGreaterEqual(
            value(after, "roost_received_bytes_total")
            - value(before, "roost_received_bytes_total"), sent)
        self.assertGreaterEqual(
            value(after, "roost_sent_bytes_total") - value(before, "roost_sent_bytes_total"),
            received)
        self.assertGreater(received, len(msg))

    def test_sessions_gauge(self):
        def sessions(samples, state):
            return value(samples, "roost_sessions", state=state)

        base = self.wait_for(lambda s: sessions(s, "not_authenticated") == 0
                             and sessions(s, "authenticated") == 0
                             and sessions(s, "selected") == 0)
        clients = [self.connect() for _ in range(3)]
        s = self.wait_for(lambda s: sessions(s, "not_authenticated") == 3)
        self.assertEqual(sessions(s, "not_authenticated"), 3)
        self.login(clients[0])
        self.login(clients[1])
        _, tagged = clients[1].command("S1", "SELECT INBOX")
        self.assertRegex(tagged, status_re("S1", "OK"))
        s = self.scrape()
        self.assertEqual((sessions(s, "not_authenticated"), sessions(s, "authenticated"),
                          sessions(s, "selected")), (1, 1, 1))
        for c in clients:
            c.close()
        s = self.wait_for(lambda s: all(sessions(s, st) == sessions(base, st)
                                        for st in ("not_authenticated", "authenticated",
                                                   "selected", "logout")))
        for st in ("not_authenticated", "authenticated", "selected", "logout"):
            self.assertEqual(sessions(s, st), sessions(base, st), st)

    def test_preauth_timeout_counted(self):
        before = self.scrape()
        c = self.connect(timeout=8)
        self.assertRegex(c.read_response(timeout=6), r"^\* BYE ")
        after = self.wait_for(lambda s: value(s, "roost_timeouts_total", kind="preauth")
                              > value(before, "roost_timeouts_total", kind="preauth"))
        self.assertEqual(value(after, "roost_timeouts_total", kind="preauth")
                         - value(before, "roost_timeouts_total", kind="preauth"), 1)
        self.assertEqual(value(after, "roost_timeouts_total", kind="idle"),
                         value(before, "roost_timeouts_total", kind="idle"))

    def test_tls_handshake_counted(self):
        before = self.scrape()
        c = self.connect(tls=True)
        self.login(c)
        after = self.scrape()
        key = "roost_tls_handshake_duration_seconds_count"
        self.assertEqual(value(after, key) - value(before, key), 1)
        self.assertEqual(value(after, "roost_tls_handshakes_total", result="ok")
                         - value(before, "roost_tls_handshakes_total", result="ok"), 1)
        self.assertEqual(value(after, "roost_connections_accepted_total", listener="imaps")
                         - value(before, "roost_connections_accepted_total", listener="imaps"),
                         1)


class MetricsOff(ServerTestCase):
    """metrics_listen empty (the harness default): nothing listens."""

    def test_no_listener(self):
        c = self.connect()
        self.login(c)
        with self.assertRaises(OSError):
            socket.create_connection((HOST, METRICS_PORT), timeout=2).close()


class ParserSelfTest(unittest.TestCase):
    """The strict parser refuses what it must (so its passing means
    something)."""

    def test_rejects(self):
        good = ('# HELP x_total X.\n# TYPE x_total counter\nx_total{a="b\\"c"} 1\n'
                '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
                'h_sum 3\nh_count 2\n')
        parse_exposition(good)
        bad = [
            good.replace("# TYPE x_total counter\n", ""),               # no TYPE
            good.replace('h_bucket{le="+Inf"} 2\n', ""),               # no +Inf
            good.replace("h_count 2", "h_count 3"),                    # count != +Inf
            good.replace('h_bucket{le="1"} 1', 'h_bucket{le="1"} 5'),  # not cumulative
            good.replace("h_sum 3\n", ""),                             # no _sum
            good.replace('b\\"c', 'b"c'),                              # unescaped quote
            good.replace('b\\"c', 'b\\tc'),                            # bad escape
            good + "y 1\n",                                            # outside its family
            good[:-1],                                                 # no final LF
        ]
        for text in bad:
            with self.assertRaises(AssertionError, msg=text):
                parse_exposition(text)
