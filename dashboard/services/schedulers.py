"""The job schedulers page: one page of a queue's schedulers, soonest run first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    next_run_in_tz: str = ""  # the next run in the scheduler's own zone, when it has one


def in_zone(when: datetime | None, tz: str) -> str:
    """``when`` as wall time in zone ``tz`` with the zone's abbreviation; "" when either is
    missing or the zone is unknown here (the name is untrusted data)."""
    if when is None or not tz or len(tz) > 64:
        return ""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    local = when.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''} ({tz})".replace(" ()", "")


def scheduler_row(scheduler: JobScheduler) -> SchedulerRow:
    next_run = ms_to_datetime(scheduler.next)
    return SchedulerRow(
        id=scheduler.id,
        name=scheduler.name,
        pattern=scheduler.pattern or "",
        every=format_duration(scheduler.every),
        tz=scheduler.tz or "",
        next_run=next_run,
        iterations=str(scheduler.iteration_count or ""),
        next_run_in_tz=in_zone(next_run, scheduler.tz or ""),
    )


def schedulers(connection: str, name: str, start: int, end: int) -> list[SchedulerRow]:
    """Schedulers ``start..end`` (inclusive) of the queue, ordered by next run, soonest first."""
    queue = connections.get_queue(connection, name)
    return [scheduler_row(s) for s in queue.get_job_schedulers(start, end, asc=True)]
