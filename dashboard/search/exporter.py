"""A search's matches as NDJSON, produced window by window (never all in memory): a sync
generator for WSGI servers and the test client, an async one for ASGI (Django would buffer
a sync iterator whole under ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from dashboard.search.jobcopy import EXPORT_FIELDS, export_record, ndjson_line
from dashboard.search.matcher import compile_query
from dashboard.search.parser import Query
from dashboard.search.scanner import BATCH
from queuecore import AsyncQueue, Queue

#: Log lines exported per job at most (the newest are kept).
MAX_LOG_LINES = 1000


def export_lines(queue: Queue, state: str, query: Query, cursor: int = 0, *,
                 logs: bool = False, batch: int = BATCH) -> Iterator[str]:
    matches = compile_query(query)
    while True:
        ids, next_cursor = queue.scan_job_ids(state, cursor, batch)
        rows = queue.get_job_fields(ids, EXPORT_FIELDS)
        for job_id, row in zip(ids, rows, strict=True):
            if row is not None and matches(job_id, row):
                lines = (queue.get_job_logs(job_id, 0, MAX_LOG_LINES - 1, asc=False)[0][::-1]
                         if logs else None)
                yield ndjson_line(export_record(job_id, state, row, lines))
        if next_cursor == 0:
            return
        cursor = next_cursor


async def aexport_lines(queue: AsyncQueue, state: str, query: Query, cursor: int = 0, *,
                        logs: bool = False, batch: int = BATCH) -> AsyncIterator[str]:
    matches = compile_query(query)
    try:
        while True:
            ids, next_cursor = await queue.scan_job_ids(state, cursor, batch)
            rows = await queue.get_job_fields(ids, EXPORT_FIELDS)
            for job_id, row in zip(ids, rows, strict=True):
                if row is not None and matches(job_id, row):
                    lines = ((await queue.get_job_logs(job_id, 0, MAX_LOG_LINES - 1,
                                                       asc=False))[0][::-1] if logs else None)
                    yield ndjson_line(export_record(job_id, state, row, lines))
            if next_cursor == 0:
                return
            cursor = next_cursor
    finally:
        await queue.close()
