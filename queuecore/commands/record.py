"""A job hash decoded into Python names: plain data, readable by any layer above.

Both job faces (``Job``, ``AsyncJob``) extend it, the worker reads it, and it decodes any
peer's hash (Node/Python bullmq 5 and 6, queuecore)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, overload

from ..base.jsonutil import loads


@overload
def _int(value: str | None, default: int) -> int: ...


@overload
def _int(value: str | None, default: None = None) -> int | None: ...


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
        """The keyword arguments of a job read from its hash (``token`` not among them)."""
        rec = JobRecord.__new__(JobRecord)
        rec._load_hash(job_id, h)
        return {name: getattr(rec, name) for name in _HASH_FIELDS}

    def _load_hash(self, job_id: str, h: dict[str, str]) -> None:
        """Set every field from the job hash ``h`` (``token`` to None): builds a job without
        the dataclass ``__init__``'s 25 keyword arguments and their dict, on the worker's
        hot path (``from_hash`` of both job faces). Fields a fresh job lacks cost a dict
        lookup, no call."""
        get = h.get
        raw = get("opts")
        opts = loads(raw, {}) if raw else {}
        raw = get("stacktrace")
        if raw:
            stack = loads(raw, [])
            self.stacktrace = ([str(s) for s in stack] if isinstance(stack, list)
                               else [str(stack)])
        else:
            self.stacktrace = []
        raw = get("parent")
        parent = loads(raw) if raw else None
        raw = get("data")
        self.data = loads(raw, {}) if raw else {}
        raw = get("progress")
        self.progress = loads(raw, 0) if raw else 0
        raw = get("returnvalue")
        self.return_value = loads(raw) if raw else None
        raw = get("dlq")
        self.dead_letter_origin = _dict_or_none(loads(raw)) if raw else None
        self.id = job_id
        self.name = get("name", "")
        self.opts = opts if isinstance(opts, dict) else {}
        self.timestamp = _int(get("timestamp"), 0)
        self.delay = _int(get("delay"), 0)
        self.priority = _int(get("priority"), 0)
        self.failed_reason = get("failedReason")
        # as both peers do: a BullMQ 5 `attemptsMade` field, when present, wins over `atm`
        self.attempts_made = _int(get("attemptsMade") or get("atm"), 0)
        self.attempts_started = _int(get("ats"), 0)
        self.stalled_counter = _int(get("stc"), 0)
        self.processed_on = _int(get("processedOn"))
        self.finished_on = _int(get("finishedOn"))
        self.processed_by = get("pb")
        self.parent_key = get("parentKey")
        self.parent = parent if isinstance(parent, dict) else None
        self.scheduler_id = get("rjk")
        self.deduplication_id = get("deid")
        self.deferred_failure = get("defa")
        self.token = None

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


#: The fields a job hash sets (``fields_from_hash``'s keys): every field but the token.
_HASH_FIELDS = tuple(name for name in JobRecord.__dataclass_fields__ if name != "token")
