"""A client-side Maildir for the real-client tests (mbsync, offlineimap,
fetchmail): write generated mail into folders, read a folder back, and
match messages by Message-ID (mailgen gives every message a unique one)."""

import os
import re

import mailgen


def message_id(data):
    m = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", data)
    return m.group(1).decode()


def write_maildir(path, messages, mtime=None):
    """Writes [(bytes, flag letters)] into path/cur; mtime(data), when
    given, sets each file's modification time."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for i, (data, flags) in enumerate(messages):
        name = os.path.join(path, "cur", f"1700000000.M{i}P1.test:2,{flags}")
        with open(name, "wb") as f:
            f.write(data)
        if mtime is not None:
            os.utime(name, (mtime(data), mtime(data)))


def read_maildir(path):
    """{Message-ID: (bytes, sorted flag letters)} of a Maildir folder."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for name in os.listdir(d) if os.path.isdir(d) else ():
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            mid = message_id(data)
            assert mid not in out, f"duplicate {mid} in {path}"
            out[mid] = (data, "".join(sorted(flags)))
    return out


def build_local(local, folders, seed, mtime=None):
    """Fills the Maildir folders {name: count} under `local` with generated
    messages (LF line ends, as Maildir files have) and mailgen's flags.
    Returns {folder: {Message-ID: (bytes, sorted flags)}}."""
    generated = iter(mailgen.make_messages(sum(folders.values()), seed=seed))
    expected = {}
    i = 0
    for folder, count in folders.items():
        batch = []
        for _ in range(count):
            data = next(generated).replace(b"\r\n", b"\n")
            flags = mailgen.maildir_flags(i)
            batch.append((data, flags))
            expected.setdefault(folder, {})[message_id(data)] = (data, "".join(sorted(flags)))
            i += 1
        write_maildir(os.path.join(local, folder), batch, mtime)
    return expected
