#!/usr/bin/env python3
"""Isolation: one abusive client beside 50 well-behaved ones (issue 4, item 8).

The well-behaved ("good") clients' p99 command latency must stay within 20%
of the same run without the abuser. Three abusers, each run as a baseline
phase (no abuser) and an abuse phase, alternating, with the same duration:

  fetch  one user ("abuser", its own account, a few thousand messages) on
         several connections from 127.0.0.4, looping UID FETCH 1:*
         BODY.PEEK[] and SEARCH TEXT as fast as it can;
  conns  2,000 connections from 127.0.0.2: each connects, logs in as its
         own account ("flood"), holds the session; a refused or ended
         connection is retried at once;
  auth   a password brute force from 127.0.0.3: many connections in
         parallel trying wrong passwords for real and unknown user names.

Good clients: one session per user (50 users, 200 messages each) from
127.0.0.1, each looping SELECT INBOX, UID FETCH 1:* FLAGS, UID FETCH <n>
BODY.PEEK[], NOOP, UID STORE <n> +FLAGS/-FLAGS (\\Seen), SEARCH UNSEEN with
a think time after each command; the latency of each command is measured
(send to tagged reply). By default they are bench/load's C client
(`roost-load --workload mixed`, built beside --bin): one epoll loop whose
own delays are microseconds, so the figures are the server's. With
--good-client python they are asyncio sessions in one Python process (as
before; that process's own scheduling adds milliseconds to the p99), which
also log out and in again every 60th round (LOGIN reported apart).

The server runs with its default governance settings (printed); the
benchmark only lets the good clients' address in (nothing to raise: 50
users at ~20 commands/s each are under every default). Clients are asyncio
processes apart from the server: the good clients in one, the abuser in
another (niced by --abuser-nice, default 10, so that on a small machine the
abuser's own client-side CPU does not compete with roost and the good
clients as much as the abuse it makes roost do; use 0 to compare).

Bounded: every phase stops by itself after --duration seconds (plus the
abuser's head start), every wait has a timeout, only loopback addresses
are used, and no process opens more than ~2,100 descriptors.

  bench/isolation.py --bin build/roost [--duration 20] [--rounds 1]
                     [--scenarios fetch,conns,auth]
"""
import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

GOOD_IP = "127.0.0.1"
FLOOD_IP = "127.0.0.2"
BRUTE_IP = "127.0.0.3"
FETCH_IP = "127.0.0.4"
GOOD_PW = "good-pw-%d"
ABUSER = ("abuser", "abuser-pw")
FLOOD = ("flood", "flood-pw")
RELOGIN_EVERY = 60
IO_TIMEOUT = 30.0
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


# ------------------------------------------------------------------ protocol

class Imap:
    """A minimal IMAP client on asyncio streams. read_response() scans for
    the tagged line and skips literals without parsing their contents, so a
    large FETCH costs a few Python operations per message, not per line."""

    def __init__(self, reader, writer):
        self.r, self.w = reader, writer
        self.n = 0
        self.rest = b""
        self.bytes = 0

    @classmethod
    async def connect(cls, port, src_ip, linger0=False):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            if linger0:  # close with RST: no TIME_WAIT pile-up on 127.0.0.x
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            sock.bind((src_ip, 0))
            sock.setblocking(False)
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(
                sock, ("127.0.0.1", port)), IO_TIMEOUT)
            r, w = await asyncio.open_connection(sock=sock, limit=1 << 20)
        except BaseException:
            sock.close()
            raise
        return cls(r, w)

    async def line(self):
        """One line (the greeting)."""
        while b"\r\n" not in self.rest:
            chunk = await asyncio.wait_for(self.r.read(65536), IO_TIMEOUT)
            if not chunk:
                raise ConnectionError("closed")
            self.rest += chunk
        line, _, self.rest = self.rest.partition(b"\r\n")
        return line

    async def read_response(self, tag):
        """Reads up to the line starting with tag; returns that line."""
        tag = tag + b" "
        buf, self.rest, skip = self.rest, b"", 0
        while True:
            pos = 0
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    buf = buf[pos:]
                    break
                if buf.startswith(tag, pos):
                    self.rest = buf[eol + 2:]
                    return buf[pos:eol]
                if eol > pos and buf[eol - 1] == 0x7D:  # "}": a literal follows
                    lb = buf.rfind(b"{", pos, eol)
                    if lb >= 0 and buf[lb + 1:eol - 1].isdigit():
                        end = eol + 2 + int(buf[lb + 1:eol - 1])
                        if end <= len(buf):
                            pos = end
                            continue
                        skip, buf = end - len(buf), b""
                        break
                pos = eol + 2
            while True:
                chunk = await asyncio.wait_for(self.r.read(1 << 18), IO_TIMEOUT)
                if not chunk:
                    raise ConnectionError("closed")
                self.bytes += len(chunk)
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                chunk, skip = chunk[skip:], 0
                buf = buf + chunk if buf else chunk
                break

    async def cmd(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.w.write(tag + b" " + text + b"\r\n")
        return await self.read_response(tag)

    def close(self):
        try:
            self.w.close()
        except Exception:
            pass


def ok(line):
    return line.split(b" ", 2)[1:2] == [b"OK"]


def machine_busy():
    """CPU seconds all processes of the machine have used (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def cpu_of(pid):
    """utime+stime of a process in seconds (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


# ------------------------------------------------------------- good clients

async def good_session(port, user, pw, nmsgs, think, t0, t1, lat, logins, rng):
    first = True
    rounds_left = rng.randrange(RELOGIN_EVERY)
    store_seen = True
    while time.monotonic() < t1:
        c = await Imap.connect(port, GOOD_IP)
        try:
            await c.line()
            start = time.monotonic()
            line = await c.cmd(b"LOGIN %s %s" % (user.encode(), pw.encode()))
            if not ok(line):
                raise RuntimeError(f"good login failed: {line!r}")
            if not first and t0 <= start < t1:
                logins.append(time.monotonic() - start)
            first = False
            await c.cmd(b"SELECT INBOX")
            while time.monotonic() < t1:
                if rounds_left == 0:
                    rounds_left = RELOGIN_EVERY
                    await c.cmd(b"LOGOUT")
                    break
                rounds_left -= 1
                uid = rng.randrange(1, nmsgs + 1)
                store_seen = not store_seen
                for name, text in (
                        ("SELECT", b"SELECT INBOX"),
                        ("FETCH_FLAGS", b"UID FETCH 1:* (FLAGS)"),
                        ("FETCH_BODY", b"UID FETCH %d (BODY.PEEK[])" % uid),
                        ("NOOP", b"NOOP"),
                        ("STORE", b"UID STORE %d %sFLAGS (\\Seen)"
                         % (uid, b"+" if store_seen else b"-")),
                        ("SEARCH", b"SEARCH UNSEEN")):
                    start = time.monotonic()
                    line = await c.cmd(text)
                    end = time.monotonic()
                    if not ok(line):
                        raise RuntimeError(f"{user}: {text!r} -> {line!r}")
                    if t0 <= start and end <= t1:
                        lat[name].append(end - start)
                    await asyncio.sleep(think)
        finally:
            c.close()


async def good_main(a):
    names = ["SELECT", "FETCH_FLAGS", "FETCH_BODY", "NOOP", "STORE", "SEARCH"]
    lat = {n: [] for n in names}
    logins = []
    now = time.monotonic()
    t0, t1 = now + a.settle, now + a.settle + a.duration
    rng = random.Random(a.seed)
    tasks = [good_session(a.port, f"good{i}", GOOD_PW % i, a.msgs, a.think_ms / 1000, t0, t1,
                          lat, logins, random.Random(rng.random())) for i in range(a.good)]
    # Stagger the first logins so they do not all queue on the hash pool.
    async def staggered(i, coro):
        await asyncio.sleep(i * 0.01)
        await coro
    runner = asyncio.gather(*(staggered(i, t) for i, t in enumerate(tasks)))
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    cpu0 = (time.process_time(), cpu_of(a.server_pid), cpu_of(a.abuser_pid) if a.abuser_pid else 0,
            machine_busy())
    await asyncio.sleep(max(0.0, t1 - time.monotonic()))
    cpu1 = (time.process_time(), cpu_of(a.server_pid), cpu_of(a.abuser_pid) if a.abuser_pid else 0,
            machine_busy())
    await asyncio.wait_for(runner, IO_TIMEOUT + 5)
    json.dump({"lat": lat, "logins": logins, "window": a.duration,
               "cpu": {"good": cpu1[0] - cpu0[0], "server": cpu1[1] - cpu0[1],
                       "abuser": cpu1[2] - cpu0[2],
                       "other": (cpu1[3] - cpu0[3]) - sum(cpu1[i] - cpu0[i] for i in range(3))}},
              sys.stdout)


# ------------------------------------------------------------------ abusers

class Stats(dict):
    def add(self, k, n=1):
        self[k] = self.get(k, 0) + n


async def fetch_flood_conn(a, st, t1):
    words = [b"lorem", b"zqxjv", b"budget", b"invoice"]
    c = await Imap.connect(a.port, FETCH_IP)
    try:
        await c.line()
        if not ok(await c.cmd(b"LOGIN %s %s" % (ABUSER[0].encode(), ABUSER[1].encode()))):
            raise RuntimeError("abuser login failed")
        await c.cmd(b"SELECT INBOX")
        i = 0
        while time.monotonic() < t1:
            i += 1
            text = (b"UID FETCH 1:* (BODY.PEEK[])" if i % 2 else
                    b"SEARCH TEXT " + words[i // 2 % len(words)])
            b0 = c.bytes
            line = await c.cmd(text)
            st.add("fetch" if i % 2 else "search")
            st.add("bytes", c.bytes - b0)
            if not ok(line):
                st.add("refused")
    finally:
        c.close()


async def reconnecting(a, st, t1, src_ip, session):
    """Until t1: connect from src_ip and, after an OK greeting, run
    session(c); a connection refused, cut or ended is replaced at once (a
    failed connect after 50 ms). Counts connects, connect_error,
    refused_greeting and closed_by_server in st."""
    while time.monotonic() < t1:
        try:
            c = await Imap.connect(a.port, src_ip, linger0=True)
        except (OSError, asyncio.TimeoutError):
            st.add("connect_error")
            await asyncio.sleep(0.05)
            continue
        st.add("connects")
        try:
            if not (await c.line()).startswith(b"* OK"):
                st.add("refused_greeting")
                continue
            await session(c)
        except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            st.add("closed_by_server")
        finally:
            c.close()


async def conn_flood_conn(a, st, t1):
    """Connect, log in, hold; anything refused or ended: again at once."""
    async def hold(c):
        line = await c.cmd(b"LOGIN %s %s" % (FLOOD[0].encode(), FLOOD[1].encode()))
        if not ok(line):
            st.add("login_refused")
            return
        st.add("logins")
        while time.monotonic() < t1:
            await asyncio.sleep(min(5.0, max(0.0, t1 - time.monotonic())))
            if time.monotonic() < t1 and not ok(await c.cmd(b"NOOP")):
                break
    await reconnecting(a, st, t1, FLOOD_IP, hold)


async def brute_conn(a, st, t1, rng):
    """Wrong passwords, for real and unknown names, until cut off."""
    async def guess(c):
        while time.monotonic() < t1:
            n = rng.randrange(2 * a.good)
            user = b"good%d" % n if n < a.good else b"nobody%d" % n
            line = await c.cmd(b"LOGIN %s wrong%d" % (user, rng.randrange(10**9)))
            st.add("attempts")
            if ok(line):
                raise RuntimeError("brute force guessed a password")
    await reconnecting(a, st, t1, BRUTE_IP, guess)


async def abuser_main(a):
    st = Stats()
    t1 = time.monotonic() + a.duration
    rng = random.Random(a.seed)
    if a.role == "fetch":
        tasks = [fetch_flood_conn(a, st, t1) for _ in range(a.conns)]
    elif a.role == "conns":
        tasks = [conn_flood_conn(a, st, t1) for _ in range(a.conns)]
    else:
        tasks = [brute_conn(a, st, t1, random.Random(rng.random())) for _ in range(a.conns)]
    cpu0 = time.process_time()
    res = await asyncio.gather(*tasks, return_exceptions=True)
    errs = [r for r in res if isinstance(r, BaseException)]
    if errs:
        st["task_errors"] = len(errs)
        st["first_error"] = repr(errs[0])[:200]
    st["cpu_s"] = round(time.process_time() - cpu0, 2)
    json.dump(st, sys.stdout)


# ------------------------------------------------------------- orchestration

def percentile(sorted_v, q):
    if not sorted_v:
        return float("nan")
    return sorted_v[min(len(sorted_v) - 1, int(q * len(sorted_v)))]


def write_maildir(root, user, messages):
    new = os.path.join(root, user, "new")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, user, sub), exist_ok=True)
    for i, m in enumerate(messages):
        with open(os.path.join(new, f"1700000000.M{i}P1.bench"), "wb") as f:
            f.write(m)


def metrics(port):
    want = ("roost_throttles_total", "roost_connections_refused_total", "roost_logins_total")
    out = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(want):
                    k, v = line.rsplit(" ", 1)
                    out[k] = float(v)
    except OSError:
        pass
    return out


def good_load(a, srv, abuser_pid):
    """The good clients as roost-load's "mixed" workload; returns the same
    figures as the Python clients' phase (already summarized)."""
    users = os.path.join(srv.dir, "good-users.txt")
    with open(users, "w") as f:
        f.writelines(f"good{i} {GOOD_PW % i}\n" for i in range(a.good))
    cmd = [a.load_bin, "--host", "127.0.0.1", "--port", str(srv.imap_port), "--users", users,
           "--workload", "mixed", "--clients", str(a.good), "--duration", str(a.duration),
           "--warmup", str(a.settle), "--ramp", str(min(a.settle, 0.5)),
           "--think-ms", str(a.think_ms), "--fetch-bodies", "1", "--source", GOOD_IP,
           "--timeout", str(IO_TIMEOUT), "--server-pid", str(srv.proc.pid), "--json"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, ab0, busy0 = time.monotonic(), cpu_of(abuser_pid) if abuser_pid else 0, machine_busy()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, timeout=a.settle + a.duration + 120,
                         check=True).stdout
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - t0
    r = json.loads(out)
    ms = lambda us: us / 1000
    names = {"select": "SELECT", "fetch_flags": "FETCH_FLAGS", "fetch_body": "FETCH_BODY",
             "noop": "NOOP", "store": "STORE", "search_unseen": "SEARCH"}
    c = r["commands_us"]
    lat = r["latency_us"]
    good_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    server_cpu = r.get("server", {}).get("cpu_s", 0.0) * wall / max(a.duration, 1e-9)
    abuser_cpu = (cpu_of(abuser_pid) - ab0) if abuser_pid else 0.0
    busy = machine_busy() - busy0
    summary = {"count": c["count"], "p50": ms(c["p50"]), "p99": ms(c["p99"]),
               "p999": ms(c["p999"]), "max": ms(c["max"]),
               "per_cmd_p99": {names[k]: round(ms(v["p99"]), 2)
                               for k, v in lat.items() if k in names},
               "login": (0, float("nan"), float("nan")),
               "errors": r.get("errors", {})}
    # CPU shares over the whole run of the client (warm-up included).
    return {"summary": summary, "window": wall,
            "cpu": {"good": good_cpu, "server": server_cpu, "abuser": abuser_cpu,
                    "other": busy - good_cpu - server_cpu - abuser_cpu}}


def sub_args(a, role, port, duration, extra=()):
    return [sys.executable, os.path.abspath(__file__), "--role", role, "--port", str(port),
            "--duration", str(duration), "--good", str(a.good), "--msgs", str(a.msgs),
            "--think-ms", str(a.think_ms), "--seed", str(random.randrange(10**9))] + list(extra)


def run_phase(a, srv, scenario, abuse):
    """One phase: the abuser (if any) gets a head start of a.head_start s,
    then the good clients run (a.settle s login/warm-up + a.duration s
    measured). Returns the good clients' figures."""
    abuser = None
    m0 = metrics(a.metrics_port)
    if abuse:
        conns = {"fetch": a.fetch_conns, "conns": a.flood_conns, "auth": a.brute_conns}[scenario]
        total = a.head_start + a.settle + a.duration + 2
        abuser = subprocess.Popen(
            sub_args(a, scenario, srv.imap_port, total, ["--conns", str(conns)]),
            stdout=subprocess.PIPE, preexec_fn=lambda: os.nice(a.abuser_nice))
        time.sleep(a.head_start)
    if a.good_client == "load":
        res = good_load(a, srv, abuser.pid if abuser else 0)
    else:
        good = subprocess.run(
            sub_args(a, "good", srv.imap_port, a.duration,
                     ["--settle", str(a.settle), "--server-pid", str(srv.proc.pid),
                      "--abuser-pid", str(abuser.pid if abuser else 0)]),
            stdout=subprocess.PIPE, timeout=a.settle + a.duration + 120, check=True)
        res = json.loads(good.stdout)
    if abuser is not None:
        try:
            out, _ = abuser.communicate(timeout=a.duration + 60)
        except subprocess.TimeoutExpired:
            abuser.kill()
            out, _ = abuser.communicate()
        res["abuser"] = json.loads(out or b"{}")
    srv.assert_alive()
    m1 = metrics(a.metrics_port)
    res["metrics"] = {k: v - m0.get(k, 0) for k, v in m1.items() if v - m0.get(k, 0)}
    time.sleep(a.cooldown)
    return res


def summarize(res):
    if "summary" in res:  # roost-load's figures
        return res["summary"]
    allv = sorted(v for vs in res["lat"].values() for v in vs)
    ms = lambda x: x * 1000
    s = {"count": len(allv), "p50": ms(percentile(allv, 0.50)), "p99": ms(percentile(allv, 0.99)),
         "p999": ms(percentile(allv, 0.999)), "max": ms(allv[-1]) if allv else float("nan")}
    s["per_cmd_p99"] = {k: round(ms(percentile(sorted(v), 0.99)), 2) for k, v in res["lat"].items()}
    lg = sorted(res["logins"])
    s["login"] = (len(lg), ms(percentile(lg, 0.5)), ms(lg[-1]) if lg else float("nan"))
    return s


def fmt_phase(label, s, res):
    cpu = res["cpu"]
    w = res["window"]
    line = (f"  {label:<9} n={s['count']:>6}  p50={s['p50']:7.2f} ms  p99={s['p99']:7.2f} ms  "
            f"p99.9={s['p999']:7.2f} ms  max={s['max']:7.1f} ms | LOGIN n={s['login'][0]} "
            f"p50={s['login'][1]:.0f} max={s['login'][2]:.0f} ms | CPU server "
            f"{100 * cpu['server'] / w:.0f}% good {100 * cpu['good'] / w:.0f}%")
    if res.get("abuser"):
        line += f" abuser {100 * cpu['abuser'] / w:.0f}%"
    line += f" other {100 * cpu['other'] / w:.0f}%"
    if cpu["other"] / w > 0.10:
        line += " (other processes were busy: figures unreliable)"
    line += f"\n            per-command p99 (ms): {s['per_cmd_p99']}"
    if s.get("errors"):
        line += f"\n            good clients' errors: {s['errors']}"
    if res.get("abuser"):
        line += f"\n            abuser: {res['abuser']}"
    if res.get("metrics"):
        line += "\n            server: " + ", ".join(
            f"{k.replace('roost_', '')}={int(v)}" for k, v in sorted(res["metrics"].items()))
    return line


def setup(a):
    import harness
    import mailgen
    os.environ["ROOST_BIN"] = os.path.abspath(a.bin)
    from harness import RoostServer, free_ports
    metrics_port = free_ports(1)[0]
    # The server's own defaults, except what the harness must set (paths,
    # ports); password_scheme back to the server default (ARGON2ID).
    settings = {"password_scheme": None, "log_level": None,
                "metrics_listen": f"127.0.0.1:{metrics_port}"}
    settings.update(kv.split("=", 1) for kv in a.set)  # --set: experiments only
    srv = RoostServer(settings=settings)
    users = {f"good{i}": GOOD_PW % i for i in range(a.good)}
    users.update(dict([ABUSER, FLOOD]))
    for name, pw in users.items():
        srv.add_user(name, pw)
    root = os.path.join(srv.dir, "mail")
    msgs = mailgen.make_messages(400, 4242)
    for i in range(a.good):
        write_maildir(root, f"good{i}", msgs[:a.msgs])
    write_maildir(root, ABUSER[0], [msgs[i % len(msgs)] for i in range(a.fetch_msgs)])
    harness_dir = srv.dir
    srv.start()
    a.metrics_port = metrics_port
    return srv, harness_dir, harness


def print_settings(a, srv):
    r = subprocess.run([os.path.abspath(a.bin), "check-config", "-c", srv.conf],
                       capture_output=True, text=True, timeout=30)
    keys = ("threads", "auth_workers", "store_workers", "password_scheme", "mail_fsync",
            "max_connections", "max_preauth_connections_per_ip", "connect_rate_per_ip",
            "max_user_connections", "max_userip_connections", "auth_fail_delay_ms",
            "auth_fail_delay_max_ms", "command_rate", "command_burst", "throttle_max_delay_ms",
            "throttle_max_delayed", "download_limit", "upload_limit", "bandwidth_window",
            "user_cpu_percent", "user_cpu_burst_ms",
            "output_buffer_limit", "log_level")
    got = {}
    for line in r.stdout.splitlines():
        k, _, v = line.partition("=")
        if k.strip() in keys:
            got[k.strip()] = v.strip()
    print("server settings (defaults): " + ", ".join(f"{k}={got.get(k, '?')}" for k in keys))


def warm(a, srv):
    """Delivers the new/ files (the first SELECT of each user) and fills the
    page cache, so phases measure steady state."""
    async def go():
        async def one(user, pw):
            c = await Imap.connect(srv.imap_port, GOOD_IP)
            await c.line()
            await c.cmd(b"LOGIN %s %s" % (user.encode(), pw.encode()))
            await c.cmd(b"SELECT INBOX")
            await c.cmd(b"UID FETCH 1:* (BODY.PEEK[])")
            await c.cmd(b"LOGOUT")
            c.close()
        users = [(f"good{i}", GOOD_PW % i) for i in range(a.good)] + [ABUSER]
        for i in range(0, len(users), 8):
            await asyncio.gather(*(one(u, p) for u, p in users[i:i + 8]))
    asyncio.run(asyncio.wait_for(go(), 600))
    # The test mail was written without fsync (and the delivery renamed
    # it): flush it now, or the kernel's writeback of those hundreds of MB
    # ~30 s later lands in a measured phase and stalls every fsync there.
    os.sync()


def orchestrate(a):
    srv, _, _ = setup(a)
    try:
        print_settings(a, srv)
        print(f"good clients: {a.good} users x 1 session from {GOOD_IP}, {a.msgs} messages each, "
              f"think {a.think_ms} ms; phases {a.duration} s measured, abuser head start "
              f"{a.head_start} s, abuser nice {a.abuser_nice}; {os.cpu_count()} CPUs")
        t = time.monotonic()
        warm(a, srv)
        print(f"warm-up (delivery of {a.good * a.msgs + a.fetch_msgs} messages): "
              f"{time.monotonic() - t:.1f} s", flush=True)
        results = {}
        for scenario in a.scenarios.split(","):
            desc = {"fetch": f"FETCH/SEARCH flood: user abuser, {a.fetch_msgs} messages, "
                             f"{a.fetch_conns} connections from {FETCH_IP}",
                    "conns": f"connection flood: {a.flood_conns} connections from {FLOOD_IP}",
                    "auth": f"auth brute force: {a.brute_conns} connections from {BRUTE_IP}"}
            print(f"\n[{scenario}] {desc[scenario]}", flush=True)
            for rnd in range(a.rounds):
                for abuse in (False, True):
                    res = run_phase(a, srv, scenario, abuse)
                    s = summarize(res)
                    results.setdefault(scenario, {}).setdefault(abuse, []).append(s)
                    print(fmt_phase("abuse" if abuse else "baseline", s, res), flush=True)
        print("\nsummary (good clients, all commands; ratio = with / without abuser, bound 1.20)")
        ok_all = True
        for scenario, r in results.items():
            base = sorted(x["p99"] for x in r[False])[len(r[False]) // 2]
            ab = sorted(x["p99"] for x in r[True])[len(r[True]) // 2]
            b50 = sorted(x["p50"] for x in r[False])[len(r[False]) // 2]
            a50 = sorted(x["p50"] for x in r[True])[len(r[True]) // 2]
            ratio = ab / base if base else float("inf")
            verdict = "PASS" if ratio <= 1.20 else "FAIL"
            ok_all &= verdict == "PASS"
            print(f"  {scenario:<6} p50 {b50:6.2f} -> {a50:6.2f} ms   p99 {base:6.2f} -> {ab:6.2f} ms"
                  f"   ratio {ratio:4.2f}  {verdict}")
        return 0 if ok_all else 1
    finally:
        srv.stop(check=False)
        srv.cleanup()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/roost")
    ap.add_argument("--scenarios", default="fetch,conns,auth")
    ap.add_argument("--duration", type=float, default=20.0, help="measured seconds per phase")
    ap.add_argument("--rounds", type=int, default=1, help="baseline/abuse pairs per scenario")
    ap.add_argument("--good", type=int, default=50)
    ap.add_argument("--msgs", type=int, default=200)
    ap.add_argument("--think-ms", type=float, default=50.0)
    ap.add_argument("--fetch-msgs", type=int, default=3000)
    ap.add_argument("--fetch-conns", type=int, default=4)
    ap.add_argument("--flood-conns", type=int, default=2000)
    ap.add_argument("--brute-conns", type=int, default=200)
    ap.add_argument("--abuser-nice", type=int, default=10)
    ap.add_argument("--head-start", type=float, default=3.0)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--cooldown", type=float, default=2.0)
    ap.add_argument("--good-client", choices=("load", "python"), default="load",
                    help="the good clients: roost-load (C, default) or asyncio Python")
    ap.add_argument("--load-bin", default=None,
                    help="roost-load (default: beside --bin)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a server setting (to try governance values)")
    # internal: sub-process roles
    ap.add_argument("--role", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--conns", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--server-pid", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--abuser-pid", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.duration = min(a.duration, 600.0)
    a.flood_conns = min(a.flood_conns, 5000)
    a.brute_conns = min(a.brute_conns, 2000)
    if a.role == "good":
        asyncio.run(good_main(a))
    elif a.role in ("fetch", "conns", "auth"):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
        asyncio.run(abuser_main(a))
    else:
        if a.good_client == "load":
            a.load_bin = a.load_bin or os.path.join(os.path.dirname(os.path.abspath(a.bin)),
                                                    "roost-load")
            if not os.access(a.load_bin, os.X_OK):
                sys.exit(f"{a.load_bin} not found: build it (make roost-load) or give "
                         "--load-bin, or use --good-client python")
        sys.exit(orchestrate(a))


if __name__ == "__main__":
    main()
