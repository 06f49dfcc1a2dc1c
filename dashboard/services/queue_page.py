"""The queue page: its summary and one bounded page of the jobs in a state."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard import connections
from dashboard.pagination import Page, make_page
from dashboard.services.job_rows import JobRow
from dashboard.services.row_extras import rows_of
from dashboard.services.summary import QueueSummary, summarize


@dataclass(frozen=True, slots=True)
class QueuePage:
    summary: QueueSummary
    state: str
    asc: bool
    page: Page
    jobs: list[JobRow]


def queue_page(
    connection: str, name: str, state: str, raw_page: str | None, size: int, asc: bool
) -> QueuePage:
    summary = summarize(connection, name)
    total = summary.counts.get(state, 0)
    page = make_page(raw_page, size, total)
    jobs: list[JobRow] = []
    if total and not summary.error:
        queue = connections.get_queue(connection, name)
        jobs = rows_of(queue, queue.get_jobs(state, page.start, page.end, asc=asc), state)
    return QueuePage(summary=summary, state=state, asc=asc, page=page, jobs=jobs)
