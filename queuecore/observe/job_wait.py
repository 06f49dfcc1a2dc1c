"""Waiting for one job to finish (``Job.wait_until_finished``), read from its queue's event
stream.

The stream's last id is read in the same round trip as the job's hash, before anything else:
a job that finishes after that read is in the stream past that id, one that finished before
it is seen in its hash. Either way nothing is missed, and a job that finished long before the
call returns at once. Waiting reads the stream with its own XREAD calls from that id: it
takes no event away from whoever iterates the same ``QueueEvents``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..base.errors import (
    InvalidOptionsError,
    JobFailedError,
    JobNotFoundError,
    WaitTimeoutError,
)
from ..base.jsonutil import loads
from ..base.keys import QueueKeys

#: Job hash fields that tell whether and how it finished.
FIELDS = ("finishedOn", "returnvalue", "failedReason")
#: The longest single XREAD BLOCK (ms): a deadline is never overshot by more.
MAX_BLOCK_MS = 1000


class Outcome:
    """How a job finished: its return value, or the failed reason to raise."""

    __slots__ = ("failed", "job_id", "value")

    def __init__(self, job_id: str, value: Any, failed: str | None) -> None:
        self.job_id = job_id
        self.value = value
        self.failed = failed

    def result(self) -> Any:
        if self.failed is not None:
            raise JobFailedError(self.job_id, self.failed)
        return self.value


def _value(raw: str | None) -> Any:
    return None if raw is None else loads(raw)


def from_hash(job_id: str, exists: int, values: Sequence[str | None]) -> Outcome | None:
    """The outcome from the job's hash (``FIELDS``), or None while it runs."""
    if not exists:
        raise JobNotFoundError(f"job {job_id} does not exist (removed, or never added)",
                               job_id=job_id, command="wait_until_finished")
    finished_on, returnvalue, failed_reason = values
    if not finished_on:
        return None
    if failed_reason is not None:
        return Outcome(job_id, None, failed_reason)
    return Outcome(job_id, _value(returnvalue), None)


def from_events(job_id: str, entries: Sequence[Any]) -> Outcome | None:
    """The outcome from stream entries (``QueueEvent``), or None when they do not finish it."""
    for entry in entries:
        if entry.job_id != job_id:
            continue
        if entry.event == "completed":
            return Outcome(job_id, _value(entry.fields.get("returnvalue")), None)
        if entry.event == "failed":
            # Only the last attempt's failure: a retried attempt writes no "failed" event
            # (BullMQ 6.7 does the same; docs/dev/bullmq-observed.md).
            return Outcome(job_id, None, entry.fields.get("failedReason", ""))
    return None


def snapshot_commands(keys: QueueKeys, job_id: str) -> list[tuple[Any, ...]]:
    """The round trip that starts a wait: stream position, then the job's hash."""
    job_key = keys.job(job_id)
    return [("XREVRANGE", keys.events, "+", "-", "COUNT", 1), ("EXISTS", job_key),
            ("HMGET", job_key, *FIELDS)]


def last_id(reply: Any) -> str:
    return str(reply[0][0]) if reply else "0-0"


class Deadline:
    """``timeout`` seconds from now (None: no deadline)."""

    def __init__(self, job_id: str, timeout: float | None) -> None:
        if timeout is not None and (isinstance(timeout, bool) or
                                    not isinstance(timeout, int | float) or timeout <= 0):
            raise InvalidOptionsError("timeout must be a number of seconds > 0, or None")
        self.job_id = job_id
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def block_ms(self) -> int:
        """How long the next XREAD may block; raises once the deadline has passed."""
        if self.at is None:
            return MAX_BLOCK_MS
        left = self.at - time.monotonic()
        if left <= 0:
            raise WaitTimeoutError(
                f"job {self.job_id} did not finish within {self.timeout} s")
        return max(1, min(MAX_BLOCK_MS, int(left * 1000)))
