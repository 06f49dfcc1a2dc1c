"""The live side's reads: the only module of ``dashboard.live`` that calls queuecore.

Everything here is async (it runs on the ASGI server's event loop) and bounded: counts are
one pipelined round trip (LLEN/ZCARD), a page of jobs two, a job one or two.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard import conf, connections
from dashboard.formatting import clip, pretty_json
from dashboard.pagination import Page, make_page
from dashboard.services.common import COUNTED_STATES, NAME_CHARS, READ_ERRORS
from dashboard.services.job_rows import JobRow, job_row
from dashboard.services.row_extras import arows_of
from queuecore import AsyncQueue, QueueEvents, alist_queues

__all__ = [
    "READ_ERRORS",
    "JobSnapshot",
    "LogTail",
    "PageRows",
    "counts",
    "is_paused",
    "job_snapshot",
    "log_lengths",
    "log_tail",
    "open_queue",
    "open_reader",
    "page_rows",
    "queue_names",
]

#: Most stream entries one XREAD returns; a full batch means the reader is behind.
READ_BATCH = 1000


def open_reader(connection: str, name: str) -> QueueEvents:
    """A reader of the queue's event stream, starting with the events added from now on."""
    settings = connections.connection_settings(connection)
    return QueueEvents(name, settings.url, prefix=settings.prefix, last_event_id="$",
                       batch=READ_BATCH)


def open_queue(connection: str, name: str) -> AsyncQueue:
    settings = connections.connection_settings(connection)
    return AsyncQueue(name, settings.url, prefix=settings.prefix)


async def queue_names(connection: str) -> list[str]:
    """Configured names, or a bounded SCAN (as the overview page lists them)."""
    settings = connections.connection_settings(connection)
    if settings.queues is not None:
        return list(settings.queues)
    limit = conf.get_settings().scan_limit
    return sorted(await alist_queues(settings.url, prefix=settings.prefix, limit=limit))


async def counts(queue: AsyncQueue) -> dict[str, int]:
    """Exact counts of every state, in one round trip."""
    raw = await queue.get_job_counts(*COUNTED_STATES)
    return {s: int(raw.get(s, 0)) for s in COUNTED_STATES}


async def is_paused(queue: AsyncQueue) -> bool:
    return await queue.is_paused()


@dataclass(frozen=True, slots=True)
class PageRows:
    page: Page
    jobs: list[JobRow]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(j.id for j in self.jobs)


async def page_rows(queue: AsyncQueue, state: str, number: int, size: int, asc: bool,
                    total: int) -> PageRows:
    page = make_page(str(number), size, total)
    if not total:
        return PageRows(page, [])
    jobs = await queue.get_jobs(state, page.start, page.end, asc=asc)
    return PageRows(page, await arows_of(queue, jobs, state))


@dataclass(frozen=True, slots=True)
class JobSnapshot:
    row: JobRow
    state: str
    progress_text: str
    processed_by: str
    attempts_started: int
    stalled_counter: int


async def job_snapshot(queue: AsyncQueue, job_id: str) -> JobSnapshot | None:
    job = await queue.get_job(job_id)
    if job is None:
        return None
    state = await queue.get_job_state(job_id)
    limit = conf.get_settings().json_preview_chars
    return JobSnapshot(
        row=job_row(job),
        state=state,
        progress_text=pretty_json(job.progress, limit).text,
        processed_by=clip(job.processed_by, NAME_CHARS),
        attempts_started=job.attempts_started,
        stalled_counter=job.stalled_counter,
    )


@dataclass(frozen=True, slots=True)
class LogTail:
    lines: list[str]
    total: int


async def log_tail(queue: AsyncQueue, job_id: str, known: int, limit: int) -> LogTail:
    """Log lines after the first ``known`` ones (at most ``limit``), and the new total."""
    _, total = await queue.get_job_logs(job_id, 0, 0)
    if total <= known:
        return LogTail([], total)
    start = max(known, total - limit)
    lines, total = await queue.get_job_logs(job_id, start, total - 1, asc=True)
    cut = conf.get_settings().text_preview_chars
    return LogTail([clip(line, cut) for line in lines], total)


async def log_lengths(queue: AsyncQueue, job_ids: list[str]) -> dict[str, int]:
    """How many log lines each of these jobs has, in one pipelined round trip."""
    return await queue.get_job_log_counts(job_ids)
