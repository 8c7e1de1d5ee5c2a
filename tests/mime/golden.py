#!/usr/bin/env python3
"""Writes the MIME golden set: NN-name.eml with the expected ENVELOPE and
BODYSTRUCTURE text (and BODY where given).

Each message is assembled from its parts here, so every expected size and
line count is computed from the exact bytes of the part body it describes,
independently of the C parser; the structure text itself is written by
hand following RFC 9051 §7.5.2. Line count = number of line ends in the
body plus one for a last line without one. Run from anywhere:
    python3 tests/mime/golden.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def crlf(s):
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def nlines(b):
    return b.count("\n") + (1 if b and not b.endswith("\n") else 0)


def q(s):
    """IMAP nstring as the server writes it."""
    if s is None:
        return "NIL"
    b = s.encode() if isinstance(s, str) else s
    if any(c >= 0x80 or c in (10, 13) for c in b):
        return "{%d}\r\n" % len(b) + b.decode("utf-8", "surrogateescape")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def params(*kv):
    if not kv:
        return "NIL"
    return "(" + " ".join(q(x) for x in kv) + ")"


def env(date=None, subject=None, frm="NIL", sender=None, reply_to=None, to="NIL", cc="NIL",
        bcc="NIL", irt=None, mid=None):
    sender = frm if sender is None else sender
    reply_to = frm if reply_to is None else reply_to
    return "(%s %s %s %s %s %s %s %s %s %s)" % (q(date), q(subject), frm, sender, reply_to, to,
                                                   cc, bcc, q(irt), q(mid))


def addr(name, mailbox, host, adl=None):
    return "(%s %s %s %s)" % (q(name), q(adl), q(mailbox), q(host))


def alist(*a):
    return "(" + "".join(a) + ")" if a else "NIL"


def text(body, sub="plain", prm=None, enc="7bit", ext=True, id=None, desc=None, md5=None,
         dsp="NIL", lang="NIL", loc=None, typ="text"):
    prm = params("charset", "us-ascii") if prm is None else prm
    s = "(%s %s %s %s %s %s %d" % (q(typ), q(sub), prm, q(id), q(desc), q(enc), len(body.encode(
        "utf-8", "surrogateescape")))
    if typ.lower() == "text":
        s += " %d" % nlines(body)
    if ext:
        s += " %s %s %s %s" % (q(md5), dsp, lang, q(loc))
    return s + ")"


def basic(typ, sub, body, prm="NIL", enc="7bit", ext=True, id=None, desc=None, md5=None,
          dsp="NIL", lang="NIL", loc=None):
    s = "(%s %s %s %s %s %s %d" % (q(typ), q(sub), prm, q(id), q(desc), q(enc), len(body))
    if ext:
        s += " %s %s %s %s" % (q(md5), dsp, lang, q(loc))
    return s + ")"


def multi(children, sub, prm="NIL", ext=True, dsp="NIL", lang="NIL", loc=None):
    s = "(" + "".join(children) + " " + q(sub)
    if ext:
        s += " %s %s %s %s" % (prm, dsp, lang, q(loc))
    return s + ")"


def rfc822(body, envelope, inner, prm="NIL", enc="7bit", ext=True, sub="rfc822", typ="message"):
    s = "(%s %s %s NIL NIL %s %d %s %s %d" % (q(typ), q(sub), prm, q(enc), len(body), envelope,
                                             inner, nlines(body))
    if ext:
        s += " NIL NIL NIL NIL"
    return s + ")"


GOLDEN = []


def golden(name, eml, envelope, bs, body=None):
    GOLDEN.append((name, eml, envelope, bs, body))


def both(fn):
    """fn(ext) -> structure; registers BODYSTRUCTURE and BODY."""
    return fn(True), fn(False)


def mp(boundary, parts, preamble="", epilogue="", close=True):
    """Multipart body from (header, content) pairs (already CRLF)."""
    b = preamble
    for hdr, content in parts:
        b += "--" + boundary + "\r\n" + hdr + "\r\n" + content + "\r\n"
    if close:
        b += "--" + boundary + "--\r\n" + epilogue
    return b


H1 = crlf("""Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
From: Fred Foobar <foobar@Blurdybloop.example>
Subject: afternoon meeting
To: mooch@owatagu.siam.edu.example
Message-Id: <B27397-0100000@Blurdybloop.example>
""")
ENV1 = env("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", "afternoon meeting",
           alist(addr("Fred Foobar", "foobar", "Blurdybloop.example")),
           to=alist(addr(None, "mooch", "owatagu.siam.edu.example")),
           mid="<B27397-0100000@Blurdybloop.example>")

# 01 simple text with charset
b = crlf("Hello Joe, do you think we can meet at 3:30 tomorrow?\n\n-- Fred\n")
golden("01-simple-text", H1 + crlf("MIME-Version: 1.0\nContent-Type: TEXT/PLAIN; CHARSET=US-ASCII\n\n") + b,
       ENV1, *both(lambda e: text(b, "PLAIN", params("CHARSET", "US-ASCII"), ext=e, typ="TEXT")))

# 02 no Content-Type: text/plain us-ascii 7bit defaults, no Sender/Reply-To
b = crlf("Just text.\nNo MIME at all.")
golden("02-no-content-type", H1 + "\r\n" + b, ENV1, *both(lambda e: text(b, ext=e)))

# 03 multipart/mixed with attachments
t = crlf("See the attached files.\n")
pdf = crlf("JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\nY29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAw0DMwslAwtTTVMzIxV7AwMdSzMDRSKErlCtdSyOMK\n")
png = crlf("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
body = mp("simple-boundary-42", [
    (crlf("Content-Type: text/plain; charset=utf-8\n"), t),
    (crlf('Content-Type: application/pdf; name="report.pdf"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="report.pdf"\n'), pdf),
    (crlf("Content-Type: image/png\nContent-Transfer-Encoding: base64\nContent-Disposition: inline\nContent-ID: <img1@example>\n"), png),
])
golden("03-mixed-attachments",
       H1 + crlf('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="simple-boundary-42"\n\n') + body,
       ENV1, *both(lambda e: multi([
           text(t, prm=params("charset", "utf-8"), ext=e),
           basic("application", "pdf", pdf, params("name", "report.pdf"), "base64", e,
                 dsp='("attachment" ("filename" "report.pdf"))'),
           basic("image", "png", png, enc="base64", ext=e, id="<img1@example>", dsp='("inline" NIL)'),
       ], "mixed", params("boundary", "simple-boundary-42"), e)))

# 04 multipart/alternative inside multipart/mixed
tp = crlf("Plain version.\nSecond line.\n")
th = crlf("<html><body><p>HTML version.</p></body></html>\n")
alt = mp("alt-b", [(crlf("Content-Type: text/plain; charset=us-ascii\n"), tp),
                   (crlf("Content-Type: text/html; charset=us-ascii\n"), th)])
att = crlf("a,b,c\n1,2,3\n")
body = mp("mix-b", [(crlf("Content-Type: multipart/alternative; boundary=alt-b\n"), alt),
                    (crlf("Content-Type: text/csv; name=data.csv\nContent-Disposition: attachment; filename=data.csv\n"), att)])
golden("04-alternative-in-mixed",
       H1 + crlf("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=mix-b\n\n") + body,
       ENV1, *both(lambda e: multi([
           multi([text(tp, ext=e), text(th, "html", ext=e)], "alternative", params("boundary", "alt-b"), e),
           text(att, "csv", params("name", "data.csv"), ext=e, dsp='("attachment" ("filename" "data.csv"))'),
       ], "mixed", params("boundary", "mix-b"), e)))

# 05 nesting three levels deep: mixed > related > alternative
tp = crlf("plain\n")
th = crlf("<p>html <img src=cid:x></p>")
img = crlf("R0lGODlhAQABAAAAACw=\n")
alt = mp("L3", [("", tp), (crlf("Content-Type: text/html\n"), th)])
rel = mp("L2", [(crlf("Content-Type: multipart/alternative; boundary=L3\n"), alt),
                (crlf("Content-Type: image/gif\nContent-Transfer-Encoding: base64\nContent-ID: <x>\n"), img)])
tail = crlf("trailer text\n")
body = mp("L1", [(crlf('Content-Type: multipart/related; boundary=L2; type="multipart/alternative"\n'), rel),
                 ("", tail)])
golden("05-nested-3-levels",
       H1 + crlf("Content-Type: multipart/mixed; boundary=L1\n\n") + body, ENV1,
       *both(lambda e: multi([
           multi([multi([text(tp, ext=e), text(th, "html", ext=e)], "alternative", params("boundary", "L3"), e),
                  basic("image", "gif", img, enc="base64", ext=e, id="<x>")],
                 "related", params("boundary", "L2", "type", "multipart/alternative"), e),
           text(tail, ext=e)], "mixed", params("boundary", "L1"), e)))

# 06 message/rfc822 attachment with its own multipart
ih = crlf("From: Inner Sender <inner@example.org>\nTo: a@example.org, b@example.org\nSubject: forwarded one\nDate: Tue, 1 Mar 2022 10:00:00 +0100\nMessage-ID: <inner-1@example.org>\nIn-Reply-To: <older@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"in\"\n")
itp = crlf("inner plain\n")
ith = crlf("<b>inner</b>\n")
ibody = mp("in", [(crlf("Content-Type: text/plain\n"), itp), (crlf("Content-Type: text/html\n"), ith)])
inner = ih + "\r\n" + ibody
intro = crlf("Forwarding this.\n")
body = mp("out", [("", intro), (crlf("Content-Type: message/rfc822\nContent-Disposition: attachment\n"), inner)])
ienv = env("Tue, 1 Mar 2022 10:00:00 +0100", "forwarded one",
           alist(addr("Inner Sender", "inner", "example.org")),
           to=alist(addr(None, "a", "example.org"), addr(None, "b", "example.org")),
           irt="<older@example.org>", mid="<inner-1@example.org>")


def s06(e):
    m = rfc822(inner, ienv, multi([text(itp, ext=e), text(ith, "html", ext=e)], "alternative",
                                  params("boundary", "in"), e), ext=False)
    if e:
        m = m[:-1] + ' NIL ("attachment" NIL) NIL NIL)'
    return multi([text(intro, ext=e), m], "mixed", params("boundary", "out"), e)


golden("06-rfc822-attachment", H1 + crlf("Content-Type: multipart/mixed; boundary=out\n\n") + body,
       ENV1, *both(s06))

# 07 message/rfc822 inside message/rfc822
deep = crlf("Subject: deepest\n\nthe innermost text\n")
mid_ = crlf("Subject: middle\nContent-Type: message/rfc822\n\n") + deep
top_ = crlf("Subject: outer\nContent-Type: message/rfc822\n\n") + mid_
note = crlf("two levels down\n")
body = mp("r2", [("", note), (crlf("Content-Type: message/rfc822\n"), top_)])
envs = {s: env(subject=s) for s in ("deepest", "middle", "outer")}
golden("07-rfc822-in-rfc822", H1 + crlf("Content-Type: multipart/mixed; boundary=r2\n\n") + body,
       ENV1, *both(lambda e: multi([text(note, ext=e), rfc822(top_, envs["outer"], rfc822(
           mid_, envs["middle"], rfc822(deep, envs["deepest"], text(crlf("the innermost text\n"), ext=e),
                                        ext=e), ext=e), ext=e)], "mixed", params("boundary", "r2"), e)))

# 08 RFC 2231 continuations, charset'lang'value, plain continuations
data = crlf("ABCD\n")
t2 = crlf("x\n")
body = mp("p2231", [
    (crlf("Content-Type: application/octet-stream;\n name*0*=utf-8''%E2%82%AC;\n name*1*=%20rates;\n name*2=\".txt\"\nContent-Disposition: attachment;\n filename*=iso-8859-1'en'%A3%20rates.txt;\n size=42\n"), data),
    (crlf('Content-Type: text/plain; title*1="long title"; title*0="A very ";\n charset=us-ascii\n'), t2)])
golden("08-rfc2231", H1 + crlf("Content-Type: multipart/mixed; boundary=p2231\n\n") + body, ENV1,
       *both(lambda e: multi([
           basic("application", "octet-stream", data, params("name", "\u20ac rates.txt"), ext=e,
                 dsp="(\"attachment\" (%s %s \"size\" \"42\"))" % (q("filename"), q("\u00a3 rates.txt"))),
           text(t2, prm=params("title", "A very long title", "charset", "us-ascii"), ext=e)],
           "mixed", params("boundary", "p2231"), e)))

# 09 RFC 2047 words stay encoded in ENVELOPE
b = crlf("hallo\n")
golden("09-rfc2047", crlf("""From: =?iso-8859-1?q?J=F6rg?= Schmidt <joerg@example.de>
To: "=?utf-8?b?w4lsb2lzZQ==?=" <eloise@example.fr>
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?YXVz?= Berlin

""") + b, env(subject="=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= =?UTF-8?B?YXVz?= Berlin",
              frm=alist(addr("=?iso-8859-1?q?J=F6rg?= Schmidt", "joerg", "example.de")),
              to=alist(addr("=?utf-8?b?w4lsb2lzZQ==?=", "eloise", "example.fr"))),
       *both(lambda e: text(b, ext=e)))

# 10 groups, empty groups, a group name with a comma
b = crlf("group test\n")
golden("10-groups", crlf("""From: Boss <boss@example.com>
To: Friends: alice@example.com, Bob <bob@example.com>;, carol@example.com
Cc: undisclosed-recipients:;
Bcc: "Team, Core": ;
Subject: groups

""") + b, env(subject="groups", frm=alist(addr("Boss", "boss", "example.com")),
              to=alist(addr(None, "Friends", None), addr(None, "alice", "example.com"),
                       addr("Bob", "bob", "example.com"), "(NIL NIL NIL NIL)",
                       addr(None, "carol", "example.com")),
              cc=alist(addr(None, "undisclosed-recipients", None), "(NIL NIL NIL NIL)"),
              bcc=alist(addr(None, "Team, Core", None), "(NIL NIL NIL NIL)")),
       *both(lambda e: text(b, ext=e)))

# 11 missing and malformed addresses (no From: sender and reply-to are NIL too)
b = crlf("x")
golden("11-malformed-addresses", crlf("""Reply-To:
To: bob, , <>, joe@example.com (Joe Bloggs), <@relay1.example,@relay2.example:user@host.example>, Alice <alice@example.com
Cc: "Smith, John" <john.smith@example.com>, "Quote \\"Q\\" Man" <qq@example.com>
Subject: bad addresses

""") + b, env(subject="bad addresses",
              to=alist(addr(None, "bob", ""), addr(None, "", ""), addr("Joe Bloggs", "joe", "example.com"),
                       addr(None, "user", "host.example", "@relay1.example,@relay2.example"),
                       addr("Alice", "alice", "example.com")),
              cc=alist(addr("Smith, John", "john.smith", "example.com"),
                       addr('Quote "Q" Man', "qq", "example.com"))),
       *both(lambda e: text(b, ext=e)))

# 12 quoted-printable parts
q1 = crlf("Caf=E9 au lait, tr=E8s bien=\nsoft break\n")
q2 = crlf("<p>=3D</p>\n")
body = mp("qp", [(crlf("Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n"), q1),
                 (crlf("Content-Type: text/html\nContent-Transfer-Encoding: QUOTED-PRINTABLE\n"), q2)])
golden("12-quoted-printable", H1 + crlf("Content-Type: multipart/alternative; boundary=qp\n\n") + body, ENV1,
       *both(lambda e: multi([text(q1, prm=params("charset", "iso-8859-1"), enc="quoted-printable", ext=e),
                              text(q2, "html", enc="QUOTED-PRINTABLE", ext=e)],
                             "alternative", params("boundary", "qp"), e)))

# 13 base64 text at the top level
b = crlf("SGVsbG8gd29ybGQh\nSGVsbG8gYWdhaW4=\n")
golden("13-base64", H1 + crlf("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n") + b,
       ENV1, *both(lambda e: text(b, prm=params("charset", "utf-8"), enc="base64", ext=e)))

# 14 missing final boundary: the last part runs to the end
p1 = crlf("first")
p2 = crlf("<p>never ends\n")
body = mp("nofinal", [("", p1), (crlf("Content-Type: text/html\n"), p2)], close=False)
body = body[:-2]  # the last part has no delimiter after it: its CRLF is content
golden("14-missing-final-boundary", H1 + crlf("Content-Type: multipart/mixed; boundary=nofinal\n\n") + body,
       ENV1, *both(lambda e: multi([text(p1, ext=e), text(p2, "html", ext=e)], "mixed",
                                   params("boundary", "nofinal"), e)))

# 15 boundary-like lines inside content; a delimiter with transport padding
p1 = crlf("line\n--frontierX not a boundary\n--frontier-- trailing text\n-- frontier\nend")
p2 = crlf("second\n")
body = ("--frontier\r\n\r\n" + p1 + "\r\n--frontier \t \r\nContent-Type: text/plain\r\n\r\n" + p2 +
        "\r\n--frontier--   \r\n")
golden("15-boundary-in-content", H1 + crlf("Content-Type: multipart/mixed; boundary=frontier\n\n") + body,
       ENV1, *both(lambda e: multi([text(p1, ext=e), text(p2, ext=e)], "mixed",
                                   params("boundary", "frontier"), e)))

# 16 preamble and epilogue
p1 = crlf("part one\n")
p2 = crlf("part two")
body = mp("pe", [("", p1), ("", p2)], preamble=crlf("This is a multi-part message in MIME format.\n"),
          epilogue=crlf("This is the epilogue.\nIt has two lines.\n"))
golden("16-preamble-epilogue", H1 + crlf("Content-Type: multipart/mixed; boundary=pe\n\n") + body, ENV1,
       *both(lambda e: multi([text(p1, ext=e), text(p2, ext=e)], "mixed", params("boundary", "pe"), e)))

# 17 empty body; 18 header only (no blank line)
golden("17-empty-body", H1 + "\r\n", ENV1, *both(lambda e: text("", ext=e)))
golden("18-header-only", H1, ENV1, *both(lambda e: text("", ext=e)))

# 19 bare LF line ends throughout
p1 = "lf one\nlf two\n"
p2 = "<i>lf</i>"
m = ("From: lf@example.com\nSubject: bare LF\nContent-Type: multipart/alternative; boundary=\"lfb\"\n\n"
     "--lfb\n\n" + p1 + "\n--lfb\nContent-Type: text/html\n\n" + p2 + "\n--lfb--\n")
golden("19-bare-lf", m, env(subject="bare LF", frm=alist(addr(None, "lf", "example.com"))),
       *both(lambda e: multi([text(p1, ext=e), text(p2, "html", ext=e)], "alternative",
                             params("boundary", "lfb"), e)))

# 20 8-bit headers come back as literals
b = crlf("Inhalt\n")
golden("20-8bit-headers", crlf("""From: J\u00f6rg <joerg@example.de>
Subject: Gr\u00fc\u00dfe aus K\u00f6ln
Content-Type: text/plain; charset=utf-8
Content-Description: f\u00fcr dich

""") + b, env(subject="Gr\u00fc\u00dfe aus K\u00f6ln", frm=alist(addr("J\u00f6rg", "joerg", "example.de"))),
       *both(lambda e: text(b, prm=params("charset", "utf-8"), desc="f\u00fcr dich", ext=e)))

# 21 very long header lines (one 3000-byte line, one folded over 40 lines)
subj = " ".join("word%04d" % i for i in range(334))
tos = [("user%02d" % i, "example.net") for i in range(40)]
b = crlf("long headers\n")
golden("21-long-headers", "Subject: " + subj + "\r\nTo: " + ",\r\n ".join("%s@%s" % t for t in tos) +
       "\r\nFrom: a@b.example\r\n\r\n" + b,
       env(subject=subj, frm=alist(addr(None, "a", "b.example")), to=alist(*[addr(None, u, h) for u, h in tos])),
       *both(lambda e: text(b, ext=e)))

# 22 Content-Disposition with several parameters (quoted, escaped, token)
d = crlf("PDF\n")
body = mp("dsp", [(crlf('Content-Type: application/octet-stream\nContent-Disposition: ATTACHMENT; filename="a \\"b\\".txt";\n size=1234; creation-date="Mon, 1 Jan 2024 00:00:00 +0000"\n'), d)])
golden("22-disposition-params", H1 + crlf("Content-Type: multipart/mixed; boundary=dsp\n\n") + body, ENV1,
       *both(lambda e: multi([basic("application", "octet-stream", d, ext=e, dsp='("ATTACHMENT" ("filename" "a \\"b\\".txt" "size" "1234" "creation-date" "Mon, 1 Jan 2024 00:00:00 +0000"))')],
                             "mixed", params("boundary", "dsp"), e)))

# 23 Content-Language and Content-Location, on a part and on the multipart
t = crlf("Bonjour\n")
body = mp("lang", [(crlf("Content-Type: text/plain; charset=us-ascii\nContent-Language: en, de (German) , fr\nContent-Location: http://www.example.com/docs/page.txt\n"), t)])
golden("23-language-location", H1 + crlf("Content-Type: multipart/mixed; boundary=lang\nContent-Language: fr\nContent-Location: page.html\n\n") + body, ENV1,
       *both(lambda e: multi([text(t, ext=e, lang='("en" "de" "fr")', loc="http://www.example.com/docs/page.txt")],
                             "mixed", params("boundary", "lang"), e, lang='("fr")', loc="page.html")))

# 24 Content-MD5, Content-ID, Content-Description
t = crlf("Check me.\n")
golden("24-content-md5", H1 + crlf("Content-Type: text/plain\nContent-ID: <part1.abc@example.com>\nContent-Description: A described part\nContent-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n\n") + t, ENV1,
       *both(lambda e: text(t, ext=e, id="<part1.abc@example.com>", desc="A described part", md5="Q2hlY2sgSW50ZWdyaXR5IQ==")))

# 25 duplicated header fields: the first one counts
t = crlf("<p>dup</p>\n")
golden("25-duplicated-headers", crlf("""Subject: first subject
From: first@example.com
Subject: second subject
From: second@example.com
Content-Type: text/html; charset=utf-8
Content-Type: text/plain

""") + t, env(subject="first subject", frm=alist(addr(None, "first", "example.com"))),
       *both(lambda e: text(t, "html", params("charset", "utf-8"), ext=e)))

# 26 case variations: names, types and encodings as sent; boundaries are case-sensitive
p1 = crlf("PGI+aGk8L2I+\n--caseb\n")
p2 = crlf("two\n")
body = mp("CaseB", [(crlf("content-type: Text/HTML; Charset=ISO-8859-1\nCONTENT-TRANSFER-ENCODING: BASE64\n"), p1),
                    (crlf("Content-type: text/PLAIN\n"), p2)])
golden("26-case-variations", crlf("FROM: Up <UP@EXAMPLE.COM>\nsubject: lower\nCONTENT-TYPE: MULTIPART/Mixed; BOUNDARY=\"CaseB\"\n\n") + body,
       env(subject="lower", frm=alist(addr("Up", "UP", "EXAMPLE.COM"))),
       *both(lambda e: multi([text(p1, "HTML", params("Charset", "ISO-8859-1"), "BASE64", e, typ="Text"),
                              text(p2, "PLAIN", ext=e)], "Mixed", params("BOUNDARY", "CaseB"), e)))

# 27 unquoted parameters and comments in Content-Type
t = crlf("flowed text \nwith soft breaks\n")
golden("27-unquoted-params", H1 + crlf("Content-Type: text/plain (the type) ; charset=utf-8 (utf8) ;\n format=flowed; delsp=yes\n\n") + t, ENV1,
       *both(lambda e: text(t, prm=params("charset", "utf-8", "format", "flowed", "delsp", "yes"), ext=e)))

# 28 malformed Content-Type values fall back to text/plain (RFC 2045 §5.2)
a, b2, c, d = crlf("one\n"), crlf("two\n"), crlf("three\n"), crlf("four\n")
body = mp("bad", [(crlf("Content-Type: text/\n"), a), (crlf("Content-Type: ;;\n"), b2),
                  (crlf('Content-Type: text/plain;;charset="us-ascii";\n'), c),
                  (crlf("Content-Type: application/x-foo; =bar; baz; qux=1\n"), d)])
golden("28-malformed-ctype", H1 + crlf("Content-Type: multipart/mixed; boundary=bad\n\n") + body, ENV1,
       *both(lambda e: multi([text(a, ext=e), text(b2, ext=e), text(c, ext=e),
                              basic("application", "x-foo", d, params("qux", "1"), ext=e)],
                             "mixed", params("boundary", "bad"), e)))

# 29 a multipart without any part
golden("29-multipart-no-parts", H1 + crlf("Content-Type: multipart/mixed; boundary=nothing\n\nno delimiters here\n"), ENV1,
       *both(lambda e: multi([text("", ext=e)], "mixed", params("boundary", "nothing"), e)))

# 30 a nested boundary that is a prefix of the outer one (inner not closed)
i1 = crlf("inner one")
i2 = crlf("inner two\n")
o2 = crlf("outer two\n")
body = ("--=_abc_outer\r\nContent-Type: multipart/alternative; boundary=\"=_abc\"\r\n\r\n"
        "--=_abc\r\n\r\n" + i1 + "\r\n--=_abc\r\n\r\n" + i2 +
        "\r\n--=_abc_outer\r\n\r\n" + o2 + "\r\n--=_abc_outer--\r\n")
golden("30-prefix-boundary", H1 + crlf('Content-Type: multipart/mixed; boundary="=_abc_outer"\n\n') + body, ENV1,
       *both(lambda e: multi([multi([text(i1, ext=e), text(i2, ext=e)], "alternative", params("boundary", "=_abc"), e),
                              text(o2, ext=e)], "mixed", params("boundary", "=_abc_outer"), e)))

# 31 multipart/digest: parts default to message/rfc822
d1 = crlf("Subject: d1\nFrom: one@example.com\n\nbody one\n")
d2 = crlf("Subject: d2\n\nbody two")
d3 = crlf("plain in digest\n")
body = mp("dg", [("", d1), ("", d2), (crlf("Content-Type: text/plain\n"), d3)])
golden("31-digest", H1 + crlf("Content-Type: multipart/digest; boundary=dg\n\n") + body, ENV1,
       *both(lambda e: multi([
           rfc822(d1, env(subject="d1", frm=alist(addr(None, "one", "example.com"))), text(crlf("body one\n"), ext=e), ext=e),
           rfc822(d2, env(subject="d2"), text("body two", ext=e), ext=e),
           text(d3, ext=e)], "digest", params("boundary", "dg"), e)))

# 32 a part header ended by a delimiter (no blank line, empty body)
p2 = crlf("after\n")
body = "--hb\r\nContent-Type: text/html\r\n--hb\r\n\r\n" + p2 + "\r\n--hb--\r\n"
golden("32-header-ended-by-boundary", H1 + crlf("Content-Type: multipart/mixed; boundary=hb\n\n") + body, ENV1,
       *both(lambda e: multi([text("", "html", ext=e), text(p2, ext=e)], "mixed", params("boundary", "hb"), e)))

# 33 quotes and backslashes are escaped in quoted strings
t = crlf("q\n")
golden("33-quoting", crlf('Subject: He said "hi" \\ back\nFrom: "Back\\\\slash \\"Q\\"" <bs@example.com>\n\n') + t,
       env(subject='He said "hi" \\ back', frm=alist(addr('Back\\slash "Q"', "bs", "example.com"))),
       *both(lambda e: text(t, ext=e)))

# 34 a message whose top-level type is message/rfc822
inner = crlf("Subject: wrapped\nMessage-ID: <w@example>\n\nwrapped body\n")
golden("34-toplevel-rfc822", crlf("Subject: wrapper\nContent-Type: message/rfc822\n\n") + inner,
       env(subject="wrapper"),
       *both(lambda e: rfc822(inner, env(subject="wrapped", mid="<w@example>"),
                              text(crlf("wrapped body\n"), ext=e), ext=e)))

# 35 garbage: no header fields at all (lines without colon are not fields)
t = crlf("body after garbage\n")
golden("35-garbage", "garbage line without colon\r\n\x01\x02 ~~~ \x7f\r\n: empty name\r\n\r\n" + t,
       env(), *both(lambda e: text(t, ext=e)))

# 36 nested multipart with the same boundary as its parent
a, b2, c = crlf("A"), crlf("B"), crlf("C\n")
body = ("--same\r\nContent-Type: multipart/alternative; boundary=same\r\n\r\n"
        "--same\r\nContent-Type: text/plain\r\n\r\n" + a + "\r\n--same\r\nContent-Type: text/html\r\n\r\n" + b2 +
        "\r\n--same--\r\n--same\r\nContent-Type: text/plain\r\n\r\n" + c + "\r\n--same--\r\n")
golden("36-same-boundary", H1 + crlf("Content-Type: multipart/mixed; boundary=same\n\n") + body, ENV1,
       *both(lambda e: multi([multi([text(a, ext=e), text(b2, "html", ext=e)], "alternative", params("boundary", "same"), e),
                              text(c, ext=e)], "mixed", params("boundary", "same"), e)))


def write_all():
    for name, eml, envelope, bs, body in GOLDEN:
        enc = lambda s: s.encode("utf-8", "surrogateescape")
        with open(os.path.join(HERE, name + ".eml"), "wb") as f:
            f.write(enc(eml))
        with open(os.path.join(HERE, name + ".envelope"), "wb") as f:
            f.write(enc(envelope) + b"\n")
        with open(os.path.join(HERE, name + ".bodystructure"), "wb") as f:
            f.write(enc(bs) + b"\n")
        if body is not None:
            with open(os.path.join(HERE, name + ".body"), "wb") as f:
                f.write(enc(body) + b"\n")
    print("%d golden messages" % len(GOLDEN))


if __name__ == "__main__":
    write_all()
