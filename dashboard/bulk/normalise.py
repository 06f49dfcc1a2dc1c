"""What a failure is, for grouping: its exception type, its message with the variable parts
masked, and the innermost frame of the application's own code.

Job data is untrusted: everything here is plain string work on bounded input (reasons and
traces are clipped first), never an import or an eval of what a job holds.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Longest reason, trace and message looked at (a 20,000-character reason is clipped).
MAX_REASON = 2000
MAX_TRACE = 20_000
MAX_MESSAGE = 300

_PY_TRACE = "Traceback (most recent call last)"
# A Python exception line: "ValueError: ...", "app.errors.CardDeclined: ...", or a bare name.
_PY_EXC = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")
_PY_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (.+)$')
# A Node frame: "    at fn (file:///app/x.mjs:1:2)", "    at /app/x.js:1:2", "at async fn (...)".
_NODE_FRAME = re.compile(r"^\s*at (?:async )?(?:(.+?) \()?(.+?):(\d+):\d+\)?$")
_NODE_EXC = re.compile(r"^([A-Za-z_$][\w$.]*)(?::\s?(.*))?$")
_TYPE_PREFIX = re.compile(r"^([A-Z][\w.]*(?:Error|Exception|Fault|Failure)):\s?")

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                r"[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`"), "<str>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])"
                r"[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"(?<![\w<>])[-+]?\d+(?:[.,]\d+)*|(?<=[A-Za-z_])\d+"), "<n>"),
)
_SPACE = re.compile(r"\s+")
_PLACEHOLDER = re.compile(r"<(?:email|uuid|str|hex|n)>")


@dataclass(frozen=True, slots=True)
class Failure:
    """The grouping of one failed job."""

    type: str
    message: str
    frame: str

    @property
    def key(self) -> str:
        """A short stable id of the group (type, normalised message and frame)."""
        raw = "\x1f".join((self.type, self.message, self.frame)).encode()
        return hashlib.sha1(raw, usedforsecurity=False).hexdigest()[:16]


def mask(message: str) -> str:
    """``card declined for a@b.io (4021)`` -> ``card declined for <email> (<n>)``."""
    text = _SPACE.sub(" ", message[:MAX_REASON]).strip()
    for pattern, placeholder in _MASKS:
        text = pattern.sub(placeholder, text)
    return text[:MAX_MESSAGE]


def search_term(message: str) -> str:
    """The longest literal run of a normalised message (what ``reason:`` can look for)."""
    parts = [p.replace('"', "").strip() for p in _PLACEHOLDER.split(message)]
    return max(parts, key=len, default="")[:100]


def _is_library(path: str) -> bool:
    p = path.replace("\\", "/")
    if "site-packages/" in p or "dist-packages/" in p or "node_modules/" in p:
        return True
    if p.startswith(("<", "node:", "internal/")) or "/node:internal" in p:
        return True
    return bool(re.search(r"/lib/python3[\d.]*/", p)) or "/lib/pypy" in p


def _short(path: str) -> str:
    p = path.replace("\\", "/").removeprefix("file://")
    return "/".join(p.rsplit("/", 2)[-2:])


def _python(trace: str) -> tuple[str, str, str]:
    """(type, message, frame) of a Python traceback (the last exception of a chain)."""
    lines = trace.splitlines()
    frame = ""
    for line in reversed(lines):
        m = _PY_FRAME.match(line)
        if m and not _is_library(m[1]):
            frame = f"{m[3].strip()} ({_short(m[1])}:{m[2]})"
            break
    for line in reversed(lines):
        if line[:1].isspace() or not line.strip():
            continue
        m = _PY_EXC.match(line.strip())
        if m and not line.startswith(("Traceback", "During handling", "The above")):
            return m[1].rsplit(".", 1)[-1] if "." in m[1] else m[1], m[2] or "", frame
    return "", "", frame


def _node(trace: str) -> tuple[str, str, str]:
    """(type, message, frame) of a Node ``err.stack``: the type on its first line, frames
    innermost first."""
    lines = trace.splitlines()
    first = lines[0].strip() if lines else ""
    m = _NODE_EXC.match(first)
    exc_type, message = (m[1], m[2] or "") if m else ("", "")
    frame = ""
    for line in lines[1:]:
        f = _NODE_FRAME.match(line)
        if f and not _is_library(f[2]):
            name = re.sub(r" \[as [^\]]*\]$", "", (f[1] or "<anonymous>").strip())
            frame = f"{name} ({_short(f[2])}:{f[3]})"
            break
    return exc_type, message, frame


def classify(failed_reason: str, stacktrace: list[str]) -> Failure:
    """The group of a failed job from its ``failedReason`` and ``stacktrace`` (the list its
    hash holds, newest last)."""
    reason = (failed_reason or "")[:MAX_REASON]
    trace = stacktrace[-1][-MAX_TRACE:] if stacktrace else ""
    exc_type, message, frame = "", "", ""
    head = reason.split("\n", 1)[0][:100]
    if head and head not in trace:
        trace = ""  # an older attempt's trace (this failure stored none): not this error's
    if _PY_TRACE in trace:
        exc_type, message, frame = _python(trace)
    elif trace.strip():
        exc_type, message, frame = _node(trace)
    m = _TYPE_PREFIX.match(reason)
    if m:  # "TypeError: x" as the reason itself (BullMQ's reason for a non-Error throw...)
        exc_type = exc_type or m[1].rsplit(".", 1)[-1]
        reason = reason[m.end():]
    # The reason is the job's own record of the message; the trace's copy may be cut.
    text = reason or message
    return Failure(type=exc_type or "Error", message=mask(text), frame=frame)
