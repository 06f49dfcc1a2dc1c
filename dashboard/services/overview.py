"""The overview page (every visible queue of every connection: filtered, sorted by what needs
attention, paginated) and the metrics endpoint's counts of every queue.

Built for thousands of queues: a connection's queues are read with ``queuecore.queue_stats``
(one pipeline for all of them, then one for the oldest waiting jobs), and only the page's
rows get a sparkline (from the stats' metrics, else one more pipeline of ZCOUNTs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from dashboard import conf, connections
from dashboard.pagination import Page, make_page
from dashboard.services.common import READ_ERRORS, describe, now_ms
from dashboard.services.discovery import queue_names
from dashboard.services.summary import QueueSummary, summarize
from dashboard.throughput import (
    BUCKETS,
    HOUR_MS,
    SAMPLE,
    Throughput,
    from_metrics,
    has_data,
    metrics_current,
)
from queuecore import QueueStats, finished_per_slot, queue_stats

StrOrPromise = str | Promise
#: ``visible(connection, queue)``: may the user see this queue?
Visible = Callable[[str, str], bool]
#: Queues per page: the live feed follows the page's queues, at most LIVE_OVERVIEW_QUEUES.
PAGE_SIZE = 50
WAITING_STATES = ("waiting", "prioritized", "paused")


def backlog(q: QueueSummary) -> int:
    return sum(q.counts.get(s, 0) for s in WAITING_STATES)


def stuck(q: QueueSummary) -> bool:
    """Jobs wait, no worker is connected, and the queue is not paused (which explains it)."""
    return not q.error and not q.paused and q.workers == 0 and backlog(q) > 0


def needs_attention(q: QueueSummary) -> bool:
    return bool(q.error) or q.counts.get("failed", 0) > 0 or stuck(q)


def _attention(q: QueueSummary) -> tuple[object, ...]:
    return (not needs_attention(q), not q.error, -q.counts.get("failed", 0), not stuck(q),
            -(q.oldest_waiting_ms or 0), -backlog(q), q.name.casefold(), q.connection)


def _by(count: Callable[[QueueSummary], int]) -> Callable[[QueueSummary], tuple[object, ...]]:
    return lambda q: (-count(q), q.name.casefold(), q.connection)


#: ``?sort=`` values: (label, key). The first is the default.
SORTS: dict[str, tuple[StrOrPromise, Callable[[QueueSummary], tuple[object, ...]]]] = {
    "attention": (_("needs attention"), _attention),
    "name": (_("name"), lambda q: (q.name.casefold(), q.connection)),
    "failed": (_("most failed"), _by(lambda q: q.counts.get("failed", 0))),
    "backlog": (_("largest backlog"), _by(backlog)),
    "oldest": (_("oldest waiting"), _by(lambda q: q.oldest_waiting_ms or -1)),
    "active": (_("most active"), _by(lambda q: q.counts.get("active", 0))),
}


@dataclass(frozen=True, slots=True)
class ConnectionOverview:
    connection: conf.ConnectionSettings
    queues: list[QueueSummary]  # this connection's rows on the page
    error: str = ""
    discovered: bool = False
    total: int = 0  # its visible queues (before the name filter)


@dataclass(frozen=True, slots=True)
class OverviewQuery:
    q: str = ""
    sort: str = "attention"
    page: str | None = None

    @classmethod
    def parse(cls, q: str | None, sort: str | None, page: str | None) -> OverviewQuery:
        """Anything unknown falls back to the default (never an error)."""
        return cls(q=(q or "").strip()[:256], sort=sort if sort in SORTS else "attention",
                   page=page)


@dataclass(frozen=True, slots=True)
class Overview:
    connections: list[ConnectionOverview]
    rows: list[QueueSummary]
    page: Page
    query: OverviewQuery
    matched: int  # queues that pass the filter
    total: int  # visible queues
    attention: int = 0  # of the matched, how many need attention
    sorts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def multi(self) -> bool:
        return len(self.connections) > 1


def _summary(conn: str, stats: QueueStats, now: int) -> QueueSummary:
    ts = stats.oldest_waiting_timestamp
    return QueueSummary(connection=conn, name=stats.name, counts=stats.counts,
                        paused=stats.paused, workers=stats.workers,
                        oldest_waiting_ms=max(0, now - ts) if ts else None)


def _with_sparklines(rows: list[QueueSummary], stats: dict[tuple[str, str], QueueStats],
                     now: int) -> list[QueueSummary]:
    """The last hour per row: the metrics when current, else the retained finished jobs."""
    out: dict[tuple[str, str], QueueSummary] = {}
    fallback: dict[str, list[QueueSummary]] = {}
    for row in rows:
        s = stats.get((row.connection, row.name))
        if row.error or s is None:
            out[(row.connection, row.name)] = row
            continue
        done, failed = s.metrics["completed"], s.metrics["failed"]
        if (has_data(done) or has_data(failed)) and metrics_current(
                done, s.newest_finished["completed"], now) and metrics_current(
                failed, s.newest_finished["failed"], now):
            out[(row.connection, row.name)] = replace(
                row, throughput=from_metrics(done, failed, now))
        else:
            fallback.setdefault(row.connection, []).append(row)
    width = HOUR_MS // BUCKETS
    start = now - now % width - (BUCKETS - 1) * width
    for conn, items in fallback.items():
        try:
            queue = connections.get_queue(conn, items[0].name)
            per = finished_per_slot(queue, [r.name for r in items], start, width, BUCKETS)
        except READ_ERRORS:
            per = {}
        for row in items:
            got = per.get(row.name)
            t = None if got is None else Throughput(
                completed=tuple(got["completed"]), failed=tuple(got["failed"]),
                lower_bound=False, source=SAMPLE)
            out[(row.connection, row.name)] = replace(row, throughput=t)
    return [out[(r.connection, r.name)] for r in rows]


def overview(visible: Visible, query: OverviewQuery | None = None) -> Overview:
    """The page of queues ``query`` asks for, among those ``visible`` lets through."""
    query = query or OverviewQuery()
    needle = query.q.casefold()
    now = now_ms()
    conns: list[ConnectionOverview] = []
    matched: list[tuple[conf.ConnectionSettings, list[str]]] = []
    total = 0
    for conn in conf.get_settings().connections:
        try:
            names = [n for n in queue_names(conn) if visible(conn.name, n)]
        except READ_ERRORS as exc:
            conns.append(ConnectionOverview(connection=conn, queues=[], error=describe(exc)))
            continue
        total += len(names)
        conns.append(ConnectionOverview(connection=conn, queues=[],
                                        discovered=conn.queues is None, total=len(names)))
        matched.append((conn, [n for n in names if needle in n.casefold()]))
    count = sum(len(names) for _, names in matched)
    page = make_page(query.page, PAGE_SIZE, count)
    key = SORTS[query.sort][1]
    if query.sort == "name":
        # Sorting by name needs no counts: only the page's queues are read.
        order = sorted(((c.name, n) for c, names in matched for n in names),
                       key=lambda p: (p[1].casefold(), p[0]))
        page_keys = order[page.start:page.end + 1]
        attention = -1  # unknown: not every queue was read
    else:
        every: list[QueueSummary] = []
        for conn, names in matched:
            every += _read(conn, names, now, metrics=False)[0]
        every.sort(key=key)
        attention = sum(1 for r in every if needs_attention(r))
        page_keys = [(r.connection, r.name) for r in every[page.start:page.end + 1]]
    # The page's rows again, with their metrics (fresh counts for the same queues).
    stats: dict[tuple[str, str], QueueStats] = {}
    rows: list[QueueSummary] = []
    for conn, _names in matched:
        wanted = [n for c, n in page_keys if c == conn.name]
        got, found = _read(conn, wanted, now, metrics=True)
        rows += got
        stats.update(found)
    position = {k: i for i, k in enumerate(page_keys)}
    rows.sort(key=lambda r: position[(r.connection, r.name)])
    rows = _with_sparklines(rows, stats, now)
    conns = [replace(c, queues=[r for r in rows if r.connection == c.connection.name])
             for c in conns]
    return Overview(connections=conns, rows=rows, page=page, query=query, matched=count,
                    total=total, attention=attention,
                    sorts=[(k, str(label)) for k, (label, _) in SORTS.items()])


def _read(conn: conf.ConnectionSettings, names: list[str], now: int, *, metrics: bool
          ) -> tuple[list[QueueSummary], dict[tuple[str, str], QueueStats]]:
    if not names:
        return [], {}
    try:
        queue = connections.get_queue(conn.name, names[0])
        if queue.route is not None:
            # Cluster: the queues live on different nodes; one read per queue, as before.
            return [summarize(conn.name, n, with_throughput=metrics) for n in names], {}
        got = queue_stats(queue, names, metrics=metrics)
    except READ_ERRORS as exc:
        return [QueueSummary(connection=conn.name, name=n, error=describe(exc))
                for n in names], {}
    return ([_summary(conn.name, s, now) for s in got], {(conn.name, s.name): s for s in got})


def all_counts() -> list[QueueSummary]:
    """Counts, oldest waiting age and metrics totals, for the metrics endpoint: a fixed number
    of commands per queue, none of which reads more than one job (no sampling)."""
    out = []
    for conn in conf.get_settings().connections:
        try:
            names = queue_names(conn)
        except READ_ERRORS as exc:
            out.append(QueueSummary(connection=conn.name, name="", error=describe(exc)))
            continue
        out.extend(summarize(conn.name, n, with_throughput=False, with_totals=True) for n in names)
    return out
