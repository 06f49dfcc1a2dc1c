"""A job hash decoded into Python names: plain data, readable by any layer above.

Both job faces (``Job``, ``AsyncJob``) extend it, the worker reads it, and it decodes any
peer's hash (Node/Python bullmq 5 and 6, queuecore)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..base.jsonutil import loads


def _int(value: str | None, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if value.__class__ is str and len(value) < 16:  # <= 15 digits: int() is exact as
        # int(float()) is, and faster
        try:
            return int(value)
        except ValueError:
            pass
    try:
        return int(float(value))
    except ValueError:
        return default


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


@dataclass(slots=True)
class JobRecord:
    """What a job hash holds, with Python names."""

    id: str
    name: str = ""
    data: Any = None
    opts: dict[str, Any] = field(default_factory=dict)
    timestamp: int = 0
    delay: int = 0
    priority: int = 0
    progress: Any = 0
    return_value: Any = None
    failed_reason: str | None = None
    stacktrace: list[str] = field(default_factory=list)
    attempts_made: int = 0
    attempts_started: int = 0
    stalled_counter: int = 0
    processed_on: int | None = None
    finished_on: int | None = None
    processed_by: str | None = None
    parent_key: str | None = None
    parent: dict[str, Any] | None = None
    scheduler_id: str | None = None
    deduplication_id: str | None = None
    deferred_failure: str | None = None
    dead_letter_origin: dict[str, Any] | None = None
    token: str | None = None

    @classmethod
    def fields_from_hash(cls, job_id: str, h: dict[str, str]) -> dict[str, Any]:
        # On the worker's hot path: fields a fresh job lacks cost a dict lookup, no call.
        get = h.get
        raw = get("opts")
        opts = loads(raw, {}) if raw else {}
        raw = get("stacktrace")
        if raw:
            stack = loads(raw, [])
            stacktrace = [str(s) for s in stack] if isinstance(stack, list) else [str(stack)]
        else:
            stacktrace = []
        raw = get("parent")
        parent = loads(raw) if raw else None
        raw = get("data")
        data = loads(raw, {}) if raw else {}
        raw = get("progress")
        progress = loads(raw, 0) if raw else 0
        raw = get("returnvalue")
        raw_dlq = get("dlq")
        return {
            "id": job_id,
            "name": get("name", ""),
            "data": data,
            "opts": opts if isinstance(opts, dict) else {},
            "timestamp": _int(get("timestamp"), 0),
            "delay": _int(get("delay"), 0),
            "priority": _int(get("priority"), 0),
            "progress": progress,
            "return_value": loads(raw) if raw else None,
            "failed_reason": get("failedReason"),
            "stacktrace": stacktrace,
            # as both peers do: a BullMQ 5 `attemptsMade` field, when present, wins over `atm`
            "attempts_made": _int(get("attemptsMade") or get("atm"), 0),
            "attempts_started": _int(get("ats"), 0),
            "stalled_counter": _int(get("stc"), 0),
            "processed_on": _int(get("processedOn")),
            "finished_on": _int(get("finishedOn")),
            "processed_by": get("pb"),
            "parent_key": get("parentKey"),
            "parent": parent if isinstance(parent, dict) else None,
            "scheduler_id": get("rjk"),
            "deduplication_id": get("deid"),
            "deferred_failure": get("defa"),
            "dead_letter_origin": _dict_or_none(loads(raw_dlq)) if raw_dlq else None,
        }

    @property
    def max_attempts(self) -> int:
        attempts = self.opts.get("attempts")
        return attempts if isinstance(attempts, int) and attempts > 0 else 1

    @property
    def queue_state_hint(self) -> str:
        """A cheap guess of the state from the hash alone (the real one: ``get_state``)."""
        if self.finished_on:
            return "failed" if self.failed_reason is not None else "completed"
        return "unknown"
