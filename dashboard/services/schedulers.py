"""The job schedulers page: one page of a queue's schedulers, soonest run first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dashboard import connections
from dashboard.formatting import format_duration, ms_to_datetime
from queuecore import JobScheduler


@dataclass(frozen=True, slots=True)
class SchedulerRow:
    id: str
    name: str
    pattern: str
    every: str
    tz: str
    next_run: datetime | None
    iterations: str  # "" before the first run


def scheduler_row(scheduler: JobScheduler) -> SchedulerRow:
    return SchedulerRow(
        id=scheduler.id,
        name=scheduler.name,
        pattern=scheduler.pattern or "",
        every=format_duration(scheduler.every),
        tz=scheduler.tz or "",
        next_run=ms_to_datetime(scheduler.next),
        iterations=str(scheduler.iteration_count or ""),
    )


def schedulers(connection: str, name: str, start: int, end: int) -> list[SchedulerRow]:
    """Schedulers ``start..end`` (inclusive) of the queue, ordered by next run, soonest first."""
    queue = connections.get_queue(connection, name)
    return [scheduler_row(s) for s in queue.get_job_schedulers(start, end, asc=True)]
