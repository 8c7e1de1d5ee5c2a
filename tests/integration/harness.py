"""harness: run a real roost server for a test and talk to it.

RoostServer makes a temporary directory with a config, a self-signed
certificate and a passwd-file, adds users through the CLI
(`roost user add NAME --password-stdin -c CONF`), starts `roost serve -c CONF`
on free loopback ports with its stderr captured to a file, and stops it with
SIGTERM. stop() fails the test when the server does not exit within 10 s,
exits non-zero, or printed a sanitizer report (the suite also runs against an
ASan/UBSan build).

RawClient speaks bytes: exact sends, line reads with a timeout, so that tests
can check every byte the server sends. imap()/imaps() give imaplib
connections for whole flows.

Environment: ROOST_BIN (default <repo>/build/roost); ROOST_KEEP=1 keeps the
temporary directories (their paths are printed) for post-mortems.

Python 3 standard library only.
"""

import atexit
import base64
import imaplib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
HOST = "127.0.0.1"
TIMEOUT = 10.0          # seconds for any single wait on the server
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# Users every ServerTestCase server has, with passwords that need quoting.
USERS = {
    "alice": "alice-Secret-1",
    "bob": "bob-Secret-2",
    "carol": 'sp ace"q\\b',   # space, quote and backslash
}

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",          # UBSan
    "SUMMARY: AddressSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
)


def roost_bin():
    """Absolute path of the roost binary under test."""
    path = os.environ.get("ROOST_BIN") or os.path.join(REPO, "build", "roost")
    return os.path.abspath(path)


def keep_dirs():
    return os.environ.get("ROOST_KEEP", "") not in ("", "0")


# ---------------------------------------------------------------- certificates

def make_cert(directory, cn="localhost"):
    """Writes a new self-signed P-256 certificate for localhost/127.0.0.1 to
    directory/cert.pem and directory/key.pem (0600). Returns their paths."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "825", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.chmod(key, 0o600)
    return cert, key


_cert_cache = None


def cached_cert():
    """One certificate per test run (key generation is the slow part)."""
    global _cert_cache
    if _cert_cache is None:
        d = tempfile.mkdtemp(prefix="roost-it-cert-")
        atexit.register(shutil.rmtree, d, True)
        _cert_cache = make_cert(d)
    return _cert_cache


def cert_der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def client_context(cafile, **kw):
    """A client context that trusts exactly cafile (a self-signed cert) and
    checks the host name 127.0.0.1 against it. kw: attributes to set, e.g.
    maximum_version=ssl.TLSVersion.TLSv1_2."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if hasattr(ssl, "VERIFY_X509_STRICT"):
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    for name, value in kw.items():
        setattr(ctx, name, value)
    return ctx


def insecure_context(**kw):
    """A client context that accepts any certificate (to look at it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for name, value in kw.items():
        setattr(ctx, name, value)
    return ctx


# ---------------------------------------------------------------- small helpers

def free_ports(n):
    """n distinct free TCP ports on the loopback address."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def plain_ir(authcid, password, authzid=""):
    """Base64 of a SASL PLAIN message (RFC 4616)."""
    return b64(f"{authzid}\0{authcid}\0{password}".encode())


def quote(s):
    """An IMAP quoted string (RFC 9051 quoted: only \\ and \" escaped)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_CAPS_UNTAGGED = re.compile(r"^\* CAPABILITY (.*)$", re.I)
_CAPS_CODE = re.compile(r"\[CAPABILITY ([^\]]*)\]", re.I)


def caps_of(line):
    """The capability set (upper-cased) of a `* CAPABILITY ...` line or of a
    status line with a [CAPABILITY ...] code; None if the line has neither."""
    m = _CAPS_UNTAGGED.match(line) or _CAPS_CODE.search(line)
    if not m:
        return None
    return {c.upper() for c in m.group(1).split()}


def status_re(tag, status, code=None):
    """Regex for a tagged/untagged status line: `TAG STATUS SP [CODE...] ...`."""
    r = "^" + re.escape(tag) + " " + status + " "
    if code:
        r += r"\[" + re.escape(code) + r"[\] ]"
    return re.compile(r)


def run_cli(args, stdin_text=None, timeout=60):
    """Runs `roost ARGS...`; returns the CompletedProcess (text mode)."""
    return subprocess.run([roost_bin()] + list(args), input=stdin_text,
                          capture_output=True, text=True, timeout=timeout)


def sanitizer_report(text):
    """The first sanitizer line in text, or None."""
    for line in text.splitlines():
        if any(p in line for p in SANITIZER_PATTERNS):
            return line
    return None


# ---------------------------------------------------------------- raw client

class RawClient:
    """A byte-exact IMAP client over TCP or TLS.

    send() writes exactly the bytes given. readline() returns one line
    including its CRLF (bytes), waiting at most `timeout` seconds; it raises
    TimeoutError when nothing complete arrives in time and EOFError on EOF.
    `pending` holds bytes read past the last returned line."""

    def __init__(self, port, tls=None, timeout=TIMEOUT, server_hostname=HOST, session=None):
        self.timeout = timeout
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""
        self.eof = False
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname,
                                        session=session)

    # -- I/O
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send_line(self, line):
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out waiting for the server; have %r" % self.pending[:200])
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("timed out waiting for the server; have %r" % self.pending[:200])
        if not data:
            self.eof = True
            raise EOFError("server closed the connection; have %r" % self.pending[:200])
        self.pending += data

    def readline(self, timeout=None):
        """One line with its CRLF, as bytes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.pending:
            self._fill(deadline)
        i = self.pending.index(b"\n") + 1
        line, self.pending = self.pending[:i], self.pending[i:]
        return line

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.pending) < n:
            self._fill(deadline)
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    _LITERAL_AT_END = re.compile(rb"~?\{(\d+)\}\r\n$")

    def read_response(self, timeout=None):
        """One response line as str without its CRLF (a line ended by a bare
        LF fails the test); literals announced at the end of a line are
        read and included verbatim."""
        line = self.readline(timeout)
        while True:
            m = self._LITERAL_AT_END.search(line)
            if not m:
                break
            line += self.read_exact(int(m.group(1)), timeout)
            line += self.readline(timeout)
        if not line.endswith(b"\r\n"):
            raise AssertionError(f"response line not ended by CRLF: {line!r}")
        return line[:-2].decode("utf-8", "surrogateescape")

    def read_tagged(self, tag, timeout=None):
        """Reads until the line tagged `tag`. Returns (untagged, tagged):
        the lines before it (including any "+" continuations) and it."""
        untagged = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            line = self.read_response(max(0.0, deadline - time.monotonic()))
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def command(self, tag, text, timeout=None):
        """Sends `TAG TEXT\\r\\n` and returns read_tagged(tag)."""
        if isinstance(text, bytes):
            self.send(tag.encode() + b" " + text + b"\r\n")
        else:
            self.send_line(f"{tag} {text}")
        return self.read_tagged(tag, timeout)

    def greeting(self):
        return self.read_response()

    def quiet(self, wait=0.3):
        """Bytes that arrive within `wait` seconds (b"" when none)."""
        got = self.pending
        self.pending = b""
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return got
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                return got
            if not data:
                self.eof = True
                return got
            got += data

    def read_until_eof(self, timeout=None):
        """Everything until EOF (bytes); TimeoutError if the server keeps
        the connection open."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while True:
                self._fill(deadline)
        except EOFError:
            pass
        except (ConnectionResetError, ssl.SSLError):
            pass
        data, self.pending = self.pending, b""
        return data

    def starttls(self, ctx, server_hostname=HOST):
        """Wraps the socket in TLS (after a tagged OK to STARTTLS)."""
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- the server

class RoostServer:
    """A roost server in a temporary directory.

    settings: config keys overriding the defaults (a value of None removes
    the key). users: {name: password} added with the default scheme
    (password_scheme, SHA512-CRYPT unless set). plaintext_auth: written to
    the config when given (the server's default is "loopback"). serve_args:
    extra arguments for `roost serve` (e.g. ["-o", "key=value"])."""

    DEFAULTS = {
        "log_level": "info",
        "password_scheme": "SHA512-CRYPT",
        "tls_cert": "tls/cert.pem",
        "tls_key": "tls/key.pem",
        "passwd_file": "passwd",
        "mail_root": "mail",
        "state_dir": "state",
        # Off unless a test asks for it: the default port would clash
        # between servers running side by side.
        "metrics_listen": "",
    }

    def __init__(self, settings=None, users=None, plaintext_auth=None, serve_args=()):
        self.serve_args = list(serve_args)
        self.dir = tempfile.mkdtemp(prefix="roost-it-")
        self.imap_port, self.imaps_port = free_ports(2)
        self.proc = None
        self.log_path = os.path.join(self.dir, "roost.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.conf = os.path.join(self.dir, "roost.conf")
        self.passwd = os.path.join(self.dir, "passwd")
        tls_dir = os.path.join(self.dir, "tls")
        os.makedirs(tls_dir)
        os.makedirs(os.path.join(self.dir, "mail"))
        os.makedirs(os.path.join(self.dir, "state"))
        cert, key = cached_cert()
        self.cert = os.path.join(tls_dir, "cert.pem")
        self.key = os.path.join(tls_dir, "key.pem")
        shutil.copyfile(cert, self.cert)
        shutil.copyfile(key, self.key)
        os.chmod(self.key, 0o600)
        # Kept apart so that tests which replace tls/cert.pem still verify
        # against the certificate the server started with.
        self.ca_file = os.path.join(self.dir, "ca.pem")
        shutil.copyfile(cert, self.ca_file)

        self.settings = dict(self.DEFAULTS)
        self.settings["imap_listen"] = f"{HOST}:{self.imap_port}"
        self.settings["imaps_listen"] = f"{HOST}:{self.imaps_port}"
        if plaintext_auth is not None:
            self.settings["plaintext_auth"] = plaintext_auth
        for k, v in (settings or {}).items():
            if v is None:
                self.settings.pop(k, None)
            else:
                self.settings[k] = str(v)
        self.write_config()
        fd = os.open(self.passwd, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        for name, password in (users or {}).items():
            self.add_user(name, password)

    # -- files
    def write_config(self):
        with open(self.conf, "w") as f:
            f.write("# written by tests/integration/harness.py\n")
            for k, v in self.settings.items():
                f.write(f"{k} = {v}\n")

    def add_user(self, name, password, scheme=None):
        """`roost user add NAME --password-stdin -c CONF [-o password_scheme=S]`."""
        args = ["user", "add", name, "--password-stdin", "-c", self.conf]
        if scheme:
            args += ["-o", f"password_scheme={scheme}"]
        r = run_cli(args, password + "\n")
        if r.returncode != 0:
            raise AssertionError(f"roost {' '.join(args)} exited {r.returncode}: {r.stderr}")

    def add_passwd_line(self, line):
        with open(self.passwd, "a") as f:
            f.write(line.rstrip("\n") + "\n")

    def passwd_entry(self, name):
        with open(self.passwd) as f:
            for line in f:
                if line.split(":", 1)[0] == name:
                    return line.rstrip("\n")
        return None

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    # -- process
    def start(self):
        """Starts `roost serve -c CONF` and waits until its listeners accept
        connections (at most 10 s)."""
        assert self.proc is None
        log = open(self.log_path, "ab")
        out = open(self.stdout_path, "ab")
        try:
            self.proc = subprocess.Popen([roost_bin(), "serve", "-c", self.conf] + self.serve_args,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=log,
                                         cwd=self.dir)
        finally:
            log.close()
            out.close()
        ports = [p for p, key in ((self.imap_port, "imap_listen"), (self.imaps_port, "imaps_listen"))
                 if self.settings.get(key)]
        deadline = time.monotonic() + START_TIMEOUT
        while ports:
            if self.proc.poll() is not None:
                raise AssertionError(f"roost serve exited with {self.proc.returncode} at start:\n"
                                     + self.log_tail())
            try:
                socket.create_connection((HOST, ports[0]), timeout=1).close()
                ports.pop(0)
                continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"roost serve did not accept connections within "
                                     f"{START_TIMEOUT:.0f} s:\n" + self.log_tail())
            time.sleep(0.02)
        time.sleep(0.05)
        if self.proc.poll() is not None:
            raise AssertionError(f"roost serve exited with {self.proc.returncode} at start:\n"
                                 + self.log_tail())
        return self

    def restart(self):
        """stop() (checked) and start() again, e.g. to reread files."""
        self.stop()
        self.proc = None
        return self.start()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"roost serve died (exit {self.proc.returncode}):\n"
                                 + self.log_tail())

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit; returns its status or None."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, check=True):
        """SIGTERM, then wait up to 10 s. With check, fails (AssertionError)
        when the server hangs (it is then killed), exits non-zero, or wrote
        a sanitizer report."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit()
            if rc is None:
                self.kill()
                if check:
                    raise AssertionError(f"roost serve ignored SIGTERM for {STOP_TIMEOUT:.0f} s:\n"
                                         + self.log_tail())
        rc = self.proc.returncode
        if check:
            self.check_clean_exit()
        return rc

    def check_clean_exit(self):
        rc = self.proc.returncode
        san = sanitizer_report(self.log())
        if san:
            raise AssertionError(f"sanitizer report from roost serve: {san}\n" + self.log_tail(80))
        if rc != 0:
            raise AssertionError(f"roost serve exited with {rc}:\n" + self.log_tail())

    def cleanup(self):
        self.kill()
        if keep_dirs():
            sys.stderr.write(f"[kept {self.dir}]\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.stop()
            else:
                self.stop(check=False)
        finally:
            self.cleanup()
        return False

    # -- clients
    def context(self, **kw):
        """Client SSL context trusting this server's (original) certificate."""
        return client_context(self.ca_file, **kw)

    def raw(self, timeout=TIMEOUT):
        """RawClient on the plaintext port (greeting not read)."""
        return RawClient(self.imap_port, timeout=timeout)

    def raw_tls(self, ctx=None, timeout=TIMEOUT, session=None):
        """RawClient on the IMAPS port (greeting not read)."""
        return RawClient(self.imaps_port, tls=ctx or self.context(), timeout=timeout,
                         session=session)

    def imap(self):
        return imaplib.IMAP4(HOST, self.imap_port, timeout=TIMEOUT)

    def imaps(self, ctx=None):
        return imaplib.IMAP4_SSL(HOST, self.imaps_port, ssl_context=ctx or self.context(),
                                 timeout=TIMEOUT)


# ---------------------------------------------------------------- test base

class ServerTestCase(unittest.TestCase):
    """Starts one server for the class (settings/users/plaintext_auth from
    the class attributes) and stops it after the last test; a test fails if
    the server died during it."""

    settings = {}
    users = USERS
    plaintext_auth = None
    serve_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = RoostServer(settings=cls.settings, users=cls.users,
                                 plaintext_auth=cls.plaintext_auth, serve_args=cls.serve_args)
        try:
            cls.prepare(cls.server)
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise

    @classmethod
    def prepare(cls, server):
        """Hook: runs before the server starts (add users, files...)."""

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.server.cleanup()
        super().tearDownClass()

    def tearDown(self):
        self.server.assert_alive()

    # -- helpers for tests
    def connect(self, tls=False, read_greeting=True, timeout=TIMEOUT):
        """A RawClient (closed at cleanup), greeting read and checked."""
        c = self.server.raw_tls(timeout=timeout) if tls else self.server.raw(timeout=timeout)
        self.addCleanup(c.close)
        if read_greeting:
            g = c.greeting()
            self.assertTrue(g.startswith("* OK "), f"greeting: {g!r}")
            c.greeting_line = g
        return c

    def login(self, c, user="alice", password=None, tag="L1"):
        """LOGIN with quoted strings; asserts the tagged OK; returns it."""
        if password is None:
            password = self.users[user]
        _, tagged = c.command(tag, f"LOGIN {quote(user)} {quote(password)}")
        self.assertRegex(tagged, status_re(tag, "OK"))
        return tagged

    def starttls(self, c, tag="S1"):
        untagged, tagged = c.command(tag, "STARTTLS")
        self.assertRegex(tagged, status_re(tag, "OK"))
        self.assertEqual(c.pending, b"", "bytes after the STARTTLS OK in plaintext")
        c.starttls(self.server.context())

    def caps(self, c, tag="C1"):
        """CAPABILITY; asserts exactly one untagged CAPABILITY and a tagged
        OK; returns the set."""
        untagged, tagged = c.command(tag, "CAPABILITY")
        self.assertRegex(tagged, status_re(tag, "OK"))
        lines = [u for u in untagged if u.upper().startswith("* CAPABILITY ")]
        self.assertEqual(len(lines), 1, f"untagged: {untagged!r}")
        return caps_of(lines[0])

    def assertStatus(self, line, tag, status, code=None):
        self.assertRegex(line, status_re(tag, status, code))

    def assertNoop(self, c, tag="N1"):
        """The session still works: NOOP gets a tagged OK."""
        _, tagged = c.command(tag, "NOOP")
        self.assertStatus(tagged, tag, "OK")
