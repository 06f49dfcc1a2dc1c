"""Queue names and job ids come from URLs: user text, checked here before any use.

Links carry them with ``%`` and ``/`` escaped once more (``encode_segment``), so every name,
even one with a slash, has a link. A segment with any other percent-escape did not come from
a link the dashboard wrote (bytes that are not UTF-8 reach Django re-escaped, so ``%FF``
stays ``%FF``) and is refused, as are names queuecore refuses (``:``, glob characters,
control characters: a name never reaches a key pattern unchecked), ``.`` and ``..``
(browsers resolve them away), and job ids that would address one of the queue's own keys
(``wait``, ``1:logs``, ``metrics:failed:data``).
"""

from __future__ import annotations

import re

from queuecore import QUEUE_SUFFIXES, validate_queue_name

#: Custom ids have at most 512 characters; a scheduler's runs are ``repeat:<id>:<due ms>``.
MAX_JOB_ID = 600
_ESCAPE = re.compile(r"%(25|2[fF])")
_STRAY_PERCENT = re.compile(r"%(?!25|2[fF])")
#: Job ids that name a queue-level key rather than a job hash (``<prefix>:<queue>:<id>``).
_RESERVED_IDS = frozenset(s for s in QUEUE_SUFFIXES if ":" not in s)
#: Keys kept beside a job's hash: ``<id>:logs`` and the like.
_JOB_SUBKEYS = frozenset({"logs", "lock", "dependencies", "processed", "failed", "unsuccessful"})


def encode_segment(value: str) -> str:
    """``%`` and ``/`` escaped, so the value fits one path segment (``decode_segment`` undoes)."""
    return value.replace("%", "%25").replace("/", "%2F")


def decode_segment(raw: str) -> str:
    """The value ``encode_segment`` wrote; ``ValueError`` for any other percent-escape."""
    if _STRAY_PERCENT.search(raw):
        raise ValueError("unexpected percent-escape")
    return _ESCAPE.sub(lambda m: "%" if m.group(1) == "25" else "/", raw)


def _check_text(value: str) -> None:
    if value in (".", ".."):  # browsers resolve such a segment away: no link could reach it
        raise ValueError("a dot segment")
    # C0 and C1 controls, DEL, and U+FFFD (what a server makes of bytes that are not UTF-8).
    if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c == "\ufffd" for c in value):
        raise ValueError("control or replacement characters")


def check_queue_name(name: str) -> str:
    validate_queue_name(name)
    _check_text(name)
    return name


def check_job_id(job_id: str) -> str:
    """An id a job may have (BullMQ: no ``:``, or ``repeat:<scheduler>:<due>``)."""
    if not job_id or len(job_id) > MAX_JOB_ID:
        raise ValueError(f"job id must have 1 to {MAX_JOB_ID} characters")
    _check_text(job_id)
    parts = job_id.split(":")
    if len(parts) == 2:
        raise ValueError("a job id has no ':' or at least three parts (as queuecore allows)")
    if job_id in _RESERVED_IDS or parts[0] == "metrics" or (
        len(parts) > 1 and parts[-1] in _JOB_SUBKEYS
    ):
        raise ValueError("the name of a queue's key, not a job id")
    return job_id


class QueueNameConverter:
    """``<queue_dashboard_queue:queue>``: an encoded, checked queue name (else no match)."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return check_queue_name(decode_segment(value))

    def to_url(self, value: str) -> str:
        return encode_segment(str(value))


class JobIdConverter(QueueNameConverter):
    """``<queue_dashboard_job:job_id>``: an encoded, checked job id (else no match)."""

    def to_python(self, value: str) -> str:
        return check_job_id(decode_segment(value))


class SocketSegmentConverter(QueueNameConverter):
    """Websocket routes decode only: the consumer checks the names and refuses the handshake
    (an unmatched websocket path would be an error, not a refusal). ``""`` when undecodable."""

    def to_python(self, value: str) -> str:
        try:
            return decode_segment(value)
        except ValueError:
            return ""
