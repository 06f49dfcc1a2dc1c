"""Builders of the ops that edit one stored job: its data, priority, delay and log (BullMQ's
``Job.updateData``, ``changePriority``, ``changeDelay``, ``clearLogs`` and
``Queue.addJobLog``). Arguments are checked here, before any op exists, so bad input writes
nothing."""

from __future__ import annotations

from typing import Any

from ..base.errors import DataError, InvalidOptionsError
from ..base.jsonutil import dumps_data
from ..base.keys import QueueKeys
from ..base.options import MAX_PRIORITY
from ..base.validation import int_between
from .op import Op, checked, script, single


def update_data(keys: QueueKeys, job_id: str, data: Any, max_size: int | None) -> Op[Any]:
    """Replace the job's data; ``DataError`` when it is not JSON or over ``max_size`` bytes."""
    text = dumps_data(data, max_size)
    return single(script("update_data", [keys.job(job_id)], [text]),
                  checked("update_data", job_id))


def change_priority(keys: QueueKeys, job_id: str, priority: int = 0,
                    lifo: bool = False) -> Op[Any]:
    """Give the job ``priority`` (0: none, 1 the highest ... 2^21-1); a queued job is queued
    again with it (``lifo``: ahead of the jobs of the same priority)."""
    int_between("priority", priority, 0, MAX_PRIORITY)
    if not isinstance(lifo, bool):
        raise InvalidOptionsError(f"lifo must be a bool, got {lifo!r}")
    return single(
        script("change_priority",
               [keys.wait, keys.prioritized, keys.pc, keys.meta, keys.active, keys.marker],
               [keys.base, job_id, priority, "1" if lifo else "0"]),
        checked("change_priority", job_id))


def change_delay(keys: QueueKeys, job_id: str, delay_ms: int, now: int) -> Op[int]:
    """Run a delayed job ``delay_ms`` after ``now`` instead; returns the new due time.
    ``JobNotInStateError`` when the job is not delayed."""
    int_between("delay", delay_ms, 0)
    return single(
        script("change_delay", [keys.delayed, keys.meta, keys.marker, keys.events, keys.active],
               [keys.base, job_id, delay_ms, now]),
        lambda r: int(checked("change_delay", job_id)(r)))


def clear_logs(keys: QueueKeys, job_id: str, keep_logs: int | None = None) -> Op[int]:
    """Clear the job's log, keeping its last ``keep_logs`` lines when given; returns the
    number of lines left."""
    keep = 0 if keep_logs is None else int_between("keep_logs", keep_logs, 0)
    return single(script("clear_logs", [keys.logs(job_id)], [keep]), int)


def log_line(line: Any, max_size: int | None) -> str:
    """A log line as stored, refused before any write when over ``max_size`` UTF-8 bytes."""
    text = str(line)
    if max_size is not None and len(text) * 4 > max_size:
        size = len(text.encode("utf-8"))
        if size > max_size:
            raise DataError(f"log line is {size} bytes, over the limit of {max_size}")
    return text


def add_job_log(keys: QueueKeys, job_id: str, line: Any, keep_logs: int | None,
                max_size: int | None) -> Op[int]:
    """Append ``line`` to the log of job ``job_id`` (``JobNotFoundError`` when there is no
    such job), keeping its last ``keep_logs`` lines when given; returns the log's length."""
    keep = 0 if keep_logs is None else int_between("keep_logs", keep_logs, 0)
    text = log_line(line, max_size)
    return single(script("add_log", [keys.job(job_id), keys.logs(job_id)], [text, keep]),
                  lambda r: int(checked("add_job_log", job_id)(r)))
