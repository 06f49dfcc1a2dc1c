"""What every read module shares: the job states, the errors that mean "could not read",
and how such an error is shown."""

from __future__ import annotations

import time

from queuecore import QueueCoreError

#: Tabs of the queue page, in BullMQ's order.
STATES: tuple[str, ...] = (
    "waiting",
    "active",
    "prioritized",
    "delayed",
    "waiting-children",
    "completed",
    "failed",
)
#: ``get_job_counts`` also reports the legacy ``paused`` list; shown only when non-empty.
COUNTED_STATES: tuple[str, ...] = (*STATES, "paused")
#: Job fields are untrusted and may be huge: names are cut to this many characters.
NAME_CHARS = 256
#: Errors that mean "this Redis or this data could not be read", shown instead of a crash.
#: queuecore wraps Redis trouble in its own types (``RedisError`` and its subclasses, all
#: ``QueueCoreError``), so no redis-py type is named here.
READ_ERRORS: tuple[type[Exception], ...] = (QueueCoreError,)


def now_ms() -> int:
    return int(time.time() * 1000)


def describe(exc: BaseException) -> str:
    """Exception class and message; the template escapes it."""
    return f"{type(exc).__name__}: {exc}"[:500]
