"""Texts of a job made readable: the failed reason with its exception type, and worker names
(generated ones are long) cut for a table cell, with a stable anchor on the workers page."""

from __future__ import annotations

import hashlib
import re

# "ValueError: boom", "mypkg.errors.Timeout: slow", Node's "TypeError: x is undefined".
_TYPED_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*): (.*)$")
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
#: Names up to this long are shown whole.
WORKER_NAME_CHARS = 24


def reason_with_type(reason: str | None, stacktrace: list[str]) -> str:
    """The failed reason with its exception type in front when the stored reason lacks it.

    Both peers store only the message (Node's ``err.message``, Python's ``str(err)``), which
    makes "boom" of a ValueError and of a KeyError look alike. The type is in the newest stack
    trace: on its last line in Python's form, on its first in Node's. The stored field is not
    changed (peers read it); this is for display only.
    """
    text = reason or ""
    if not stacktrace or not text:
        return text
    lines = [line for line in stacktrace[-1].splitlines() if line.strip()]
    if not lines:
        return text
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    # Python's form from the bottom (a message of several lines ends the trace with its
    # last line, its type is on the first one), then Node's first line.
    for line in (*reversed(lines), lines[0]):
        match = _TYPED_LINE.match(line)
        if match and match.group(2).strip() == first_line.strip():
            kind = match.group(1)
            if text.startswith(kind + ":"):
                return text
            return f"{kind}: {text}"
    return text


def worker_identity(client_name: str) -> str:
    """The worker's own name in a CLIENT LIST name ``<queue form>:w:<name>`` (both peers put
    it there; it is what they store as ``processedBy``)."""
    _, sep, identity = client_name.partition(":w:")
    return identity if sep else client_name


def short_worker_name(name: str) -> str:
    """A generated hex id to its first 8 characters, a long name to its head and tail (the
    tail often holds the host or process number), anything short whole."""
    if len(name) <= WORKER_NAME_CHARS:
        return name
    if _HEX_ID.match(name):
        return name[:8] + "\u2026"
    return f"{name[:14]}\u2026{name[-8:]}"


def worker_anchor(queue: str, identity: str) -> str:
    """The id of a worker's row on the workers page: a digest, as names may hold anything and
    one worker may serve several queues."""
    digest = hashlib.sha1(f"{queue}\0{identity}".encode(), usedforsecurity=False)
    return "worker-" + digest.hexdigest()[:12]
