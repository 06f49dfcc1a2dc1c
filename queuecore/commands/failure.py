"""What happens after a failed attempt: a pure decision, tested without Redis."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from ..base.backoff import BackoffStrategy, compute_backoff, parse_backoff
from ..base.errors import UnrecoverableError
from ..base.jsonutil import dumps
from .record import JobRecord


@dataclass(frozen=True, slots=True)
class FailurePlan:
    """``retry_in_ms`` None = fail for good; 0 = back to wait now; > 0 = delayed by that."""

    retry_in_ms: int | None
    reason: str
    stacktrace_json: str


def error_reason(error: BaseException) -> str:
    text = str(error)
    return text if text else type(error).__name__


def stacktrace_json(job: JobRecord, error: BaseException) -> str:
    """The job's stack traces with this one appended, capped at ``stackTraceLimit``."""
    # A processor in a child process: its own traceback, not the parent's frames.
    remote = getattr(error, "remote_traceback", "")
    entry = remote.rstrip() if remote else "".join(traceback.format_exception(error)).rstrip()
    stack = [*job.stacktrace, entry]
    limit = job.opts.get("stackTraceLimit")
    if isinstance(limit, int) and limit >= 0:
        stack = stack[-limit:] if limit else []
    return dumps(stack)


def plan_failure(job: JobRecord, error: BaseException,
                 strategy: BackoffStrategy | None = None, job_view: Any = None) -> FailurePlan:
    """Retry when attempts remain and the error is not unrecoverable (BullMQ's rule)."""
    reason = error_reason(error)
    stack = stacktrace_json(job, error)
    attempts_made = job.attempts_made + 1
    if isinstance(error, UnrecoverableError) or attempts_made >= job.max_attempts:
        return FailurePlan(None, reason, stack)
    try:
        backoff = parse_backoff(job.opts.get("backoff"))
        delay = compute_backoff(backoff, attempts_made, error=error, job=job_view or job,
                                strategy=strategy)
    except (ValueError, TypeError) as exc:
        return FailurePlan(None, f"{reason} (and no retry: {exc})", stack)
    return FailurePlan(delay, reason, stack)
