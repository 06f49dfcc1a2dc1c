"""Jobs: a record decoded from the job hash, with a sync face (``Job``) and an async one
(``AsyncJob``). Both decode any peer's hash (Node/Python bullmq 5 and 6, queuecore)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..base.clock import now_ms
from ..base.errors import DataError, InvalidOptionsError
from ..base.jsonutil import dumps_data, is_finite_number, loads
from ..commands import ops, worker_ops

if TYPE_CHECKING:
    from .aqueue import AsyncQueue
    from .queue import Queue


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


def _progress_json(value: Any, max_size: int | None) -> str:
    if isinstance(value, bool) or not (is_finite_number(value) or isinstance(value, dict | list
                                                                            | str)):
        raise InvalidOptionsError("progress must be a number, a string, a list or a dict")
    return dumps_data(value, max_size, what="progress")


def _log_line(line: Any, max_size: int | None) -> str:
    """A log line as stored, refused before any write when over the queue's
    ``max_data_size`` (UTF-8 bytes), like job data."""
    text = str(line)
    if max_size is not None and len(text) * 4 > max_size:
        size = len(text.encode("utf-8"))
        if size > max_size:
            raise DataError(f"log line is {size} bytes, over the limit of {max_size}")
    return text


ProgressListener = Callable[[Any], None]


class Job(JobRecord):
    """A job with blocking methods, bound to a ``Queue``."""

    __slots__ = ("moved", "on_progress", "queue")

    def __init__(self, queue: Queue, **fields: Any) -> None:
        super().__init__(**fields)
        self.queue = queue
        self.moved = False
        self.on_progress: ProgressListener | None = None

    @classmethod
    def from_hash(cls, queue: Queue, job_id: str, h: dict[str, str]) -> Job:
        return cls(queue, **JobRecord.fields_from_hash(job_id, h))

    def __repr__(self) -> str:
        return f"<Job {self.queue.name}:{self.id} {self.name!r}>"

    def update_progress(self, progress: Any) -> None:
        text = _progress_json(progress, self.queue.max_data_size)
        self.queue.run_op(ops.update_progress(self.queue.keys, self.id, text))
        self.progress = progress
        if self.on_progress is not None:
            self.on_progress(progress)

    def log(self, line: str) -> int:
        keep = self.opts.get("kl") or 0
        text = _log_line(line, self.queue.max_data_size)
        return self.queue.run_op(ops.add_log(self.queue.keys, self.id, text, int(keep)))

    def get_logs(self, start: int = 0, end: int = -1, asc: bool = True) -> tuple[list[str], int]:
        return self.queue.get_job_logs(self.id, start, end, asc)

    def get_state(self) -> str:
        return self.queue.run_op(ops.get_state(self.queue.keys, self.id))

    def get_dependencies(self) -> ops.Dependencies:
        """A flow parent's children: processed results, pending keys and failures."""
        return self.queue.run_op(ops.dependencies(self.queue.keys, self.id))

    def get_children_values(self) -> dict[str, Any]:
        """Results of the completed children, by the child's full job key."""
        return self.get_dependencies().processed

    def get_failed_children_values(self) -> dict[str, str]:
        return self.get_dependencies().failed

    def retry(self, state: str = "failed", *, reset_attempts: bool = False) -> None:
        self.queue.run_op(ops.reprocess(self.queue.keys, state, self.id,
                                       reset_attempts=reset_attempts))

    def promote(self) -> None:
        self.queue.run_op(ops.promote(self.queue.keys, self.id))

    def remove(self) -> None:
        self.queue.run_op(ops.remove(self.queue.keys, self.id))

    def move_to_delayed(self, timestamp_ms: int, token: str | None = None) -> None:
        """From inside a processor: run this job again at ``timestamp_ms`` (no attempt counted)."""
        tok = token or self.token or "0"
        self.queue.run_op(worker_ops.move_to_delayed(self.queue.keys, self.id, tok, now_ms(),
                                                    int(timestamp_ms), count_attempt=False))
        self.moved = True


class AsyncJob(JobRecord):
    """A job with coroutine methods, bound to an ``AsyncQueue``."""

    __slots__ = ("moved", "on_progress", "queue")

    def __init__(self, queue: AsyncQueue, **fields: Any) -> None:
        super().__init__(**fields)
        self.queue = queue
        self.moved = False
        self.on_progress: ProgressListener | None = None

    @classmethod
    def from_hash(cls, queue: AsyncQueue, job_id: str, h: dict[str, str]) -> AsyncJob:
        return cls(queue, **JobRecord.fields_from_hash(job_id, h))

    def __repr__(self) -> str:
        return f"<AsyncJob {self.queue.name}:{self.id} {self.name!r}>"

    async def update_progress(self, progress: Any) -> None:
        text = _progress_json(progress, self.queue.max_data_size)
        await self.queue.run_op(ops.update_progress(self.queue.keys, self.id, text))
        self.progress = progress
        if self.on_progress is not None:
            self.on_progress(progress)

    async def log(self, line: str) -> int:
        keep = self.opts.get("kl") or 0
        text = _log_line(line, self.queue.max_data_size)
        return await self.queue.run_op(ops.add_log(self.queue.keys, self.id, text, int(keep)))

    async def get_logs(self, start: int = 0, end: int = -1,
                       asc: bool = True) -> tuple[list[str], int]:
        return await self.queue.get_job_logs(self.id, start, end, asc)

    async def get_state(self) -> str:
        return await self.queue.run_op(ops.get_state(self.queue.keys, self.id))

    async def get_dependencies(self) -> ops.Dependencies:
        """A flow parent's children: processed results, pending keys and failures."""
        return await self.queue.run_op(ops.dependencies(self.queue.keys, self.id))

    async def get_children_values(self) -> dict[str, Any]:
        """Results of the completed children, by the child's full job key."""
        return (await self.get_dependencies()).processed

    async def get_failed_children_values(self) -> dict[str, str]:
        return (await self.get_dependencies()).failed

    async def retry(self, state: str = "failed", *, reset_attempts: bool = False) -> None:
        await self.queue.run_op(ops.reprocess(self.queue.keys, state, self.id,
                                             reset_attempts=reset_attempts))

    async def promote(self) -> None:
        await self.queue.run_op(ops.promote(self.queue.keys, self.id))

    async def remove(self) -> None:
        await self.queue.run_op(ops.remove(self.queue.keys, self.id))

    async def move_to_delayed(self, timestamp_ms: int, token: str | None = None) -> None:
        """From inside a processor: run this job again at ``timestamp_ms`` (no attempt counted)."""
        tok = token or self.token or "0"
        await self.queue.run_op(worker_ops.move_to_delayed(
            self.queue.keys, self.id, tok, now_ms(), int(timestamp_ms), count_attempt=False))
        self.moved = True
