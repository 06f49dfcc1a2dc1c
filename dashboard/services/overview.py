"""The overview page (every connection with its visible queues) and the metrics endpoint's
counts of every queue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dashboard import conf
from dashboard.services.common import READ_ERRORS, describe
from dashboard.services.discovery import queue_names
from dashboard.services.summary import QueueSummary, summarize

#: ``visible(connection, queue)``: may the user see this queue?
Visible = Callable[[str, str], bool]


@dataclass(frozen=True, slots=True)
class ConnectionOverview:
    connection: conf.ConnectionSettings
    queues: list[QueueSummary]
    error: str = ""
    discovered: bool = False


def overview(visible: Visible) -> list[ConnectionOverview]:
    """Every connection with its queues that ``visible(connection, queue)`` lets through."""
    result = []
    for conn in conf.get_settings().connections:
        try:
            names = queue_names(conn)
        except READ_ERRORS as exc:
            result.append(ConnectionOverview(connection=conn, queues=[], error=describe(exc)))
            continue
        summaries = [summarize(conn.name, n) for n in names if visible(conn.name, n)]
        result.append(
            ConnectionOverview(connection=conn, queues=summaries, discovered=conn.queues is None)
        )
    return result


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
