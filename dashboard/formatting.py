"""Pure helpers that turn job fields into display values (no Django, no Redis)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class PrettyJson:
    """Indented JSON text, maybe cut. The template escapes it; nothing is marked safe."""

    text: str
    truncated: bool
    full_length: int


def pretty_json(value: Any, limit: int | None) -> PrettyJson:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    if limit is not None and len(text) > limit:
        return PrettyJson(text=text[:limit], truncated=True, full_length=len(text))
    return PrettyJson(text=text, truncated=False, full_length=len(text))


def clip(text: str | None, limit: int) -> str:
    """At most ``limit`` characters of ``text``, with a note saying how much was cut."""
    if not text:
        return ""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n\u2026 cut at {limit} of {len(text)} characters"


def ms_to_datetime(ms: int | float | None) -> datetime | None:
    if ms is None or isinstance(ms, bool) or ms <= 0:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def format_duration(ms: int | float | None) -> str:
    """``1h 2m``, ``3m 4s``, ``5.2s``, ``12ms``; ``""`` when unknown."""
    if ms is None or isinstance(ms, bool):
        return ""
    ms = max(0, int(ms))
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def progress_percent(progress: Any) -> float | None:
    """A 0..100 number when the progress is one (BullMQ allows any JSON)."""
    if isinstance(progress, bool):
        return None
    if isinstance(progress, int | float):
        return float(min(100.0, max(0.0, progress)))
    if isinstance(progress, dict):
        for key in ("percent", "percentage", "progress"):
            if key in progress:
                return progress_percent(progress[key])
    return None


def shorten(text: str | None, limit: int = 120) -> str:
    if not text:
        return ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= limit else first[: limit - 1] + "\u2026"


def parse_job_key(key: str, prefix: str) -> tuple[str, str] | None:
    """``"<prefix>:<queue>:<id>"`` -> ``(queue, id)``, ``None`` for another prefix."""
    head = prefix + ":"
    if not key.startswith(head):
        return None
    queue, sep, job_id = key[len(head) :].partition(":")
    if not sep or not queue or not job_id:
        return None
    return queue, job_id


def parse_queue_key(key: str, prefix: str) -> str | None:
    """``"<prefix>:<queue>"`` -> ``queue``."""
    head = prefix + ":"
    if not key.startswith(head) or len(key) == len(head):
        return None
    return key[len(head) :]
