"""A job as one row of a table: shared by the queue page, the job page and the live feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dashboard.durations import compact_duration, span
from dashboard.formatting import clip, ms_to_datetime, progress_percent, shorten
from dashboard.jobtext import reason_with_type
from dashboard.services.common import NAME_CHARS
from queuecore import JobRecord


@dataclass(frozen=True, slots=True)
class JobRow:
    id: str
    name: str
    progress: float | None
    progress_text: str
    attempts_made: int
    attempts: int | None
    created: datetime | None
    processed: datetime | None
    finished: datetime | None
    failed_reason: str
    delay_until: datetime | None
    priority: int
    wait: str = ""  # processed - created
    processing: str = ""  # finished - processed
    flow_parent: bool = False  # has or had children (set by row_extras)


def job_row(job: JobRecord) -> JobRow:
    """From a ``Job`` or an ``AsyncJob`` (both are ``JobRecord``s)."""
    attempts = job.opts.get("attempts")  # untrusted JSON: may be anything
    delay_until = None
    if job.delay:
        delay_until = ms_to_datetime((job.processed_on or job.timestamp) + job.delay)
    progress = job.progress
    return JobRow(
        id=job.id,
        name=clip(job.name, NAME_CHARS),
        progress=progress_percent(progress),
        progress_text="" if progress in (0, None, "") else shorten(str(progress), 40),
        attempts_made=job.attempts_made,
        attempts=attempts if isinstance(attempts, int) else None,
        created=ms_to_datetime(job.timestamp),
        processed=ms_to_datetime(job.processed_on),
        finished=ms_to_datetime(job.finished_on),
        failed_reason=shorten(reason_with_type(job.failed_reason, job.stacktrace[-1:])),
        delay_until=delay_until,
        priority=job.priority,
        wait=compact_duration(span(job.timestamp, job.processed_on)),
        processing=compact_duration(span(job.processed_on, job.finished_on)),
    )
