"""Walk one state of a queue in windows and keep the jobs a query matches.

Each window is one ``LRANGE``/``ZREVRANGE`` of ``batch`` ids and one pipelined round trip of
``HMGET``s (``Queue.scan_job_ids``, ``Queue.get_job_fields``), so Redis is never held long
however big the state is. The cursor is a position in the state (newest first): a page can
stop anywhere and resume from it (a URL carries it), with the caveat that jobs added or
removed meanwhile shift positions (a job may then be seen twice or missed).

The service API for other parts of the dashboard (bulk actions on "all N matching"):
``iter_matching_ids`` / ``aiter_matching_ids`` yield (job id, cursor after it); within one
request, ``collect_ids`` gathers them with a cap on the entries read too."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from dashboard.search.matcher import ROW_FIELDS, Fields, compile_query, fields_needed
from dashboard.search.parser import Query
from queuecore import AsyncQueue, Queue

#: Ids per window: one short range call and one pipeline of this many HMGETs.
BATCH = 1000


@dataclass(frozen=True, slots=True)
class Match:
    id: str
    fields: dict[str, str]


@dataclass(slots=True)
class Step:
    """What one bounded slice of a scan found, and where to go on."""

    matches: list[Match] = field(default_factory=list)
    cursor: int = 0  # where the next step starts; meaningless once ``done``
    scanned: int = 0  # ids looked at so far (from the start of the state)
    total: int = 0  # the state's size when the step ran
    done: bool = False


def _window(start: int, ids: list[str], rows: list[dict[str, str] | None], next_cursor: int,
            matches: Callable[[str, Fields], bool], want: int
            ) -> tuple[list[tuple[int, Match]], int]:
    """Matches of one window, each with the cursor just after it (at most ``want``), and
    the cursor after the part looked at."""
    found: list[tuple[int, Match]] = []
    for offset, (job_id, row) in enumerate(zip(ids, rows, strict=True)):
        if row is not None and matches(job_id, row):
            found.append((start + offset + 1, Match(job_id, row)))
            if len(found) >= want:
                after = start + offset + 1
                # The cap fell on the window's last id: go on from the next window.
                return found, (next_cursor if offset == len(ids) - 1 else after)
    return found, next_cursor


def _with_rows(queue: Queue, found: list[Match]) -> list[Match]:
    """The matches with the fields a result row shows (the scan read only what the query
    needs); one that vanished meanwhile keeps what the scan read."""
    if not found:
        return found
    rows = queue.get_job_fields([m.id for m in found], ROW_FIELDS)
    return [Match(m.id, {**m.fields, **(row or {})}) for m, row in zip(found, rows, strict=True)]


def scan_step(queue: Queue, state: str, query: Query, cursor: int = 0, *, limit: int = 100,
              batch: int = BATCH, budget_s: float = 0.3) -> Step:
    """Scan from ``cursor`` until ``limit`` matches, the end, or ``budget_s`` seconds."""
    limit = max(limit, 1)
    matches, needed = compile_query(query), fields_needed(query)
    step = Step(total=queue.get_job_counts(state).get(state, 0), cursor=max(cursor, 0))
    deadline = time.monotonic() + budget_s
    while True:
        ids, next_cursor = queue.scan_job_ids(state, step.cursor, batch)
        rows = queue.get_job_fields(ids, needed)
        found, after = _window(step.cursor, ids, rows, next_cursor, matches,
                               limit - len(step.matches))
        step.matches += _with_rows(queue, [m for _, m in found])
        if after == 0:
            step.done, step.scanned = True, max(step.total, step.cursor + len(ids))
            return step
        step.cursor = step.scanned = after
        now = time.monotonic()
        # Rows found are shown soon (a third of the budget) rather than held for more.
        if (len(step.matches) >= limit or now >= deadline
                or (step.matches and now >= deadline - budget_s * 2 / 3)):
            return step


def collect_ids(queue: Queue, state: str, query: Query, cursor: int = 0, *, limit: int,
                max_scan: int) -> tuple[list[str], int]:
    """The matches from ``cursor`` until ``limit`` of them, the end of the state, or
    ``max_scan`` entries read (whichever comes first: a request that collects stays bounded
    however few jobs match), and the cursor to go on from (0: the end was reached)."""
    limit, batch = max(limit, 1), max(min(BATCH, max_scan), 1)
    matches, needed = compile_query(query), fields_needed(query)
    found: list[str] = []
    start = cursor = max(cursor, 0)
    while True:
        ids, next_cursor = queue.scan_job_ids(state, cursor, batch)
        rows = queue.get_job_fields(ids, needed)
        window, after = _window(cursor, ids, rows, next_cursor, matches, limit - len(found))
        found += [m.id for _, m in window]
        if after == 0:
            return found, 0
        cursor = after
        if len(found) >= limit or cursor - start >= max_scan:
            return found, cursor


def iter_matching_ids(queue: Queue, state: str, query: Query, cursor: int = 0, *,
                      batch: int = BATCH) -> Iterator[tuple[str, int]]:
    """Every job of ``state`` that ``query`` matches, from ``cursor``: (id, the cursor to
    resume from after it). Stop any time; nothing is held between windows."""
    matches, needed = compile_query(query), fields_needed(query)
    while True:
        ids, next_cursor = queue.scan_job_ids(state, cursor, batch)
        rows = queue.get_job_fields(ids, needed)
        found, _ = _window(cursor, ids, rows, next_cursor, matches, len(ids) + 1)
        for after, match in found:
            yield match.id, after
        if next_cursor == 0:
            return
        cursor = next_cursor


async def aiter_matching_ids(queue: AsyncQueue, state: str, query: Query, cursor: int = 0, *,
                             batch: int = BATCH) -> AsyncIterator[tuple[str, int]]:
    """``iter_matching_ids`` for an ``AsyncQueue`` (Channels consumers, background tasks)."""
    matches, needed = compile_query(query), fields_needed(query)
    while True:
        ids, next_cursor = await queue.scan_job_ids(state, cursor, batch)
        rows = await queue.get_job_fields(ids, needed)
        found, _ = _window(cursor, ids, rows, next_cursor, matches, len(ids) + 1)
        for after, match in found:
            yield match.id, after
        if next_cursor == 0:
            return
        cursor = next_cursor
