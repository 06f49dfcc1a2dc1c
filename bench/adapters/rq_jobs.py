"""The job function RQ workers import by name ("rq_jobs.noop"). A no-op, except that in the
lateness scenario (S5) it notes how late it started, for the worker in the same process."""

from __future__ import annotations

import time
from typing import Any

LATENESS_MS: list[float] = []
PROCESSED = [0]


def noop(data: dict[str, Any]) -> None:
    PROCESSED[0] += 1
    due = data.get("due")
    if due is not None:
        LATENESS_MS.append(time.monotonic() * 1000.0 - due)
