"""Deterministic generator of varied, realistic test mail.

make_messages(n, seed) returns n messages as bytes (CRLF line ends): plain
text, UTF-8 bodies and RFC 2047 subjects, multipart/alternative,
attachments (base64 and quoted-printable), a forwarded message/rfc822,
threads (In-Reply-To/References), long header lines, sizes from a few
hundred bytes to ~300 KB. The same seed always gives the same bytes, so
a failing test can be rerun exactly.
"""

import base64
import quopri
import random

NAMES = ["Alice Example", "Bob Builder", "Chloé Dubois", "Dmitri Иванов", "Eve", "Frank O'Neil",
         "Grace Hopper", "Hiro 山田", "Ines Núñez", "Jon"]
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
         "ut labore et dolore magna aliqua meeting report budget release schedule invoice "
         "naïve café Übergröße smørrebrød żółć résumé").split()


def _addr(rng, i=None):
    name = NAMES[rng.randrange(len(NAMES))] if i is None else NAMES[i % len(NAMES)]
    local = name.split()[0].lower().encode("ascii", "ignore").decode() or "user"
    return name, f"{local}{rng.randrange(100)}@example.org"


def _encode_header(text):
    if all(ord(c) < 128 for c in text):
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def _fmt_addr(name, mail):
    if '"' in name or "'" in name or "," in name:
        return f'"{name}" <{mail}>'
    return f"{_encode_header(name)} <{mail}>"


def _text(rng, nwords):
    words = [WORDS[rng.randrange(len(WORDS))] for _ in range(nwords)]
    lines, line = [], []
    for w in words:
        line.append(w)
        if len(" ".join(line)) > 66:
            lines.append(" ".join(line))
            line = []
    if line:
        lines.append(" ".join(line))
    return "\r\n".join(lines) + "\r\n"


def _headers(rng, i, subject, extra=()):
    frm = _fmt_addr(*_addr(rng))
    to = ", ".join(_fmt_addr(*_addr(rng)) for _ in range(1 + rng.randrange(3)))
    day = 1 + i % 28
    hdr = [f"From: {frm}", f"To: {to}",
           f"Subject: {_encode_header(subject)}",
           f"Date: Mon, {day:02d} Jun 2025 {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d} +0200",
           f"Message-ID: <gen-{i}-{rng.randrange(10**9)}@example.org>"]
    if i > 0 and rng.random() < 0.3:
        ref = f"<gen-{rng.randrange(i)}@example.org>"
        hdr += [f"In-Reply-To: {ref}", f"References: {ref}"]
    if rng.random() < 0.2:
        hdr.append("X-Long-Header: " + " ".join(WORDS[j % len(WORDS)] for j in range(60))
                   .replace("elit ", "elit\r\n\t"))
    hdr += list(extra)
    return "\r\n".join(hdr) + "\r\n"


def _plain(rng, i):
    subject = f"Plain message {i} " + WORDS[i % len(WORDS)]
    return (_headers(rng, i, subject) + "\r\n" + _text(rng, 20 + rng.randrange(400))).encode()


def _utf8(rng, i):
    subject = f"Grüße {i} — ünïcödé ✓"
    body = _text(rng, 50) + "Привет мир, こんにちは世界\r\n"
    hdr = _headers(rng, i, subject, ["MIME-Version: 1.0",
                                     "Content-Type: text/plain; charset=utf-8",
                                     "Content-Transfer-Encoding: 8bit"])
    return (hdr + "\r\n" + body).encode()


def _alternative(rng, i):
    b = f"alt-{i}-{rng.randrange(10**6)}"
    text = _text(rng, 80)
    html = "<html><body><p>" + text.replace("\r\n", "</p>\n<p>") + "</p></body></html>\n"
    qp = quopri.encodestring(html.encode(), quotetabs=False).decode().replace("\n", "\r\n")
    hdr = _headers(rng, i, f"Alternative {i}", ["MIME-Version: 1.0",
                                                 f'Content-Type: multipart/alternative; boundary="{b}"'])
    body = (f"--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{text}"
            f"--{b}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n--{b}--\r\n")
    return (hdr + "\r\n" + body).encode()


def _b64_lines(data):
    enc = base64.b64encode(data).decode()
    return "\r\n".join(enc[k:k + 76] for k in range(0, len(enc), 76)) + "\r\n"


def _attachment(rng, i):
    b = f"mix-{i}-{rng.randrange(10**6)}"
    size = rng.choice([200, 3000, 40000, 250000])
    blob = bytes(rng.randrange(256) for _ in range(size))
    fname = rng.choice(["report.pdf", "photo.jpg", "données.bin", "a b c.zip"])
    disp = (f"attachment; filename*=utf-8''{fname.encode().hex('%').upper()}"
            if not fname.isascii() else f'attachment; filename="{fname}"')
    if not fname.isascii():
        disp = "attachment; filename*=utf-8''" + "".join(
            c if c.isascii() and c.isalnum() else "".join(f"%{x:02X}" for x in c.encode())
            for c in fname)
    hdr = _headers(rng, i, f"Attachment {i} {fname}",
                   ["MIME-Version: 1.0", f"Content-Type: multipart/mixed; boundary={b}"])
    body = ("This is a multi-part message in MIME format.\r\n"
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{_text(rng, 40)}"
            f"--{b}\r\nContent-Type: application/octet-stream; name=\"{fname}\"\r\n"
            f"Content-Disposition: {disp}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{_b64_lines(blob)}--{b}--\r\n")
    return (hdr + "\r\n" + body).encode()


def _forward(rng, i):
    b = f"fwd-{i}-{rng.randrange(10**6)}"
    inner = _alternative(rng, i + 100000).decode()
    hdr = _headers(rng, i, f"Fwd: forwarded {i}",
                   ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{b}"'])
    body = (f"--{b}\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
            f"--{b}\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--{b}--\r\n")
    return (hdr + "\r\n" + body).encode()


KINDS = (_plain, _plain, _utf8, _alternative, _attachment, _forward)


def make_messages(n, seed=1):
    rng = random.Random(seed)
    return [KINDS[i % len(KINDS)](rng, i) for i in range(n)]


FLAG_CHOICES = ("", "S", "RS", "FS", "F", "DS", "T", "S", "S", "")


def maildir_flags(i):
    """Deterministic Maildir flag letters for message i (D=draft, F=flagged,
    R=replied, S=seen, T=trashed)."""
    return FLAG_CHOICES[i % len(FLAG_CHOICES)]
