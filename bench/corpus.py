#!/usr/bin/env python3
"""Deterministic generator of a realistic mail corpus, written as a Maildir.

Same seed and options -> the same bytes, file names and mtimes, so roost and
Dovecot can be loaded with identical mailboxes and a run can be repeated.

What the mail looks like (the mix a real inbox has):
- sizes from 1 KB to 10 MB: most messages are small text mails (log-normal
  around 4 KB), about one in six carries attachments of tens to hundreds of
  KB, about one in fifty carries a 1-10 MB attachment;
- structures: text/plain (us-ascii, UTF-8 8bit, quoted-printable),
  multipart/alternative (text + quoted-printable HTML), multipart/mixed with
  base64 attachments whose bytes look like PDF/PNG/JPEG/ZIP files (a real
  magic number followed by incompressible random bytes);
- threads: replies carry In-Reply-To and References chains and "Re:" subjects;
- UTF-8 bodies, RFC 2047 encoded-words in Subject and display names;
- mailing-list traffic: List-Id, List-Unsubscribe, List-Post, Precedence,
  Received chains, DKIM-Signature-shaped headers.
The header/text helpers of tests/integration/mailgen.py are reused.

Profiles: "inbox" (the mix above) and "list" (a mailing-list archive: text
only, 1-40 KB, for the 100,000-message search mailbox).

Files go to <maildir>/new/ (both servers assign UIDs on first SELECT) or,
with --cur, to cur/ with Dovecot-style names
"<time>.M<n>P<seed>.corpus,S=<size>,W=<vsize>:2,<flags>".
Each file's mtime is its Date header (the INTERNALDATE of both servers).
Line ends are CRLF (as both servers store APPENDed mail; no rewrite on
pickup) unless --lf.

  bench/corpus.py --maildir /tmp/u/Maildir --count 200 --seed 7
  bench/corpus.py --maildir /tmp/big/Maildir --count 100000 --profile list
  bench/corpus.py --maildir /tmp/u/Maildir --total-size 50m
"""

import argparse
import base64
import email.utils
import math
import os
import quopri
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
import mailgen  # noqa: E402  (needs the path above)

MIN_SIZE = 1024
MAX_SIZE = 10 * 1024 * 1024
BASE_TIME = 1735689600  # 2025-01-01T00:00:00Z; message i is a little later

LISTS = [("roost-dev", "roost-dev.lists.example.org"), ("debian-user", "lists.example.net"),
         ("postgres-hackers", "lists.example.com")]
ATTACHMENTS = [  # (name, content type, magic bytes)
    ("report.pdf", "application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("IMG_2041.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
    ("archive.zip", "application/zip", b"PK\x03\x04\x14\x00\x00\x00\x08\x00"),
    ("Übersicht Q3.pdf", "application/pdf", b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"),
    ("données.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     b"PK\x03\x04\x14\x00\x06\x00"),
]
UTF8_LINES = ["Grüße aus München, das Treffen ist verschoben.",
              "Привет! Смотри вложение, пожалуйста.",
              "こんにちは、資料を添付します。よろしくお願いします。",
              "Ça marche, à demain — café à 10 h ?",
              "Zażółć gęślą jaźń.", "ΚαλημέραΚόσμε: τα νέα της εβδομάδας."]
SUBJECTS = ["Quarterly report", "Release schedule", "Invoice {n}", "Meeting notes",
            "Budget review", "Grüße aus Berlin", "Déjà vu: build failure", "Отчёт за неделю",
            "会議の議事録", "Patch v{n}: fix the parser", "Photos from the trip", "Contract draft"]


def _rng_size(rng, profile):
    """Target size of one message, in bytes (before line-end conversion)."""
    if profile == "list":
        return int(min(40 * 1024, max(MIN_SIZE, rng.lognormvariate(math.log(3500), 0.7))))
    r = rng.random()
    if r < 0.02:        # a large attachment: 1-10 MB, log-uniform
        size = math.exp(rng.uniform(math.log(1 << 20), math.log(MAX_SIZE)))
    elif r < 0.17:      # an ordinary attachment: ~20 KB - 1 MB
        size = rng.lognormvariate(math.log(120 * 1024), 1.0)
    else:               # text mail
        size = rng.lognormvariate(math.log(4 * 1024), 0.8)
    return int(min(MAX_SIZE, max(MIN_SIZE, size)))


def _words(rng, nbytes):
    """About nbytes of wrapped text (CRLF lines of at most ~72 columns)."""
    out, total, line = [], 0, []
    while total < nbytes:
        if rng.random() < 0.04:
            text = rng.choice(UTF8_LINES)
            out.append(text)
            total += len(text.encode()) + 2
            continue
        for w in rng.choices(mailgen.WORDS, k=12):
            line.append(w)
        text = " ".join(line)
        line = []
        out.append(text)
        total += len(text.encode()) + 2
        if rng.random() < 0.12:
            out.append("")
            total += 2
    return "\r\n".join(out) + "\r\n"


def _qp(text):
    enc = quopri.encodestring(text.encode(), quotetabs=False).decode()
    return enc.replace("\r\n", "\n").replace("\n", "\r\n")


def _b64(data):
    enc = base64.b64encode(data).decode()
    return "\r\n".join(enc[k:k + 76] for k in range(0, len(enc), 76)) + "\r\n"


class _Threads:
    """Message-IDs seen so far, and each one's References chain."""

    def __init__(self):
        self.ids, self.refs, self.subjects = [], {}, {}

    def parent(self, rng):
        if not self.ids or rng.random() > 0.35:
            return None
        # Replies cluster on recent messages, as conversations do.
        k = len(self.ids) - 1 - min(len(self.ids) - 1, int(rng.expovariate(1 / 20)))
        return self.ids[k]


def _headers(rng, i, seed, threads, profile, extra):
    """The header block (CRLF lines, no blank line) and the subject used."""
    frm = mailgen._fmt_addr(*mailgen._addr(rng))
    to = ", ".join(mailgen._fmt_addr(*mailgen._addr(rng)) for _ in range(1 + rng.randrange(3)))
    msgid = f"<{seed}.{i}.{rng.getrandbits(40):010x}@corpus.example.org>"
    parent = threads.parent(rng)
    if parent is not None:
        subject = "Re: " + threads.subjects[parent].removeprefix("Re: ")
        refs = (threads.refs[parent] + [parent])[-10:]
    else:
        subject = rng.choice(SUBJECTS).format(n=i)
        refs = []
    threads.ids.append(msgid)
    threads.refs[msgid] = refs
    threads.subjects[msgid] = subject
    when = BASE_TIME + i * 600 + rng.randrange(600)
    hdr = []
    if profile == "list" or rng.random() < 0.3:
        name, host = rng.choice(LISTS)
        hdr += [f"Received: from mail.{host} (mail.{host} [192.0.2.{rng.randrange(1, 255)}])"
                f"\r\n\tby mx.example.org with ESMTPS id {rng.getrandbits(48):012X}"
                f"\r\n\tfor <user@example.org>; {_date(when)}",
                f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={host}; s=mail;"
                f"\r\n\th=from:to:subject:date:message-id;"
                f"\r\n\tbh={base64.b64encode(rng.randbytes(32)).decode()};"
                f"\r\n\tb={_fold(base64.b64encode(rng.randbytes(128)).decode())}",
                f"List-Id: {name} discussion <{name}.{host}>",
                f"List-Unsubscribe: <mailto:{name}-request@{host}?subject=unsubscribe>",
                f"List-Post: <mailto:{name}@{host}>", "Precedence: list"]
    hdr += [f"From: {frm}", f"To: {to}", f"Subject: {mailgen._encode_header(subject)}",
            f"Date: {_date(when)}", f"Message-ID: {msgid}"]
    if refs:
        hdr += [f"In-Reply-To: {refs[-1]}", "References: " + "\r\n ".join(refs)]
    hdr += list(extra)
    return "\r\n".join(hdr) + "\r\n", when


def _fold(text, width=70):
    """A long header value folded into continuation lines (RFC 5322 §2.2.3)."""
    return "\r\n\t".join(text[k:k + width] for k in range(0, len(text), width))


def _date(t):
    # RFC 5322 §3.3: "+0000" is UTC; "-0000" would mean "zone unknown".
    return email.utils.formatdate(t, localtime=False).replace("-0000", "+0000")


def _attachment_part(rng, boundary, size):
    name, ctype, magic = rng.choice(ATTACHMENTS)
    raw = magic + rng.randbytes(max(0, size - len(magic)))
    if name.isascii():
        disp = f'attachment; filename="{name}"'
        cname = f'"{name}"'
    else:
        disp = "attachment; filename*=utf-8''" + "".join(
            c if c.isascii() and c.isalnum() else "".join(f"%{x:02X}" for x in c.encode())
            for c in name)
        cname = '"' + mailgen._encode_header(name) + '"'
    return (f"--{boundary}\r\nContent-Type: {ctype}; name={cname}\r\n"
            f"Content-Disposition: {disp}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + _b64(raw))


def _text_ctype(rng):
    """Content headers of a text/plain part: UTF-8 8bit, UTF-8
    quoted-printable or us-ascii."""
    kind = rng.random()
    if kind < 0.5:
        return ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    if kind < 0.8:
        return ["Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: quoted-printable"]
    return ["Content-Type: text/plain; charset=us-ascii"]


def _text_fill(rng, ctype, nbytes):
    """A text body for ctype of at least nbytes once encoded."""
    out = ""
    while len(out.encode()) < nbytes:
        if "quoted-printable" in ctype[-1]:  # grows by up to ~1/4 encoded
            text = _qp(_words(rng, (nbytes - len(out.encode())) * 4 // 5 + 1))
        else:
            text = _words(rng, nbytes - len(out.encode()))
        if "us-ascii" in ctype[0]:
            text = text.encode("ascii", "replace").decode()
        out += text
    return out


def _text_body(rng, nbytes):
    """(content headers, body) of a single text/plain part."""
    ctype = _text_ctype(rng)
    return ctype, _text_fill(rng, ctype, nbytes)


def _alternative(rng, i, nbytes):
    b = f"alt-{i}-{rng.getrandbits(32):08x}"
    text = _words(rng, max(500, nbytes // 3))
    html = ("<html><head><meta charset=\"utf-8\"></head><body><p>"
            + text.replace("\r\n\r\n", "</p>\r\n<p>").replace("\r\n", "<br>\r\n")
            + "</p></body></html>\r\n")
    return b, (f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
               f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{_qp(text)}"
               f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
               f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{_qp(html)}--{b}--\r\n")


def make_message(rng, i, seed, threads, profile):
    """Message i of the corpus as bytes (CRLF line ends)."""
    target = _rng_size(rng, profile)
    # Big mail is big because of its attachments; text alone stays < 512 KB.
    attach = profile == "inbox" and (target > 512 * 1024
                                     or (target > 24 * 1024 and rng.random() < 0.9))
    if not attach:
        if profile == "inbox" and rng.random() < 0.35:
            b, body = _alternative(rng, i, target)
            extra = ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{b}"']
            hdr, when = _headers(rng, i, seed, threads, profile, extra)
        else:
            # Headers first, so the body can fill the message up to its size.
            ctype = _text_ctype(rng)
            hdr, when = _headers(rng, i, seed, threads, profile, ["MIME-Version: 1.0"] + ctype)
            body = _text_fill(rng, ctype, max(200, MIN_SIZE - len(hdr.encode()) + 2,
                                             target - len(hdr.encode())))
        return (hdr + "\r\n" + body).encode(), when
    b = f"mix-{i}-{rng.getrandbits(32):08x}"
    nparts = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
    # base64 grows data by 4/3 (plus CRLF every 76): split the rest evenly.
    budget = max(256, int((target - 3000) * 0.72))
    parts = []
    if rng.random() < 0.5:
        ab, alt = _alternative(rng, i, 2000)
        parts.append(f"--{b}\r\nContent-Type: multipart/alternative; boundary=\"{ab}\"\r\n\r\n"
                     + alt)
    else:
        ctype, text = _text_body(rng, 600 + rng.randrange(2000))
        parts.append(f"--{b}\r\n" + "\r\n".join(ctype) + "\r\n\r\n" + text)
    for _ in range(nparts):
        parts.append(_attachment_part(rng, b, budget // nparts))
    extra = ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{b}"']
    hdr, when = _headers(rng, i, seed, threads, profile, extra)
    body = "This is a multi-part message in MIME format.\r\n" + "".join(parts) + f"--{b}--\r\n"
    return (hdr + "\r\n" + body).encode(), when


def generate(seed=1, count=None, total_size=None, profile="inbox"):
    """Yields (index, bytes, unix time) for each message, deterministically.
    Stops after count messages or once total_size bytes are reached."""
    if count is None and total_size is None:
        raise ValueError("count or total_size is needed")
    rng = random.Random(f"roost-corpus/{profile}/{seed}")
    threads = _Threads()
    total, i = 0, 0
    while (count is None or i < count) and (total_size is None or total < total_size):
        data, when = make_message(rng, i, seed, threads, profile)
        total += len(data)
        yield i, data, when
        i += 1


def write_maildir(maildir, seed=1, count=None, total_size=None, profile="inbox", cur=False,
                  lf=False):
    """Writes the corpus into maildir (creating cur/ new/ tmp/). Returns
    (messages, bytes written)."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    n = total = 0
    for i, data, when in generate(seed, count, total_size, profile):
        if lf:
            data = data.replace(b"\r\n", b"\n")
        vsize = len(data) + (data.count(b"\n") if lf else 0)
        base = f"{when}.M{i}P{seed}.corpus,S={len(data)},W={vsize}"
        flags = mailgen.maildir_flags(i)
        name = os.path.join(maildir, "cur", f"{base}:2,{flags}") if cur else \
            os.path.join(maildir, "new", base)
        with open(name, "wb") as f:
            f.write(data)
        os.utime(name, (when, when))
        n += 1
        total += len(data)
    return n, total


def parse_size(text):
    """'50m' -> 52428800; plain numbers are bytes."""
    text = text.strip().lower()
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:], 1)
    return int(float(text[:-1] if mult > 1 else text) * mult)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--maildir", required=True, help="Maildir to write (created if missing)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, help="number of messages")
    ap.add_argument("--total-size", type=parse_size, help="stop once this many bytes (e.g. 50m)")
    ap.add_argument("--profile", choices=("inbox", "list"), default="inbox")
    ap.add_argument("--cur", action="store_true", help="write cur/ with flags, not new/")
    ap.add_argument("--lf", action="store_true", help="LF line ends instead of CRLF")
    args = ap.parse_args()
    if args.count is None and args.total_size is None:
        ap.error("give --count or --total-size")
    n, total = write_maildir(args.maildir, args.seed, args.count, args.total_size, args.profile,
                             args.cur, args.lf)
    print(f"corpus: {n} messages, {total} bytes in {args.maildir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
