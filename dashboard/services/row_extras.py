"""What a row of a job list needs beyond the job's hash: whether the job is a flow parent,
and for delayed jobs the due time from their score (it counts a retry's backoff, which the
hash's ``delay`` does not date). One extra round trip per page for each, blocking or async."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from dashboard.formatting import ms_to_datetime
from dashboard.services.job_rows import JobRow, job_row
from queuecore import AsyncJob, AsyncQueue, Job, Queue


def _apply(rows: list[JobRow], parents: set[str], due: dict[str, int | None]) -> list[JobRow]:
    out = []
    for row in rows:
        when = due.get(row.id)
        if row.id in parents or when:
            row = dataclasses.replace(
                row, flow_parent=row.id in parents,
                delay_until=ms_to_datetime(when) if when else row.delay_until)
        out.append(row)
    return out


def rows_of(queue: Queue, jobs: Sequence[Job], state: str) -> list[JobRow]:
    rows = [job_row(j) for j in jobs]
    ids = [r.id for r in rows]
    if not ids:
        return rows
    due = queue.get_due_times(ids) if state == "delayed" else {}
    return _apply(rows, queue.get_flow_parents(ids), due)


async def arows_of(queue: AsyncQueue, jobs: Sequence[AsyncJob], state: str) -> list[JobRow]:
    rows = [job_row(j) for j in jobs]
    ids = [r.id for r in rows]
    if not ids:
        return rows
    due = await queue.get_due_times(ids) if state == "delayed" else {}
    return _apply(rows, await queue.get_flow_parents(ids), due)
