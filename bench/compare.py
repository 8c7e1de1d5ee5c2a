#!/usr/bin/env python3
"""roost against a tuned Dovecot 2.3, side by side, on the same machine.

One command from a fresh clone:

  bench/compare.py                      # builds build-rel/ if needed, full run
  bench/compare.py --quick              # a few minutes: fewer sessions, shorter phases
  bench/compare.py --roost build-rel/roost --load build-rel/roost-load --only sync,search

What it does, in order (every phase has a time bound; both servers are
always stopped at the end, their process groups killed; the temporary
directory is removed unless --keep):
1. builds roost and roost-load (cmake, build-rel/, Release) when missing;
   makes sure Debian's dovecot-imapd is installed (scripts/deps.sh);
2. generates the corpus once (bench/corpus.py, fixed seeds): an "inbox"
   per user (1 KB-10 MB, attachments, threads, UTF-8) and one large
   mailing-list mailbox for SEARCH; hard-links the same files into both
   servers' new/ directories (neither server writes a message file in
   place, so sharing inodes is safe and keeps page-cache state equal);
3. creates the users the roost way (`roost user add`, ARGON2ID); Dovecot's
   passdb is a byte-identical copy of roost's passwd-file, so both servers
   verify the very same hashes;
4. starts both servers (configs: write_roost_config / write_dovecot_config),
   warms both (SELECT + FETCH of ENVELOPE/BODYSTRUCTURE for every mailbox,
   so both have built their indexes and caches);
5. runs every workload of bench/load (roost-load) against both,
   alternating which server goes first, and samples each server's memory
   (PSS summed over every Dovecot process; roost's one process) and CPU;
6. prints the table and writes bench/RESULTS.md.

Fairness choices (also written into RESULTS.md):
- Password scheme: ARGON2ID with roost's parameters for both (Debian's
  Dovecot is built with libsodium and verifies {ARGON2ID}).
- Authentication caches on in both, 10 minutes (roost's default
  auth_cache_ttl; Dovecot auth_cache_size = 10M, auth_cache_ttl = 10 mins,
  auth_cache_verify_password_with_worker = yes so that its hashing uses
  every core). They differ by design: roost remembers a keyed MAC of a
  verified password, so a repeated login skips the hash; Dovecot caches the
  passdb lookup and still verifies the hash. --no-auth-cache turns both off.
- Durability: roost mail_fsync = yes (message file, directory and index
  fsynced before an APPEND is acknowledged); Dovecot mail_fsync = always by
  default here (its "optimized" default fsyncs the message but not the
  index); --dovecot-fsync optimized reruns with Dovecot's default.
- Limits: neither server throttles: roost's per-IP, per-user and rate
  limits are off and max_connections is 19,500; Dovecot runs the
  high-performance login mode (imap-login service_count = 0,
  process_min_avail = cores) with imap processes reused, process and
  client limits raised to 20,000 and mail_max_userip_connections raised.
- Both log each login at their default level to a file.
"""

import argparse
import concurrent.futures
import datetime
import imaplib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, HERE)
import corpus  # noqa: E402
import harness  # noqa: E402

HOST = "127.0.0.1"
CORES = os.cpu_count() or 1
MAIL_UID = 65534          # Dovecot refuses to run mail processes as root: "nobody"
FD_CEILING = 20000        # RLIMIT_NOFILE here; a session needs one descriptor
MAX_SESSIONS = 19500      # what both servers are told to accept
IDLE_CEILING = 19000      # idle-hold sessions in a full run (load generator's fds too)
BIG_USER = "biglist"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- configs

# Authentication caches, the same in both unless --no-auth-cache: a
# verified login is remembered this long (roost's default; Dovecot's
# auth_cache_ttl is set to match).
AUTH_CACHE_TTL_MIN = 10


def write_roost_config(directory, imap_port, imaps_port, cert, key, auth_cache=True):
    """roost.conf in directory (mail in directory/mail, users in
    directory/passwd), tuned so that nothing throttles or refuses the
    benchmark. Returns the config path."""
    for sub in ("mail", "state"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    conf = os.path.join(directory, "roost.conf")
    with open(conf, "w") as f:
        f.write(f"""# bench/compare.py: roost tuned for the benchmark
imap_listen = {HOST}:{imap_port}
imaps_listen = {HOST}:{imaps_port}
tls_cert = {cert}
tls_key = {key}
passwd_file = passwd
password_scheme = ARGON2ID
plaintext_auth = always
mail_root = mail
state_dir = state
# durable: message file, directory and index are fsynced before the OK
mail_fsync = yes
# a password verified by the real hash is remembered (a keyed MAC, not the password)
auth_cache_ttl = {f"{AUTH_CACHE_TTL_MIN}m" if auth_cache else "0"}
auth_cache_size = 65536
log_level = info
audit_log = audit.log
metrics_listen =
lmtp_socket =
# governance off: the benchmark must not be throttled or refused
max_connections = {MAX_SESSIONS}
max_preauth_connections_per_ip = 0
connect_rate_per_ip = 0
max_user_connections = 0
max_userip_connections = 0
command_rate = 0
user_cpu_percent = 0
download_limit = 0
upload_limit = 0
max_literal_size = 64m
""")
    return conf


# Keys an older roost build may not know; without them it runs its defaults.
OPTIONAL_KEYS = ("lmtp_socket", "metrics_listen", "audit_log", "user_cpu_percent",
                 "download_limit", "upload_limit", "auth_cache_ttl", "auth_cache_size")


def drop_unknown_keys(binary, conf):
    """Removes OPTIONAL_KEYS lines `roost check-config` calls unknown (a
    binary older than this script), so one script serves both."""
    for _ in OPTIONAL_KEYS:
        out = subprocess.run([binary, "check-config", "-c", conf], capture_output=True,
                             text=True, timeout=30)
        bad = [k for k in OPTIONAL_KEYS if f"unknown key '{k}'" in out.stderr + out.stdout]
        if out.returncode == 0 or not bad:
            return
        with open(conf) as f:
            lines = [ln for ln in f if ln.split("=")[0].strip() != bad[0]]
        with open(conf, "w") as f:
            f.writelines(lines)


def write_dovecot_config(directory, imap_port, imaps_port, cert, key, passwd,
                         fsync="always", cores=CORES, auth_cache=True):
    """A private Dovecot 2.3 tuned for the benchmark, all state in
    directory: base_dir, state_dir, log, mail (directory/mail/<user>/Maildir,
    owned by MAIL_UID), passdb = passwd (a roost passwd-file). Returns the
    config path."""
    d = os.path.abspath(directory)
    for sub in ("run", "state", "mail", "home"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.chmod(d, 0o755)
    for sub in ("mail", "home"):
        os.chown(os.path.join(d, sub), MAIL_UID, MAIL_UID)
    dh = "/usr/share/dovecot/dh.pem"
    dh_line = f"ssl_dh = <{dh}\n" if os.path.exists(dh) else ""
    # A login process proxies its TLS sessions (2 descriptors each): 5,000
    # clients a process keeps it far below the 20,000-descriptor limit.
    login_clients = 5000
    login_procs = MAX_SESSIONS // login_clients + 2
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""# bench/compare.py: a private Dovecot tuned for the benchmark
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = {HOST}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
{dh_line}ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
# Dovecot's cache keeps the passdb lookup (the stored hash): a cached login
# still verifies the hash, on the auth-worker processes (one per core) rather
# than the single auth process.
auth_cache_size = {"10M" if auth_cache else "0"}
auth_cache_ttl = {AUTH_CACHE_TTL_MIN} mins
auth_cache_negative_ttl = 0
auth_cache_verify_password_with_worker = yes
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u/Maildir
mail_fsync = {fsync}
first_valid_uid = {MAIL_UID}
default_login_user = dovenull
default_internal_user = dovecot
default_vsz_limit = 1G
protocol imap {{
  mail_max_userip_connections = {FD_CEILING}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
  # high-performance mode: long-lived login processes, one per core ready
  service_count = 0
  process_min_avail = {cores}
  process_limit = {login_procs}
  client_limit = {login_clients}
  vsz_limit = 1G
  chroot =
}}
service imap {{
  # processes reused for later sessions (all users share one uid); an
  # unused one exits after idle_kill, so a workload starts from the same
  # processes as the one before it
  service_count = 1000
  idle_kill = 20s
  process_limit = {MAX_SESSIONS}
  process_min_avail = {cores}
  vsz_limit = 1G
}}
# Reused imap processes each keep a connection to auth: auth needs a
# descriptor per imap process (its limit is {FD_CEILING} here, like everyone's).
service anvil {{
  chroot =
  client_limit = {FD_CEILING - 100}
}}
service auth {{
  client_limit = {FD_CEILING - 100}
}}
# every imap process keeps a connection to stats-writer
service stats {{
  client_limit = {FD_CEILING - 100}
}}
passdb {{
  driver = passwd-file
  args = {passwd}
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_UID} home={d}/home/%u
}}
""")
    return conf


# ---------------------------------------------------------------- processes

def _wait_listen(proc, port, what, logfn, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{logfn()}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not listen within {timeout} s:\n{logfn()}")
            time.sleep(0.05)


def _stop_group(proc, timeout=30):
    """SIGTERM to the server, then SIGKILL to its whole process group (a
    Dovecot master with thousands of children can take long to exit).
    Never raises: it runs in the final cleanup."""
    if proc is None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"pid {proc.pid} did not exit within {timeout} s: killing its process group")
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        log(f"pid {proc.pid} still there after SIGKILL")


class Server:
    """A server process in its own process group; subclasses set name, dir,
    port, imaps_port and implement start()."""

    proc = None

    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        _stop_group(self.proc)
        self.proc = None

    def imap(self, user, password, timeout=600):
        m = imaplib.IMAP4(HOST, self.port, timeout=timeout)
        m.login(user, password)
        return m


class Roost(Server):
    name = "roost"

    def __init__(self, binary, directory, cert, key, auth_cache=True):
        self.bin = os.path.abspath(binary)
        self.dir = directory
        self.port, self.imaps_port = harness.free_ports(2)
        self.conf = write_roost_config(directory, self.port, self.imaps_port, cert, key,
                                       auth_cache)
        drop_unknown_keys(self.bin, self.conf)
        self.log_path = os.path.join(directory, "roost.log")
        self.mail = os.path.join(directory, "mail")

    def maildir(self, user):
        """INBOX of user: roost keeps a Maildir++ tree per user."""
        return os.path.join(self.mail, user)

    def add_users(self, users, scheme=None):
        """`roost user add` for every (name, password), a process per core."""
        opt = ["-o", f"password_scheme={scheme}"] if scheme else []

        def add(item):
            subprocess.run([self.bin, "user", "add", item[0], "--password-stdin", "-c",
                            self.conf] + opt, input=(item[1] + "\n").encode(), check=True,
                           capture_output=True, timeout=60)
        with concurrent.futures.ThreadPoolExecutor(CORES) as ex:
            list(ex.map(add, users))

    def start(self):
        self.proc = subprocess.Popen([self.bin, "serve", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "ab"), start_new_session=True)
        _wait_listen(self.proc, self.port, "roost", self.log)

    def pids(self):
        return [self.proc.pid]

    def version(self):
        out = subprocess.run([self.bin, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.strip()


DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot")
                                      else None)


class Dovecot(Server):
    name = "dovecot"

    def __init__(self, directory, cert, key, passwd, fsync="always", auth_cache=True):
        self.dir = os.path.abspath(directory)
        self.port, self.imaps_port = harness.free_ports(2)
        os.makedirs(self.dir, exist_ok=True)
        # Byte-identical copy of roost's passwd-file, readable by Dovecot's auth.
        self.passwd = os.path.join(self.dir, "passwd")
        shutil.copyfile(passwd, self.passwd)
        os.chmod(self.passwd, 0o644)
        self.conf = write_dovecot_config(self.dir, self.port, self.imaps_port, cert, key,
                                         self.passwd, fsync, auth_cache=auth_cache)
        self.log_path = os.path.join(self.dir, "dovecot.log")

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user, "Maildir")

    def prepare_user(self, user):
        """Maildir owned by the mail uid (files stay readable 0644 links)."""
        top = os.path.join(self.dir, "mail", user)
        for path, dirs, _ in os.walk(top):
            os.chown(path, MAIL_UID, MAIL_UID)

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-c", self.conf, "-F"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path + ".stderr", "ab"),
                                     start_new_session=True)
        _wait_listen(self.proc, self.port, "dovecot", self.log)

    def pids(self):
        """The master and every process it forked (all its direct children)."""
        return [self.proc.pid] + children(self.proc.pid)

    def version(self):
        out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, timeout=10)
        return "Dovecot " + out.stdout.strip()


# ---------------------------------------------------------------- measuring

def children(ppid):
    """pids whose parent is ppid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == ppid:
            out.append(int(name))
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(server):
    """User+system CPU of the server's processes, including children that
    exited (the master's cutime/cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    root = server.pid()
    for pid in server.pids():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
        if pid == root:
            total += int(fields[13]) + int(fields[14])
    return total / tick


class MemorySampler(threading.Thread):
    """Samples the summed PSS (and RSS) of a server's processes until
    stopped; keeps the peak. One pass over 19,000 Dovecot processes takes a
    few seconds, so passes are spaced by `interval`."""

    def __init__(self, server, interval=2.0):
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.peak_pss = self.peak_rss = 0
        self.samples = 0
        self.stop_ev = threading.Event()

    def measure(self):
        pids = self.server.pids()
        return sum(pss_kib(p) for p in pids), sum(rss_kib(p) for p in pids), len(pids)

    def run(self):
        while not self.stop_ev.is_set():
            pss, rss, _ = self.measure()
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            self.samples += 1
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(30)


# ---------------------------------------------------------------- corpus and users

def make_users(n, seed):
    """n (name, password) pairs, deterministic."""
    import random
    rng = random.Random(f"users/{seed}")
    return [(f"user{i:04d}", f"pw-{rng.getrandbits(64):016x}") for i in range(n)]


def link_maildir(src, dst):
    """Hard-links every file of the Maildir src (new/ and cur/) into dst."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(dst, sub), exist_ok=True)
    for sub in ("cur", "new"):
        for name in os.listdir(os.path.join(src, sub)):
            os.link(os.path.join(src, sub, name), os.path.join(dst, sub, name))


def warm(server, users, big_password, timeout):
    """Every mailbox SELECTed and its ENVELOPE/BODYSTRUCTURE fetched, so both
    servers have picked up new/ and built their indexes and caches."""
    def one(item, items="(FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)"):
        user, password = item
        m = server.imap(user, password, timeout=timeout)
        try:
            typ, _ = m.select("INBOX")
            if typ != "OK":
                raise RuntimeError(f"{server.name}: SELECT as {user}: {typ}")
            m.fetch("1:*", items)
        finally:
            m.logout()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        list(ex.map(one, users))
    # 100,000 BODYSTRUCTUREs would mostly measure imaplib.
    one((BIG_USER, big_password), "(FLAGS RFC822.SIZE ENVELOPE)")


def time_select_search(server, password, rounds=5):
    """Median wall times (ms) on the big mailbox, measured from this client
    (loopback round trip included): SELECT INBOX; SEARCH TEXT of a word in
    almost every message ("schedule") and of one in none ("quarterly": the
    corpus's vocabulary is small, every word of it is common).
    Before them the first search is timed alone: roost scans what is not
    indexed yet (a search never waits for indexing) and indexes it in the
    background; the warm figures are taken once that is done (a search of
    a word found nowhere answers in well under a second), as in steady
    state, where mail is indexed as it is searched. Dovecot here has no
    full-text index and scans every time."""
    m = server.imap(BIG_USER, password, timeout=600)
    sel, common, rare = [], [], []
    try:
        m.select("INBOX")
        t = time.perf_counter()
        m.search(None, "TEXT", '"schedule"')
        first = (time.perf_counter() - t) * 1000
        # Until searches are fast or stop getting faster: roost's shrink
        # while its background indexing goes on, unevenly (a poll scans
        # what is not indexed yet, and message sizes vary: one poll can
        # take longer than the one before); a scanning server's stay level
        # from the start. So: stop after 6 polls without a new low.
        deadline, took, low_at = time.monotonic() + 900, [], 0
        while time.monotonic() < deadline:
            t = time.perf_counter()
            m.search(None, "TEXT", '"zqxjvbnothing"')
            took.append(time.perf_counter() - t)
            if took[-1] < 0.1:
                break
            if len(took) == 1 or took[-1] < 0.95 * min(took[:-1]):
                low_at = len(took) - 1
            if len(took) - 1 - low_at >= 6:
                break
            time.sleep(5)
        m.unselect() if hasattr(m, "unselect") else m.close()
        for _ in range(rounds):
            for out, args in ((sel, None), (common, '"schedule"'), (rare, '"quarterly"')):
                t = time.perf_counter()
                if args is None:
                    m.select("INBOX")
                else:
                    m.search(None, "TEXT", args)
                out.append((time.perf_counter() - t) * 1000)
            m.unselect() if hasattr(m, "unselect") else m.close()
    finally:
        m.logout()
    med = lambda v: sorted(v)[len(v) // 2]
    return med(sel), med(common), med(rare), first


# ---------------------------------------------------------------- workloads

# Sessions a second the idle-hold ramp opens. Its users have SHA512-CRYPT
# hashes (a few ms to verify; an ARGON2ID login costs ~75 ms of a core on
# both servers, which would make a 19,000-session ramp take 15 minutes);
# a faster ramp only queues logins past the load generator's timeout.
IDLE_CONNECT_RATE = 200


def workloads(quick, scale=1.0, duration=None):
    """(label, workload, clients, tls, users set, duration, warmup, extra
    roost-load arguments). scale multiplies the client counts, duration
    replaces the measured window (both for trial runs)."""
    table = _workloads(quick)
    out = []
    for label, wl, clients, tls, uset, d, warmup, extra in table:
        n = max(1, int(clients * scale))
        if scale != 1.0 and wl == "idle-hold":
            warmup = int(n / IDLE_CONNECT_RATE * 1.3) + 5
        out.append((label, wl, n, tls, uset, duration or d, warmup, extra))
    return out


def _workloads(quick):
    d = 10 if quick else 30
    idle = 2000 if quick else IDLE_CEILING
    idle_tls = 1000 if quick else 10000

    def idle_args(n):
        return ["--connect-rate", str(IDLE_CONNECT_RATE), "--timeout", "60",
                "--deliver-every", "5"]

    def idle_warmup(n):
        return int(n / IDLE_CONNECT_RATE * 1.3) + 15

    return [
        ("login-storm", "login-storm", 50, None, "inbox", d, 2, []),
        ("login-storm", "login-storm", 500, None, "inbox", d, 5, ["--timeout", "60"]),
        ("idle-hold", "idle-hold", idle, None, "idle", d * 2, idle_warmup(idle),
         idle_args(idle)),
        ("idle-hold tls", "idle-hold", idle_tls, "tls", "idle", d * 2, idle_warmup(idle_tls),
         idle_args(idle_tls)),
        ("fetch-bulk", "fetch-bulk", 8, None, "inbox", d, 2, ["--timeout", "60"]),
        ("fetch-bulk tls", "fetch-bulk", 8, "tls", "inbox", d, 2, ["--timeout", "60"]),
        ("search", "search", 4, None, "big", d, 2, ["--timeout", "60"]),
        ("sync", "sync", 50, None, "inbox", d, 3, []),
        ("sync", "sync", 500, None, "inbox", d, 5, ["--timeout", "60"]),
        ("append", "append", 20, None, "inbox", d, 2, []),
    ]


def wait_settled(server, nprocs, timeout=120):
    """Waits until the server is back to nprocs processes (Dovecot's unused
    imap processes exit after idle_kill), so that each run starts from the
    same state and its memory growth is its own."""
    deadline = time.monotonic() + timeout
    while len(server.pids()) > nprocs and time.monotonic() < deadline:
        time.sleep(2)
    return len(server.pids())


def run_load(args, server, label, workload, clients, tls, users_file, duration, warmup, extra,
             outdir):
    """One roost-load run against server, with memory and CPU sampled here.
    Returns the load's JSON plus "sampled" (PSS/RSS/CPU from this side)."""
    port = server.imaps_port if tls == "tls" else server.port
    cmd = [args.load, "--host", HOST, "--port", str(port), "--users", users_file,
           "--workload", workload, "--clients", str(clients), "--duration", str(duration),
           "--warmup", str(warmup), "--server-pid", str(server.pid()), "--json"]
    if tls == "tls":
        cmd.append("--tls")
    elif tls == "starttls":
        cmd.append("--starttls")
    cmd += extra
    limit = warmup + duration + 180
    # A pass over thousands of Dovecot processes costs CPU on this same
    # machine: sample sparsely (idle-hold's peak is a plateau anyway).
    sampler = MemorySampler(server, interval=5.0 if clients > 5000 else 3.0)
    pss0, rss0, nproc0 = sampler.measure()
    cpu0 = cpu_seconds(server)
    sampler.start()
    t0 = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as e:
        sampler.stop()
        return {"error": f"timed out after {limit:.0f} s", "stderr": str(e.stderr)[-2000:]}
    wall = time.monotonic() - t0
    sampler.stop()
    cpu1 = cpu_seconds(server)
    safe = label.replace(" ", "_")
    with open(os.path.join(outdir, f"{safe}-{clients}-{server.name}.json"), "w") as f:
        f.write(out.stdout)
    with open(os.path.join(outdir, f"{safe}-{clients}-{server.name}.stderr"), "w") as f:
        f.write(out.stderr)
    try:
        res = json.loads(out.stdout[out.stdout.index("{"):])
    except ValueError:
        return {"error": f"roost-load exit {out.returncode}: {out.stderr.strip()[-600:]}"}
    res["sampled"] = {"pss_kib_start": pss0, "pss_kib_peak": max(sampler.peak_pss, pss0),
                      "rss_kib_start": rss0, "rss_kib_peak": max(sampler.peak_rss, rss0),
                      "procs_start": nproc0, "cpu_s": cpu1 - cpu0, "wall_s": wall,
                      "exit": out.returncode}
    return res


# ---------------------------------------------------------------- table

def _lat(res, names):
    lat = res.get("latency_us") or {}
    for n in names:
        if n in lat and lat[n].get("count"):
            return lat[n]
    return None


def _fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, float):
        v = f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v}{unit}"


def rows_for(label, clients, r, d):
    """Table rows (workload, clients, metric, roost, dovecot, ratio, target,
    met) for one workload. r and d are the two results."""
    rows = []

    def add(metric, rv, dv, target="", met=None, higher_better=True):
        ratio = rv / dv if isinstance(rv, (int, float)) and isinstance(dv, (int, float)) \
            and dv else None
        rows.append([label, clients, metric, rv, dv, ratio, target, met])

    if "error" in r or "error" in d:
        rows.append([label, clients, "error", r.get("error", "ok"), d.get("error", "ok"), None,
                     "", False])
        return rows
    wl = r.get("workload", label)
    ops_r, ops_d = r.get("ops_per_s"), d.get("ops_per_s")
    if wl == "login-storm":
        ratio = ops_r / ops_d if ops_d else None
        add("logins/s", ops_r, ops_d, "≥ 10×", ratio is not None and ratio >= 10)
        lr, ld = _lat(r, ["login"]), _lat(d, ["login"])
        add("LOGIN p99 ms", lr and lr["p99"] / 1000, ld and ld["p99"] / 1000)
    elif wl == "idle-hold":
        sr, sd = r.get("idle_sessions_peak"), d.get("idle_sessions_peak")
        ok = sr is not None and sr >= clients and not r.get("sessions_refused")
        add("IDLE sessions held (peak)", sr, sd, f"{clients}, 0 refused", ok)
        add("sessions refused", r.get("sessions_refused"), d.get("sessions_refused"))
        per_r = _per_session(r, sr, "rss")
        per_d = _per_session(d, sd, "pss")
        bound = 40 if "tls" in label else 8
        add("KiB/session (roost RSS, Dovecot PSS)", per_r, per_d, f"≤ {bound} KiB",
            per_r is not None and per_r <= bound)
        dr, dd = r.get("delivery_us") or {}, d.get("delivery_us") or {}
        add("delivery p99 ms", dr["p99"] / 1000 if dr.get("count") else None,
            dd["p99"] / 1000 if dd.get("count") else None)
        add("deliveries heard within 2 s", f"{dr.get('within_2s')}/{dr.get('expected')}",
            f"{dd.get('within_2s')}/{dd.get('expected')}", "all",
            bool(dr.get("expected")) and dr.get("within_2s") == dr.get("expected"))
    elif wl == "sync":
        ratio = ops_r / ops_d if ops_d else None
        add("ops/s", ops_r, ops_d, "≥ 3×", ratio is not None and ratio >= 3)
        pr, pd = _p99_all(r), _p99_all(d)
        add("p99 ms (slowest command)", pr, pd, "≤ Dovecot",
            pr is not None and pd is not None and pr <= pd)
        # A p99 is over the sessions that got to run commands: one still
        # in its LOGIN when the window ends adds nothing to it.
        add("sessions that ran commands", r.get("sessions_active"), d.get("sessions_active"),
            f"{clients}", r.get("sessions_active") == clients)
    elif wl == "fetch-bulk":
        mr = r.get("message_bytes_per_s", 0) / 1e6
        md = d.get("message_bytes_per_s", 0) / 1e6
        if "tls" in label:
            add("message MB/s", mr, md, "≥ Dovecot", mr >= md)
        else:
            add("message MB/s", mr, md, "≥ 1000 MB/s", mr >= 1000)
    elif wl == "search":
        add("searches/s", ops_r, ops_d)
        lr = _lat(r, ["search_text"])
        ld = _lat(d, ["search_text"])
        add("SEARCH TEXT p99 ms", lr and lr["p99"] / 1000, ld and ld["p99"] / 1000,
            "≤ 50 ms", lr is not None and lr["p99"] / 1000 <= 50)
    else:
        add("ops/s", ops_r, ops_d)
        pr, pd = _p99_all(r), _p99_all(d)
        add("p99 ms (slowest command)", pr, pd)
    if wl != "idle-hold" and r.get("ops") and d.get("ops"):
        # CPU of the whole run (warmup included) over the window's operations:
        # comparable between the servers, not an absolute cost.
        add("server CPU ms/op", r["sampled"]["cpu_s"] * 1000 / r["ops"],
            d["sampled"]["cpu_s"] * 1000 / d["ops"])
    else:
        add("server CPU s", r["sampled"]["cpu_s"], d["sampled"]["cpu_s"])
    add("server memory growth MiB", _growth(r) / 1024, _growth(d) / 1024)
    return rows


# The commands of a workload's steady state (connect, login and SELECT are
# the session set-up, reported by login-storm).
STEADY_OPS = ("fetch_flags", "fetch_body", "store", "append", "expunge", "fetch_bulk",
              "search_text", "search_from", "search_since")


def _p99_all(res):
    lat = res.get("latency_us") or {}
    vals = [v["p99"] for k, v in lat.items() if v.get("count") and k in STEADY_OPS]
    return max(vals) / 1000 if vals else None


def _growth(res):
    s = res["sampled"]
    return max(0, s["pss_kib_peak"] - s["pss_kib_start"])


def _per_session(res, sessions, kind):
    if not sessions:
        return None
    s = res["sampled"]
    if kind == "rss":
        # The baseline is this script's, taken before the load generator
        # started (its own "start" is the window's, after the ramp); the
        # peak is the higher of its 100 ms samples and ours.
        srv = res.get("server") or {}
        peak = max(srv.get("rss_kib_peak", 0), s["rss_kib_peak"])
        return (peak - s["rss_kib_start"]) / sessions
    return (s["pss_kib_peak"] - s["pss_kib_start"]) / sessions


def format_table(rows, markdown):
    head = ["workload", "clients", "metric", "roost", "dovecot", "roost/dovecot", "target",
            "met?"]
    body = [[str(r[0]), str(r[1]), r[2], _fmt(r[3]), _fmt(r[4]),
             "—" if r[5] is None else f"{r[5]:.2f}", r[6] or "",
             "" if r[7] is None else ("yes" if r[7] else "**no**" if markdown else "NO")]
            for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    return "\n".join(fmt.format(*x) for x in [head] + body)


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / (1 << 20)
    return (f"{CORES} cores ({model}), {mem:.1f} GiB RAM, Linux {platform.release()}, "
            f"open-file limit {FD_CEILING} a process")


def write_results(path, rows, args, versions, extra_rows, started):
    roost_cache = "`auth_cache_ttl = 0`" if args.no_auth_cache else "`auth_cache_ttl = 10m`"
    if args.no_auth_cache:
        cache_state = "off in both (`--no-auth-cache`)"
        cache_line = "`auth_cache_size = 0`"
    else:
        cache_state = (f"on in both for {AUTH_CACHE_TTL_MIN} minutes (roost remembers a keyed MAC "
                       "of a verified password and skips the hash on a repeated login; Dovecot "
                       "caches the passdb lookup and still verifies the hash)")
        cache_line = ("`auth_cache_size = 10M`, `auth_cache_ttl = 10 mins`, "
                      "`auth_cache_verify_password_with_worker = yes`")
    with open(path, "w") as f:
        f.write(f"""# roost vs Dovecot: latest benchmark

Written by `bench/compare.py` — do not edit by hand; rerun instead.

- Date: {started} (UTC), mode: {"quick" if args.quick else "full"}
- Machine: {machine()}
- Servers: {versions["roost"]}; {versions["dovecot"]} (Debian package)
- Corpus: bench/corpus.py seed {args.seed}; {args.users} users ({args.password_scheme}) with
  the same {args.messages}-message inbox ({versions["inbox_mb"]:.1f} MB, 1 KB–10 MB messages)
  and one {args.big}-message mailing-list mailbox ({versions["big_mb"]:.1f} MB) for SEARCH;
  idle-hold logs in as {args.idle_users} other users ({args.idle_scheme}, so that the ramp is not bound by password
  hashing) with 10-message inboxes
- Load: bench/load (roost-load), same arguments against both; the server that goes first
  alternates per workload

{format_table(rows, True)}

Single-client timings on the {args.big}-message mailbox (median of 5, Python imaplib):

{format_table(extra_rows, True)}

## Configurations

- **Both:** loopback only, same self-signed P-256 certificate, same passwd-file
  (`roost user add`; Dovecot verifies the very same hash strings),
  logins logged at the default level; authentication caches {cache_state}.
- **roost:** `threads` = cores, `mail_fsync = yes`, {roost_cache}; governance off
  (`max_preauth_connections_per_ip`, `connect_rate_per_ip`, `max_user_connections`,
  `max_userip_connections`, `command_rate`, `user_cpu_percent` = 0),
  `max_connections = {MAX_SESSIONS}`.
- **Dovecot:** high-performance login (`imap-login`: `service_count = 0`,
  `process_min_avail` = cores, `client_limit = 5000`), imap processes reused
  (`service_count = 1000`, `process_limit = {MAX_SESSIONS}`, `idle_kill = 20s`),
  `auth`/`anvil`/`stats` `client_limit = {FD_CEILING - 100}`, `default_vsz_limit = 1G`,
  `mail_max_userip_connections = {FD_CEILING}`, {cache_line},
  `fs.inotify.max_user_instances` raised for the run (Dovecot's IDLE needs an inotify
  instance per imap process; beyond 128 it would poll every 30 s),
  `mail_fsync = {args.dovecot_fsync}` (roost's `mail_fsync = yes` fsyncs message and index
  before the OK; Dovecot's `always` is the comparable setting, its default `optimized`
  does not fsync the index), Maildir (`mail_location = maildir:…`), no FTS plugin.
- **Memory:** Dovecot is the sum of PSS over the master and every child process
  (`/proc/PID/smaps_rollup`); roost is its one process (RSS growth reported by the
  load generator, PSS sampled here). Per-session figures are (peak − baseline) / sessions
  held, the baseline taken before the load generator starts. Before each run the script
  waits for Dovecot's unused imap processes to exit, so every run starts from rest.

## Rerun

```sh
bench/compare.py            # full run (up to 19,000 idle sessions; about an hour on 2 cores)
bench/compare.py --quick    # about 12 minutes
bench/compare.py --only "idle-hold,search" --keep   # some workloads; keep the JSON
```
""")


# ---------------------------------------------------------------- main

INOTIFY_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


def raise_inotify_instances(sessions):
    """Dovecot's IDLE uses an inotify instance per imap process (all run as
    one uid); beyond fs.inotify.max_user_instances (128 on Debian) it falls
    back to polling every mailbox_idle_check_interval (30 s). Dovecot's own
    warning tells operators to raise it, so the tuned setup does, for the
    run. roost needs one instance in all. Returns the old value to restore,
    or None."""
    try:
        with open(INOTIFY_INSTANCES) as f:
            old = int(f.read())
        if old >= sessions + 1000:
            return None
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(str(sessions + 1000))
        log(f"fs.inotify.max_user_instances {old} -> {sessions + 1000} for Dovecot's IDLE")
        return old
    except OSError as e:
        log(f"warning: cannot raise fs.inotify.max_user_instances ({e}); Dovecot IDLE "
            "sessions beyond it poll every 30 s")
        return None


def restore_inotify_instances(old):
    if old is not None:
        with open(INOTIFY_INSTANCES, "w") as f:
            f.write(str(old))

def ensure_binaries(args):
    if os.access(args.roost, os.X_OK) and os.access(args.load, os.X_OK):
        return
    build = os.path.join(REPO, "build-rel")
    log(f"building roost and roost-load in {build}")
    subprocess.run([os.path.join(REPO, "scripts", "deps.sh")], check=True)
    subprocess.run(["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["make", "-C", build, f"-j{CORES}", "roost", "roost-load"], check=True,
                   stdout=subprocess.DEVNULL)
    for b in (args.roost, args.load):
        if not os.access(b, os.X_OK):
            sys.exit(f"compare: {b} is still missing after the build")


def ensure_dovecot():
    global DOVECOT
    if DOVECOT is None:
        log("dovecot is not installed: running scripts/deps.sh (installs dovecot-imapd)")
        subprocess.run([os.path.join(REPO, "scripts", "deps.sh")], check=True)
        DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.access(DOVECOT, os.X_OK):
        sys.exit("compare: dovecot is missing (apt-get install dovecot-imapd)")


def build_corpus(tmp, args):
    inbox = os.path.join(tmp, "corpus", "inbox")
    big = os.path.join(tmp, "corpus", "big")
    t = time.monotonic()
    n, size = corpus.write_maildir(inbox, seed=args.seed, count=args.messages)
    nb, bsize = corpus.write_maildir(big, seed=args.seed, count=args.big, profile="list")
    log(f"corpus: inbox {n} messages {size / 1e6:.1f} MB, list {nb} messages "
        f"{bsize / 1e6:.1f} MB ({time.monotonic() - t:.0f} s)")
    return inbox, big, size / 1e6, bsize / 1e6


def setup(tmp, args):
    """Both servers, users and mailboxes, not started."""
    tls = os.path.join(tmp, "tls")
    cert, key = harness.make_cert(tls)
    os.chmod(tmp, 0o755)
    inbox, big, inbox_mb, big_mb = build_corpus(tmp, args)
    users = make_users(args.users, args.seed)
    idle_users = [("idle" + u[4:], p) for u, p in make_users(args.idle_users, args.seed + 2)]
    big_pw = make_users(1, args.seed + 1)[0][1]
    roost = Roost(args.roost, os.path.join(tmp, "roost"), cert, key, not args.no_auth_cache)
    t = time.monotonic()
    roost.add_users(users + [(BIG_USER, big_pw)], args.password_scheme)
    roost.add_users(idle_users, args.idle_scheme)
    log(f"{len(users) + len(idle_users) + 1} users added with `roost user add` "
        f"({time.monotonic() - t:.0f} s)")
    small = os.path.join(tmp, "corpus", "small")
    corpus.write_maildir(small, seed=args.seed, count=10)
    dovecot = Dovecot(os.path.join(tmp, "dovecot"), cert, key,
                      os.path.join(roost.dir, "passwd"), args.dovecot_fsync,
                      not args.no_auth_cache)
    for user, _ in users:
        for srv in (roost, dovecot):
            link_maildir(inbox, srv.maildir(user))
    for user, _ in idle_users:
        for srv in (roost, dovecot):
            link_maildir(small, srv.maildir(user))
    for srv in (roost, dovecot):
        link_maildir(big, srv.maildir(BIG_USER))
    for user, _ in users + idle_users + [(BIG_USER, big_pw)]:
        dovecot.prepare_user(user)
    files = {}
    for key_, lst in (("inbox", users), ("idle", idle_users), ("big", [(BIG_USER, big_pw)])):
        files[key_] = os.path.join(tmp, f"users-{key_}.txt")
        with open(files[key_], "w") as f:
            f.writelines(f"{u} {p}\n" for u, p in lst)
    return roost, dovecot, users + idle_users, big_pw, files, inbox_mb, big_mb


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--roost", default=os.path.join(REPO, "build-rel", "roost"))
    ap.add_argument("--load", default=os.path.join(REPO, "build-rel", "roost-load"))
    ap.add_argument("--quick", action="store_true", help="fewer sessions, shorter phases")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--only", help="comma-separated workload labels: login-storm, idle-hold, "
                    "idle-hold tls, fetch-bulk, fetch-bulk tls, search, sync, append")
    ap.add_argument("--users", type=int, help="users with an inbox (default 50 quick, 200 full)")
    ap.add_argument("--messages", type=int, default=100, help="messages in each user's inbox")
    ap.add_argument("--idle-users", type=int, default=100,
                    help="users of the idle-hold workload (10-message inboxes)")
    ap.add_argument("--password-scheme", default="ARGON2ID",
                    help="hash scheme of the users (both servers verify the same hashes)")
    ap.add_argument("--idle-scheme", default="SHA512-CRYPT",
                    help="hash scheme of the idle-hold users (cheap: a fast ramp)")
    ap.add_argument("--big", type=int, help="messages in the SEARCH mailbox "
                    "(default 10,000 quick, 100,000 full)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply every client count (trial runs)")
    ap.add_argument("--duration", type=float, help="measured window of every workload, seconds")
    ap.add_argument("--no-auth-cache", action="store_true",
                    help="authentication caches off in both (on in both by default)")
    ap.add_argument("--dovecot-fsync", choices=("always", "optimized"), default="always")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"),
                    help="where to write the table ('' = nowhere)")
    args = ap.parse_args()
    args.users = args.users or (50 if args.quick else 200)
    args.big = args.big or (10000 if args.quick else 100000)
    args.roost, args.load = os.path.abspath(args.roost), os.path.abspath(args.load)
    ensure_binaries(args)
    ensure_dovecot()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    tmp = tempfile.mkdtemp(prefix="roost-compare-")
    log(f"working directory {tmp}")
    servers = []
    old_inotify = raise_inotify_instances(MAX_SESSIONS)
    try:
        roost, dovecot, users, big_pw, files, inbox_mb, big_mb = setup(tmp, args)
        servers = [roost, dovecot]
        for srv in servers:
            t = time.monotonic()
            srv.start()
            warm(srv, users, big_pw, timeout=1800)
            log(f"{srv.name}: started and warmed ({time.monotonic() - t:.0f} s), pid {srv.pid()}")
        # The steady process count of each server: its master, login and
        # auxiliary processes and the imap processes kept ready.
        time.sleep(25)
        settled = {srv.name: len(srv.pids()) for srv in servers}
        log(f"processes at rest: {settled}")
        extra = []
        timings = {s.name: time_select_search(s, big_pw) for s in servers}
        for i, metric in enumerate(("SELECT ms", "SEARCH TEXT common word ms",
                                    "SEARCH TEXT word in none ms", "first SEARCH TEXT ms")):
            rv, dv = timings["roost"][i], timings["dovecot"][i]
            target = "≤ 50 ms" if i < 3 else ""
            extra.append([f"{args.big} messages", 1, metric, rv, dv, rv / dv if dv else None,
                          target, rv <= 50 if target else None])
        outdir = os.path.join(tmp, "results")
        os.makedirs(outdir)
        rows = []
        only = set(args.only.split(",")) if args.only else None
        for k, (label, wl, clients, tls, uset, dur, warmup, extra_args) in \
                enumerate(workloads(args.quick, args.scale, args.duration)):
            if only and label not in only:
                continue
            order = servers if k % 2 == 0 else servers[::-1]
            res = {}
            for srv in order:
                n = wait_settled(srv, settled[srv.name] + CORES)
                log(f"{label} {clients} clients: {srv.name} ({n} processes)")
                res[srv.name] = run_load(args, srv, label, wl, clients, tls, files[uset], dur,
                                         warmup, extra_args, outdir)
                if "error" in res[srv.name]:
                    log(f"  {res[srv.name]['error']}")
                time.sleep(2)  # let closed sessions drain before the next server
            rows += rows_for(label, clients, res["roost"], res["dovecot"])
            print(format_table(rows[-1:], False).split("\n", 1)[1], flush=True)
        print()
        print(format_table(extra + rows, False))
        versions = {"roost": roost.version(), "dovecot": dovecot.version(),
                    "inbox_mb": inbox_mb, "big_mb": big_mb}
        if args.results:
            write_results(args.results, rows, args, versions, extra, started)
            log(f"wrote {args.results}")
    finally:
        for srv in servers:
            srv.stop()
        restore_inotify_instances(old_inotify)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
