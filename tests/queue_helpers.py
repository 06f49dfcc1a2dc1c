"""Helpers shared by the Queue/AsyncQueue/Job tests: drive jobs through states with the worker
ops directly (no Worker), and read the events stream."""

from __future__ import annotations

import json
from typing import Any

import redis

from queuecore import Queue
from queuecore.base.clock import now_ms
from queuecore.commands import worker_ops


def events(r: redis.Redis, queue: str = "q", prefix: str = "bull") -> list[dict[str, str]]:
    """Every entry of the queue's events stream, oldest first."""
    return [fields for _, fields in r.xrange(f"{prefix}:{queue}:events")]


def event_names(r: redis.Redis, queue: str = "q") -> list[str]:
    return [e["event"] for e in events(r, queue)]


def fetch(q: Queue, token: str = "tok", lock_ms: int = 30_000) -> str | None:
    """Move the next job to active as a worker would; its id, or None when nothing was taken."""
    reply = q.run_op(worker_ops.move_to_active(q.keys, now_ms(), token, lock_ms, 0, 0, ""))
    return None if reply[0] == 0 else str(reply[1])


def finish(q: Queue, job_id: str, *, completed: bool = True, value: Any = None,
           token: str = "tok", now: int | None = None, stacktrace: list[str] | None = None,
           max_attempts: int = 1, metrics_points: int = 0) -> None:
    """Finish an active job (lock token ``token``) without fetching the next one."""
    q.run_op(worker_ops.move_to_finished(
        q.keys, job_id, token, now if now is not None else now_ms(), completed=completed,
        value=json.dumps(value) if completed else str(value),
        stacktrace="" if stacktrace is None else json.dumps(stacktrace),
        keep=(-1, 0, 0), max_attempts=max_attempts, metrics_points=metrics_points,
        fetch_next=False,
        next_token="", lock_ms=30_000, limiter_max=0, limiter_ms=0, worker_name=""))


def run_to(q: Queue, state: str, name: str = "j", data: Any = None, *, now: int | None = None,
           value: Any = "ok", reason: str = "boom") -> str:
    """Add a job and drive it to ``completed`` or ``failed``; returns its id.

    Needs ``wait`` to be empty of other jobs (the fetch takes the oldest)."""
    job = q.add(name, data if data is not None else {})
    taken = fetch(q)
    assert taken == job.id
    if state == "completed":
        finish(q, job.id, completed=True, value=value, now=now)
    elif state == "failed":
        finish(q, job.id, completed=False, value=reason, now=now, stacktrace=["Error: boom"])
    else:
        raise AssertionError(state)
    return job.id


def queue_keys(r: redis.Redis, queue: str = "q", prefix: str = "bull") -> set[str]:
    return set(r.keys(f"{prefix}:{queue}:*"))
